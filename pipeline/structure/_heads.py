"""The head of a document's first page: the issuing authority (on one line or two, a 红头's 发文机关标志), the title
(a known document type, else the largest centred line at the top), the 文号, and a newspaper's masthead.

Each line that decides a field is checked (the lexicon of document types, the divisions and agencies of
:mod:`._divisions`, the shape of a 文号) and, when the check fails, read again (``pipeline.ocr.LineReader``);
readings are combined by agreement (:mod:`._evidence`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.structure._dates import looks_like_date, read_date_line
from pipeline.structure._divisions import PRESS_SUFFIXES, check_authority
from pipeline.structure._evidence import MISSING, Found, from_vote, vote
from pipeline.structure._layout import Line, PageLayout
from pipeline.structure._lexicon import PUNCT_EDGES, authority_name, match_title, normalise, title_is_ambiguous
from pipeline.structure._numbers import find_doc_no

Reread = Callable[[tuple[int, int, int, int], bool], list[tuple[str, float]]]
"""Readings of a line again (its box in OCR pixels, drop the seal's red) → [(text, lowest word confidence)]; [] when
none can be had."""

_DIVISION_HEAD = re.compile(r"(省|自治区|自治州|市|地区|盟)$")
_RED_HEAD = re.compile(r"(文件|文[作仵什侍人牛])$")


@dataclass(frozen=True)
class Head:
    """What the head of a page says."""

    title: Found
    authority: Found
    doc_no: Found
    date: Found  # a masthead's date (a clipping), else missing
    title_line: Line | None
    in_lexicon: bool
    red_head: bool

    @property
    def starts(self) -> bool:
        """Whether the page opens a document: a title, or an authority over a 文号."""
        return bool(self.title.value) or bool(self.authority.value and self.doc_no.value)


def _readings(line: Line, reread: Reread | None, drop_red: bool = False) -> list[tuple[str, float]]:
    return [(line.text, line.conf)] + (reread(line.box, drop_red) if reread else [])


def _widened(layout: PageLayout, line: Line) -> tuple[int, int, int, int]:
    """A title line's box over the middle of the page: the engine's box may hold one character of it (口 for
    扣押物品清单 in large type)."""
    h = line.y1 - line.y0
    w = layout.ocr.width
    return (round(min(line.x0, 0.2 * w)), round(line.y0 - 0.6 * h), round(max(line.x1, 0.8 * w)),
            round(line.y1 + 0.6 * h))


def lexicon_title(layout: PageLayout, head: list[Line], reread: Reread | None) -> tuple[Found, Line | None, str]:
    """A title of the lexicon in a large or centred head line: (title, its line, the authority printed before it).

    A line the page OCR read as no known title (民 事 裁 定 书 spaced out came back as 太芝 号 下书) is read again
    when it is set like a title: large, centred and short."""
    found = [(ln, m) for ln in head if layout.large(ln) or layout.centred(ln)
             for m in [match_title(ln.text)] if m is not None]
    if not found and reread is not None:
        shaped = sorted((ln for ln in head if layout.large(ln) and layout.centred(ln) and len(ln.norm) <= 14),
                        key=lambda ln: -ln.size)
        first = head[:1] if head and layout.centred(head[0]) and len(head[0].norm) <= 4 else []
        for line in shaped[:2] + [ln for ln in first if ln not in shaped[:2]]:
            box = _widened(layout, line) if line in first and line not in shaped else line.box
            values = [(m.title, conf) for text, conf in reread(box, False)
                      for m in [match_title(text)] if m is not None and m.errors == 0 and not title_is_ambiguous(text)]
            if values:
                return from_vote(vote(values), checked=True), line, ""
        return MISSING, None, ""
    if not found:
        return MISSING, None, ""
    line, match = min(found, key=lambda lm: (lm[1].errors, -lm[0].size))
    if match.errors == 0 and not title_is_ambiguous(line.text):
        return Found(match.title, min(1.0, 0.7 + line.mean_conf / 300)), line, match.authority
    values = []
    for text, conf in (reread(line.box, False) if reread else []):
        m = match_title(text)
        if m is not None and m.errors == 0 and not title_is_ambiguous(text):
            values.append((m.title, conf))
    if not title_is_ambiguous(line.text):
        values.append((match.title, line.conf))
    result = from_vote(vote(values), checked=True)
    if not result.value:
        return Found(match.title, 0.3, ("ambiguous",), read=line.text), line, match.authority
    if match.errors and len(values) == 1:
        result = Found(result.value, min(result.confidence, 0.6), ("fuzzy",), read=line.text)
    return result, line, match.authority


_SIGNATURE = re.compile(r"(审判长|审判员|陪审员|书记员|检察员|检察官|侦查员|局长|院长|记录人|核对无异|此致|以上笔录)")


def _not_title(layout: PageLayout, line: Line) -> bool:
    s = line.norm.strip(PUNCT_EDGES)
    return (len(s) < 4 or bool(_SIGNATURE.search(s)) or is_red_head(s) or authority_name(s) is not None
            or find_doc_no(s) is not None
            or looks_like_date(s) or any(p in s for p in PRESS_SUFFIXES) or not layout.centred(line))


def layout_title(layout: PageLayout, head: list[Line], reread: Reread | None) -> tuple[Found, Line | None]:
    """A title outside the lexicon: the largest centred line at the top (with the line continuing it)."""
    candidates = [ln for ln in head if layout.large(ln, 1.25) and not _not_title(layout, ln)]
    if not candidates:
        return MISSING, None
    line = max(candidates, key=lambda ln: ln.size)
    parts = _title_lines(layout, head, line)
    per_line = [_readings(p, reread) for p in parts]
    values = [("".join(normalise(r[k][0]) for r in per_line), min(r[k][1] for r in per_line))
              for k in range(min(len(r) for r in per_line))]
    result = from_vote(vote(values))
    if result.flags:
        result = Found(result.value, result.confidence, (*result.flags, "unverified"))
    if result.value and any(_at_page_edge(layout, p) for p in parts):
        result = Found(result.value, min(result.confidence, 0.4), (*result.flags, "truncated"))
    return result, parts[0]


def _continues(layout: PageLayout, line: Line, other: Line, gap: float) -> bool:
    """Whether ``other``, ``gap`` pixels above or below the title line, is set like it: one title on two lines."""
    h = line.y1 - line.y0
    return (-0.3 * h <= gap <= 1.2 * h and layout.centred(other) and 0.8 * line.size <= other.size <= 1.25 * line.size
            and not _not_title(layout, other))


def _title_lines(layout: PageLayout, head: list[Line], line: Line) -> list[Line]:
    """The title's lines around its largest one: a long title is broken over two or three lines of one size, and the
    largest may be any of them (the last line is often the one read a hair larger)."""
    parts = [line]
    for other in reversed([ln for ln in head if ln.y1 <= line.y0 + 0.3 * (line.y1 - line.y0) and ln is not line]):
        if not _continues(layout, line, other, parts[0].y0 - other.y1):
            break
        parts.insert(0, other)
    for other in head:
        if other not in parts and other.y0 > line.y0 and _continues(layout, line, other, other.y0 - parts[-1].y1):
            parts.append(other)
    return parts


def _at_page_edge(layout: PageLayout, line: Line) -> bool:
    """Whether a line touches the left or right edge of the scan: characters beyond it are lost (a headline wider
    than the page, a crooked copy)."""
    margin = 0.01 * layout.ocr.width
    return line.x0 <= margin or line.x1 >= layout.ocr.width - margin


def is_red_head(text: str) -> bool:
    """Whether a line is a 发文机关标志: an authority's name followed by 文件 (its last character often misread)."""
    s = normalise(text).strip(PUNCT_EDGES)
    for k in range(max(0, len(s) - 4), len(s)):
        if s[k] == "文" and k >= 4 and authority_name(s[:k]) is not None:
            return True
    return bool(_RED_HEAD.search(s))


def _authority_texts(above: list[Line], inline: str) -> list[list[Line]]:
    """Lines above a title that may name its authority: the nearest one, or the nearest two (a name on two lines)."""
    groups = []
    if above:
        groups.append(above[-1:])
    if len(above) >= 2 and above[-1].y0 - above[-2].y1 < 1.5 * (above[-1].y1 - above[-1].y0):
        groups.append(above[-2:])
    return groups


def _check_reading(text: str) -> tuple[int, Found] | None:
    s = normalise(text).strip(PUNCT_EDGES)
    if is_red_head(s):
        s = s[: s.rindex("文")] if "文" in s[-4:] else s
    if len(s) < 4:
        return None
    checked = check_authority(s)
    if checked.status == "exact":
        return 0, Found(checked.name, 0.95)
    if checked.status == "corrected":
        return 1, Found(checked.name, 0.6, ("corrected",), read=s)
    if checked.status == "ambiguous":
        return 2, Found(s, 0.35, ("ambiguous",))
    if authority_name(s) is not None or any(s.endswith(p) for p in PRESS_SUFFIXES):
        return 3, Found(s, 0.35, ("unverified",))
    return None


def head_authority(layout: PageLayout, above: list[Line], inline: str, reread: Reread | None) -> tuple[Found, bool]:
    """The authority printed over the title (checked against the divisions), and whether it is a 红头 (…文件).

    Of the readings that check (exact, or a near miss with one correction), the one using more lines wins (a name
    on two lines: 新疆维吾尔自治区 / 乌鲁木齐市中级人民法院), then the exact one; otherwise the best of the rest."""
    options: list[tuple[bool, int, int, Found]] = []
    red_head = False
    if inline:
        hit = _check_reading(inline)
        if hit:
            options.append((hit[0] > 1, 0, hit[0], hit[1]))
    for group in _authority_texts(above, inline):
        red_head = red_head or any(is_red_head(ln.norm) for ln in group)
        per_line = [[normalise(t).strip(PUNCT_EDGES) for t, _ in _readings(ln, reread)] for ln in group]
        for texts in itertools.product(*per_line):  # a name on two lines: any reading of each line
            hit = _check_reading("".join(texts))
            if hit:
                options.append((hit[0] > 1, -len(group), hit[0], hit[1]))
    if not options:
        return MISSING, red_head
    best = min(options, key=lambda o: o[:3])
    found = best[3]
    if best[1] == -1 and len(above) >= 2 and _DIVISION_HEAD.search(above[-2].norm) and not found.flags:
        # the line over it reads like the start of the name (内蒙古自治区 / 呼和浩特市…) but did not check
        found = Found(found.value, 0.4, ("incomplete",))
    return found, red_head


_NUMBER_LIKE = re.compile(r"\d{4}.*号|号.*$")


def head_doc_no(head: list[Line], after_y: int, reread: Reread | None) -> Found:
    """The 文号: a head line that is a document number and little else (or shaped like one: digits and 号), read
    again and agreed on."""
    for line in head:
        hit = find_doc_no(line.text)
        shaped = hit is None and len(line.norm) <= 32 and "号" in line.norm and sum(c.isdigit() for c in line.norm) >= 4
        if (hit is None and not shaped) or (hit is not None and hit[1] < 0.6) or line.y1 < after_y:
            continue
        values = [(found[0], conf) for text, conf in _readings(line, reread)
                  for found in [find_doc_no(text)] if found is not None and found[1] >= 0.6]
        if values:
            return from_vote(vote(values), checked=True)
    return MISSING


def masthead(layout: PageLayout) -> tuple[Found, Found]:
    """A newspaper's masthead at the very top (法治日报 2022年1月 第4版): the paper and the (partial) date."""
    top = [ln for ln in layout.lines[:2] if ln.y0 <= 0.2 * layout.ocr.height]
    for line in top:
        for suffix in PRESS_SUFFIXES:
            at = line.norm.find(suffix)
            if at >= 2:
                paper = line.norm[: at + len(suffix)].strip(PUNCT_EDGES + "\"”“")
                when = read_date_line(line.text)
                conf = min(0.95, line.mean_conf / 100)
                date = Found(when.iso, conf, ("repaired",) if when.repaired else ()) if when else MISSING
                return Found(paper, conf, ("unverified",) if line.conf < 40 else ()), date
    return MISSING, MISSING


def read_head(layout: PageLayout, reread: Reread | None) -> Head:
    """Title, authority, 文号 and masthead of a page's head block."""
    head = layout.rows(layout.head())
    paper, paper_date = masthead(layout)
    title, line, inline = lexicon_title(layout, head, reread)
    in_lexicon = bool(title.value)
    if not title.value:
        title, line = layout_title(layout, head, reread)
    above = [ln for ln in head if line is not None and ln.y1 <= line.y0 + 0.3 * (line.y1 - line.y0)
             and ln is not line and (not paper.value or ln is not layout.lines[0])
             and find_doc_no(ln.text) is None and "号" not in ln.norm[-3:]]
    if line is None:  # no title: an authority line over a 文号 still opens a document
        above = [ln for ln in head if layout.centred(ln) and find_doc_no(ln.text) is None][:2]
    authority, red_head = head_authority(layout, above, inline, reread)
    if not authority.value and paper.value:
        authority = paper
    after = line.y0 if line is not None else 0
    doc_no = head_doc_no(head, after if not red_head else 0, reread)
    title = _by_case_type(title, doc_no)
    return Head(title, authority, doc_no, paper_date, line, in_lexicon, red_head)


_CASE_TYPES = {"刑": "刑事", "民": "民事", "行": "行政"}


def _by_case_type(title: Found, doc_no: Found) -> Found:
    """A court title read as 刑事 or 民事 alike (和事判决书) settled by its case number, which names the kind of case
    (（2019）豫0727民初2231号 is a civil case): two independent readings that agree."""
    if "ambiguous" not in title.flags or not doc_no.value or doc_no.flags:
        return title
    m = re.search(r"\d([刑民行])[初终再监执]", doc_no.value)
    if not m:
        return title
    kind = _CASE_TYPES[m.group(1)]
    for prefix in _CASE_TYPES.values():
        if title.value.startswith(prefix):
            settled = kind + title.value[len(prefix):]
            if match_title(settled) is not None and match_title(settled).title == settled:
                return Found(settled, 0.8, read=title.read)
    return title
