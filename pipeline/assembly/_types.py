"""What a volume prints besides its pages, and the volume PDF as the renderer wrote it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pipeline.models import CatalogueEntry


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
    copy_mark: str = ""  # a disclosure copy's name, printed on its cover (阅卷版（律师）)
    copy_note: str = ""  # what a disclosure copy removed, stated on its 备考表


@dataclass(frozen=True)
class BuiltVolume:
    """A volume PDF as written by the renderer, before PDF/A finishing and signing."""

    path: Path
    number: int
    pdf_pages: int
    numbered_pages: int
