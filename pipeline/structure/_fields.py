"""The 卷内目录 fields of a document read from its pages: 题名, 文号, 责任者 and 日期."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.ocr import OcrResult
from pipeline.structure._dates import find_dates, parse_date
from pipeline.structure._headings import line_text, page_heading
from pipeline.structure._lexicon import _PUNCT_EDGES, AUTHOR_LABELS, DATE_LABELS, authority_name, normalise

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
