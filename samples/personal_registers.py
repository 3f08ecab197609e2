"""Register pages of a generated case file, dense with personal numbers, so that a bench of a dozen case files plants
hundreds of each kind: a 通话记录 extract (the numbers a phone called, written every way they are — in groups, with
dashes, +86, full-width, fixed lines with an area code and an extension — beside service numbers that are not
personal data), a 卡口过车记录 (plates of Henan and elsewhere, new-energy plates, trailers) and a bank's
协助查询财产回执 (account holders' IDs — valid, ending in X or x, with a wrong check digit, in groups —, card
numbers, phones, one card under the bank's seal). Built with samples/personal.py's :class:`PageBuilder`.
"""

from __future__ import annotations

import random

from samples.personal import (
    PLATE_LETTERS,
    PageBuilder,
    People,
    card_number,
    full_width,
    id_number,
    mobile,
    plant,
    plant_name,
    spaced,
)
from samples.synthetic import CaseFacts

AREA_CODES = ("0373", "0371", "0378", "024", "0531", "010")
SERVICE_NUMBERS = ("10086", "95588", "95533", "400-810-8888", "12345", "400-600-0000")  # not personal data
OTHER_PROVINCES = "京冀鲁皖鄂陕晋苏"


def phone_as_written(rng: random.Random) -> tuple[str, str, str]:
    """(value, as printed, how) of a phone number in a register: a mobile plain, in groups, with dashes, after +86,
    in full-width digits, or a fixed line with its area code (in brackets, or with an extension after 转)."""
    way = rng.choice(("plain", "plain", "spaced", "dashed", "plus86", "full-width", "fixed", "fixed-extension",
                      "fixed-brackets"))
    if way.startswith("fixed"):
        area, local = rng.choice(AREA_CODES), str(rng.randint(2000000, 8999999)) + ("" if rng.random() < 0.5 else
                                                                                    str(rng.randrange(10)))
        printed = {"fixed": f"{area}-{local}", "fixed-extension": f"{area}-{local}转{rng.randint(800, 8999)}",
                   "fixed-brackets": f"（{area}）{local}"}[way]
        return area + local, printed, way
    number = mobile(rng)
    printed = {"plain": number, "spaced": f"{number[:3]} {number[3:7]} {number[7:]}",
               "dashed": f"{number[:3]}-{number[3:7]}-{number[7:]}",
               "plus86": f"+86 {number[:3]} {number[3:7]} {number[7:]}", "full-width": full_width(number)}[way]
    return number, printed, way


def call_records(rng: random.Random, f: CaseFacts, p: People) -> PageBuilder:
    """A 通话记录 extract of the victim's phone: sixteen calls, most with a personal number, some with a service
    number (10086, 95588, 400-…) a lawyer's copy keeps; durations in the column after the number."""
    b = PageBuilder("call-records", "通话记录（摘录）")
    b.line("通话记录（摘录）", pt=20, align="centre", style="hei", space_after=0.4)
    own = mobile(rng)
    b.line("机主：", plant_name(p.victim, True), "　号码：", plant("phone", own), pt=12, space_after=0.2)
    b.line("序号　起始时间　　　　　　类型　对方号码　　　　　　时长（秒）", pt=12, style="hei", space_after=0.05)
    for k in range(1, 17):
        when = f"{f.year}-{f.month:02d}-{f.day:02d} {rng.randint(6, 23):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
        if rng.random() < 0.2:
            number = rng.choice(SERVICE_NUMBERS)
            other = plant("decoy", number, number, False)
        else:
            value, printed, way = phone_as_written(rng)
            other = plant("phone", value, printed, True, way)
        b.line(f"{k:02d}　{when}　{rng.choice(('主叫', '被叫'))}　", other, f"　　{rng.randint(5, 900)}", pt=12,
               space_after=0.05)
    b.line("调取人：", plant_name(p.officer, False), f"　调取时间：{f.year}年{f.month}月{f.day}日", pt=12, space_after=0.1)
    return b


def plate_as_written(rng: random.Random) -> tuple[str, str, str]:
    """(value, as printed, how) of a licence plate: Henan's or another province's, five characters, with the dot of
    the plate itself, a new-energy plate's six, or a trailer's four and 挂."""
    province = "豫" if rng.random() < 0.7 else rng.choice(OTHER_PROVINCES)
    office = rng.choice("ABCDEFGHJKLMNPQRSU")
    way = rng.choice(("plain", "plain", "dotted", "new-energy", "trailer"))
    if way == "new-energy":
        tail = rng.choice("DF") + "".join(rng.choice("0123456789") for _ in range(5))
    elif way == "trailer":
        tail = "".join(rng.choice("0123456789") for _ in range(4)) + "挂"
    else:
        chars = [rng.choice("0123456789") for _ in range(5)]
        chars[rng.randrange(3)] = rng.choice(PLATE_LETTERS)
        tail = "".join(chars)
    value = province + office + tail
    return value, (province + office + "·" + tail if way == "dotted" else value), way


def vehicle_passes(rng: random.Random, f: CaseFacts, p: People) -> PageBuilder:
    """A 卡口过车记录: fourteen vehicles past the checkpoints near the scene, each with its plate; checkpoint and
    device numbers that are not personal data."""
    b = PageBuilder("vehicle-passes", "卡口过车记录")
    b.line("卡口过车记录", pt=20, align="centre", style="hei", space_after=0.4)
    b.line(f"查询时段：{f.year}年{f.month}月{f.day}日20时至24时　查询人：", plant_name(p.officer, False), pt=12,
           space_after=0.2)
    b.line("序号　通过时间　　卡口编号　　　　号牌号码　　　号牌种类", pt=12, style="hei", space_after=0.05)
    for k in range(1, 15):
        value, printed, way = plate_as_written(rng)
        kind = "挂车" if way == "trailer" else "新能源小型车" if way == "new-energy" else rng.choice(("小型汽车", "大型汽车"))
        b.line(f"{k:02d}　{rng.randint(20, 23):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}　",
               plant("decoy", f"KK{rng.randint(10 ** 7, 10 ** 8 - 1)}", hide=False), "　",
               plant("plate", value, printed, True, way), f"　{kind}", pt=12, space_after=0.05)
    return b


def _id_as_written(rng: random.Random, k: int) -> tuple[str, str, list[str]]:
    born = (rng.randint(1955, 2006), rng.randint(1, 12), rng.randint(1, 28))
    check = ("valid", "valid", "valid", "x", "bad")[k % 5]
    number = id_number(rng, born, check)
    notes = {"x": ["x-check"], "bad": ["bad-checksum"]}.get(check, [])
    if check == "x" and rng.random() < 0.5:
        return number, number[:-1] + "x", [*notes, "lower-x"]
    if k % 4 == 3:
        return number, f"{number[:6]} {number[6:14]} {number[14:]}", [*notes, "spaced"]
    return number, number, notes


def bank_query(rng: random.Random, f: CaseFacts, p: People) -> PageBuilder:
    """A bank's 协助查询财产回执: ten account holders (the case's people, hidden or kept as the profile says), each
    with an ID, a card number (in groups or not), a reserved phone and a balance; one card under the bank's
    seal."""
    b = PageBuilder("bank-query", "协助查询财产回执")
    b.seal_text = "中国农业银行股份有限公司封丘县支行"
    b.line("协助查询财产回执", pt=20, align="centre", style="hei", space_after=0.3)
    b.line("封丘县公安局：你局协助查询财产通知书收悉，现将查询结果回复如下：", pt=12, space_after=0.15)
    holders = [(p.victim, True), (p.witness, True), (p.defendant, False), (p.minor, True)]
    sealed = None
    for k in range(10):
        name, hide = holders[k % len(holders)]
        number, printed, notes = _id_as_written(rng, k)
        card = card_number(rng, rng.choice((16, 19)))
        phone = mobile(rng)
        card_item = plant("bank_card", card, spaced(card) if k % 3 == 1 else card, True,
                          *(["spaced"] if k % 3 == 1 else []))
        b.line(f"{k + 1:02d}．户名：", plant_name(name, hide), "　证件号码：", plant("id_number", number, printed, True, *notes),
               pt=12, space_after=0.02)
        b.line("　　账号：", card_item, "　预留手机：", plant("phone", phone), f"　余额：{rng.randint(0, 99999)}.{rng.randrange(100):02d}元",
               pt=12, space_after=0.12)
        sealed = card_item if k == 8 else sealed
    b.line(f"经办人：{rng.choice('王李张刘')}柜员　{f.year}年{f.month}月{f.day}日", pt=12, align="right")
    b.seal_under = sealed
    return b


REGISTERS = (call_records, vehicle_passes, bank_query)
"""The register pages a bench adds to each generated case file (samples/personal.py's DOCUMENTS come first)."""
