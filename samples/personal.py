"""Case-file pages with planted personal data and its ground truth, for the disclosure tests and
``bench/disclosure.py`` (built on samples/synthetic.py's layout, seals and scan degradations).

A case file holds a victim's and a witness's 询问笔录 (the name in the header, repeated in the answers; an ID number
straight after 身份证号码, sometimes ending in X, one written with a wrong check digit; a phone number in groups; a
detailed address), an 起诉书 (the defendant's ID and address; the victim named again; the victim's phone under the
court's red seal), a 扣押物品清单 (a bank card, a licence plate, and numbers that are not personal data: item numbers,
amounts, an invoice number, a waybill number) a 情况说明 of bank transfers and a 涉案人员信息表 (every person's ID, phone, card, plate). Some numbers are broken over two
lines, some are printed in full-width digits. The defendant, the officers and the clerk are named too: a lawyer's
copy keeps their names.

Each :class:`Planted` item records every character's box on the page as drawn; pages are scanned without moving
anything (specks, bleed-through, blur, JPEG or G4), so the boxes are where the item is in the scan.

    python -m samples.personal OUT_DIR [--cases N] [--seed S]    # batches OUT_DIR/<case>/ with truth.json beside
"""

from __future__ import annotations

import io
import json
import random
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PIL import Image

from samples.synthetic import (
    INK,
    Block,
    CaseFacts,
    cn_date,
    draw_handwriting,
    draw_seal,
    font,
    layout,
    mm_to_px,
    pt_to_px,
    scan,
    wrap,
)

DPI = 300
COUNTIES = [("河南省新乡市封丘县", "410727"), ("河南省新乡市红旗区", "410702"), ("河南省郑州市金水区", "410105"),
            ("河南省开封市龙亭区", "410202"), ("辽宁省沈阳市沈河区", "210103"), ("山东省济南市历下区", "370102")]
TOWNS = ["城关镇", "黄德镇", "留光镇", "东风路街道", "建设路街道", "文化路街道"]
ROADS = ["建设路", "人民路", "文化路", "解放大道", "黄河路", "中原路", "新华街", "幸福巷"]
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红玉兰春生婷雪梅晓东海鹏飞宇浩然"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
FILLER = "嗯，是这样的，当时天已经黑了，我也记不太清楚，"


@dataclass
class Planted:
    """One planted piece of text: its kind (id_number, phone, bank_card, plate, address, name; ``decoy`` for numbers
    and names a lawyer's copy keeps), the value, how it was printed, the box of every printed character, whether the
    lawyer's profile must hide it, and how it was written (split, under-seal, spaced, full-width, after-han,
    x-check, bad-checksum)."""

    kind: str
    value: str
    printed: str
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)
    hide: bool = True
    notes: list[str] = field(default_factory=list)


@dataclass
class TruthPage:
    """One page of a generated case file: its file, kind, and what was planted on it."""

    file: str
    kind: str
    planted: list[Planted] = field(default_factory=list)


@dataclass
class People:
    """The case's people: the hidden ones (victim, witness, a minor witness) and the kept ones."""

    victim: str
    witness: str
    minor: str
    defendant: str
    officer: str
    clerk: str


def checksum(body: str) -> str:
    """The GB 11643 check character of the first 17 digits."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11]


def id_number(rng: random.Random, born: tuple[int, int, int], check: str = "valid") -> str:
    """An ID number: a real county's code, the birth date, a sequence; ``check`` valid | x (ending in X) | bad."""
    region = rng.choice(COUNTIES)[1]
    while True:
        body = f"{region}{born[0]:04d}{born[1]:02d}{born[2]:02d}{rng.randrange(1000):03d}"
        good = checksum(body)
        if check == "x" and good != "X":
            continue
        if check == "bad":
            return body + rng.choice([c for c in "0123456789" if c != good])
        return body + good


def luhn_digit(body: str) -> str:
    """The Luhn check digit of a card number's body."""
    total = 0
    for k, d in enumerate(reversed(body)):
        v = int(d) * (2 if k % 2 == 0 else 1)
        total += v - 9 if v > 9 else v
    return str((10 - total % 10) % 10)


def card_number(rng: random.Random, length: int = 19) -> str:
    """A UnionPay card number passing Luhn."""
    body = "62" + "".join(rng.choice("0123456789") for _ in range(length - 3))
    return body + luhn_digit(body)


def mobile(rng: random.Random) -> str:
    """A mobile number."""
    return "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))


def plate(rng: random.Random) -> str:
    """A licence plate of Henan (豫) with five characters, at least three digits."""
    tail = [rng.choice("0123456789") for _ in range(5)]
    tail[rng.randrange(2)] = rng.choice(PLATE_LETTERS)
    return "豫" + rng.choice("AGHJ") + "".join(tail)


def address(rng: random.Random) -> tuple[str, str]:
    """(county part kept, detail removed): 河南省新乡市封丘县 + 城关镇建设路18号3号楼2单元402室."""
    county = rng.choice(COUNTIES)[0]
    detail = (f"{rng.choice(TOWNS)}{rng.choice(ROADS)}{rng.randint(1, 199)}号"
              + (f"{rng.randint(1, 12)}号楼{rng.randint(1, 4)}单元{rng.randint(1, 18)}0{rng.randint(1, 4)}室"
                 if rng.random() < 0.7 else ""))
    return county, detail


def spaced(number: str, group: int = 4) -> str:
    """A number in groups: 6222 0212 3456 7890 123."""
    return " ".join(number[i : i + group] for i in range(0, len(number), group))


def full_width(text: str) -> str:
    """Digits and Latin letters as a typewriter's full-width forms."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


def make_people(rng: random.Random) -> People:
    """Six different names, none the start of another."""
    names: list[str] = []
    while len(names) < 6:
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
        if all(not n.startswith(name) and not name.startswith(n) for n in names):
            names.append(name)
    return People(*names)


class PageBuilder:
    """Lines of a page, some carrying planted items; :meth:`render` draws them and finds every item's boxes."""

    def __init__(self, kind: str, title: str = "") -> None:
        """An empty page of a kind, the document it is (its title in the batch's 卷内目录)."""
        self.kind = kind
        self.title = title
        self.seal_text = ""  # whose seal is pressed over ``seal_under`` (default: the procuratorate's)
        self.blocks: list[Block] = []
        self.planted: list[Planted] = []
        self.seal_under: Planted | None = None
        self.glyphs: list[tuple[str, float, float, float, float]] = []  # every character drawn, once rendered

    def line(self, *pieces: str | Planted, pt: float = 14, align: str = "left", indent: int = 0,
             style: str = "song", space_after: float = 0.15, split: Planted | None = None) -> None:
        """One block of text made of plain pieces and planted items (``split``: broken over a line end)."""
        text = "".join(p if isinstance(p, str) else p.printed for p in pieces)
        self.planted += [p for p in pieces if isinstance(p, Planted)]
        if split is not None:
            text = self._breaking(pieces, split, pt, indent)
            split.notes.append("split")
        self.blocks.append(Block(text, pt, style, align, INK, indent, space_after))

    def _breaking(self, pieces: tuple[str | Planted, ...], item: Planted, pt: float, indent: int) -> str:
        """The block's text with filler before ``item`` so that the line breaks inside it (3+ characters each side)."""
        fnt = font("song", pt_to_px(pt, DPI))
        width = mm_to_px(210, DPI) - mm_to_px(28, DPI) - mm_to_px(26, DPI)
        k = pieces.index(item)
        head = "".join(p if isinstance(p, str) else p.printed for p in pieces[:k])
        tail = "".join(p if isinstance(p, str) else p.printed for p in pieces[k + 1 :])
        cut = head.find("：") + 1  # the filler goes after the line's label (答：), where a speaker would say it
        for n in range(0, 60):
            filler = (FILLER * 4)[:n]
            text = head[:cut] + filler + head[cut:] + item.printed + tail
            start = len(filler + head)
            ends, at = [], 0
            for line in wrap(text, fnt, width, int(fnt.size * indent)):
                at += len(line)
                ends.append(at)
            if any(start + 3 <= e <= start + len(item.printed) - 3 for e in ends):
                return text
        raise ValueError(f"cannot break {item.printed!r} over a line")

    def render(self, rng: random.Random, seal_text: str = "") -> tuple[Image.Image, list[Planted]]:
        """The clean page and its planted items with their boxes (items that did not fit are dropped)."""
        w, h = mm_to_px(210, DPI), mm_to_px(297, DPI)
        tone = rng.randint(238, 250)
        img = Image.new("RGB", (w, h), (tone, tone, max(0, tone - 4)))
        glyphs = self.glyphs = []
        _, bottom = layout(img, self.blocks, DPI, top_mm=30.0, glyphs=glyphs)
        drawn = "".join(g[0] for g in glyphs)
        placed, at = [], 0
        for item in self.planted:
            k = drawn.find(item.printed, at)
            if k < 0:
                continue
            item.boxes = [tuple(round(v) for v in g[1:]) for g in glyphs[k : k + len(item.printed)]
                          if not g[0].isspace()]
            placed.append(item)
            at = k + len(item.printed) if item.kind != "name" else k + 1
        if self.kind.endswith("record"):
            draw_handwriting(img, (mm_to_px(120, DPI), min(h - mm_to_px(50, DPI), bottom + mm_to_px(12, DPI))),
                             "以上笔录我看过和我说的一样", DPI, rng)
        if self.seal_under is not None and self.seal_under.boxes:
            boxes = self.seal_under.boxes
            cx = (boxes[0][0] + boxes[-1][2]) // 2
            cy = (boxes[0][1] + boxes[-1][3]) // 2
            draw_seal(img, (cx, cy), DPI, seal_text, rng)
            self.seal_under.notes.append("under-seal")
        return img, placed


def plant(kind: str, value: str, printed: str | None = None, hide: bool = True, *notes: str) -> Planted:
    """An item planted in a line: its kind, its value, how it is printed (default: as the value), whether the copy
    must remove it, and notes on how it is written."""
    return Planted(kind, value, printed if printed is not None else value, hide=hide, notes=list(notes))


def plant_name(name: str, hide: bool) -> Planted:
    """A person's name planted in a line: one the copy must replace by its 某 form, or one it keeps (a decoy)."""
    return plant("name" if hide else "decoy", name, name, hide)


def victim_record(rng: random.Random, f: CaseFacts, p: People) -> PageBuilder:
    """The victim's 询问笔录: header with name, ID (after 身份证号码, no colon), address, phone in groups; the name
    repeated; a witness named; a bank card in groups; a phone broken over a line end."""
    b = PageBuilder("victim-record", f"被害人{p.victim}询问笔录")
    b.line("询问笔录", pt=22, align="centre", style="hei", space_after=0.5)
    b.line(f"时间：{f.year}年{f.month}月{f.day}日9时10分至10时25分")
    b.line("地点：封丘县公安局刑侦大队办公室")
    b.line("询问人：", plant_name(p.officer, False), "、", plant_name(p.clerk, False), "　工作单位：封丘县公安局")
    b.line("被询问人：", plant_name(p.victim, True), "　性别：女　出生日期：1985年6月3日")
    check = rng.choice(["valid", "valid", "x"])
    number = id_number(rng, (1985, 6, 3), check)
    b.line("身份证号码", plant("id_number", number, number, True, "after-han", *(["x-check"] if check == "x" else [])))
    county, detail = address(rng)
    b.line("住址：", county, plant("address", detail))
    phone = mobile(rng)
    b.line("联系电话：", plant("phone", phone, f"{phone[:3]} {phone[3:7]} {phone[7:]}", True, "spaced"))
    b.line("问：我们是封丘县公安局的民警，现依法向你询问，你要如实回答，听清楚了吗？")
    b.line("答：听清楚了。我叫", plant_name(p.victim, True), "，是这个案子的被害人。")
    b.line("问：你把当天的经过讲一下。")
    card = card_number(rng)
    b.line(f"答：{f.year}年{f.month}月{f.day}日晚上十点左右，我和证人", plant_name(p.witness, True),
           "一起回到家中，发现房门被撬，家里的现金和手机被偷了，我的银行卡（卡号",
           plant("bank_card", card, spaced(card), True, "spaced"), "）里的钱也被人转走了。")
    second = mobile(rng)
    item = plant("phone", second)
    b.line("问：还有谁知道这件事？")
    b.line("答：我邻居", plant_name(p.witness, True), "也看见了，他的手机号码是", item, "，你们可以找他核实。", split=item)
    b.line("问：以上所说是否属实？")
    b.line("答：属实。", space_after=0.6)
    return b


def witness_record(rng: random.Random, f: CaseFacts, p: People) -> PageBuilder:
    """A minor witness's 询问笔录: a birth date under 18, an ID with a wrong check digit, full-width phone digits,
    a licence plate, the victim named, the guardian present."""
    b = PageBuilder("witness-record", f"证人{p.minor}询问笔录")
    b.line("询问笔录", pt=22, align="centre", style="hei", space_after=0.5)
    b.line(f"时间：{f.year}年{f.month}月{f.day}日14时05分至15时00分")
    b.line("询问人：", plant_name(p.officer, False), "、", plant_name(p.clerk, False), "　工作单位：封丘县公安局")
    b.line("被询问人：", plant_name(p.minor, True), "　性别：男　出生日期：2009年3月8日")
    number = id_number(rng, (2009, 3, 8), "bad")
    b.line("身份证号：", plant("id_number", number, number, True, "bad-checksum"))
    county, detail = address(rng)
    b.line("现住", county, plant("address", detail))
    phone = mobile(rng)
    b.line("手机：", plant("phone", phone, full_width(phone), True, "full-width"))
    b.line("法定代理人：", plant_name(p.witness, True), "（系被询问人之母）")
    b.line("问：你把看到的情况讲一下。")
    car = plate(rng)
    b.line("答：那天晚上我在楼下玩，看见一辆车牌号为", plant("plate", car),
           "的白色轿车停在被害人", plant_name(p.victim, True), "家楼下，车上下来一个男的。")
    b.line("问：你认识那个人吗？")
    b.line("答：不认识，后来民警给我看照片，我认出是", plant_name(p.defendant, False), "。")
    b.line("问：你说的是否属实？")
    b.line("答：属实。我叫", plant_name(p.minor, True), "，以上都是我亲眼看到的。", space_after=0.6)
    return b


def indictment(rng: random.Random, f: CaseFacts, p: People) -> PageBuilder:
    """An 起诉书's page: the defendant's ID and addresses (his name kept), the victim named, the victim's phone
    under the procuratorate's seal."""
    b = PageBuilder("indictment", "起诉书")
    b.line("河南省封丘县人民检察院", pt=22, align="centre", style="song", space_after=0.2)
    b.line("起诉书", pt=22, align="centre", style="hei", space_after=0.3)
    b.line(plant("decoy", f.proc_no, f.proc_no, False), align="right", space_after=0.6)
    number = id_number(rng, (1990, 2, 14))
    county, detail = address(rng)
    county2, detail2 = address(rng)
    b.line("被告人", plant_name(p.defendant, False), "，男，1990年2月14日出生，公民身份号码", plant("id_number", number),
           "，汉族，初中文化，户籍所在地", county, plant("address", detail), "，现住", county2,
           plant("address", detail2), "。", indent=2, pt=15)
    b.line(f"经依法审查查明：{f.year}年{f.month}月{f.day}日晚，被告人", plant_name(p.defendant, False),
           "窜至被害人", plant_name(p.victim, True), "家中，窃得现金人民币三千元及手机一部，并盗用被害人",
           plant_name(p.victim, True), "的银行卡转走人民币五千元。案发后取得了被害人", plant_name(p.victim, True), "的谅解。",
           indent=2, pt=15)
    b.line("此致", pt=15, indent=2)
    b.line("河南省封丘县人民法院", pt=15, space_after=0.8)
    b.line("检察员：", plant_name(p.officer, False), pt=15, align="right")
    b.line(cn_date(f.year, f.month, f.day), pt=15, align="right", space_after=0.6)
    fixed = f"0373-{rng.randint(2000000, 8999999)}"
    item = plant("phone", fixed.replace("-", ""), fixed)
    b.line("附：被害人", plant_name(p.victim, True), "联系电话", item, pt=14)
    b.seal_under = item
    return b


def seizure_list(rng: random.Random, f: CaseFacts, p: People) -> PageBuilder:
    """A 扣押物品清单 as lines: a bank card broken over a line end, a licence plate, and numbers that are not
    personal data (item and invoice numbers, amounts, a waybill)."""
    b = PageBuilder("seizure-list", "扣押物品清单")
    b.line("扣押物品清单", pt=22, align="centre", style="hei", space_after=0.5)
    b.line("清单编号：", plant("decoy", f"FQ{f.year}0503017", hide=False))
    b.line("1．现金3000元（人民币百元券30张）")
    card = card_number(rng, 16)
    item = plant("bank_card", card)
    b.line("2．银行卡1张，卡号", item, "，持卡人", plant_name(p.victim, True), "，已冻结。", split=item)
    car = plate(rng)
    b.line("3．白色小型轿车1辆，车牌号：", plant("plate", car), "，停放于封丘县公安局院内。")
    b.line("4．增值税普通发票1张，发票号码", plant("decoy", f"{rng.randint(10000000, 99999999)}", hide=False), "。")
    b.line("5．快递单1张，运单号", plant("decoy", f"SF{rng.randint(10 ** 12, 10 ** 13 - 1)}", hide=False), "。")
    b.line("物品登记编号：", plant("decoy", f"{f.year}0503{rng.randint(10 ** 9, 10 ** 10 - 1)}", hide=False))
    b.line("见证人：", plant_name(p.witness, True), "　扣押人：", plant_name(p.officer, False))
    return b


def transfer_statement(rng: random.Random, f: CaseFacts, p: People) -> PageBuilder:
    """A 情况说明 of bank transfers: two card numbers after 账号, an address, a phone, a transaction serial that is
    not personal data."""
    b = PageBuilder("statement", "情况说明")
    b.line("情况说明", pt=22, align="centre", style="hei", space_after=0.5)
    a, c = card_number(rng), card_number(rng, 16)
    county, detail = address(rng)
    phone = mobile(rng)
    b.line(f"经调取银行交易记录查明：{f.year}年{f.month}月{f.day}日，被害人", plant_name(p.victim, True), "名下账号",
           plant("bank_card", a), "向犯罪嫌疑人", plant_name(p.defendant, False), "名下账号", plant("bank_card", c),
           "转账人民币五千元，交易流水号", plant("decoy", f"{f.year}0503{rng.randint(10 ** 11, 10 ** 12 - 1)}",
                                      hide=False), "。", indent=2, pt=15)
    b.line("被害人", plant_name(p.victim, True), "家住", county, plant("address", detail), "，犯罪嫌疑人",
           plant_name(p.defendant, False), "的联系电话为", plant("phone", phone), "。", indent=2, pt=15)
    b.line("特此说明。", indent=2, pt=15, space_after=1.0)
    b.line("封丘县公安局刑侦大队", pt=15, align="right")
    b.line(cn_date(f.year, f.month, f.day), pt=15, align="right")
    return b


def contact_sheet(rng: random.Random, f: CaseFacts, p: People) -> PageBuilder:
    """A 涉案人员信息表 as lines: for each person an ID (one in groups, one ending in X), a phone, a bank card and
    sometimes a plate; the defendant's row keeps his name, his numbers are removed all the same."""
    b = PageBuilder("contacts", "涉案人员信息表")
    b.line("涉案人员信息表", pt=22, align="centre", style="hei", space_after=0.5)
    rows = [("被害人", p.victim, True), ("证人", p.witness, True), ("犯罪嫌疑人", p.defendant, False),
            ("证人", p.minor, True)]
    for k, (role, name, hide) in enumerate(rows, start=1):
        born = (2009, 3, 8) if name == p.minor else (rng.randint(1960, 2000), rng.randint(1, 12), rng.randint(1, 28))
        check = "x" if k == 2 else "valid"
        number = id_number(rng, born, check)
        printed = spaced(number, 6) if k == 3 else number
        phone, card = mobile(rng), card_number(rng, rng.choice((16, 19)))
        b.line(f"{k}．{role}", plant_name(name, hide), "　身份证号：",
               plant("id_number", number, printed, True, *(["x-check"] if check == "x" else []),
                     *(["spaced"] if k == 3 else [])), pt=13, space_after=0.05)
        b.line("　　手机：", plant("phone", phone), "　银行卡号：", plant("bank_card", card), pt=13, space_after=0.05)
        if k % 2:
            b.line("　　车辆：", plant("plate", plate(rng)), "（小型轿车）", pt=13, space_after=0.3)
        else:
            b.line("　　无登记车辆", pt=13, space_after=0.3)
    b.line("填表人：", plant_name(p.clerk, False), f"　填表日期：{f.year}年{f.month}月{f.day}日", pt=13)
    return b


Document = Callable[[random.Random, CaseFacts, People], PageBuilder]
"""A page of a generated case file: drawn from the case's random stream, facts and people."""

DOCUMENTS: tuple[Document, ...] = (victim_record, witness_record, indictment, seizure_list, transfer_statement,
                                   contact_sheet)
"""The pages of one generated case file, in order."""


SEAL_RED = 50  # a pixel whose red exceeds its green and blue by more than this is a seal's, not print's


def _pixels(before: Image.Image, after: Image.Image, box: tuple[int, int, int, int]):
    import numpy as np

    x0, y0 = max(0, box[0]), max(0, box[1])
    cell = (x0, y0, max(x0, min(box[2], before.width)), max(y0, min(box[3], before.height)))
    seen = before.crop(cell)  # the character's cell converted, not the whole page for each character
    rgb = np.asarray(seen.convert("RGB"), dtype=np.int16)
    a = np.asarray(seen.convert("L"), dtype=np.int16)
    b = np.asarray(after.crop(cell).convert("L"), dtype=np.int16)
    # the character's ink: dark and not red (a seal's lettering pressed into its cell is not the character)
    ink = (a < 128) & (rgb[..., 0] - rgb[..., 1:].max(axis=-1) <= SEAL_RED)
    if not ink.any():
        return a, b, None
    rows, cols = ink.any(axis=1).nonzero()[0], ink.any(axis=0).nonzero()[0]
    return a, b, (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))


def painted_share(before: Image.Image, after: Image.Image, box: tuple[int, int, int, int]) -> float:
    """How much of the character in ``box`` a copy painted black: the share of the box around its ink now black —
    its shape gone."""
    a, b, tight = _pixels(before, after, box)
    if tight is None:
        return 1.0
    return float((b[tight] < 60).mean())


def ink_overlap(before: Image.Image, after: Image.Image, box: tuple[int, int, int, int]) -> float:
    """How much of the character in ``box`` is still there in a copy: the overlap (Dice) of its ink and the ink
    now in the box around it — 1 left as it was, lower where something else is drawn in its place (a 某 shares
    some strokes with the character it replaces, 宇 its 宀's bar and its hook's)."""
    a, b, tight = _pixels(before, after, box)
    if tight is None:
        return 1.0
    was, now = a[tight] < 128, b[tight] < 128
    return float(2 * (was & now).sum() / max(1, was.sum() + now.sum()))


def changed_share(before: Image.Image, after: Image.Image, box: tuple[int, int, int, int]) -> float:
    """Share of the pixels around the ink of the character in ``box`` that a copy changed (0: left as it was)."""
    a, b, tight = _pixels(before, after, box)
    return 0.0 if tight is None else float((abs(a[tight] - b[tight]) > 50).mean())


NAME_KEPT = 0.8  # ink overlap of a given name's character before and after, at most, for it to count as replaced
# (bench/disclosure.py --seed 29: a 某 drawn in its cell 0.04-0.48, a surname left alone 0.98-1.0)
NUMBER_PAINTED = 0.95  # share of the box around a digit's ink painted black, at least


def carrying(item: Planted, boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """The boxes of an item's characters that carry its value — letters, digits, Han characters —, not the brackets,
    dashes and plus signs printed around them (（0373）6083974's brackets tell nothing of the number)."""
    chars = [c for c in item.printed if not c.isspace()]
    return [b for c, b in zip(chars, boxes) if unicodedata.category(c)[0] in "LN"]


def removed(item: Planted, before: Image.Image, after: Image.Image, boxes: list[tuple[int, int, int, int]]) -> bool:
    """Whether a copy removed a planted item: every character carrying a number's or an address's value painted
    black, every character of a name's given name no longer its shape (:data:`NAME_KEPT`; the surname kept)."""
    if item.kind == "name":
        return all(ink_overlap(before, after, b) <= NAME_KEPT for b in boxes[1:])
    return all(painted_share(before, after, b) >= NUMBER_PAINTED for b in carrying(item, boxes))


ENCODINGS = ("colour-jpeg", "grey-jpeg", "g4")


def _encode(image: Image.Image, encoding: str) -> tuple[bytes, str]:
    buf = io.BytesIO()
    if encoding == "g4":
        bits = image.convert("L").point(lambda v: 255 if v > 150 else 0).convert("1")
        bits.save(buf, "TIFF", compression="group4", dpi=(DPI, DPI))
        return buf.getvalue(), ".tif"
    mode = "L" if encoding == "grey-jpeg" else "RGB"
    image.convert(mode).save(buf, "JPEG", quality=85, dpi=(DPI, DPI))
    return buf.getvalue(), ".jpg"


@dataclass
class GeneratedCase:
    """A generated case file: where its batch is, its case number, people and the truth of every page."""

    folder: Path
    case_no: str
    people: People
    pages: list[TruthPage]

    def items(self, kinds: tuple[str, ...] | None = None) -> list[tuple[int, Planted]]:
        """(page number, item) of every planted item, optionally of some kinds only."""
        return [(n, item) for n, page in enumerate(self.pages, start=1) for item in page.planted
                if kinds is None or item.kind in kinds]


def make_case(out: Path, seed: int, number: int = 300, documents: Sequence[Document] = DOCUMENTS) -> GeneratedCase:
    """Write one generated case file's batch (page files, batch.json) into ``out`` and its truth.json beside the
    pages, a page for each of ``documents`` (samples/personal_registers.py adds dense registers); the same seed
    writes the same bytes."""
    rng = random.Random(seed)
    facts = CaseFacts.make(random.Random(seed * 7 + 1), year=2024, number=number)
    people = make_people(rng)
    out.mkdir(parents=True, exist_ok=True)
    truth: list[TruthPage] = []
    titles: list[str] = []
    for n, document in enumerate(documents, start=1):
        builder = document(rng, facts, people)
        titles.append(builder.title)
        image, planted = builder.render(rng, builder.seal_text or "河南省封丘县人民检察院")
        sealed = builder.seal_under is not None
        encoding = "colour-jpeg" if sealed or builder.kind.endswith("record") else rng.choice(ENCODINGS)
        image = scan(image, rng, DPI, specks=rng.randint(20, 60), blur=rng.choice((0.0, 0.0, 0.5)))
        data, suffix = _encode(image, encoding)
        name = f"{n:03d}{suffix}"
        (out / name).write_bytes(data)
        truth.append(TruthPage(name, builder.kind, planted))
    case_no = f"（2024）豫0727刑初{number}号"
    batch = {"case_no": case_no, "case_title": f"{people.defendant}盗窃案", "agency": "河南省封丘县人民法院",
             "room": "room-1", "operator": "扫描员01", "dpi": DPI, "security_level": "internal", "retention": "永久",
             "prepared_by": "李书记员", "checked_by": "王档案员",
             "documents": [{"title": t, "pages": 1} for t in titles]}
    for entry, page in zip(batch["documents"], truth):
        if page.kind == "indictment":
            entry["doc_no"] = facts.proc_no
    (out / "batch.json").write_text(json.dumps(batch, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    case = GeneratedCase(out, case_no, people, truth)
    (out.parent / f"{out.name}.truth.json").write_text(json.dumps(
        {"case_no": case_no, "people": asdict(people), "pages": [asdict(p) for p in truth]}, ensure_ascii=False,
        indent=1) + "\n", encoding="utf-8")
    return case


def main(argv: list[str]) -> None:
    """Write ``--cases N`` generated case files (seeded from ``--seed``) into OUT_DIR."""
    out = Path(argv[0])
    cases = int(argv[argv.index("--cases") + 1]) if "--cases" in argv else 1
    seed = int(argv[argv.index("--seed") + 1]) if "--seed" in argv else 27
    for k in range(cases):
        case = make_case(out / f"pii-{seed}-{k:02d}", seed * 1000 + k, number=300 + k)
        print(case.folder, len(case.items()), "items")


if __name__ == "__main__":
    main(sys.argv[1:])
