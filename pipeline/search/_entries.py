"""What the index holds: one entry per published page, per 卷内目录 row and per case, read from a dossier.

A page's entry carries its text as the volume's text layer reads (lines joined by newlines) and the box of every
character of that text, packed: four unsigned 16-bit shares of the page's width and height per character (x0, y0,
x1, y1, top-left origin; zeros for a newline), deflated. A hit's offsets in the text are offsets into the boxes.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.assembly import LayerPage, numbered_pages
from pipeline.common import folded_name
from pipeline.models import Catalogue, CatalogueEntry, DossierManifest

PAGE, CATALOGUE, CASE = "page", "catalogue", "case"
ORIGINAL = "original"  # the copy an entry was read from; a disclosure copy is "disclosure/<profile>"
_SCALE = 65535


@dataclass(frozen=True)
class Entry:
    """One indexed unit and what a hit on it shows."""

    uid: str  # unique in the index: <case_key>/<copy>/<source>/<volume>/<page or seq>
    case_no: str
    case_key: str
    owner: str  # the agency that published the dossier, folded (pipeline.common.folded_name)
    copy: str
    source: str  # page | catalogue | case
    volume: int  # 0 for a case entry
    page: int  # the stamped page number (a 卷内目录 row: its document's first page)
    title: str  # the document's 题名 (a case entry: the case title)
    date: str  # the document's date, ISO (may be empty)
    text: str
    boxes: bytes = b""
    manifest_version: str = ""

    @property
    def date_number(self) -> int:
        """The date as YYYYMMDD (0 when unknown), for range filters."""
        digits = self.date.replace("-", "")[:8]
        return int(digits.ljust(8, "0")) if digits[:4].isdigit() and digits.isdigit() else 0


def pack_boxes(page: LayerPage) -> bytes:
    """The boxes of every character of ``page.text``, packed (see the module docstring)."""
    sx, sy = _SCALE / max(page.width, 1e-6), _SCALE / max(page.height, 1e-6)
    values: list[int] = []
    for k, line in enumerate(page.lines):
        if k:
            values += (0, 0, 0, 0)
        for c in line:
            values += (_clip(c.x0 * sx), _clip(c.y0 * sy), _clip(c.x1 * sx), _clip(c.y1 * sy))
    return zlib.compress(struct.pack(f"<{len(values)}H", *values), 6)


def _clip(v: float) -> int:
    return 0 if v < 0 else _SCALE if v > _SCALE else int(round(v))


def unpack_boxes(packed: bytes, start: int, end: int) -> list[tuple[float, float, float, float]]:
    """The boxes of characters ``start``..``end`` as shares of the page (x0, y0, x1, y1); newlines left out."""
    if not packed:
        return []
    raw = zlib.decompress(packed)
    out = []
    for i in range(max(start, 0), min(end, len(raw) // 8)):
        x0, y0, x1, y1 = struct.unpack_from("<4H", raw, 8 * i)
        if x1 > x0:
            out.append((x0 / _SCALE, y0 / _SCALE, x1 / _SCALE, y1 / _SCALE))
    return out


def _row_of(rows: list[CatalogueEntry], page: int) -> CatalogueEntry | None:
    return next((r for r in rows if r.first_page <= page <= r.last_page), None)


def dossier_entries(manifest: DossierManifest, catalogue: Catalogue | None, volumes: Iterable[tuple[int, Path]],
                    manifest_version: str = "", copy: str = ORIGINAL) -> Iterator[Entry]:
    """Every entry of one dossier: the case, each 卷内目录 row, each numbered page of each volume (read from its
    PDF's text layer), one volume at a time."""
    common = dict(case_no=manifest.case_no, case_key=manifest.case_key, owner=folded_name(manifest.agency), copy=copy,
                  manifest_version=manifest_version)
    prefix = f"{manifest.case_key}/{copy}"
    facts = "\n".join(x for x in (manifest.case_no, manifest.case_title, manifest.agency) if x)
    yield Entry(uid=f"{prefix}/{CASE}", source=CASE, volume=0, page=0, title=manifest.case_title, date="",
                text=facts, **common)
    rows_of = {v.volume: list(v.entries) for v in (catalogue.volumes if catalogue else [])}
    for number, rows in sorted(rows_of.items()):
        for r in rows:
            text = "\n".join(x for x in (r.title, r.doc_no, r.author, r.date) if x)
            yield Entry(uid=f"{prefix}/{CATALOGUE}/{number}/{r.seq}", source=CATALOGUE, volume=number,
                        page=r.first_page, title=r.title, date=r.date, text=text, **common)
    for number, path in volumes:
        rows = rows_of.get(number, [])
        for page in numbered_pages(path):
            row = _row_of(rows, page.number)
            yield Entry(uid=f"{prefix}/{PAGE}/{number}/{page.number}", source=PAGE, volume=number,
                        page=page.number, title=row.title if row else "", date=row.date if row else "",
                        text=page.text, boxes=pack_boxes(page), **common)
