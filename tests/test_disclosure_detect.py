"""The detectors of personal data: 身份证号, phones, bank cards, plates, detailed addresses and the names of the
people a profile hides, on pages of text laid out like OCR output."""

from __future__ import annotations

import random

import pytest

from pipeline.disclosure import detect_page, find_numbers, id_checksum_ok, luhn_ok, read_people, redacted_text
from pipeline.standard import load_disclosure_profile
from samples.personal import card_number, checksum, spaced
from tests.disclosure_helpers import boxes, page, text_of

LAWYER = load_disclosure_profile("lawyer")
AGENCY = load_disclosure_profile("agency")
ID = "41072719850603" + "123"
VALID_ID = ID + checksum(ID)


def found(page_text, profile=LAWYER, titles=()):
    people = read_people([page_text], titles, profile)
    return [(f.kind, text_of(page_text, f.glyphs), f.certain, f.cells) for f in detect_page(page_text, profile, people)]


def test_an_id_number_with_its_gb11643_check_digit_is_certain():
    assert found(page(f"身份证号：{VALID_ID}")) == [("id_number", VALID_ID, True, ("",) * 18)]


def test_an_id_number_ending_in_x_is_certain():
    body = next(b for b in (f"41072719850603{n:03d}" for n in range(1000)) if checksum(b) == "X")
    assert found(page(f"公民身份号码{body}X"))[0][:3] == ("id_number", body + "X", True)


def test_an_id_number_written_straight_after_han_characters_is_found():
    assert found(page(f"身份证号码{VALID_ID}，住"))[0][1] == VALID_ID


def test_an_id_number_whose_groups_a_speck_read_as_a_middle_dot_parts_is_found_and_certain():
    # bench/disclosure.py --seed 30, case 311 page 6: 身份证号：410105 198309·029451
    printed = f"{VALID_ID[:6]} {VALID_ID[6:12]}·{VALID_ID[12:]}"
    assert found(page(f"3.犯罪嫌疑人赵杰身份证号：{printed}")) == [("id_number", printed, True, ("",) * 20)]


def test_a_card_under_a_seal_whose_star_point_was_read_as_a_colon_is_found_whole():
    # bench/disclosure.py --seed 31, case 303 page 9: 账号：629131156:3219719275 under a bank's seal
    card = card_number(random.Random(8), 19)
    assert found(page(f"账号：{card[:9]}:{card[9:]}预留手机"))[0][:3] == ("bank_card", f"{card[:9]}:{card[9:]}", True)


def test_a_time_written_with_a_colon_is_not_joined_into_a_number():
    assert found(page("询问时间：2024年5月23日9时10分至13:25，地点：派出所")) == []


def test_a_date_and_an_amount_written_with_points_are_not_numbers():
    assert found(page("2024.08.20 转账13800138.00元，余额1,380,013,800元")) == []


def test_two_numbers_listed_with_a_dunhao_stay_two_numbers():
    found_kinds = found(page("卡号：6222 0812 3456 7890、13800138000"))
    assert [(r[0], r[1]) for r in found_kinds] == [("bank_card", "6222 0812 3456 7890"), ("phone", "13800138000")]


def test_a_bare_number_after_a_phone_label_parted_by_a_point_is_only_doubtful():
    assert found(page("电话：3551.634")) == [("phone", "3551.634", False, ("",) * 8)]


def test_an_id_number_with_a_wrong_check_digit_is_removed_but_doubtful():
    wrong = ID + ("0" if checksum(ID) != "0" else "1")
    assert not id_checksum_ok(wrong)
    assert found(page(f"身份证号：{wrong}")) == [("id_number", wrong, False, ("",) * 18)]


def test_an_unlabelled_serial_number_is_neither_an_id_nor_a_card():
    assert found(page("物品登记编号：202405037393643817")) == []


def test_a_number_broken_over_two_lines_is_one_finding_over_both_parts():
    result = found(page(f"公民身份号码{VALID_ID[:6]}", f"{VALID_ID[6:]}，汉族"))
    assert result == [("id_number", VALID_ID, True, ("",) * 18)]


def test_a_tables_last_cell_is_not_run_into_the_next_rows_first_numbers():
    rows = boxes(((100, "10 2024-06-05 18:08:11"), (700, "被叫"), (1500, "193")),
                 ((100, "11 2024-06-05 07:30:24"), (700, "主叫"), (1500, "730")))
    assert found(rows) == []  # 193 | 11 2024-06 run together read as a mobile number, 19311202406


def test_a_number_read_as_two_boxes_close_together_on_one_row_is_one_finding():
    result = found(boxes(((100, "联系电话：138"), (322, "0373 1234"))))
    assert result == [("phone", "1380373 1234", True, ("",) * 12)]


def test_a_phone_number_in_groups_is_one_finding_with_the_spaces_between():
    result = found(page("联系电话：138 0373 1234"))
    assert result == [("phone", "138 0373 1234", True, ("",) * 13)]


def test_full_width_digits_are_read_as_digits():
    assert [f.value for f in find_numbers("手机：１３９００００１１１１".translate(str.maketrans("", "")))] == []
    assert found(page("手机：１３９００００１１１１"))[0][:3] == ("phone", "１３９００００１１１１", True)


def test_a_mobile_parted_by_a_speck_read_as_a_point_after_a_phone_label_is_found():
    # bench/disclosure.py --seed 29, case 311 page 9: 预留手机：196.09816652余额
    assert found(page("预留手机：196.09816652余额：35516.34元")) == [
        ("phone", "196.09816652", True, ("",) * 12)]


def test_a_mobile_parted_by_a_point_without_a_label_is_removed_but_doubtful():
    assert [r[:3] for r in found(page("对方号码 1360.9816652 时长 35"))] == [("phone", "1360.9816652", False)]


def test_an_amount_with_cents_is_not_a_mobile_parted_by_a_speck():
    assert found(page("转账金额138000000.00元")) == []


def test_a_fixed_phone_with_its_area_code_is_found():
    assert found(page("附：被害人联系电话0373-6563958"))[0][:2] == ("phone", "0373-6563958")


def test_a_fixed_phones_extension_after_zhuan_is_removed_with_it():
    assert found(page("联系电话：0371-66668888转806，"))[0][:2] == ("phone", "0371-66668888转806")


def test_an_extension_the_recogniser_ran_into_the_next_column_is_removed_with_its_number():
    assert found(page("被叫010-8227877转6292871"))[0][:2] == ("phone", "010-8227877转6292871")


@pytest.mark.parametrize("number", ["138 0373 1234", "13803731234", "(0371)66668888", "+86 138 0373 1234"])
def test_a_phone_in_a_tables_column_is_found_though_a_number_stands_in_the_next_column(number):
    assert found(page(f"01　21:14:07　主叫　{number}　　135"))[0][:2] == ("phone", number)


def test_a_fixed_phone_read_with_a_space_after_its_bracketed_area_code_is_found():
    assert found(page("被叫(024) 6984542"))[0][:2] == ("phone", "(024) 6984542")


def test_an_invoice_number_is_not_a_phone_number():
    assert found(page("增值税普通发票1张，发票号码45339341。")) == []


def test_a_bank_card_number_passing_luhn_is_certain():
    card = card_number(random.Random(5))
    assert luhn_ok(card)
    assert found(page(f"名下账号{card}转账"))[0][:3] == ("bank_card", card, True)


def test_a_cards_first_group_parted_by_a_speck_read_as_a_point_is_removed_with_it():
    card = card_number(random.Random(5))
    result = found(page(f"账号：{card[:4]}.{spaced(card[4:])}预留手机"))
    assert result[0][:3] == ("bank_card", f"{card[:4]}.{spaced(card[4:])}", True)


def test_a_card_number_broken_over_a_line_after_a_speck_read_as_a_point_is_removed_whole():
    # bench/disclosure.py --seed 29, case 309 page 1: （卡号6228 0892 8905. | 8516 174）
    card = card_number(random.Random(7), 19)
    p = page(f"我的银行卡（卡号{spaced(card[:12])}.", f"{spaced(card[12:])}）里的钱")
    cards = [r for r in found(p) if r[0] == "bank_card"]
    assert [(r[1], r[2]) for r in cards] == [(f"{spaced(card[:12])}.{spaced(card[12:])}", True)]


def test_a_card_number_failing_luhn_after_its_label_is_doubtful():
    card = card_number(random.Random(6), 16)
    wrong = card[:-1] + str((int(card[-1]) + 1) % 10)
    assert found(page(f"卡号{wrong}")) == [("bank_card", wrong, False, ("",) * 16)]


@pytest.mark.parametrize("plate", ["豫G·A1234", "豫GA1234", "京AD12345", "豫G8S206"])
def test_a_licence_plate_is_found(plate):
    assert found(page(f"车牌号为{plate}的白色轿车"))[0][:2] == ("plate", plate)


@pytest.mark.parametrize("plate", ["豫G1234挂", "豫A0356学", "豫A·1234警"])
def test_a_trailers_plate_of_four_characters_and_gua_is_found(plate):
    assert found(page(f"号牌号码{plate}，半挂车"))[0][:2] == ("plate", plate)


def test_an_address_keeps_its_county_and_loses_what_lies_below():
    result = found(page("住址：河南省新乡市封丘县城关镇建设路18号3单元402室，联系"))
    assert result == [("address", "城关镇建设路18号3单元402室", True, ("",) * 16)]


def test_an_address_broken_over_two_lines_is_found_whole():
    result = found(page("现住河南省新乡市红旗", "区文化路街道人民路175号4号楼2单元601室。"))
    assert result[0][:2] == ("address", "文化路街道人民路175号4号楼2单元601室")


def test_an_address_without_anything_below_the_county_leaves_nothing_to_remove():
    assert found(page("现住郑州市金水区，因涉嫌盗窃罪")) == []


def test_a_name_from_a_record_header_becomes_its_mou_form_wherever_it_occurs():
    p = page("被询问人：周雪霞　性别：女", "答：我叫周雪霞，是被害人。", "证人周雪霞证实")
    names = [r for r in found(p) if r[0] == "name"]
    assert names == [("name", "雪霞", True, ("某", "某"))] * 3


def test_the_defendants_name_stays_in_a_lawyers_copy():
    p = page("被告人郭梅磊，男，窜至被害人周雪霞家中")
    assert [r[1] for r in found(p) if r[0] == "name"] == ["雪霞"]


def test_the_agency_copy_hides_a_minor_but_not_an_adult_witness():
    p = page("时间：2024年6月5日", "被询问人：沈丽　性别：男　出生日期：2009年3月8日", "证人王建国证实")
    assert [r[1] for r in found(p, AGENCY) if r[0] == "name"] == ["丽"]


def test_two_people_whose_forms_coincide_are_told_apart_by_a_number():
    p = page("被害人张伟，证人张娜。")
    assert [r[3] for r in found(p) if r[0] == "name"] == [("某1",), ("某2",)]


def test_a_hidden_name_inside_someone_elses_longer_name_is_left_alone():
    p = page("被害人张伟，被告人张伟民，", "张伟民与张伟")
    assert [r[1] for r in found(p) if r[0] == "name"] == ["伟", "伟"]


def test_a_name_read_one_character_off_after_a_role_word_is_replaced_and_doubtful():
    p = page("被询问人：王建国　性别：男", "被害人王建围家中")
    names = [r for r in found(p) if r[0] == "name"]
    assert names == [("name", "建国", True, ("某", "某")), ("name", "建围", False, ("某", "某"))]


def test_a_name_read_one_character_off_after_an_account_holder_label_is_replaced_and_doubtful():
    # bench/disclosure.py --seed 29, case 300 page 9: 户名：曹东字证件号码 for the victim 曹东宇
    p = page("被询问人：曹东宇　性别：女", "01.户名：曹东字证件号码：略")
    names = [r for r in found(p) if r[0] == "name"]
    assert names == [("name", "东宇", True, ("某", "某")), ("name", "东字", False, ("某", "某"))]


def test_a_name_in_a_catalogue_title_is_hidden_on_the_pages_too():
    p = page("答：我和周雪霞一起回家")
    names = [r for r in found(p, titles=[("卷内目录", "被害人周雪霞询问笔录")]) if r[0] == "name"]
    assert names == [("name", "雪霞", True, ("某", "某"))]


def test_generated_text_gets_mou_forms_and_loses_its_numbers():
    p = page("被询问人：周雪霞　性别：女")
    people = read_people([p], [], LAWYER)
    assert redacted_text("被害人周雪霞（电话13803731234）询问笔录", people, LAWYER) == \
        "被害人周某某（电话" + "×" * 11 + "）询问笔录"
