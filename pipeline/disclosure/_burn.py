"""Burning findings out of a page image: each run of found characters is painted over in the pixels themselves — a
number solid black, a given name with paper and a 某 drawn in its place — never an overlay on top of the old pixels.

Where the characters are comes from the recogniser (or the text layer it wrote), which can be a fraction of an em
off (half an em where Han characters and digits meet): each edge of a run (and between the cells of a name) is
moved to the gap between two characters nearest to it — an outer edge past a stroke's hairline tip running into the
gap —; where the ink leaves none, an outer edge is pushed out over the ink it cuts, up to a third of an em. The box
gets a margin above and below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pipeline.common import cjk_font_file
from pipeline.disclosure._detect import Finding
from pipeline.disclosure._text import PageText
from pipeline.imaging import without_red

REACH = 0.33  # ems an edge may move out over ink
WINDOW = 0.5  # ems an edge may move to reach the gap between two characters
GAP = 0.06  # ems of blank columns that make a gap between two characters
PAD = 0.1  # ems left blank between a box and the ink beside it (3 pixels at least): a serif's tip, the thin end of a 0
WIDE = 1.6  # a run's last character boxed this many times the run's usual width overruns its ink
HOLD = 0.5  # share of its recognised width a run's first or last character keeps, at least, between its edges
MARGIN = 0.12  # ems added above and below a run
INK_BELOW = 140  # grey darker than this is ink
PRINT_BELOW = 50  # luma darker than this is print however red JPEG made it (a seal's red alone is ~80 and lighter)


@dataclass(frozen=True)
class Burn:
    """One painted box of a finding: solid ``ink`` (numbers) or ``paper`` with ``text`` drawn in it (a 某)."""

    finding: int  # index of the finding in the list given
    x0: int
    y0: int
    x1: int
    y1: int
    fill: str  # "ink" | "paper"
    text: str = ""


def _runs(page: PageText, finding: Finding) -> list[list[tuple[int, str]]]:
    """The finding's characters grouped in runs of neighbours on one line: [(glyph, cell), …]."""
    runs: list[list[tuple[int, str]]] = []
    for g, cell in sorted(zip(finding.glyphs, finding.cells)):
        if runs and runs[-1][-1][0] == g - 1 and page.glyphs[g].line == page.glyphs[g - 1].line:
            runs[-1].append((g, cell))
        else:
            runs.append([(g, cell)])
    return runs


def ink_mask(image: Image.Image) -> np.ndarray:
    """Text ink of a page image: dark pixels once a red seal's are faded out as for reading (imaging's
    ``without_red``: in proportion to how red they are, so a ring's pixels that JPEG's colour subsampling greyed
    where it meets print do not join two characters); print under the seal, which the same subsampling tints red,
    stays ink by its darkness."""
    if image.mode == "1":
        return ~np.asarray(image, dtype=bool)
    if image.mode != "RGB":
        return np.asarray(image.convert("L")) < INK_BELOW
    rgb = np.asarray(image, dtype=np.uint8)
    luma = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    return (without_red(rgb) < INK_BELOW) | (luma < PRINT_BELOW)


def _gaps(band: np.ndarray, lo: int, hi: int, least: int) -> list[tuple[int, int]]:
    """Runs [a, b) of blank columns of ``band`` within [lo, hi) at least ``least`` wide (a gap between two
    characters; the one between a character's own parts, 码 = 石 + 马, is narrower)."""
    blank = band[:, lo:hi].sum(axis=0) <= 1
    runs, start = [], None
    for k, b in enumerate(np.append(blank, False)):
        if b and start is None:
            start = k
        elif not b and start is not None:
            if k - start >= least:
                runs.append((lo + start, lo + k))
            start = None
    return runs


def _snap(ink: np.ndarray, y0: int, y1: int, x: float, em: float, step: int, reach: int) -> int:
    """Where an edge the recogniser put at ``x`` really is: in the nearest gap between two characters within half an
    em — a left edge (``step`` -1) just before the ink after the gap, a right edge (+1) just after the ink before it,
    an edge between two cells (0) in its middle; a move inwards counts half again (better a sliver of a neighbour
    than of the finding) — else ``x`` pushed outwards over the ink it cuts, at most ``reach`` columns."""
    h, w = ink.shape
    band = ink[max(0, y0) : min(h, y1)]
    lo, hi = max(0, int(x - WINDOW * em)), min(w, int(np.ceil(x + WINDOW * em)) + 1)
    pad = max(3, int(PAD * em))
    best: tuple[float, int] | None = None
    for a, b in _gaps(band, lo, hi, max(2, int(GAP * em))):
        if step < 0:
            edge = max(a, _trail(band, b - 1, max(a, b - 1 - reach), -1) + 1 - pad)
        elif step > 0:
            edge = min(b, _trail(band, a, min(b, a + reach), 1) + pad)
        else:
            edge = (a + b) // 2
        distance = 0.0 if a <= x <= b else min(abs(a - x), abs(b - x))
        inward = step != 0 and (edge - x) * step < 0
        score = distance * (1.5 if inward else 1.0)
        if best is None or score < best[0]:
            best = (score, edge)
    if best is not None:
        return best[1]
    return _push(band, x, step, reach)


def _trail(band: np.ndarray, start: int, stop: int, step: int) -> int:
    """The first column from ``start`` towards ``stop`` (``step`` ±1) that no ink running on from the column before
    ``start`` reaches: a gap's columns may hold a pixel of ink each (a speck does not close a gap), and where they
    carry on a character's stroke — a serif thinning to a hairline — the character ends where that ink does."""
    if not 0 <= start - step < band.shape[1]:
        return start
    before, col = band[:, start - step], start
    while col != stop:
        near = before.copy()
        near[1:] |= before[:-1]
        near[:-1] |= before[1:]
        here = band[:, col]
        if not (here & near).any():
            break
        before, col = here, col + step
    return col


def _push(band: np.ndarray, x: float, step: int, reach: int) -> int:
    """``x`` moved outwards (``step`` -1 left, +1 right) over the ink it cuts, at most ``reach`` columns."""
    edge, moved = int(round(x)), 0
    while moved < reach and step != 0:
        col = edge - 1 if step < 0 else edge
        if col < 0 or col >= band.shape[1] or not band[:, col].any():
            break
        edge += step
        moved += 1
    return edge


def _outer_edges(ink: np.ndarray, rows: tuple[int, int], glyphs: Sequence, edges: list[int], em: float,
                 reach: int) -> None:
    """A run's outer edges kept outside its first and last characters: an edge snapped to a gap inside one (the gap
    before it filled — a seal's ring across it, a neighbour touching it —, or between a Han character's parts,
    鄂 = 咢 + 阝) leaves it less than :data:`HOLD` of its width (a Han character's is an em, whatever the
    recogniser gave it); such an edge is pushed outwards from where the recogniser put it instead, over the ink it
    cuts, as far as an edge may move to reach a gap (:data:`WINDOW`)."""
    band = ink[max(0, rows[0]) : min(ink.shape[0], rows[1])]

    def width(g) -> float:
        return max(g.x1 - g.x0, em if not g.text.isascii() else 0.0)

    if edges[1] - edges[0] < HOLD * width(glyphs[0]):
        edges[0] = _push(band, glyphs[0].x0, -1, max(reach, int(WINDOW * em)))
    if edges[-1] - edges[-2] < HOLD * width(glyphs[-1]):
        edges[-1] = _push(band, glyphs[-1].x1, 1, max(reach, int(WINDOW * em)))


def _trimmed(glyphs: list) -> list:
    """A run's characters with its last narrowed to the run's usual width where the recogniser boxed it
    :data:`WIDE` times wider: PP-OCR gives a word's last character the word box's margin after it — an em on to
    the next word (15298267395余额: 25 pixels of a 5, its box 71). A first character boxed wide is left so: its box
    runs on to the right as often as to the left (机主：…号码：18447645910, the 1's ink at 831-857, its box 826-872)."""
    widths = sorted(g.x1 - g.x0 for g in glyphs[1:-1] if g.text.isascii() and g.text.strip())
    last = glyphs[-1]
    if len(widths) < 3 or not last.text.isascii():
        return glyphs
    usual = widths[len(widths) // 2]
    return glyphs if last.x1 - last.x0 <= WIDE * usual else [*glyphs[:-1], replace(last, x1=last.x0 + usual)]


def burns(page: PageText, findings: Sequence[Finding], ink: np.ndarray) -> list[Burn]:
    """The boxes to paint for every finding, in pixels of the page image ``ink`` is the text ink of."""
    out: list[Burn] = []
    h, w = ink.shape
    for k, finding in enumerate(findings):
        for run in _runs(page, finding):
            glyphs = _trimmed([page.glyphs[g] for g, _ in run])
            top, bottom = min(g.y0 for g in glyphs), max(g.y1 for g in glyphs)
            em = max(bottom - top, 4.0)
            band = int(top), int(np.ceil(bottom))
            reach = int(REACH * em)
            edges = [_snap(ink, *band, glyphs[0].x0, em, -1, reach)]
            edges += [_snap(ink, *band, (a.x1 + b.x0) / 2, em, 0, 0) for a, b in zip(glyphs, glyphs[1:])]
            edges.append(_snap(ink, *band, glyphs[-1].x1, em, 1, reach))
            _outer_edges(ink, band, glyphs, edges, em, reach)
            y0, y1 = max(0, int(top - MARGIN * em)), min(h, int(np.ceil(bottom + MARGIN * em)))
            edges[0], edges[-1] = max(0, edges[0]), min(w, edges[-1])
            if all(cell == "" for _, cell in run):
                out.append(Burn(k, edges[0], y0, edges[-1], y1, "ink"))
                continue
            for (_, cell), x0, x1 in zip(run, edges, edges[1:]):
                out.append(Burn(k, x0, y0, max(x1, x0 + 1), y1, "paper", cell))
    return out


@lru_cache(maxsize=32)
def _font(px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(cjk_font_file()), px)


def _colours(image: Image.Image, burn: Burn) -> tuple[object, object]:
    """(paper, ink) of the page around a box, in the image's mode."""
    if image.mode == "1":
        return 1, 0
    crop = np.asarray(image.crop((burn.x0, burn.y0, burn.x1, burn.y1)))
    flat = crop.reshape(-1, crop.shape[-1]) if crop.ndim == 3 else crop.reshape(-1, 1)
    if not flat.size:
        return (255, 255, 255) if image.mode == "RGB" else 255, (0, 0, 0) if image.mode == "RGB" else 0
    grey = flat.mean(axis=1)
    paper = flat[grey >= np.percentile(grey, 80)].mean(axis=0)
    ink = flat[grey <= np.percentile(grey, 5)].mean(axis=0)
    if image.mode == "RGB":
        return tuple(int(v) for v in paper), tuple(int(v) for v in np.minimum(ink, 60))
    return int(paper[0]), int(min(ink[0], 60))


def burn_image(image: Image.Image, boxes: Sequence[Burn]) -> Image.Image:
    """A new image: ``image`` with every box painted (the original is left as it is)."""
    out = image.copy() if image.mode in ("1", "L", "RGB") else image.convert("RGB")
    draw = ImageDraw.Draw(out)
    black = 0 if out.mode in ("1", "L") else (0, 0, 0)
    for b in boxes:
        if b.fill == "ink":
            draw.rectangle([b.x0, b.y0, b.x1 - 1, b.y1 - 1], fill=black)
            continue
        paper, ink = _colours(image, b)
        draw.rectangle([b.x0, b.y0, b.x1 - 1, b.y1 - 1], fill=paper)
        if b.text:
            _draw_cell(draw, b, ink)
    return out


def _draw_cell(draw: ImageDraw.ImageDraw, b: Burn, ink: object) -> None:
    """A 某 (and a number after it, smaller, in the same cell) with its ink centred in the box."""
    height, width = b.y1 - b.y0, b.x1 - b.x0
    px = max(6, int(min(height / (1 + 2 * MARGIN), width * 1.05) * 0.92))
    head, tail = b.text[0], b.text[1:]
    if tail:
        px = int(px * 0.7)
    font, small = _font(px), _font(max(6, px * 2 // 3))
    left, top, right, bottom = draw.textbbox((0, 0), head, font=font)
    tail_width = draw.textlength(tail, font=small) if tail else 0.0
    x = b.x0 + (width - (right - left) - tail_width) / 2 - left
    y = b.y0 + (height - (bottom - top)) / 2 - top
    draw.text((x, y), head, font=font, fill=ink)
    if tail:
        draw.text((x + right, y + (bottom - top) / 3), tail, font=small, fill=ink)
