"""卷内目录 fields where documents carry them: dates in the signature block, authorities checked against the
divisions, 文号 shapes, boundaries between documents of one type, and what a review changes."""

from datetime import UTC, datetime

import pytest
from PIL import Image

from pipeline.errors import BadInputError
from pipeline.models import CatalogueEntry, EntryEvidence, FieldEvidence, VolumeCatalogue
from pipeline.ocr import OcrLine, OcrResult, OcrWord, ink_rows, render_line
from pipeline.structure import ReviewedRow, apply_review, find_documents, reapply, volumes_to_review
from pipeline.structure._dates import looks_like_date, read_date_line
from pipeline.structure._divisions import check_authority
from pipeline.structure._fields import read_fields
from pipeline.structure._numbers import find_doc_no
from tests.structure_helpers import page_artifact, save_g4

# --------------------------------------------------------------------------------------------------------------------
# Dates


@pytest.mark.parametrize(("text", "iso"), [
    ("二〇二二年一月四日", "2022-01-04"),
    ("二零二二年十月十日", "2022-10-10"),  # 零 for 〇, 十 alone
    ("二〇二一年八月三十一日", "2021-08-31"),
    ("二〇二一年十二月二十一日", "2021-12-21"),
    ("2020年12月31日", "2020-12-31"),
    ("法治日报 2022年1月 第4版", "2022-01"),  # year and month only: stays partial
])
def test_dates_are_read_from_their_line_and_normalised(text, iso):
    found = read_date_line(text)
    assert found is not None and found.iso == iso and not found.repaired


@pytest.mark.parametrize(("text", "iso"), [
    ("二OO二一年十月二十一日", "2021-10-21"),  # a seal's ring doubled the 〇
    ("二口二二年一月四曰", "2022-01-04"),  # 口 for 〇, 曰 for 日
    ("二〇二一-年五月十-一日", "2021-05-11"),  # each 一 read twice, as itself and as a dash beside it
    ("二C二一年五月十一日", "2021-05-11"),  # C for 〇
])
def test_dates_a_seal_garbled_are_repaired_and_say_so(text, iso):
    found = read_date_line(text)
    assert found is not None and found.iso == iso and found.repaired


@pytest.mark.parametrize("text", ["二〇二二年二月三十日", "一O本芝年一", "审判长 陈玉"])
def test_impossible_or_unreadable_dates_are_not_invented(text):
    assert read_date_line(text) is None


def test_a_line_shaped_like_a_date_is_recognised_even_unreadable():
    assert looks_like_date("二O本年一六内日") and not looks_like_date("本院认为，被告人林某犯盗窃罪")


# --------------------------------------------------------------------------------------------------------------------
# Authorities


@pytest.mark.parametrize("name", ["辽宁省沈阳市沈河区人民法院", "河南省封丘县人民检察院", "沈阳市公安局沈河分局",
                                  "乌鲁木齐市公安局天山区分局", "新疆维吾尔自治区乌鲁木齐市中级人民法院"])
def test_authorities_made_of_real_divisions_are_exact(name):
    assert check_authority(name).status == "exact"


@pytest.mark.parametrize(("read", "name"), [
    ("七台河市新兴广人民法院", "七台河市新兴区人民法院"),  # 广 for 区: the only district of 七台河市 that fits
    ("新疆维吾尔目治区乌鲁木齐市中级人民法院", "新疆维吾尔自治区乌鲁木齐市中级人民法院"),
    ("河南省封丘县人民法阮", "河南省封丘县人民法院"),
])
def test_a_near_miss_with_one_candidate_is_corrected(read, name):
    checked = check_authority(read)
    assert (checked.status, checked.name, checked.read) == ("corrected", name, read)


def test_a_near_miss_with_several_candidates_is_kept_as_read():
    checked = check_authority("新兴广人民法院")  # 新兴区 (七台河) or 新兴县 (云浮): nothing says which
    assert checked.status == "ambiguous" and checked.name == "新兴广人民法院"
    assert set(checked.candidates) == {"新兴区人民法院", "新兴县人民法院"}


# --------------------------------------------------------------------------------------------------------------------
# 文号


@pytest.mark.parametrize(("text", "doc_no"), [
    ("沈公〈沈)诉字【2021】0356号", "沈公（沈）诉字〔2021〕0356号"),
    ("沈河检刑诉【2021j」112号", "沈河检刑诉〔2021〕112号"),  # the closing bracket read as a letter and a quote
    ("天检刑诉〔【2022】15号", "天检刑诉〔2022〕15号"),  # one bracket read twice
    ("（2023）内0102刑初318号之一", "（2023）内0102刑初318号之一"),
    ("（2021）沈公刑鉴字第058号", "（2021）沈公刑鉴字第058号"),
])
def test_document_numbers_are_repaired_into_canonical_brackets(text, doc_no):
    assert find_doc_no(text)[0] == doc_no


def test_a_document_number_with_a_lost_bracket_is_not_guessed():
    assert find_doc_no("七公新(刑取保字〔2021〕56号") is None


# --------------------------------------------------------------------------------------------------------------------
# Fields and boundaries from OCR lines


def _line(text: str, x0: int, y0: int, size: int, conf: float = 92.0) -> OcrLine:
    words = tuple(OcrWord(ch, x0 + i * size, y0, x0 + (i + 1) * size - 4, y0 + size, conf) for i, ch in enumerate(text))
    return OcrLine(words, x0, y0, x0 + len(text) * size, y0 + size)


def _centred(text: str, y0: int, size: int) -> OcrLine:
    return _line(text, (2480 - len(text) * size) // 2, y0, size)


BODY = "经审理查明，被告人于二〇二一年在某小区内多次实施盗窃，窃得财物价值共计人民币三千元。"


def _body(y0: int, n: int = 5) -> list[OcrLine]:
    return [_line(BODY[:26], 330, y0 + 90 * i, 62) for i in range(n)]


def _judgment(case_no: str, date: str | None) -> OcrResult:
    lines = [_centred("辽宁省沈阳市沈河区人民法院", 430, 90), _centred("刑事判决书", 600, 110),
             _line(case_no, 1500, 780, 62), *_body(900)]
    if date:
        lines += [_line("审判长　陈玉", 1700, 1500, 62), _line(date, 1500, 1620, 62), _line("书记员　林磊", 1700, 1740, 62)]
    return OcrResult(2480, 3508, 300, tuple(lines))


def test_the_court_name_over_the_title_is_the_author_and_the_date_is_at_the_end():
    fields = read_fields(_judgment("（2022）辽0103刑初821号", None),
                         OcrResult(2480, 3508, 300, (*_body(400), _line("审判长　陈玉", 1700, 1000, 62),
                                                     _line("二〇二二年一月四日", 1500, 1120, 62),
                                                     _line("书记员　林磊", 1700, 1240, 62))))
    assert (fields.title, fields.doc_no, fields.author, fields.date) == (
        "刑事判决书", "（2022）辽0103刑初821号", "辽宁省沈阳市沈河区人民法院", "2022-01-04")
    assert fields.flags == ()


def test_a_record_takes_its_date_from_the_time_line_and_its_author_from_the_unit():
    ocr = OcrResult(2480, 3508, 300, (
        _centred("讯问笔录", 440, 100), _line("时间：2021年9月3日14时42分至17时53分", 330, 620, 56),
        _line("讯问人：魏丽、李博　工作单位：沈阳市公安局沈河分局", 330, 720, 56), *_body(860)))
    fields = read_fields(ocr)
    assert (fields.title, fields.doc_no, fields.author, fields.date) == (
        "讯问笔录", "", "沈阳市公安局沈河分局", "2021-09-03")
    assert fields.flags == ()  # a 笔录 has no 文号: nothing in doubt


def test_a_misread_district_is_corrected_and_flagged():
    ocr = OcrResult(2480, 3508, 300, (_centred("七台河市新兴广人民法院", 430, 90), _centred("刑事判决书", 600, 110),
                                      _line("（2021）黑0902刑初131号", 1500, 780, 62), *_body(900)))
    fields = read_fields(ocr)
    assert fields.author == "七台河市新兴区人民法院"
    assert fields.evidence["author"].flags == ["corrected"] and fields.evidence["author"].read == "七台河市新兴广人民法院"


def _notice(second_line_size: int, red_head: bool = True, doc_no: bool = True) -> OcrResult:
    lines = [_centred("郑州市金水区人民政府文件", 530, 150)] if red_head else []
    lines += [_centred("金政文〔2022〕38号", 760, 57)] if doc_no else []
    lines += [_centred("关于进一步加强辖区电信网络诈骗犯", 1000, 88), _centred("罪防范工作的通知", 1115, second_line_size),
              *_body(1300)]
    return OcrResult(2480, 3508, 300, tuple(lines))


def test_a_title_on_two_lines_is_read_whole_when_its_second_line_is_set_a_hair_larger():
    fields = read_fields(_notice(second_line_size=90))
    assert (fields.title, fields.doc_no, fields.author) == (
        "关于进一步加强辖区电信网络诈骗犯罪防范工作的通知", "金政文〔2022〕38号", "郑州市金水区人民政府")
    assert fields.evidence["title"].flags == [] and fields.evidence["doc_no"].flags == []


def test_an_official_notice_without_a_readable_number_has_its_number_flagged_missing():
    fields = read_fields(_notice(second_line_size=88, red_head=False, doc_no=False))
    assert fields.title == "关于进一步加强辖区电信网络诈骗犯罪防范工作的通知"
    assert fields.doc_no == "" and fields.evidence["doc_no"].flags == ["missing"]


def test_a_headline_running_off_the_page_edge_is_flagged_truncated():
    headline = "水警方破获一起跨省电信网络诈骗案抓获犯罪嫌疑人十"
    ocr = OcrResult(2480, 3508, 300, (_line("河南法制报　2022年10月　第3版", 320, 450, 50), _line(headline, 4, 670, 98),
                                      *_body(900)))
    fields = read_fields(ocr)
    assert fields.title == headline and "truncated" in fields.evidence["title"].flags


def test_two_judgments_of_one_court_in_a_row_are_two_documents(tmp_path):
    image = save_g4(Image.new("1", (827, 1169), 1), tmp_path / "p.tif", 100)
    pages = [_judgment("（2022）辽0103刑初821号", None), OcrResult(2480, 3508, 300, tuple(_body(400))),
             _judgment("（2022）辽0103刑初822号", None), OcrResult(2480, 3508, 300, tuple(_body(400)))]
    artifacts = [page_artifact(i, image, ocr=ocr, folder=tmp_path) for i, ocr in enumerate(pages)]
    docs = find_documents(artifacts, None, headings=None)
    assert [(d.positions, d.doc_no) for d in docs] == [((0, 1), "（2022）辽0103刑初821号"),
                                                       ((2, 3), "（2022）辽0103刑初822号")]


def test_a_page_number_footer_starting_again_starts_a_document(tmp_path):
    image = save_g4(Image.new("1", (827, 1169), 1), tmp_path / "p.tif", 100)
    pages = [OcrResult(2480, 3508, 300, (*_body(400), _line(f"- {n} -", 1150, 3250, 50))) for n in (1, 2, 1, 2)]
    artifacts = [page_artifact(i, image, ocr=ocr, folder=tmp_path) for i, ocr in enumerate(pages)]
    docs = find_documents(artifacts, None, headings=None)
    assert [d.positions for d in docs] == [(0, 1), (2, 3)]
    assert "boundary-footer" in docs[1].flags


# --------------------------------------------------------------------------------------------------------------------
# A date under a seal on a page archived bitonal


def _sealed_page(tmp_path, date: str = "二〇二二年二月二十八日", read: str | None = None):
    """A grey scan's signature block with a red seal (mid-grey in the scan) over the date, its bits as the archive
    makes them (the seal turns black and covers the date), and page OCR that lost the date line (as PP-OCR does) or
    read it as ``read``."""
    import numpy as np
    from PIL import ImageDraw, ImageFont

    from pipeline.common import cjk_font_file

    grey = Image.new("L", (2480, 3508), 250)
    draw = ImageDraw.Draw(grey)
    font = ImageFont.truetype(str(cjk_font_file()), 62)
    signers = [("审判长　陈玉", 1700, 1500), ("书记员　林磊", 1700, 1740)]
    for i in range(5):
        draw.text((330, 900 + 90 * i), BODY[:26], font=font, fill=10)
    for text, x, y in [*signers, (date, 1500, 1620)]:
        draw.text((x, y), text, font=font, fill=10)
    seal = Image.new("L", grey.size, 255)
    ring = ImageDraw.Draw(seal)
    ring.ellipse((1560, 1420, 2000, 1860), outline=110, width=12)
    ring.regular_polygon((1780, 1650, 80), 5, fill=110)  # the seal's emblem, over the middle of the date
    grey = Image.fromarray(np.minimum(np.asarray(grey), np.asarray(seal)))
    bits = grey.point(lambda v: 255 if v > 180 else 0).convert("1")
    dated = [*signers, (read, 1500, 1620)] if read else signers
    ocr = OcrResult(2480, 3508, 300, (*_body(900), *(_line(t, x, y, 62) for t, x, y in dated)))
    grey_path = tmp_path / "grey.jpg"
    grey.save(grey_path, "JPEG", quality=60, dpi=(300, 300))
    return save_g4(bits, tmp_path / "image.tif", 300), grey_path, ocr


@pytest.fixture(scope="module")
def lines():
    from pipeline.ocr import line_reader
    from pipeline.standard import load_profile

    return line_reader(load_profile(None).ocr, None)


def test_a_date_under_a_seal_is_read_in_the_grey_a_bitonal_page_was_cut_from(tmp_path, lines):
    from dataclasses import replace

    image, grey, ocr = _sealed_page(tmp_path)
    page = replace(page_artifact(0, image, ocr=ocr, folder=tmp_path), grey_path=grey)
    (doc,) = find_documents([page], None, headings=None, lines=lines)
    assert doc.date == "2022-02-28" and doc.evidence["date"].flags == []


def test_a_signature_date_read_without_its_day_is_read_again(tmp_path, lines):
    from dataclasses import replace

    image, grey, ocr = _sealed_page(tmp_path, date="2020年10月9日", read="2020年10月日")
    page = replace(page_artifact(0, image, ocr=ocr, folder=tmp_path), grey_path=grey)
    (doc,) = find_documents([page], None, headings=None, lines=lines)
    assert doc.date == "2020-10-09"


# --------------------------------------------------------------------------------------------------------------------
# Line re-reading helpers



def test_documents_read_in_two_threads_are_the_documents_read_in_one(tmp_path, lines):
    from dataclasses import replace

    pages = []
    for i, (case_no, date) in enumerate([("（2022）辽0103刑初821号", "二〇二二年二月二十八日"),
                                          ("（2022）辽0103刑初822号", "2020年10月9日"),
                                          ("（2022）辽0103刑初823号", "二〇二一年八月三十一日")]):
        folder = tmp_path / str(i)
        folder.mkdir()
        image, grey, ocr = _sealed_page(folder, date=date)
        pages.append(page_artifact(2 * i, image, ocr=_judgment(case_no, None), folder=folder))
        pages.append(replace(page_artifact(2 * i + 1, image, ocr=ocr, folder=folder), grey_path=grey))
    one = find_documents(pages, None, headings=None, lines=lines)
    two = find_documents(pages, None, headings=None, lines=lines, workers=2)
    assert [(d.positions, d.doc_no, d.date) for d in one] == [((0, 1), "（2022）辽0103刑初821号", "2022-02-28"),
                                                             ((2, 3), "（2022）辽0103刑初822号", "2020-10-09"),
                                                             ((4, 5), "（2022）辽0103刑初823号", "2021-08-31")]
    assert two == one

def test_a_spaced_out_title_is_closed_up_and_scaled_for_the_engine():
    import numpy as np

    grey = np.full((120, 900), 255, dtype=np.uint8)
    for k in range(5):  # five "characters" 100 px wide with 80 px gaps
        grey[10:110, k * 180 : k * 180 + 100] = 0
    img = render_line(grey, 0.15, 80)
    assert img.height == 80 + 48 and img.width < 0.75 * (900 * 80 / 100)


def test_a_seal_ring_crossing_the_lines_does_not_join_them_into_one():
    import numpy as np

    grey = np.full((400, 600), 255, dtype=np.uint8)
    grey[:, 300:306] = 0  # the ring: a few pixels in every row
    for top in (50, 200):
        grey[top : top + 60, 50:550] = 0
    assert [(b[1], b[3]) for b in ink_rows(grey, 30, 120)] == [(50, 110), (200, 260)]


# --------------------------------------------------------------------------------------------------------------------
# Review


def _volume() -> VolumeCatalogue:
    doubtful = EntryEvidence(date=FieldEvidence(flags=["missing"]), title=FieldEvidence(source="ocr", confidence=0.9))
    return VolumeCatalogue(volume=1, entries=[
        CatalogueEntry(seq=1, title="起诉书", first_page=1, last_page=2, document=0),
        CatalogueEntry(seq=2, title="刑事判决书", first_page=3, last_page=5, document=1, flags=["date-missing"],
                       evidence=doubtful)])


def test_only_volumes_with_a_field_in_doubt_are_reviewed_when_flagged():
    clean = VolumeCatalogue(volume=2, entries=[CatalogueEntry(seq=1, title="起诉书", first_page=1, last_page=1,
                                                              document=2)])
    assert volumes_to_review([_volume(), clean], "flagged") == [1]
    assert volumes_to_review([_volume(), clean], "always") == [1, 2]
    assert volumes_to_review([_volume(), clean], "never") == []


def test_a_review_records_corrections_and_confirmations_with_who_and_when():
    at = datetime(2024, 6, 1, tzinfo=UTC)
    rows = [ReviewedRow(2, "刑事判决书", "", "", "二〇二二年一月四日")]
    reviewed, records = apply_review(_volume(), rows, "张三", at, "run-1")
    row = reviewed.entries[1]
    assert (row.date, row.flags, row.evidence.date.source, row.evidence.title.source) == (
        "2022-01-04", [], "operator", "ocr")
    assert [(r.field, r.action, r.before, r.after) for r in records] == [
        ("title", "confirmed", "刑事判决书", "刑事判决书"), ("doc_no", "confirmed", "", ""),
        ("author", "confirmed", "", ""), ("date", "corrected", "", "2022-01-04")]
    assert all(r.by == "张三" and r.at == at and r.run == "run-1" for r in records)


def test_a_review_with_a_date_that_is_no_date_is_refused():
    with pytest.raises(BadInputError, match="not a date"):
        apply_review(_volume(), [ReviewedRow(2, "刑事判决书", "", "", "next monday")], "张三", datetime.now())


@pytest.mark.parametrize("typed", ["2024-13-45", "2023-02-29", "2024-00", "二〇二三年二月三十日"])
def test_a_reviewed_date_that_is_not_on_the_calendar_is_refused(typed):
    with pytest.raises(BadInputError, match="not a date on the calendar"):
        apply_review(_volume(), [ReviewedRow(2, "刑事判决书", "", "", typed)], "张三", datetime.now(UTC))


def test_a_reviewed_date_after_today_is_refused():
    at = datetime(2024, 6, 1, 12, tzinfo=UTC)
    with pytest.raises(BadInputError, match="after today"):
        apply_review(_volume(), [ReviewedRow(2, "刑事判决书", "", "", "2024-06-03")], "张三", at)
    with pytest.raises(BadInputError, match="after today"):
        apply_review(_volume(), [ReviewedRow(2, "刑事判决书", "", "", "2024年7月")], "张三", at)


@pytest.mark.parametrize("typed, kept", [("2024年3月", "2024-03"), ("2024-03", "2024-03"), ("2024年6月", "2024-06")])
def test_a_partial_reviewed_date_stays_partial(typed, kept):
    at = datetime(2024, 6, 1, 12, tzinfo=UTC)
    reviewed, _ = apply_review(_volume(), [ReviewedRow(2, "刑事判决书", "", "", typed)], "张三", at)
    assert reviewed.entries[1].date == kept


def test_a_reviewed_author_and_number_that_read_oddly_are_kept_as_typed_and_flagged():
    rows = [ReviewedRow(2, "刑事判决书", "随便写的号", "火星人民法院", "")]
    reviewed, _ = apply_review(_volume(), rows, "张三", datetime.now(UTC))
    row = reviewed.entries[1]
    assert (row.author, row.doc_no) == ("火星人民法院", "随便写的号")
    assert row.evidence.author.flags and row.evidence.doc_no.flags == ["unverified"]
    assert volumes_to_review([reviewed], "flagged") == []  # typed by a person: decided, not asked again


def test_a_reviewed_author_and_number_that_read_well_are_not_flagged():
    rows = [ReviewedRow(2, "刑事判决书", "（2021）辽0103刑初821号", "沈阳市沈河区人民法院", "")]
    reviewed, _ = apply_review(_volume(), rows, "张三", datetime.now(UTC))
    assert reviewed.entries[1].evidence.author.flags == [] and reviewed.entries[1].evidence.doc_no.flags == []


def test_a_rerun_applies_an_earlier_review_instead_of_asking_again():
    _, records = apply_review(_volume(), [ReviewedRow(2, "刑事判决书", "", "", "2022-01-04")], "张三", datetime.now())
    again, kept = reapply([_volume()], records)
    assert again[0].entries[1].date == "2022-01-04" and volumes_to_review(again, "flagged") == []
    assert len(kept) == 4
