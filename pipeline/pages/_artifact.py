"""One processed page as the later stages take it: its record, its archival image file and its OCR result file.

Page images travel as files on disk, never as a list of decoded images, so a 2,000-page case runs in flat memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.models import PageRecord, SeparatorPayload


@dataclass(frozen=True)
class PageArtifact:
    """One processed page: its record, its archival image file and (if OCRed) its OCR result file.

    ``image_path`` holds the archival image exactly as it goes into the PDF: a single-strip CCITT G4 TIFF for
    bitonal pages, a baseline JPEG for grey and colour pages. Its pixel size and ``dpi`` fix the page size.
    ``grey_path`` keeps the grey the bits were cut from (same pixels) of a bitonal page with mid-grey marks: a seal
    scanned in grey is mid-grey over a date and turns black in the bits, so the date can only be read again in the
    grey.
    """

    position: int  # 0-based position of the page in the batch (scan order)
    record: PageRecord
    image_path: Path | None  # None for pages that do not go into a volume (blank, separator)
    width: int = 0
    height: int = 0
    dpi: float = 300.0
    ocr_path: Path | None = None  # JSON of pipeline.ocr.OcrResult.to_dict()
    separator: SeparatorPayload | None = None
    grey_path: Path | None = None  # a sealed bitonal page's grey: lines under the seal are re-read in it
