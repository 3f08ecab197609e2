"""The end of a document: its signature block (落款) on its last page, where the 成文日期 is printed, often under the
red seal, and where documents without a head name their issuing unit (情况说明, 到案经过); and the 时间 line and
工作单位 of a 笔录, which has no signature date.

A document's date is the LAST dated line of its signature block. Lines under a seal are read again with the seal's red
taken out; when the page OCR lost the line altogether, the inked lines of the block are found in the image and read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.structure._dates import looks_like_date, read_date_line
from pipeline.structure._divisions import check_authority
from pipeline.structure._evidence import MISSING, Found, from_vote, vote
from pipeline.structure._heads import Reread
from pipeline.structure._layout import Line, PageLayout
from pipeline.structure._lexicon import AUTHOR_LABELS, DATE_LABELS, PUNCT_EDGES, authority_name, normalise

Box = tuple[int, int, int, int]
FindLines = Callable[[Box], list[Box]]
"""Inked text lines in a region of the page image (OCR pixels), top to bottom; [] when there is no image."""

_SIGNER = re.compile(r"(审判长|审判员|陪审员|书记员|检察员|检察官|侦查员|办案人|局长|院长|主任|经办人|记录人"
                     r"|核对无异|此致)")
MAX_REREADS = 4


@dataclass(frozen=True)
class Tail:
    """What a document's last page says at its end."""

    date: Found
    authority: Found


def _date_from(readings: list[tuple[str, float]]) -> Found:
    """The date the readings of one line agree on; flagged ``repaired`` when every reading of it needed repairs."""
    parsed = []
    for text, conf in readings:
        found = read_date_line(text)
        if found is not None and found.coverage >= 0.5:
            parsed.append((found.iso, conf - (15 if found.repaired else 0), found.repaired))
    full = [(v, c) for v, c, _ in parsed if len(v) == 10]
    result = from_vote(vote(full or [(v, c) for v, c, _ in parsed]))
    votes = sum(1 for v, _, _ in parsed if v == result.value)
    if result.value and votes < 2 and all(rep for v, _, rep in parsed if v == result.value):
        result = Found(result.value, min(result.confidence, 0.55), tuple(dict.fromkeys((*result.flags, "repaired"))))
    return result


def _candidates(layout: PageLayout, tail: list[Line]) -> list[Line]:
    """Tail lines that may be the date, lowest first: dates, things shaped like one, short lines on the right."""
    out = []
    for line in reversed(tail):
        s = line.norm.strip(PUNCT_EDGES)
        if _SIGNER.search(s) and not looks_like_date(s):
            continue
        if read_date_line(s) or looks_like_date(s) or (len(s) <= 16 and (layout.right_aligned(line)
                                                                           or layout.centred(line))):
            out.append(line)
    return out


def signature_date(layout: PageLayout, reread: Reread | None, find_lines: FindLines | None) -> Found:
    """The 成文日期: the lowest line of the signature block that reads as a date (page OCR and re-reads agreeing)."""
    after_body = layout.tail()
    tail = layout.rows(after_body or list(layout.lines[-6:]))
    for line in _candidates(layout, tail)[:MAX_REREADS]:
        readings = [(line.text, line.conf)]
        strict = read_date_line(line.text)
        if reread is not None and not (strict and not strict.repaired and len(strict.iso) == 10 and line.conf >= 90):
            readings += reread(_row_box(layout, line), True)
        found = _date_from(readings)
        if found.value:
            return _signed(found)
    if find_lines is None or reread is None:
        return MISSING
    known = [ln.box for ln in layout.lines]
    last = layout.lines[-1].y1 if layout.lines else 0
    tops = [last] + ([after_body[0].y0] if after_body and after_body[0].y0 < last else [])
    for top in tops:  # below everything read first: the engine often loses the lines under a seal
        region = (round(0.3 * layout.ocr.width), max(0, top - 20), layout.ocr.width,
                  min(layout.ocr.height, top + round(0.35 * layout.ocr.height)))
        for box in reversed(find_lines(region)):
            if any(min(box[3], k[3]) - max(box[1], k[1]) > 0.6 * (box[3] - box[1]) and
                   min(box[2], k[2]) > max(box[0], k[0]) for k in known if looks_like_date(_text_at(layout, k))):
                continue
            found = _date_from(reread(box, True))
            if found.value:
                return _signed(found)
    return MISSING


def _signed(found: Found) -> Found:
    """A signature date has a day: one read as year and month only lost it to the seal or the scan."""
    if len(found.value) == 10:
        return found
    return Found(found.value, min(found.confidence, 0.4), tuple(dict.fromkeys((*found.flags, "partial"))))


def _row_box(layout: PageLayout, line: Line) -> Box:
    """A signature line's box widened over its row towards the page's right edge and a little up and down: under a
    seal the engine's box often holds only part of the date."""
    h = line.y1 - line.y0
    _, right = layout.text_box
    return (round(max(0.3 * layout.ocr.width, line.x0 - 4 * h)), round(line.y0 - 0.15 * h),
            round(min(0.97 * layout.ocr.width, max(line.x1, right) + 6 * h)), round(line.y1 + 0.15 * h))


def _text_at(layout: PageLayout, box: Box) -> str:
    return next((ln.text for ln in layout.lines if ln.box == box), "")


def signature_authority(layout: PageLayout, reread: Reread | None) -> Found:
    """An issuing unit named in the signature block (a 落款 line that checks as an authority)."""
    for line in reversed(layout.rows(layout.tail() or list(layout.lines[-6:]))):
        s = line.norm.strip(PUNCT_EDGES)
        if len(s) < 4 or _SIGNER.search(s) or read_date_line(s):
            continue
        readings = [(line.text, line.conf)] + (reread(line.box, True) if reread else [])
        for text, _ in readings:
            checked = check_authority(normalise(text).strip(PUNCT_EDGES))
            if checked.status == "exact":
                return Found(checked.name, 0.9)
            if checked.status == "corrected":
                return Found(checked.name, 0.6, ("corrected",), read=checked.read)
        if authority_name(s):
            return Found(s, 0.35, ("unverified",))
    return MISSING


def labelled_date(layout: PageLayout, reread: Reread | None = None) -> Found:
    """A 笔录's date: its 时间 line (时间：2021年9月3日14时42分至…), read again when the page OCR garbled it."""
    for line in layout.lines:
        s = line.norm
        if not any(s.startswith(label) for label in DATE_LABELS):
            continue
        found = read_date_line(s.split("至")[0], partial=False)
        if found and not found.repaired:
            return Found(found.iso, min(0.95, 0.5 + line.mean_conf / 200))
        readings = [(line.text, line.conf)] + (reread(line.box, False) if reread else [])
        values = []
        for text, conf in readings:
            again = read_date_line(normalise(text).split("至")[0], partial=False)
            if again:
                values.append((again.iso, conf - (15 if again.repaired else 0)))
        result = from_vote(vote(values))
        if result.value:
            return result
    return MISSING


def labelled_author(layout: PageLayout) -> Found:
    """A 笔录's recording unit: its 工作单位 (or 办案单位…), checked against the divisions."""
    for line in layout.lines:
        for label in AUTHOR_LABELS:
            m = re.search(re.escape(label) + r"[:：;；,，](?P<n>[^\s,，。;；:：、]{4,30})", line.norm)
            if not m:
                continue
            checked = check_authority(m.group(1).strip(PUNCT_EDGES + "\"”“"))
            if checked.status == "exact":
                return Found(checked.name, 0.9)
            if checked.status == "corrected":
                return Found(checked.name, 0.6, ("corrected",), read=checked.read)
            name = authority_name(m.group(1))
            if name:
                return Found(name, 0.4, ("unverified",))
    return MISSING


def read_tail(layout: PageLayout, reread: Reread | None, find_lines: FindLines | None) -> Tail:
    """Date and authority of a document's signature block."""
    return Tail(signature_date(layout, reread, find_lines), signature_authority(layout, reread))
