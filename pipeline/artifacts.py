"""What the stages hand each other inside one run: processed pages, documents, volume plans.

These are in-process types (the published contracts are in :mod:`pipeline.models`). Page images travel as files
on disk, never as a list of decoded images, so a 2,000-page case runs in flat memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pipeline.models import CatalogueEntry, PageRecord, SeparatorPayload


@dataclass(frozen=True)
class PageArtifact:
    """One processed page: its record, its archival image file and (if OCRed) its OCR result file.

    ``image_path`` holds the archival image exactly as it goes into the PDF: a single-strip CCITT G4 TIFF for
    bitonal pages, a baseline JPEG for grey and colour pages. Its pixel size and ``dpi`` fix the page size.
    """

    position: int  # 0-based position of the page in the batch (scan order)
    record: PageRecord
    image_path: Path | None  # None for pages that do not go into a volume (blank, separator)
    width: int = 0
    height: int = 0
    dpi: float = 300.0
    ocr_path: Path | None = None  # JSON of pipeline.ocr.OcrResult.to_dict()
    separator: SeparatorPayload | None = None


@dataclass(frozen=True)
class Document:
    """A document of the case: its catalogue fields and the batch positions of its numbered pages, in order."""

    index: int
    title: str
    positions: tuple[int, ...]
    doc_no: str = ""
    author: str = ""
    date: str = ""  # ISO 8601 when known, else as printed, else empty
    remark: str = ""
    boundary: str = "single"  # manifest | separator | ocr | single
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class VolumePart:
    """A run of one document's pages placed in one volume (a document split across volumes has several parts)."""

    document: int
    positions: tuple[int, ...]
    continued: bool = False  # True when this part continues a document begun in an earlier volume


@dataclass(frozen=True)
class VolumePlan:
    """One volume: number N of M and the document parts in it, in order."""

    number: int
    of: int
    parts: tuple[VolumePart, ...]

    @property
    def positions(self) -> tuple[int, ...]:
        """Batch positions of the numbered pages, in volume order."""
        return tuple(p for part in self.parts for p in part.positions)

    @property
    def page_count(self) -> int:
        """Numbered pages in the volume."""
        return len(self.positions)


@dataclass(frozen=True)
class VolumeContext:
    """Everything printed on a volume's cover, 卷内目录 and 备考表 besides the pages themselves."""

    case_no: str
    case_title: str
    agency: str
    number: int
    of: int
    retention: str
    security_level: str
    standard: str  # id@version
    pipeline_version: str
    entries: tuple[CatalogueEntry, ...]
    date_range: tuple[str, str] = ("", "")  # earliest and latest document date (ISO) in the volume
    blank_pages: int = 0  # blank pages left out of this volume's numbering
    flagged: tuple[tuple[int, str], ...] = ()  # (page number, reason) for flagged pages in the volume
    prepared_by: str = ""
    checked_by: str = ""
    prepared_on: date | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BuiltVolume:
    """A volume PDF as written by the renderer, before PDF/A finishing and signing."""

    path: Path
    number: int
    pdf_pages: int
    numbered_pages: int
