"""One page of a disclosure copy: the findings of its text burnt out of its image, the image read again by the
recogniser (what is still found there is burnt too, and doubtful), and the page's text without what was burnt.

Every finding gets a number (its id in the copy, in page order); a finding a reviewer judged not personal data
(``kept``) is left visible, and what the second reading finds where it stands is left alone too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from PIL import Image

from pipeline.disclosure._burn import Burn, burn_image, burns, ink_mask
from pipeline.disclosure._detect import Finding, People, detect_page
from pipeline.disclosure._layer import cell_map, redacted_result
from pipeline.disclosure._text import PageText, page_text_from_ocr
from pipeline.models import DisclosureProfile
from pipeline.ocr import OcrResult, OcrSettings, ocr_image

ROUNDS = 2  # readings of a burnt page: a third has never found anything the second missed on the bench


@dataclass(frozen=True)
class Numbered:
    """A finding with its id, the boxes painted for it (none when kept) and where it stands on the page."""

    id: int
    finding: Finding
    boxes: tuple[Burn, ...]
    area: tuple[int, int, int, int]
    kept: bool = False

    @property
    def rects(self) -> list[tuple[int, int, int, int]]:
        """The painted boxes (merged per line), or where the finding stands when it was kept."""
        if not self.boxes:
            return [self.area]
        rows: dict[tuple[int, int], list[int]] = {}
        for b in self.boxes:
            edge = rows.setdefault((b.y0, b.y1), [b.x0, b.x1])
            edge[0], edge[1] = min(edge[0], b.x0), max(edge[1], b.x1)
        return [(x0, y0, x1, y1) for (y0, y1), (x0, x1) in rows.items()]


@dataclass(frozen=True)
class RedactedPage:
    """A page made ready for its copy: the painted image, its text for the text layer, and its findings."""

    image: Image.Image
    text: OcrResult
    findings: tuple[Numbered, ...]
    changed: bool


def _area(page: PageText, finding: Finding, boxes: Sequence[Burn]) -> tuple[int, int, int, int]:
    rects = [(b.x0, b.y0, b.x1, b.y1) for b in boxes] or [
        (int(page.glyphs[g].x0), int(page.glyphs[g].y0), int(page.glyphs[g].x1) + 1, int(page.glyphs[g].y1) + 1)
        for g in finding.glyphs]
    return min(r[0] for r in rects), min(r[1] for r in rects), max(r[2] for r in rects), max(r[3] for r in rects)


def _inside(x: float, y: float, area: tuple[int, int, int, int]) -> bool:
    return area[0] <= x <= area[2] and area[1] <= y <= area[3]


def _number(page: PageText, findings: Sequence[Finding], first: int, kept: set[int], image: Image.Image) \
        -> list[Numbered]:
    """Ids and painted boxes for findings of ``page`` (read from ``image``)."""
    ids = list(range(first, first + len(findings)))
    active = [f for i, f in zip(ids, findings) if i not in kept]
    painted = burns(page, active, ink_mask(image))
    by_finding: dict[int, list[Burn]] = {}
    for b in painted:
        by_finding.setdefault(b.finding, []).append(b)
    out, k = [], 0
    for i, f in zip(ids, findings):
        if i in kept:
            out.append(Numbered(i, f, (), _area(page, f, ()), kept=True))
            continue
        own = tuple(by_finding.get(k, ()))
        out.append(Numbered(i, f, own, _area(page, f, own)))
        k += 1
    return out


def _reread(image: Image.Image, dpi: float, page: PageText, profile: DisclosureProfile, people: People,
            settings: OcrSettings, done: Sequence[Numbered]) -> list[tuple[PageText, Finding]]:
    """What the recogniser still finds on a painted page, outside every finding already painted or kept."""
    label = f"disclosure copy, volume {page.volume} page {page.page}"
    read = page_text_from_ocr(ocr_image(image.convert("L") if image.mode == "1" else image, dpi, settings, label),
                              page.volume, page.page)
    fresh = []
    for f in detect_page(read, profile, people, found_by="ocr"):
        centres = [((read.glyphs[g].x0 + read.glyphs[g].x1) / 2, (read.glyphs[g].y0 + read.glyphs[g].y1) / 2)
                   for g in f.glyphs]
        if any(all(_inside(x, y, n.area) for x, y in centres) for n in done):
            continue
        fresh.append((read, replace(f, certain=False, reason="复核识别发现：" + f.reason)))
    return fresh


def redact_page(page: PageText, image: Image.Image, dpi: float, profile: DisclosureProfile, people: People,
                first: int, kept: set[int], settings: OcrSettings | None) -> RedactedPage:
    """The page's findings painted out (ids from ``first``), read again ``ROUNDS`` times when ``settings`` is
    given, and its text without them."""
    findings = detect_page(page, profile, people)
    done = _number(page, findings, first, kept, image)
    painted = burn_image(image, [b for n in done for b in n.boxes])
    for _ in range(ROUNDS if settings is not None else 0):
        fresh = _reread(painted, dpi, page, profile, people, settings, done)
        if not fresh:
            break
        for read, f in fresh:
            numbered = _number(read, [f], first + len(done), set(), painted)
            done += numbered
            painted = burn_image(painted, [b for n in numbered for b in n.boxes])
    base = [n.finding for n in done if not n.kept and n.finding.found_by == "text-layer"]
    text = redacted_result(page, base + _under_painted(page, base, done), page.width, page.height, dpi)
    return RedactedPage(painted, text, tuple(done), changed=any(n.boxes for n in done))


def _under_painted(page: PageText, base: Sequence[Finding], done: Sequence[Numbered]) -> list[Finding]:
    """The characters of the page's text standing under a box painted for what the second reading found (which
    may have read them differently): taken out, or under a name's box written as the 某 drawn there."""
    boxes = [b for n in done if n.finding.found_by == "ocr" for b in n.boxes]
    covered = cell_map(base)
    glyphs, cells = [], []
    for i, g in enumerate(page.glyphs):
        if i in covered:
            continue
        cx, cy = (g.x0 + g.x1) / 2, (g.y0 + g.y1) / 2
        for b in boxes:
            if _inside(cx, cy, (b.x0, b.y0, b.x1, b.y1)):
                glyphs.append(i)
                cells.append("" if b.fill == "ink" else b.text)
                break
    return [Finding("painted", page.volume, page.page, tuple(glyphs), tuple(cells), "", False, "")] if glyphs else []
