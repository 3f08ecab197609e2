"""What the page stage records of each page."""

from __future__ import annotations

from pydantic import Field

from pipeline.models._base import ColourMode, Contract

# --------------------------------------------------------------------------------------------------------------------
# Dossier manifest (dossier.json, written last when publishing)


class PageSource(Contract):
    """Where a page came from in the batch as received."""

    file: str = Field(description="file name relative to the batch folder")
    index: int = Field(default=0, ge=0, description="page index inside a multi-page file")


class PageRecord(Contract):
    """What happened to one input page."""

    source: PageSource
    sha256: str = Field(
        description="SHA-256 of the raw page as received (file bytes, or decoded page for multi-page files)")
    dpi: float | None = None
    dpi_inferred: bool = False
    rotation: int = Field(default=0, description="degrees clockwise applied to make the page upright: 0/90/180/270")
    skew: float = Field(default=0.0, description="degrees counter-clockwise applied to straighten it, after rotation")
    blank: bool = False
    separator: bool = False
    colour: ColourMode = "bitonal"
    colour_reason: str = ""
    seal: bool = False
    ocr_confidence: float | None = Field(default=None, description="mean word confidence of the OCR engine, 0-100")
    ocr_chars: int = 0
    document: int | None = Field(default=None, description="index of the document the page belongs to")
    volume: int | None = Field(default=None, description="volume number where the page landed; null if not in a volume")
    page: int | None = Field(default=None, description="page number within the volume; null if not in a volume")
    flags: list[str] = Field(default_factory=list)
