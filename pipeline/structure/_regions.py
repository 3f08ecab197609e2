"""Where on its pages a 卷内目录 field is printed: the region a reviewer looks at beside the value in doubt.

题名, 文号 and 责任者 are printed in the head of a document's first page, 日期 in the signature block (落款) of its
last page, often under the seal (a 笔录's on its first page, the 时间 line). A field read from a line is shown with
that line and some of what surrounds it (a seal, the line above); a field nobody could read (or a page without OCR)
is shown with the block of print where documents print it — the last lines of ink of the page for a date (the 落款
with its seal), the first ones for the head — found in a reduced grey image of the page, else the part of the page
where such a field is usually printed. Boxes are in the pixels of the page's archival image.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from pipeline.structure._dates import looks_like_date, read_date_line
from pipeline.structure._layout import Line, PageLayout
from pipeline.structure._lexicon import normalise
from pipeline.structure._numbers import find_doc_no

Box = tuple[int, int, int, int]

ZONES: dict[str, tuple[float, float, float, float]] = {
    "title": (0.0, 0.0, 1.0, 0.4),
    "doc_no": (0.0, 0.0, 1.0, 0.45),
    "author": (0.0, 0.0, 1.0, 0.3),
    "date": (0.3, 0.5, 1.0, 1.0),
}
"""Where documents print each field, as shares of the page (left, top, right, bottom): the head block of the first
page, the signature block at the lower right of the last page."""


@dataclass(frozen=True)
class Region:
    """A field's place: the batch position of its page, the box (x0, y0, x1, y1) in image pixels, and whether it is
    the line the value was read from (True) or the part of the page where such a field is printed (False)."""

    position: int
    box: Box
    located: bool


def _matches(line: Line, wanted: list[str]) -> bool:
    return any(w and (w in line.norm or (len(line.norm) >= 4 and line.norm in w)) for w in wanted)


def _date_line(layout: PageLayout, bottom_up: bool) -> Line | None:
    lines = reversed(layout.lines) if bottom_up else iter(layout.lines)
    return next((ln for ln in lines if read_date_line(ln.text) is not None or looks_like_date(ln.text)), None)


def _find(name: str, wanted: list[str], layout: PageLayout, last: bool) -> Line | None:
    """The line a field's value (or what OCR read of it) stands on."""
    if name == "date":
        return _date_line(layout, bottom_up=last)
    head = layout.lines if last else [ln for ln in layout.lines if ln.y0 <= 0.5 * layout.ocr.height]
    found = next((ln for ln in head if _matches(ln, wanted)), None)
    if found is None and name == "doc_no":
        found = next((ln for ln in head if find_doc_no(ln.text) is not None), None)
    return found


def _scaled(line: Line, layout: PageLayout, size: tuple[int, int]) -> Box:
    """The line's box with the lines around it (a seal reaches about two line heights around a date), in image
    pixels."""
    sx, sy = size[0] / max(1, layout.ocr.width), size[1] / max(1, layout.ocr.height)
    h = max(1, line.y1 - line.y0)
    x0, y0, x1, y1 = line.x0 - 2 * h, line.y0 - 2 * h, line.x1 + 2 * h, line.y1 + 2 * h
    return _clip((round(x0 * sx), round(y0 * sy), round(x1 * sx), round(y1 * sy)), size)


def _clip(box: Box, size: tuple[int, int]) -> Box:
    w, h = size
    x0, y0, x1, y1 = max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3])
    return (x0, y0, max(x0 + 1, x1), max(y0 + 1, y1))


def zone(name: str, size: tuple[int, int]) -> Box:
    """Where a field of the given name is printed on a page of ``size`` (width, height)."""
    left, top, right, bottom = ZONES[name]
    w, h = size
    return _clip((round(left * w), round(top * h), round(right * w), round(bottom * h)), size)


BLOCK_SHARE = 0.2
"""How much of the page's height a block of print found by its ink covers (a 落款 with its seal, a head block)."""
MARGIN = 0.04


def ink_block(name: str, grey: np.ndarray) -> tuple[float, float, float, float] | None:
    """Where a field's block of print is on a page, as shares of it (left, top, right, bottom), from a reduced grey
    image: the last lines of ink for a date, the first ones for the head's fields; None on a page without ink."""
    h, w = grey.shape
    my, mx = max(1, int(MARGIN * h)), max(1, int(MARGIN * w))
    ink = grey[my:h - my, mx:w - mx] < 128
    ink[:, ink.mean(axis=0) > 0.5] = False  # dark bands (a scanner bed's edge) are no print
    ink[ink.mean(axis=1) > 0.5, :] = False
    rows = np.flatnonzero(ink.sum(axis=1) > max(2, 0.004 * ink.shape[1]))
    if rows.size == 0:
        return None
    span = int(BLOCK_SHARE * h)
    if name == "date":
        bottom = int(rows[-1]) + my + max(2, span // 10)
        top = bottom - span
    else:
        top = int(rows[0]) + my - max(2, span // 10)
        bottom = top + span
    top, bottom = max(0, top), min(h, bottom)
    cols = np.flatnonzero(ink[max(0, top - my):max(1, bottom - my)].any(axis=0))
    if cols.size == 0:
        return None
    left, right = max(0, int(cols[0]) + mx - span // 10), min(w, int(cols[-1]) + mx + span // 10)
    return left / w, top / h, right / w, bottom / h


def field_region(name: str, value: str, read: str, first: int, last: int,
                 layouts: Mapping[int, PageLayout | None], sizes: Mapping[int, tuple[int, int]],
                 greys: Mapping[int, np.ndarray] | None = None) -> Region | None:
    """The region of one field of a document whose numbered pages run from batch position ``first`` to ``last``:
    the line it was read from when one can be found on the page where such a field is printed, else the block of
    print where it is (from ``greys``, reduced grey images by position), else that part of the page. None when the
    page has no image (nothing to show)."""
    wanted = [normalise(v) for v in (value, read) if v]
    order = [(last, True), (first, False)] if name == "date" else [(first, False)]
    for position, at_end in order:
        layout, size = layouts.get(position), sizes.get(position)
        if layout is None or size is None:
            continue
        line = _find(name, wanted, layout, at_end)
        if line is not None:
            return Region(position, _scaled(line, layout, size), True)
    home = last if name == "date" else first
    size = sizes.get(home)
    if not size:
        return None
    grey = (greys or {}).get(home)
    block = ink_block(name, grey) if grey is not None else None
    if block is not None:
        w, h = size
        box = (round(block[0] * w), round(block[1] * h), round(block[2] * w), round(block[3] * h))
        return Region(home, _clip(box, size), False)
    return Region(home, zone(name, size), False)
