"""Documents of a case file, their 卷内目录 fields, and how they are packed into volumes.

Document boundaries come, in order of trust, from the batch manifest's document list, from separator sheets, and
last from the OCR of each page (a title line in large type, centred, near the top, matched against a lexicon of
document types, or a change of issuing authority). Catalogue fields (题名, 文号, 责任者, 日期) declared by the
manifest or a sheet win; fields left empty are read from the OCR where possible and flagged ``<field>-ocr``, and
fields found nowhere stay empty and are flagged ``<field>-missing`` — never invented.

Document indexes are 0-based in scan order; batch positions are those of :class:`pipeline.artifacts.PageArtifact`.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections import Counter, OrderedDict
import statistics
import subprocess
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.artifacts import Document, PageArtifact, VolumePart, VolumePlan
from pipeline.errors import PageError, ReviewNeeded
from pipeline.models import (
    BatchManifest,
    Catalogue,
    CatalogueEntry,
    DocumentSpec,
    SeparatorPayload,
    VolumeCatalogue,
)
from pipeline.ocr import OcrLine, OcrResult, OcrWord

# --------------------------------------------------------------------------------------------------------------------
# Lexicons

DOCUMENT_TYPES: tuple[str, ...] = (
    # the documents of a criminal case file, most common first (a tie between equally close names goes to the
    # earlier one)
    "起诉书", "起诉意见书", "刑事判决书", "刑事裁定书", "询问笔录", "讯问笔录", "扣押物品清单", "现场勘验笔录",
    "现场勘验照片", "逮捕证", "拘留证", "鉴定意见书", "受案登记表", "立案决定书", "拘留通知书", "逮捕通知书",
    "提请批准逮捕书", "批准逮捕决定书", "不批准逮捕决定书", "取保候审决定书", "监视居住决定书", "传唤证", "拘传证",
    "呈请拘留报告书", "呈请逮捕报告书", "呈请报告书", "勘验笔录", "检查笔录", "辨认笔录", "搜查笔录", "搜查证",
    "扣押决定书", "扣押清单", "扣押笔录", "发还物品清单", "发还清单", "调取证据通知书", "调取证据清单",
    "接受证据清单", "抓获经过", "到案经过", "归案经过", "破案经过", "情况说明", "工作说明", "权利义务告知书",
    "犯罪嫌疑人诉讼权利义务告知书", "被害人诉讼权利义务告知书", "证人诉讼权利义务告知书", "户籍证明",
    "常住人口信息表", "前科劣迹证明", "违法犯罪记录证明", "身份证明", "证人证言", "被害人陈述", "报案材料",
    "报案登记表", "接处警登记表", "鉴定意见通知书", "司法鉴定意见书", "法医学人体损伤程度鉴定书", "鉴定书",
    "鉴定聘请书", "价格认定结论书", "价格认定书", "价格鉴定结论书", "检验报告", "辨认照片", "现场图",
    "现场平面示意图",
    # procuratorate
    "不起诉决定书", "量刑建议书", "认罪认罚具结书", "审查报告", "提讯提解证", "抗诉书", "移送审查起诉告知书",
    "补充侦查决定书",
    # court
    "刑事附带民事判决书", "民事判决书", "行政判决书", "判决书", "民事裁定书", "裁定书", "刑事调解书",
    "民事调解书", "调解书", "决定书", "执行通知书", "执行裁定书", "开庭笔录", "庭审笔录", "宣判笔录",
    "合议庭评议笔录", "评议笔录", "审判委员会讨论记录", "送达回证", "送达回执", "传票", "出庭通知书",
    "刑事自诉状", "起诉状", "上诉状", "答辩状", "申诉状", "结案报告", "审结报告", "审理报告", "阅卷笔录",
    "释放证明书", "执行回执", "缓刑执行通知书", "罚金缴纳通知书",
    # lawyers, parties, money
    "授权委托书", "委托书", "辩护委托书", "律师事务所函", "法律援助公函", "会见函", "谅解书", "收条", "收据",
    "暂扣款收据", "罚没款收据", "缴款书", "票据", "发票", "退赃清单", "赔偿协议", "和解协议书", "保证书",
    # generic names, last
    "报告书", "证明", "说明", "申请书", "通知书", "笔录", "清单",
)
"""Document types whose name is a document's title line (题名). Longer, more specific names win over shorter ones."""

AUTHORITY_SUFFIXES: tuple[str, ...] = (
    "人民法院", "人民检察院", "公安局", "公安分局", "派出所", "刑事侦查大队", "刑侦大队", "看守所", "司法局",
    "律师事务所", "司法鉴定中心", "司法鉴定所", "鉴定中心", "物证鉴定所", "价格认证中心", "公证处",
    "法律援助中心", "人民政府", "委员会", "监狱", "医院", "银行", "有限公司", "公司",
)
"""Endings of an issuing authority's name (责任者), as printed in a 红头 or a signature line."""

DATE_LABELS = ("时间", "日期", "询问时间", "讯问时间", "勘验时间", "检查时间", "搜查时间", "扣押时间", "辨认时间")
AUTHOR_LABELS = ("工作单位", "办案单位", "承办单位", "扣押单位", "鉴定机构", "单位")

_SPACES = re.compile(r"[\s\u3000_|·•]+")
_PUNCT_EDGES = "：:，,。.、；;“”\"'‘’！!？?—-~"


def normalise(text: str) -> str:
    """OCR text for matching: NFKC (full-width digits and letters folded), no spaces or stray rule marks."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text))


def levenshtein(a: str, b: str) -> int:
    """Edit distance between two strings."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _allowed_errors(term: str) -> int:
    return 0 if len(term) <= 2 else 1 if len(term) <= 6 else 2


def _best_suffix(term: str, text: str, limit: int | None = None) -> tuple[int, int]:
    """(edit distance, start) of the suffix of ``text`` closest to ``term`` (semi-global: the prefix is free).

    With ``limit``, a term that cannot come within ``limit`` edits is rejected without the edit-distance search: every
    character of ``term`` missing from the text's tail costs one edit at least. Most lines end in no title at all,
    so this skips nearly every search (it took the fuzzy title matching from 9 s to well under 1 s on 200 pages).
    """
    best = (len(term) + 1, len(text))
    lo = max(0, len(text) - len(term) - _allowed_errors(term))
    if limit is not None:
        shared = sum((Counter(term) & Counter(text[lo:])).values())
        if len(term) - shared > limit:
            return best
    for start in range(lo, len(text) + 1):
        d = levenshtein(term, text[start:])
        if d < best[0] or (d == best[0] and start < best[1]):
            best = (d, start)
    return best


def authority_name(text: str) -> str | None:
    """The issuing authority a text names (e.g. 河南省封丘县人民检察院), its suffix spelled right; None if none."""
    s = normalise(text).strip(_PUNCT_EDGES)
    if not 4 <= len(s) <= 30 or re.search(r"\d", s):
        return None
    for suffix in AUTHORITY_SUFFIXES:
        allowed = 0 if len(suffix) <= 3 else 1
        d, start = _best_suffix(suffix, s, allowed)
        if d <= allowed and start >= 2 and abs(len(s) - start - len(suffix)) <= 1:
            return s[:start] + suffix
    return None


@dataclass(frozen=True)
class TitleMatch:
    """A document title recognised in an OCR line."""

    title: str  # the lexicon name (canonical spelling)
    text: str  # the line as read
    errors: int  # edit distance between what was read and the title
    authority: str = ""  # an authority printed before the title in the same line, if any


def match_title(text: str) -> TitleMatch | None:
    """Match one line against the lexicon of document types, tolerating OCR errors and stray spaces.

    The line must end with the title; what precedes it must be an issuing authority or at most two characters
    (e.g. 刑事 of an unknown 刑事X书), and a title read with errors must stand alone or follow an authority.
    Returns the best match, preferring fewer errors, then longer names, then the more common document type.
    """
    s = normalise(text).strip(_PUNCT_EDGES)
    if not s or len(s) > 40:
        return None
    best: tuple[float, int, TitleMatch] | None = None
    for term in DOCUMENT_TYPES:
        d, start = _best_suffix(term, s, _allowed_errors(term))
        if d > _allowed_errors(term):
            continue
        prefix = s[:start]
        authority = authority_name(prefix) if len(prefix) >= 4 else None
        if prefix and authority is None and len(prefix) > 2:
            continue
        if d and prefix and authority is None:
            continue  # a misread name must stand alone or follow an authority: 关于调取证据的函 is no 调取证据清单
        cost = d + (0 if authority or not prefix else 0.6 * len(prefix))
        candidate = (cost, -len(term), TitleMatch(term, text, d, authority or ""))
        if best is None or candidate[:2] < best[:2]:
            best = candidate
    return best[2] if best else None


# --------------------------------------------------------------------------------------------------------------------
# Reading fields from OCR lines

def line_text(line: OcrLine) -> str:
    """The text of an OCR line, words joined without spaces between CJK words."""
    out = ""
    for w in line.words:
        if out and out[-1].isascii() and out[-1].isalnum() and w.text[:1].isascii() and w.text[:1].isalnum():
            out += " "
        out += w.text
    return out


def _units(text: str) -> float:
    """Width of a text in ems: 1 for a CJK or full-width character, about half for ASCII."""
    return sum(0.55 if ch.isascii() else 1.0 for ch in text if not ch.isspace())


def type_size(line: OcrLine) -> float:
    """Type size of a line in pixels: its words' width per character, gaps between words (table cells, letter-spaced
    titles) left out. Tesseract's box heights are no guide to CJK type size."""
    units = sum(_units(w.text) for w in line.words)
    return sum(w.x1 - w.x0 for w in line.words) / units if units else 0.0


def _body_size(ocr: OcrResult) -> float | None:
    sizes = [type_size(ln) for ln in ocr.lines if ln.words and _units(line_text(ln)) >= 6]
    return statistics.median(sizes) if len(sizes) >= 3 else None


def _px_per_mm(ocr: OcrResult) -> float:
    return (ocr.dpi or 300.0) / 25.4


HEADING_MIN_MM = 6.5  # type size of a title when there is no body text to compare with (二号 22 pt = 7.8 mm)


def _is_heading(line: OcrLine, ocr: OcrResult, body: float | None, text_centre: float) -> bool:
    """Large type (1.2x the body text, or 6.5 mm when there is no body), centred, in the top third of the page."""
    if line.y0 > ocr.height / 3:
        return False
    size = type_size(line)
    large = size >= 1.2 * body if body else size >= HEADING_MIN_MM * _px_per_mm(ocr)
    cx = (line.x0 + line.x1) / 2
    centred = min(abs(cx - ocr.width / 2), abs(cx - text_centre)) <= 0.08 * ocr.width
    narrow = (line.x1 - line.x0) <= 0.75 * ocr.width
    return large and centred and narrow


def _text_centre(ocr: OcrResult) -> float:
    lines = [ln for ln in ocr.lines if ln.words]
    if not lines:
        return ocr.width / 2
    return (min(ln.x0 for ln in lines) + max(ln.x1 for ln in lines)) / 2


@dataclass(frozen=True)
class PageHeading:
    """What the top of a page says about it starting a document."""

    title: TitleMatch | None
    authority: str  # a 红头 authority line above or in the title, or ""
    title_line: int | None  # index of the title line in ``ocr.lines``


def page_heading(ocr: OcrResult) -> PageHeading:
    """Find a title (lexicon match on a heading line) and a 红头 authority on one page."""
    body = _body_size(ocr)
    centre = _text_centre(ocr)
    title: TitleMatch | None = None
    title_line = None
    authority = ""
    for i, line in enumerate(ocr.lines):
        if not line.words or not _is_heading(line, ocr, body, centre):
            continue
        text = line_text(line)
        match = match_title(text)
        if match and (title is None or match.errors < title.errors):
            title, title_line = match, i
            if match.authority and not authority:
                authority = match.authority
            continue
        name = authority_name(text)
        if name and not authority and title is None:
            authority = name
    return PageHeading(title, authority, title_line)


# 文号: procuratorate/police style 新封检公诉刑诉〔2019〕172号, court style （2019）豫0727刑初172号.
_OPEN = r"[〔\[【(（{「『<《]"
_CLOSE = r"[〕\]】)）}」』>》]"
_COURT_NO = re.compile(_OPEN + r"(\d{4})" + _CLOSE + r"([\u4e00-\u9fff]{1,4}\d{0,4}[\u4e00-\u9fff]{1,6})(\d{1,6})号")
_AGENCY_NO = re.compile(r"([\u4e00-\u9fff][\u4e00-\u9fff()（）]{0,11})" + _OPEN + r"(\d{4})" + _CLOSE + r"(\d{1,6})号")


def find_doc_no(text: str) -> tuple[str, float] | None:
    """A 文号 in a text, in canonical brackets, and the share of the text it covers; None if there is none."""
    s = normalise(text).strip(_PUNCT_EDGES)
    for rx, fmt in ((_COURT_NO, "（{0}）{1}{2}号"), (_AGENCY_NO, "{0}〔{1}〕{2}号")):
        m = rx.search(s)
        if m:
            groups = [g.replace("(", "（").replace(")", "）") for g in m.groups()]
            if rx is _AGENCY_NO:
                groups[0] = groups[0].lstrip("（）")
            return fmt.format(*groups), (m.end() - m.start()) / max(1, len(s))
    return None


_CN_DIGIT = {c: i for i, c in enumerate("〇一二三四五六七八九")}
_CN_DIGIT.update({"○": 0, "O": 0, "o": 0, "零": 0, "0": 0, "Ο": 0, "ο": 0, "О": 0, "о": 0, "◯": 0, "°": 0})
_CN_DIGIT.update({str(i): i for i in range(10)})
_YEAR_CH = "".join(sorted(_CN_DIGIT))
_NUM_CH = "一二三四五六七八九十〇○零0123456789元"
_DATE_CN = re.compile(rf"([{re.escape(_YEAR_CH)}]{{4}})年([{_NUM_CH}]{{1,3}})月([{_NUM_CH}]{{1,4}})日")
_DATE_SEP = re.compile(r"(?<!\d)(\d{4})[.\-/](\d{1,2})[.\-/](\d{1,2})(?!\d)")


def _small_number(text: str) -> int | None:
    """1..31 from Arabic digits or Chinese numerals (十二, 二十一, 三十, 元 for the first month)."""
    if text == "元":
        return 1
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        if len(tens) > 1 or len(ones) > 1:
            return None
        t = _CN_DIGIT.get(tens, None) if tens else 1
        o = _CN_DIGIT.get(ones, None) if ones else 0
        return None if t is None or o is None else t * 10 + o
    if len(text) == 1 and text in _CN_DIGIT:
        return _CN_DIGIT[text]
    if len(text) == 2 and all(c in _CN_DIGIT for c in text):  # 0 read for 〇 in e.g. 〇三? rare but harmless
        return _CN_DIGIT[text[0]] * 10 + _CN_DIGIT[text[1]]
    return None


def find_dates(text: str) -> list[tuple[str, int, int]]:
    """Every plausible date in a text as (ISO 8601, start, end) in the normalised text, in order."""
    s = normalise(text)
    found = []
    for m in _DATE_CN.finditer(s):
        year = "".join(str(_CN_DIGIT[c]) for c in m.group(1))
        month, day = _small_number(m.group(2)), _small_number(m.group(3))
        iso = _iso(int(year), month, day)
        if iso:
            found.append((iso, m.start(), m.end()))
    for m in _DATE_SEP.finditer(s):
        iso = _iso(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if iso and not any(a <= m.start() < b for _, a, b in found):
            found.append((iso, m.start(), m.end()))
    return sorted(found, key=lambda f: f[1])


def _iso(year: int, month: int | None, day: int | None) -> str | None:
    if month is None or day is None or not 1949 <= year <= 2100:
        return None
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def parse_date(text: str) -> str | None:
    """The first date in a text (二〇一九年四月十二日, 二O一九年…, 2019年4月12日, 2019-4-12) as ISO 8601, or None."""
    dates = find_dates(text)
    return dates[0][0] if dates else None


@dataclass(frozen=True)
class Fields:
    """Catalogue fields read from a document's pages, with the flags that explain them."""

    title: str = ""
    doc_no: str = ""
    author: str = ""
    date: str = ""
    flags: tuple[str, ...] = ()


def read_fields(first: OcrResult | None, last: OcrResult | None = None) -> Fields:
    """题名, 文号, 责任者 and 日期 from the OCR of a document's first page (and its last page for the 落款 date)."""
    if first is None:
        return Fields(flags=("title-missing", "doc_no-missing", "author-missing", "date-missing", "no-ocr"))
    flags: list[str] = []
    heading = page_heading(first)
    title = heading.title.title if heading.title else ""
    if heading.title and heading.title.errors:
        flags.append("title-fuzzy")
    lines = [(i, line_text(ln)) for i, ln in enumerate(first.lines) if ln.words]
    top = [(i, t) for i, t in lines if first.lines[i].y0 <= 0.45 * first.height]
    after = heading.title_line if heading.title_line is not None else -1
    doc_no = ""
    for _, text in sorted(top, key=lambda it: (it[0] <= after, it[0])):  # lines after the title first
        hit = find_doc_no(text)
        if hit and hit[1] >= 0.8:  # a line of its own, not a number quoted in the body text
            doc_no = hit[0]
            break
    author = heading.authority or _labelled_author(lines)
    when = _labelled_date(lines)
    if not when:
        for page in ([last] if last is not None else []) + [first]:
            when = _closing_date(page)
            if when:
                break
    for name, value in (("title", title), ("doc_no", doc_no), ("author", author), ("date", when)):
        if not value:
            flags.append(f"{name}-missing")
    return Fields(title, doc_no, author, when, tuple(flags))


def _labelled_author(lines: list[tuple[int, str]]) -> str:
    for _, text in lines:
        s = normalise(text)
        for label in AUTHOR_LABELS:
            m = re.search(re.escape(label) + r"[:：]([^\s,，。;；:：、]{4,30})", s)
            if m:
                name = authority_name(m.group(1))
                if name:
                    return name
    return ""


def _labelled_date(lines: list[tuple[int, str]]) -> str:
    for _, text in lines:
        s = normalise(text)
        if any(s.startswith(label) for label in DATE_LABELS):
            found = parse_date(s)
            if found:
                return found
    return ""


def _closing_date(ocr: OcrResult) -> str:
    """The 落款 date: the last line of a page that is a date and little else."""
    for line in reversed([ln for ln in ocr.lines if ln.words]):
        s = normalise(line_text(line)).strip(_PUNCT_EDGES)
        dates = find_dates(s)
        if dates and (dates[-1][2] - dates[-1][1]) >= 0.7 * len(s):
            return dates[-1][0]
    return ""


# --------------------------------------------------------------------------------------------------------------------
# Document boundaries

OcrLoader = Callable[[PageArtifact], OcrResult | None]


def load_ocr(page: PageArtifact) -> OcrResult | None:
    """The OCR result of a page from its JSON file, or None when the page was not OCRed."""
    if page.ocr_path is None:
        return None
    try:
        return OcrResult.from_dict(json.loads(Path(page.ocr_path).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PageError(f"cannot read OCR result {page.ocr_path} of {_name(page)}: {exc}", _name(page)) from exc


def _name(page: PageArtifact) -> str:
    return f"{page.record.source.file}[{page.record.source.index}]"


@dataclass(frozen=True)
class HeadingReader:
    """Re-reads the top of a page whose OCR shows no title but leaves the top of the page unread.

    Tesseract's page layout analysis (psm 3) drops a title standing above a table or a photo (measured on the
    synthetic 扣押物品清单 and 现场勘验照片 pages at 200 and 300 dpi). This finds the text lines of ink above the first
    line the OCR read (within the top third) and reads each as a single line (psm 7), a few tenths of a second per
    such page; pages whose text starts at the top margin cost nothing.
    """

    languages: str = "chi_sim"
    timeout: float = 30.0
    tesseract: str = "tesseract"
    top_margin: float = 0.16  # OCR text starting above this share of the page height leaves no room for a title
    max_lines: int = 3

    def complete(self, page: PageArtifact, ocr: OcrResult) -> OcrResult:
        """The page's OCR, with its heading re-read when the OCR found no title on the page."""
        if page_heading(ocr).title is not None:
            return ocr
        return self(page, ocr) or ocr

    def __call__(self, page: PageArtifact, ocr: OcrResult) -> OcrResult | None:
        """The page's OCR with the re-read heading lines added, or None when there is nothing to re-read."""
        if page.image_path is None:
            return None
        tops = [ln.y0 for ln in ocr.lines if ln.words]
        band = min(tops) / ocr.height if tops else 1 / 3
        if band < self.top_margin:
            return None
        band = min(band, 1 / 3)
        try:
            with Image.open(page.image_path) as img:
                grey = img.convert("L")
        except OSError as exc:
            raise PageError(f"cannot read page image {page.image_path} of {_name(page)}: {exc}", _name(page)) from exc
        scale = ocr.width / grey.width
        dpi = page.dpi or ocr.dpi
        lines = []
        top = np.asarray(grey.crop((0, 0, grey.width, int(grey.height * band))))
        for box in _ink_lines(top, dpi)[: self.max_lines]:
            words = self._read_line(grey.crop(box), dpi, page)
            if words:
                ws = tuple(OcrWord(w.text, round((w.x0 + box[0]) * scale), round((w.y0 + box[1]) * scale),
                                   round((w.x1 + box[0]) * scale), round((w.y1 + box[1]) * scale), w.conf)
                           for w in words)
                lines.append(OcrLine(ws, min(w.x0 for w in ws), min(w.y0 for w in ws), max(w.x1 for w in ws),
                                     max(w.y1 for w in ws)))
        if not lines:
            return None
        merged = tuple(sorted((*lines, *ocr.lines), key=lambda ln: ln.y0))
        return OcrResult(ocr.width, ocr.height, ocr.dpi, merged, ocr.settings + " +heading-reread")

    def _read_line(self, image: Image.Image, dpi: float, page: PageArtifact) -> list[OcrWord]:
        buf = io.BytesIO()
        image.save(buf, "PNG")
        cmd = [self.tesseract, "stdin", "stdout", "-l", self.languages, "--psm", "7", "--dpi", str(round(dpi)), "tsv"]
        try:
            out = subprocess.run(cmd, input=buf.getvalue(), capture_output=True, timeout=self.timeout, check=True,
                                 env={**os.environ, "OMP_THREAD_LIMIT": "1"})
        except subprocess.TimeoutExpired as exc:
            raise PageError(f"tesseract timed out after {self.timeout:.0f} s re-reading the title of {_name(page)}",
                            _name(page)) from exc
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            raise PageError(f"tesseract failed re-reading the title of {_name(page)}: {exc} "
                            f"{detail.decode(errors='replace')[-300:]}", _name(page)) from exc
        words = []
        for row in out.stdout.decode("utf-8", errors="replace").splitlines()[1:]:
            cols = row.split("\t")
            if len(cols) == 12 and cols[0] == "5" and cols[11].strip():
                x, y, w, h = (int(c) for c in cols[6:10])
                words.append(OcrWord(cols[11].strip(), x, y, x + w, y + h, float(cols[10])))
        return words


def _ink_lines(band: np.ndarray, dpi: float) -> list[tuple[int, int, int, int]]:
    """Boxes (x0, y0, x1, y1) of the runs of inked rows in a band that are as tall as a line of title type."""
    px_mm = dpi / 25.4
    ink = band < 128
    rows = ink.sum(axis=1) > max(3, 0.002 * band.shape[1])
    boxes, y, gap = [], 0, max(1, round(1.0 * px_mm))
    while y < len(rows):
        if not rows[y]:
            y += 1
            continue
        start, last = y, y
        while y < len(rows) and (rows[y] or y - last <= gap):
            if rows[y]:
                last = y
            y += 1
        if 4.0 * px_mm <= last + 1 - start <= 16.0 * px_mm:
            cols = np.flatnonzero(ink[start : last + 1].any(axis=0))
            pad = round(2.0 * px_mm)
            boxes.append((max(0, int(cols[0]) - pad), max(0, start - pad),
                          min(band.shape[1], int(cols[-1]) + pad + 1), min(band.shape[0], last + 1 + pad)))
    return boxes


class PageReader:
    """The OCR of a batch's pages as document finding needs it: each page loaded once, titles the page OCR dropped
    re-read, and fields snapped to names the batch declares (its agency and case number) when OCR garbled them."""

    def __init__(self, ocr: OcrLoader = load_ocr, headings: HeadingReader | None = None, known: Sequence[str] = ()):
        self._load = ocr
        self._headings = headings
        self._known = [(normalise(k), k) for k in known if k]
        self._cache: OrderedDict[int, OcrResult | None] = OrderedDict()

    CACHED_PAGES = 16
    """Pages are read in scan order, so a few recent ones are all that is worth keeping: memory stays flat."""

    def ocr(self, page: PageArtifact) -> OcrResult | None:
        """The page's OCR (with a re-read heading where needed), or None if it has none."""
        if page.position in self._cache:
            self._cache.move_to_end(page.position)
            return self._cache[page.position]
        result = self._load(page)
        if result is not None and self._headings is not None:
            result = self._headings.complete(page, result)
        self._cache[page.position] = result
        if len(self._cache) > self.CACHED_PAGES:
            self._cache.popitem(last=False)
        return result

    def heading(self, page: PageArtifact) -> PageHeading | None:
        """The heading of a page, or None if it has no OCR."""
        result = self.ocr(page)
        return page_heading(result) if result is not None else None

    def fields(self, first: PageArtifact, last: PageArtifact | None) -> Fields | None:
        """Fields of a document from its first and last pages; None when the first page has no OCR."""
        first_ocr = self.ocr(first)
        if first_ocr is None:
            return None
        found = read_fields(first_ocr, self.ocr(last) if last is not None else None)
        return Fields(found.title, self._snap(found.doc_no), self._snap(found.author), found.date, found.flags)

    def _snap(self, value: str) -> str:
        """A value read by OCR replaced by a declared name it is one or two misread characters away from."""
        if not value:
            return value
        norm = normalise(value)
        for key, known in self._known:
            if len(key) >= 6 and levenshtein(norm, key) <= max(1, len(key) // 8):
                return known
        return value


def _numbered(page: PageArtifact) -> bool:
    return not page.record.blank and not page.record.separator and page.image_path is not None


def _case_key(case_no: str) -> str:
    return normalise(case_no).replace("〔", "(").replace("〕", ")").replace("[", "(").replace("]", ")")


def find_documents(pages: Sequence[PageArtifact], manifest: BatchManifest | None = None,
                   ocr: OcrLoader = load_ocr, headings: HeadingReader | None = HeadingReader()) -> list[Document]:
    """The documents of a batch, in scan order: from the manifest's list, else separator sheets, else OCR titles.

    ``headings`` re-reads titles the page OCR dropped (None: use the page OCR only). Raises ReviewNeeded when the
    evidence contradicts itself (page counts that do not add up, a sheet of another case, a separator sheet that
    could not be read, a declared document without pages).
    """
    pages = sorted(pages, key=lambda p: p.position)
    unreadable = [p for p in pages if p.record.separator and p.separator is None]
    if unreadable:
        raise ReviewNeeded("separator sheet could not be decoded on page(s) "
                           + ", ".join(_name(p) for p in unreadable) + ": check the sheet and rescan")
    case_no = manifest.case_no if manifest else ""
    for p in pages:
        if p.separator is not None and case_no and p.separator.case_no \
                and _case_key(p.separator.case_no) != _case_key(case_no):
            raise ReviewNeeded(f"separator sheet {_name(p)} is for case {p.separator.case_no}, "
                               f"but the batch is case {case_no}: a sheet or pages of another case are in the batch")
    known = (manifest.agency, manifest.case_no) if manifest else ()
    reader = PageReader(ocr, headings, known)
    if manifest is not None and manifest.documents:
        return documents_from_manifest(pages, manifest.documents, reader)
    if any(p.separator is not None and p.separator.kind == "document" for p in pages):
        return documents_from_separators(pages, reader)
    return documents_from_ocr(pages, reader)


def _reader(ocr: PageReader | OcrLoader) -> PageReader:
    return ocr if isinstance(ocr, PageReader) else PageReader(ocr)


def _complete(index: int, positions: Sequence[int], declared: Fields, boundary: str,
              by_pos: Mapping[int, PageArtifact], reader: PageReader, remark: str = "",
              extra_flags: Sequence[str] = ()) -> Document:
    """A document from declared fields, reading empty ones from the OCR of its first and last pages."""
    values = {"title": declared.title, "doc_no": declared.doc_no, "author": declared.author, "date": declared.date}
    flags = list(declared.flags) + list(extra_flags)
    if not all(values.values()):
        last = by_pos[positions[-1]] if len(positions) > 1 else None
        read = reader.fields(by_pos[positions[0]], last)
        for name in values:
            if values[name]:
                continue
            found = getattr(read, name) if read else ""
            if found:
                values[name] = found
                flags.append(f"{name}-ocr")
            else:
                flags.append(f"{name}-missing")
        if read and "title-fuzzy" in read.flags and "title-ocr" in flags:
            flags.append("title-fuzzy")
    return Document(index, values["title"], tuple(positions), values["doc_no"], values["author"], values["date"],
                    remark, boundary, tuple(dict.fromkeys(flags)))


def documents_from_manifest(pages: Sequence[PageArtifact], specs: Sequence[DocumentSpec],
                            ocr: PageReader | OcrLoader = load_ocr) -> list[Document]:
    """Documents as batch.json declares them: each takes the next ``pages`` scanned pages (blank ones included,
    separator sheets not counted); the counts must add up to the pages scanned."""
    reader = _reader(ocr)
    content = [p for p in sorted(pages, key=lambda p: p.position) if not p.record.separator]
    declared = sum(s.pages for s in specs)
    if declared != len(content):
        raise ReviewNeeded(f"batch.json declares {declared} pages in {len(specs)} documents but the batch has "
                           f"{len(content)} pages (separator sheets not counted): fix the document list or rescan")
    by_pos = {p.position: p for p in pages}
    documents, start = [], 0
    for i, spec in enumerate(specs):
        chunk = content[start : start + spec.pages]
        start += spec.pages
        positions = [p.position for p in chunk if _numbered(p)]
        if not positions:
            raise ReviewNeeded(f"document {i + 1} of batch.json ({spec.title}) has only blank pages: "
                               + ", ".join(_name(p) for p in chunk))
        documents.append(_complete(i, positions, Fields(spec.title, spec.doc_no, spec.author, _iso_or_as_is(spec.date)),
                                   "manifest", by_pos, reader, remark=spec.remark))
    return documents


def _iso_or_as_is(text: str) -> str:
    """A declared date as ISO 8601 when it parses, else as given."""
    return (parse_date(text) or text.strip()) if text else ""


def documents_from_separators(pages: Sequence[PageArtifact], ocr: PageReader | OcrLoader = load_ocr) -> list[Document]:
    """Documents started by separator sheets (the sheets themselves are in no document). Pages before the first
    document sheet, if any, are split by their OCR titles and flagged ``no-separator``."""
    reader = _reader(ocr)
    ordered = sorted(pages, key=lambda p: p.position)
    by_pos = {p.position: p for p in ordered}
    groups: list[tuple[PageArtifact | None, list[PageArtifact]]] = [(None, [])]
    for p in ordered:
        if p.separator is not None and p.separator.kind == "document":
            groups.append((p, []))
        elif not p.record.separator:
            groups[-1][1].append(p)
    documents: list[Document] = []
    if any(_numbered(p) for p in groups[0][1]):
        for doc in documents_from_ocr(groups[0][1], reader):
            documents.append(Document(len(documents), doc.title, doc.positions, doc.doc_no, doc.author, doc.date,
                                      doc.remark, "ocr", tuple(dict.fromkeys((*doc.flags, "no-separator")))))
    for sheet, members in groups[1:]:
        payload: SeparatorPayload = sheet.separator  # type: ignore[union-attr]
        positions = [p.position for p in members if _numbered(p)]
        if not positions:
            raise ReviewNeeded(f"separator sheet {_name(sheet)} ({payload.title or 'untitled document'}) is followed "
                               "by no page with content")
        extra = []
        if payload.pages is not None and payload.pages != len(members):
            extra.append(f"pages-mismatch: sheet says {payload.pages}, scanned {len(members)}")
        documents.append(_complete(len(documents), positions,
                                   Fields(payload.title, payload.doc_no, payload.author, _iso_or_as_is(payload.date)),
                                   "separator", by_pos, reader, extra_flags=extra))
    return documents


def documents_from_ocr(pages: Sequence[PageArtifact], ocr: PageReader | OcrLoader = load_ocr) -> list[Document]:
    """Documents split where a page's top carries a known title in large centred type, or a 红头 authority that
    differs from the current document's; one untitled document (boundary "single") when nothing is found."""
    reader = _reader(ocr)
    ordered = [p for p in sorted(pages, key=lambda p: p.position) if _numbered(p)]
    starts: list[tuple[int, bool]] = []
    current_authority = ""
    for i, page in enumerate(ordered):
        heading = reader.heading(page)
        new = heading is not None and (
            heading.title is not None
            or bool(heading.authority and current_authority and heading.authority != current_authority)
        )
        if i == 0 or new:
            starts.append((i, new))
        if heading is not None and heading.authority:
            current_authority = heading.authority
    by_pos = {p.position: p for p in pages}
    boundary = "ocr" if any(found for _, found in starts) else "single"
    documents = []
    for k, (i, _) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(ordered)
        positions = [p.position for p in ordered[i:end]]
        documents.append(_complete(len(documents), positions, Fields(), boundary, by_pos, reader))
    return documents


# --------------------------------------------------------------------------------------------------------------------
# Volumes and catalogue

def plan_volumes(documents: Sequence[Document], max_pages: int) -> list[VolumePlan]:
    """Pack documents, in order, into volumes of at most ``max_pages`` numbered pages.

    A document that does not fit in the space left in the current volume starts the next volume (documents are
    never split to fill a volume). A document longer than ``max_pages`` on its own also starts a fresh volume and
    is cut at page boundaries into full volumes; its later parts are ``continued`` (续), and documents after it
    fill the space its last part leaves. Documents without numbered pages take no place.
    """
    if max_pages < 1:
        raise ValueError(f"max_pages must be at least 1, got {max_pages}")
    volumes: list[list[VolumePart]] = []
    used = max_pages  # forces a first volume
    for doc in documents:
        n = len(doc.positions)
        if n == 0:
            continue
        if n <= max_pages:
            if used + n > max_pages:
                volumes.append([])
                used = 0
            volumes[-1].append(VolumePart(doc.index, tuple(doc.positions)))
            used += n
            continue
        if used > 0:
            volumes.append([])
            used = 0
        for k, start in enumerate(range(0, n, max_pages)):
            chunk = tuple(doc.positions[start : start + max_pages])
            if k > 0:
                volumes.append([])
            volumes[-1].append(VolumePart(doc.index, chunk, continued=k > 0))
            used = len(chunk)
    total = len(volumes)
    return [VolumePlan(number=i + 1, of=total, parts=tuple(parts)) for i, parts in enumerate(volumes)]


def volume_catalogue(plan: VolumePlan, documents: Sequence[Document]) -> VolumeCatalogue:
    """The 卷内目录 of one volume: one row per document part, with its first and last page number in the volume."""
    by_index = {d.index: d for d in documents}
    entries, page = [], 1
    for seq, part in enumerate(plan.parts, start=1):
        doc = by_index.get(part.document)
        if doc is None:
            raise ValueError(f"volume {plan.number} refers to document {part.document}, which is not in the list")
        remark = "；".join(r for r in (doc.remark, "续" if part.continued else "") if r)
        flags = list(doc.flags) + [f"{name}-missing" for name in ("title", "doc_no", "author", "date")
                                   if not getattr(doc, name) and f"{name}-missing" not in doc.flags]
        entries.append(CatalogueEntry(
            seq=seq, doc_no=doc.doc_no, author=doc.author, title=doc.title, date=doc.date, first_page=page,
            last_page=page + len(part.positions) - 1, remark=remark, continued=part.continued, document=doc.index,
            flags=list(dict.fromkeys(flags)),
        ))
        page += len(part.positions)
    return VolumeCatalogue(volume=plan.number, entries=entries)


def build_catalogue(case_no: str, plans: Sequence[VolumePlan], documents: Sequence[Document]) -> Catalogue:
    """catalogue.json: the 卷内目录 of every volume."""
    return Catalogue(case_no=case_no, volumes=[volume_catalogue(plan, documents) for plan in plans])
