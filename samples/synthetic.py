"""Synthetic case-file pages with known ground truth, for the samples, the tests and the benchmarks.

Pages look like scans of Chinese judicial documents: 红头 titles, 文号, body text, tables of a 笔录, handwriting,
red seals, photos; then the scan is degraded the way scanning rooms degrade them: skew, a page turned over,
scanner-bed borders and shadows, specks, bleed-through. Every random choice comes from the seed, so the same
arguments give the same pixels.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

A4_MM = (210.0, 297.0)

FONT_CANDIDATES = {
    "song": ["/usr/share/fonts/truetype/arphic/uming.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"],
    "kai": ["/usr/share/fonts/truetype/arphic/ukai.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"],
    "hei": ["/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"],
}

RED = (205, 30, 35)
INK = (25, 25, 28)
BLUE_INK = (30, 45, 120)

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红玉兰春生"
PLACES = ["新乡市封丘县城关镇", "郑州市金水区", "开封市龙亭区", "洛阳市西工区", "新乡市红旗区", "封丘县黄德镇"]
CRIMES = ["盗窃", "故意伤害", "诈骗", "危险驾驶", "寻衅滋事", "交通肇事"]
CN_DIGITS = "〇一二三四五六七八九"


def cn_year(year: int) -> str:
    """二〇一九 for 2019."""
    return "".join(CN_DIGITS[int(d)] for d in str(year))


def cn_number(n: int) -> str:
    """Chinese numeral for 1..31 as printed in dates (十二, 二十一)."""
    if n < 10:
        return CN_DIGITS[n] if n else "〇"
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else CN_DIGITS[tens]
    return head + "十" + (CN_DIGITS[ones] if ones else "")


def cn_date(year: int, month: int, day: int) -> str:
    """二〇一九年四月十二日."""
    return f"{cn_year(year)}年{cn_number(month)}月{cn_number(day)}日"


@lru_cache(maxsize=64)
def font(style: str, px: int) -> ImageFont.FreeTypeFont:
    """A CJK font of the given style at a pixel size."""
    for path in FONT_CANDIDATES[style]:
        if Path(path).exists():
            return ImageFont.truetype(path, px)
    raise FileNotFoundError(f"no CJK font for style {style!r}; install fonts-wqy-zenhei and fonts-arphic-*")


def pt_to_px(pt: float, dpi: int) -> int:
    """Font size in points to pixels at a resolution."""
    return max(6, round(pt / 72.0 * dpi))


def mm_to_px(mm: float, dpi: int) -> int:
    """Millimetres to pixels at a resolution."""
    return round(mm / 25.4 * dpi)


@dataclass
class CaseFacts:
    """Names, numbers and dates of one synthetic case, shared by its documents."""

    year: int
    court_no: str
    proc_no: str
    defendant: str
    victim: str
    officer: str
    clerk: str
    place: str
    crime: str
    month: int
    day: int

    @classmethod
    def make(cls, rng: random.Random, year: int = 2024, number: int = 172) -> CaseFacts:
        """Invent a consistent set of facts."""

        def name() -> str:
            return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))

        return cls(
            year=year,
            court_no=f"（{year}）豫0727刑初{number}号",
            proc_no=f"封检公诉刑诉〔{year}〕{number}号",
            defendant=name(),
            victim=name(),
            officer=name(),
            clerk=name(),
            place=rng.choice(PLACES),
            crime=rng.choice(CRIMES),
            month=rng.randint(1, 9),
            day=rng.randint(1, 28),
        )


@dataclass
class Block:
    """A run of text to lay out: style, size in points, alignment, colour."""

    text: str
    pt: float = 16.0
    style: str = "song"
    align: str = "left"  # left | centre | right
    colour: tuple[int, int, int] = INK
    indent: int = 2  # first-line indent in characters
    space_after: float = 0.4  # in lines
    rule_after: bool = False  # a red rule under the block (红头)


def body_paragraphs(f: CaseFacts, rng: random.Random, n: int) -> list[str]:
    """Paragraphs of plausible case narrative."""
    pool = [
        f"被告人{f.defendant}，男，汉族，初中文化，户籍所在地{f.place}，现住{rng.choice(PLACES)}。"
        f"因涉嫌{f.crime}罪于{f.year}年{f.month}月{f.day}日被封丘县公安局刑事拘留。",
        f"经依法审查查明：{f.year}年{f.month}月的一天晚上，被告人{f.defendant}在{f.place}某小区内，"
        f"趁无人之机，采取撬锁的方式进入被害人{f.victim}家中，窃得现金人民币三千元及手机一部。",
        f"案发后，被告人{f.defendant}到公安机关投案，如实供述了自己的罪行，并退赔了被害人的全部损失，"
        f"取得了被害人{f.victim}的谅解。",
        "认定上述事实的证据如下：被害人陈述、证人证言、被告人的供述和辩解、现场勘验笔录、"
        "扣押物品清单、价格认定结论书及相关书证等。",
        f"本院认为，被告人{f.defendant}以非法占有为目的，秘密窃取他人财物，数额较大，"
        f"其行为已触犯《中华人民共和国刑法》第二百六十四条之规定，犯罪事实清楚，证据确实、充分，"
        f"应当以{f.crime}罪追究其刑事责任。",
        "根据《中华人民共和国刑事诉讼法》第一百七十六条的规定，提起公诉，请依法判处。",
        "被告人当庭自愿认罪，悔罪态度较好，可以酌情从轻处罚。辩护人提出的相关辩护意见，本院予以采纳。",
        f"证人{f.victim}证实：当天晚上十点左右回到家中，发现房门被撬开，抽屉内的现金和手机不见了，随即报警。",
        "上述证据收集程序合法，内容客观真实，足以认定指控事实。被告人对指控的犯罪事实和证据没有异议。",
    ]
    start = rng.randrange(len(pool))
    return [pool[(start + i) % len(pool)] for i in range(n)]


def document_blocks(kind: str, f: CaseFacts, rng: random.Random, page_in_doc: int) -> tuple[list[Block], bool]:
    """The text blocks of one page of a document kind; the bool says whether the page carries a seal."""
    date = cn_date(f.year, f.month, f.day)
    if kind == "indictment":
        if page_in_doc == 0:
            return [
                Block("河南省封丘县人民检察院", 26, "song", "centre", RED, 0, 0.2, rule_after=True),
                Block("起诉书", 22, "hei", "centre", INK, 0, 0.3),
                Block(f.proc_no, 16, "song", "right", INK, 0, 0.6),
                *[Block(p) for p in body_paragraphs(f, rng, 3)],
            ], False
        return [
            *[Block(p) for p in body_paragraphs(f, rng, 3)],
            Block("此致", 16),
            Block("河南省封丘县人民法院", 16, indent=0, space_after=1.2),
            Block("检察员：" + f.officer, 16, align="right", indent=0),
            Block(date, 16, align="right", indent=0),
        ], True
    if kind == "judgment":
        if page_in_doc == 0:
            return [
                Block("河南省封丘县人民法院", 22, "song", "centre", INK, 0, 0.2),
                Block("刑事判决书", 22, "hei", "centre", INK, 0, 0.3),
                Block(f.court_no, 16, "song", "right", INK, 0, 0.6),
                Block("公诉机关河南省封丘县人民检察院。", 16),
                *[Block(p) for p in body_paragraphs(f, rng, 3)],
            ], False
        return [
            *[Block(p) for p in body_paragraphs(f, rng, 2)],
            Block(f"被告人{f.defendant}犯{f.crime}罪，判处有期徒刑一年，并处罚金人民币五千元。", 16),
            Block("审判长　" + f.officer, 16, align="right", indent=0),
            Block(date, 16, align="right", indent=0),
            Block("书记员　" + f.clerk, 16, align="right", indent=0),
        ], True
    if kind == "record":
        lines = [
            Block("询问笔录", 22, "hei", "centre", INK, 0, 0.5),
            Block(f"时间：{f.year}年{f.month}月{f.day}日9时10分至10时25分", 14, indent=0, space_after=0.1),
            Block("地点：封丘县公安局刑侦大队办公室", 14, indent=0, space_after=0.1),
            Block(f"询问人：{f.officer}、{f.clerk}　工作单位：封丘县公安局", 14, indent=0, space_after=0.1),
            Block(f"被询问人：{f.victim}　性别：男　出生日期：1985年6月3日", 14, indent=0, space_after=0.4),
        ] if page_in_doc == 0 else []
        qa = [
            ("问：我们是封丘县公安局的民警，现依法向你询问，你要如实回答，听清楚了吗？", "答：听清楚了。"),
            ("问：你把当天的经过讲一下。", "答：当天晚上十点左右我回家，发现门锁被撬，家里的现金和手机被偷了。"),
            ("问：被盗的财物有哪些？", "答：现金三千元左右，还有一部黑色手机。"),
            ("问：你还有什么要补充的吗？", "答：没有了。"),
        ]
        for q, a in qa[: 2 + rng.randrange(3)]:
            lines += [Block(q, 14, indent=0, space_after=0.1), Block(a, 14, indent=0, space_after=0.3)]
        return lines, False
    raise ValueError(f"unknown document kind {kind!r}")


def wrap(text: str, fnt: ImageFont.FreeTypeFont, width: int, indent_px: int) -> list[str]:
    """Split text into lines that fit a width, character by character (Chinese has no word breaks)."""
    lines, current, limit = [], "", width - indent_px
    for ch in text:
        if fnt.getlength(current + ch) > limit and current:
            lines.append(current)
            current, limit = "", width
        current += ch
    if current:
        lines.append(current)
    return lines


def layout(img: Image.Image, blocks: list[Block], dpi: int, top_mm: float = 37.0,
           glyphs: list[tuple[str, float, float, float, float]] | None = None) -> tuple[list[str], int]:
    """Draw blocks top to bottom inside 公文 margins; returns the lines drawn and the y where text ended.

    ``glyphs`` (when given) receives every character drawn with its cell: (character, x0, y0, x1, y1) in pixels, its
    advance across and the line's ink rows down."""
    draw = ImageDraw.Draw(img)
    left, right = mm_to_px(28, dpi), img.width - mm_to_px(26, dpi)
    bottom = img.height - mm_to_px(35, dpi)
    y = mm_to_px(top_mm, dpi)
    drawn: list[str] = []
    for b in blocks:
        fnt = font(b.style, pt_to_px(b.pt, dpi))
        line_h = int(fnt.size * 1.75)
        indent_px = int(fnt.size * b.indent) if b.align == "left" else 0
        for i, line in enumerate(wrap(b.text, fnt, right - left, indent_px)):
            if y + line_h > bottom:
                return drawn, y
            w = fnt.getlength(line)
            x = {"left": left + (indent_px if i == 0 else 0), "centre": (left + right - w) / 2, "right": right - w}[b.align]
            draw.text((x, y), line, font=fnt, fill=b.colour)
            if glyphs is not None:
                _, ink_top, _, ink_bottom = draw.textbbox((x, y), line, font=fnt)
                edges = [x + fnt.getlength(line[:k]) for k in range(len(line) + 1)]
                glyphs += [(ch, edges[k], ink_top, edges[k + 1], ink_bottom) for k, ch in enumerate(line)]
            drawn.append(line)
            y += line_h
        if b.rule_after:
            draw.line([(left, y), (right, y)], fill=b.colour, width=max(2, dpi // 100))
            y += max(2, dpi // 100)
        y += int(line_h * b.space_after)
    return drawn, y


def draw_seal(img: Image.Image, centre: tuple[int, int], dpi: int, text: str, rng: random.Random) -> None:
    """A round red official seal (ring, star, text along the arc) pressed over whatever is below it."""
    r = mm_to_px(21, dpi)
    seal = Image.new("L", (2 * r + 4, 2 * r + 4), 0)
    d = ImageDraw.Draw(seal)
    c = r + 2
    d.ellipse([2, 2, 2 * r + 2, 2 * r + 2], outline=255, width=max(3, r // 18))
    star_r = r * 0.28
    pts = []
    for k in range(10):
        a = -math.pi / 2 + k * math.pi / 5
        rr = star_r if k % 2 == 0 else star_r * 0.4
        pts.append((c + rr * math.cos(a), c + rr * math.sin(a)))
    d.polygon(pts, fill=255)
    fnt = font("song", int(r * 0.26))
    n = len(text)
    span = math.radians(250)
    for i, ch in enumerate(text):
        a = -math.pi / 2 - span / 2 + span * (i + 0.5) / n
        glyph = Image.new("L", (fnt.size * 2, fnt.size * 2), 0)
        ImageDraw.Draw(glyph).text((fnt.size / 2, fnt.size / 2), ch, font=fnt, fill=255)
        glyph = glyph.rotate(-math.degrees(a) - 90, resample=Image.BICUBIC)
        gx = c + (r * 0.72) * math.cos(a) - glyph.width / 2
        gy = c + (r * 0.72) * math.sin(a) - glyph.height / 2
        seal.paste(255, (int(gx), int(gy)), glyph)
    # uneven ink: some of the seal prints faint
    noise = np.array(seal, dtype=np.float32) * np.clip(np.random.default_rng(rng.randrange(1 << 30)).normal(0.85, 0.2, (seal.height, seal.width)), 0.2, 1)
    seal = Image.fromarray(noise.astype(np.uint8)).rotate(rng.uniform(-25, 25), resample=Image.BICUBIC)
    _multiply_ink(img, seal, (centre[0] - c, centre[1] - c), RED)


def _multiply_ink(img: Image.Image, mask: Image.Image, pos: tuple[int, int], colour: tuple[int, int, int]) -> None:
    """Print a mask in a colour over the image the way ink on paper does (multiply)."""
    x0, y0 = pos
    box = (x0, y0, x0 + mask.width, y0 + mask.height)
    region = np.asarray(img.crop(box), dtype=np.float32)
    alpha = (np.asarray(mask, dtype=np.float32) / 255.0)[..., None]
    ink = np.array(colour, dtype=np.float32)[None, None, :]
    out = region * (1 - alpha) + region * (ink / 255.0) * alpha
    img.paste(Image.fromarray(out.clip(0, 255).astype(np.uint8)), box[:2])


def draw_handwriting(img: Image.Image, pos: tuple[int, int], text: str, dpi: int, rng: random.Random,
                     colour: tuple[int, int, int] = BLUE_INK, pt: float = 20) -> None:
    """Hand-written-looking text: a brush font with every character jittered in size, angle and place."""
    x, y = pos
    for ch in text:
        size = pt_to_px(pt * rng.uniform(0.85, 1.2), dpi)
        glyph = Image.new("L", (size * 2, size * 2), 0)
        ImageDraw.Draw(glyph).text((size / 2, size / 2), ch, font=font("kai", size), fill=255)
        glyph = glyph.rotate(rng.uniform(-12, 12), resample=Image.BICUBIC)
        _multiply_ink(img, glyph, (int(x - size / 2), int(y - size / 2 + rng.uniform(-0.15, 0.15) * size)), colour)
        x += int(size * rng.uniform(0.8, 1.0))


def draw_table(img: Image.Image, top: int, dpi: int, rows: list[list[str]]) -> int:
    """A ruled table (as on 扣押物品清单); returns the y below it."""
    draw = ImageDraw.Draw(img)
    left, right = mm_to_px(28, dpi), img.width - mm_to_px(26, dpi)
    fnt = font("song", pt_to_px(12, dpi))
    row_h = int(fnt.size * 2.2)
    cols = len(rows[0])
    widths = [1.0] + [2.5] * (cols - 1)
    total = sum(widths)
    xs = [left]
    for w in widths:
        xs.append(xs[-1] + int((right - left) * w / total))
    lw = max(2, dpi // 150)
    for i, row in enumerate(rows):
        y = top + i * row_h
        for j, cell in enumerate(row):
            draw.text((xs[j] + fnt.size * 0.4, y + (row_h - fnt.size) / 2), cell, font=fnt, fill=INK)
    for i in range(len(rows) + 1):
        draw.line([(left, top + i * row_h), (xs[-1], top + i * row_h)], fill=INK, width=lw)
    for x in xs:
        draw.line([(x, top), (x, top + len(rows) * row_h)], fill=INK, width=lw)
    return top + len(rows) * row_h


def draw_photo(img: Image.Image, box: tuple[int, int, int, int], rng: random.Random, colour: bool) -> None:
    """A photograph-like region: smooth gradients, shapes and grain (scene photos in 勘验笔录)."""
    w, h = box[2] - box[0], box[3] - box[1]
    g = np.random.default_rng(rng.randrange(1 << 30))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = []
    for _ in range(3):
        a, b, c = g.uniform(-1, 1, 3)
        base.append(128 + 90 * np.sin(xx / w * math.pi * (1 + 2 * abs(a)) + b) * np.cos(yy / h * math.pi * (1 + abs(c))))
    arr = np.stack(base, axis=-1)
    for _ in range(6):
        cx, cy, rr = g.uniform(0, w), g.uniform(0, h), g.uniform(0.05, 0.25) * min(w, h)
        m = (xx - cx) ** 2 + (yy - cy) ** 2 < rr**2
        arr[m] = g.uniform(20, 235, 3)
    arr += g.normal(0, 8, arr.shape)
    if not colour:
        arr = arr.mean(axis=-1, keepdims=True).repeat(3, axis=-1)
    img.paste(Image.fromarray(arr.clip(0, 255).astype(np.uint8)), box[:2])


@dataclass
class PageTruth:
    """What a synthetic page really is, for scoring detectors and checking outputs."""

    skew: float = 0.0  # degrees CCW the pipeline must apply to straighten it (after rotation)
    rotation: int = 0  # degrees clockwise the pipeline must apply to make it upright
    blank: bool = False
    seal: bool = False
    colour: str = "bitonal"  # bitonal | grey | colour: the archive mode the page deserves
    lines: list[str] = field(default_factory=list)  # text drawn, in reading order
    kind: str = ""
    glyphs: list[tuple[str, float, float, float, float]] = field(default_factory=list)  # (char, x0, y0, x1, y1) of
    # each character of `lines` on the clean page (the scan's pixels too when it is neither skewed, turned nor bordered)


@dataclass
class SyntheticPage:
    """A page image as a scanner would deliver it, with its truth."""

    image: Image.Image
    dpi: int
    truth: PageTruth


def clean_page(kind: str, facts: CaseFacts, rng: random.Random, dpi: int = 300, page_in_doc: int = 0,
               paper: tuple[float, float] = A4_MM) -> tuple[Image.Image, PageTruth]:
    """Render an upright, straight page of a kind.

    Kinds: indictment, judgment, record (documents, page_in_doc selects first or later page), table, photo,
    grey-photo, signature (only a signature), sign-off (only a signature block, a date and the seal), stamp (only a
    seal), page-number (only a number), blank.
    """
    w, h = mm_to_px(paper[0], dpi), mm_to_px(paper[1], dpi)
    tone = rng.randint(238, 250)
    img = Image.new("RGB", (w, h), (tone, tone, max(0, tone - 4)))
    truth = PageTruth(kind=kind)
    if kind in ("indictment", "judgment", "record"):
        blocks, seal = document_blocks(kind, facts, rng, page_in_doc)
        truth.lines, y = layout(img, blocks, dpi, glyphs=truth.glyphs)
        if kind == "indictment" and page_in_doc == 0:
            truth.colour = "colour"  # 红头
        if kind == "record":
            draw_handwriting(img, (mm_to_px(110, dpi), min(h - mm_to_px(60, dpi), y + mm_to_px(10, dpi))),
                             "以上笔录我看过和我说的一样" if page_in_doc else facts.victim, dpi, rng)
            truth.colour = "colour"  # blue ink signature
        if seal:
            draw_seal(img, (w - mm_to_px(60, dpi), min(h - mm_to_px(70, dpi), y - mm_to_px(12, dpi))), dpi,
                      "河南省封丘县人民检察院" if kind == "indictment" else "河南省封丘县人民法院", rng)
            truth.seal, truth.colour = True, "colour"
    elif kind == "table":
        truth.lines, y = layout(img, [Block("扣押物品清单", 22, "hei", "centre", INK, 0, 0.5)], dpi)
        rows = [["编号", "名称", "数量", "特征"]] + [[str(i), n, q, c] for i, (n, q, c) in enumerate(
            [("手机", "1部", "黑色"), ("现金", "3000元", "百元券"), ("螺丝刀", "1把", "红色手柄"), ("背包", "1个", "灰色")], 1)]
        draw_table(img, y, dpi, rows)
        truth.lines += ["".join(r) for r in rows]
    elif kind in ("photo", "grey-photo"):
        truth.lines, y = layout(img, [Block("现场勘验照片", 22, "hei", "centre", INK, 0, 0.5)], dpi)
        bottom = y + mm_to_px(110, dpi)
        draw_photo(img, (mm_to_px(35, dpi), y, w - mm_to_px(35, dpi), bottom), rng, kind == "photo")
        # the caption every scene photo of a 勘验笔录 carries
        caption = [
            Block(f"照片说明：{facts.place}被害人{facts.victim}家中，房门门锁被撬，箭头所指为撬压痕迹。", 14, indent=0,
                  space_after=0.1),
            Block(f"拍摄人：{facts.officer}　见证人：{facts.clerk}", 14, indent=0, space_after=0.1),
            Block(f"拍摄时间：{cn_date(facts.year, facts.month, facts.day)}", 14, indent=0),
        ]
        more, _ = layout(img, caption, dpi, top_mm=(bottom + mm_to_px(8, dpi)) / dpi * 25.4)
        truth.lines += more
        truth.colour = "colour" if kind == "photo" else "grey"
    elif kind == "signature":
        draw_handwriting(img, (mm_to_px(120, dpi), mm_to_px(220, dpi)), facts.defendant, dpi, rng, INK, 26)
    elif kind == "sign-off":  # a judgment's last page holding only its signature block, its date and the seal
        blocks = [Block("审判长　" + facts.officer, 16, align="right", indent=0),
                  Block(cn_date(facts.year, facts.month, facts.day), 16, align="right", indent=0),
                  Block("书记员　" + facts.clerk, 16, align="right", indent=0)]
        truth.lines, y = layout(img, blocks, dpi, top_mm=40.0, glyphs=truth.glyphs)
        draw_seal(img, (w - mm_to_px(60, dpi), y - mm_to_px(20, dpi)), dpi, "河南省封丘县人民法院", rng)
        truth.seal, truth.colour = True, "colour"
    elif kind == "stamp":
        draw_seal(img, (mm_to_px(140, dpi), mm_to_px(210, dpi)), dpi, "河南省封丘县人民法院", rng)
        truth.seal, truth.colour = True, "colour"
    elif kind == "page-number":
        fnt = font("song", pt_to_px(14, dpi))
        ImageDraw.Draw(img).text((w - mm_to_px(30, dpi), mm_to_px(12, dpi)), str(rng.randint(2, 199)), font=fnt, fill=INK)
    elif kind == "blank":
        truth.blank = True
    else:
        raise ValueError(f"unknown page kind {kind!r}")
    return img, truth


def bleed_through(img: Image.Image, rng: random.Random, facts: CaseFacts, dpi: int, strength: float = 0.08) -> Image.Image:
    """Faint mirrored text from the other side of the sheet."""
    back = Image.new("L", img.size, 255)
    layout(back, [Block(p, colour=0) for p in body_paragraphs(facts, rng, 4)], dpi)
    back = back.transpose(Image.FLIP_LEFT_RIGHT).filter(ImageFilter.GaussianBlur(dpi / 150))
    # darken every channel by the same amount: integer maths on one plane, broadcast over three
    shade = ((255 - np.asarray(back, dtype=np.int16)) * strength).astype(np.int16)[..., None]
    return Image.fromarray((np.asarray(img, dtype=np.int16) - shade).clip(0, 255).astype(np.uint8))


def scan(img: Image.Image, rng: random.Random, dpi: int, skew: float = 0.0, rotation_cw: int = 0,
         border: bool = False, specks: int = 0, blur: float = 0.0) -> Image.Image:
    """Degrade a clean page as a flatbed/ADF scan would.

    ``skew`` turns the paper counter-clockwise by that many degrees; ``rotation_cw`` feeds it turned clockwise
    by 90/180/270; ``border`` lays it on a dark scanner bed with a shadow.
    """
    if skew:
        bg = img.getpixel((5, 5))
        img = img.rotate(skew, resample=Image.BICUBIC, expand=True, fillcolor=(20, 20, 22) if border else bg)
    if border:
        pad_x, pad_y = mm_to_px(rng.uniform(4, 12), dpi), mm_to_px(rng.uniform(4, 12), dpi)
        bed = Image.new("RGB", (img.width + 2 * pad_x, img.height + 2 * pad_y), (22, 22, 24))
        # a soft shadow along the paper edge, as the lid leaves it
        # (blurred at a quarter of the size: the shadow is soft anyway, and blurring the full bed is slow)
        q = 4
        shadow = Image.new("L", (bed.width // q, bed.height // q), 0)
        ImageDraw.Draw(shadow).rectangle([(pad_x - 8) // q, (pad_y - 8) // q, (pad_x + img.width + 8) // q,
                                          (pad_y + img.height + 8) // q], fill=90)
        shadow = shadow.filter(ImageFilter.GaussianBlur(dpi / 30 / q)).resize(bed.size, Image.BILINEAR)
        bed.paste((60, 60, 62), (0, 0), shadow)
        if skew:
            mask = Image.new("L", img.size, 0)
            arr = np.asarray(img).min(axis=-1) > 40
            mask = Image.fromarray((arr * 255).astype(np.uint8))
            bed.paste(img, (pad_x, pad_y), mask)
        else:
            bed.paste(img, (pad_x, pad_y))
        # crop so the bed shows on two or three sides, unevenly
        cx0, cy0 = rng.randint(0, pad_x // 2), rng.randint(0, pad_y // 2)
        img = bed.crop((cx0, cy0, bed.width - rng.randint(0, pad_x // 2), bed.height - rng.randint(0, pad_y // 2)))
    if specks:
        g = np.random.default_rng(rng.randrange(1 << 30))
        arr = np.array(img)
        ys, xs = g.integers(0, arr.shape[0] - 4, specks), g.integers(0, arr.shape[1] - 4, specks)
        for yy, xx in zip(ys, xs):
            s = int(g.integers(1, max(2, dpi // 100) + 1))
            arr[yy : yy + s, xx : xx + s] = g.integers(0, 90)
        img = Image.fromarray(arr)
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    if rotation_cw:
        img = img.rotate(-rotation_cw, expand=True)
    return img


def punch_holes(img: Image.Image, dpi: int, colour: tuple[int, int, int] = (28, 28, 30)) -> list[tuple[int, int, int]]:
    """Two binding holes (6 mm, 80 mm apart) in the left margin, showing the dark bed; returns (x, y, r) of each."""
    r, x = mm_to_px(3, dpi), mm_to_px(12, dpi)
    mid = img.height // 2
    holes = [(x, mid - mm_to_px(40, dpi), r), (x, mid + mm_to_px(40, dpi), r)]
    draw = ImageDraw.Draw(img)
    for cx, cy, rr in holes:
        draw.ellipse([cx - rr, cy - rr, cx + rr, cy + rr], fill=colour)
    return holes


def synthetic_page(kind: str, seed: int, dpi: int = 300, skew: float = 0.0, rotation_cw: int = 0,
                   border: bool = False, specks: int = 0, bleed: float = 0.0, page_in_doc: int = 0,
                   facts: CaseFacts | None = None, paper: tuple[float, float] = A4_MM,
                   holes: bool = False) -> SyntheticPage:
    """One scanned page with ground truth; ``rotation_cw`` is how the page lies, the truth holds the correction.

    ``holes`` punches two binding holes in the left margin (they must survive border clean-up).
    """
    rng = random.Random(seed)
    facts = facts or CaseFacts.make(random.Random(seed // 1000))
    img, truth = clean_page(kind, facts, rng, dpi, page_in_doc, paper)
    if holes:
        punch_holes(img, dpi)
    if bleed:
        img = bleed_through(img, rng, facts, dpi, bleed)
    img = scan(img, rng, dpi, skew=skew, rotation_cw=rotation_cw, border=border, specks=specks)
    truth.skew = -skew
    truth.rotation = (360 - rotation_cw) % 360
    return SyntheticPage(img, dpi, truth)


ENCODINGS = ("rgb", "png", "jpeg", "g4", "grey", "palette", "grey16")
"""How scanning rooms hand pages over: as decoded RGB, PNG, JPEG, bitonal TIFF G4, 8-bit grey, palette, 16-bit grey."""


def roundtrip(image: Image.Image, encoding: str, dpi: int, quality: int = 80) -> Image.Image:
    """The page as it comes back from a file of that encoding (decoded PIL image, dpi in its info)."""
    import io

    if encoding == "rgb":
        return image
    buf = io.BytesIO()
    if encoding == "png":
        image.save(buf, "PNG", dpi=(dpi, dpi))
    elif encoding == "jpeg":
        image.convert("RGB").save(buf, "JPEG", quality=quality, dpi=(dpi, dpi))
    elif encoding == "g4":
        grey = np.asarray(image.convert("L"))
        Image.fromarray(grey > 160).save(buf, "TIFF", compression="group4", dpi=(dpi, dpi))
    elif encoding == "grey":
        image.convert("L").save(buf, "PNG", dpi=(dpi, dpi))
    elif encoding == "palette":
        image.convert("RGB").quantize(64).save(buf, "PNG", dpi=(dpi, dpi))
    elif encoding == "grey16":
        wide = np.asarray(image.convert("L"), dtype=np.uint16) * 257
        Image.fromarray(wide).save(buf, "PNG", dpi=(dpi, dpi))
    else:
        raise ValueError(f"unknown encoding {encoding!r}")
    buf.seek(0)
    out = Image.open(buf)
    out.load()
    return out


def han_characters(text: str) -> list[str]:
    """The Han characters of a text, in order."""
    return [c for c in text if "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf"]
