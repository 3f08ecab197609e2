"""The digitization standard profile: the policies a run follows."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipeline.models._base import Contract, PdfaLevel
from pipeline.models._limits import InputPolicy

# --------------------------------------------------------------------------------------------------------------------
# Standard profile (the agreed digitization standard, versioned YAML)


class ResolutionPolicy(Contract):
    """Resolution limits for scans."""

    min_dpi: int = Field(default=200, description="below this a page is refused or flagged (see below_min)")
    ocr_min_dpi: int = Field(default=300, description="below this OCR quality is flagged")
    below_min: Literal["refuse", "flag"] = "refuse"
    max_dpi: int = Field(default=1200, description="above this the page is flagged as suspicious")


class ImagingPolicy(Contract):
    """How pages are cleaned and encoded."""

    deskew: bool = True
    max_skew: float = Field(default=15.0, description="largest skew (degrees) searched for")
    orientation: bool = True
    remove_borders: bool = True
    blank_detection: bool = True
    keep_colour_for_seals: bool = True
    jpeg_quality: int = Field(default=75, ge=30, le=95)
    archive_max_dpi: int = Field(default=300, description="archived images above this are downsampled to it")


class EngineModel(Contract):
    """A model file the profile's OCR engine must read pages with: its file name and SHA-256."""

    file: str = Field(description="the file name, e.g. PP-OCRv6_rec_small.onnx")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class OcrPolicy(Contract):
    """How pages are read: the engine and its settings."""

    enabled: bool = True
    engine: Literal["tesseract", "ppocr"] = Field(
        default="ppocr", description="ppocr: PP-OCRv6 small (rapidocr 3.10.0) in-process; tesseract: tesseract -l")
    models: list[EngineModel] = Field(
        default_factory=list,
        description="the model files the engine must read with (PP-OCR's detector and recogniser): a run refuses to "
                    "start when the installed ones differ; empty: whatever is installed")
    languages: str = Field(default="chi_sim", description="tesseract -l value (PP-OCR reads Chinese and Latin)")
    psm: int = Field(default=3, ge=0, le=13, description="tesseract --psm (PP-OCR finds lines itself)")
    timeout_seconds: float = Field(default=180.0, gt=0)
    min_confidence: float | None = Field(
        default=None, ge=0, le=100,
        description="pages with a lower mean word confidence are flagged; none: the engine's calibrated threshold")


class VolumePolicy(Contract):
    """How documents are packed into volumes."""

    max_pages: int = Field(default=200, ge=1, description="numbered pages per volume at most")
    retention: str = Field(default="永久", description="default 保管期限 when the batch names none")


class PdfaPolicy(Contract):
    """Which PDF/A level volumes are made to."""

    level: PdfaLevel = "1b"


class SigningPolicy(Contract):
    """Whether and how volumes are signed."""

    enabled: bool = True
    reason: str = "电子卷宗制作"
    location: str = ""
    visible: bool = False
    pades_level: Literal["B-B", "B-T"] = "B-B"


class RetentionPolicy(Contract):
    """Object-lock retention of published objects: write once, read many, by default. COMPLIANCE for ten years, the
    shortest 保管期限 of DA/T 22-2015 (定期10年): no version of a published dossier can be deleted or overwritten in
    that time, not even with the bucket credential, and no lawful disposal is ever blocked by it."""

    mode: Literal["none", "GOVERNANCE", "COMPLIANCE"] = "COMPLIANCE"
    days: int = Field(default=3650, ge=0)


class StandardProfile(Contract):
    """A versioned digitization standard: everything the pipeline decides by is read from here."""

    id: str = Field(description="standard id, e.g. DA/T 31-2017")
    version: str = Field(description="version of this profile, bumped on any change")
    title: str = ""
    resolution: ResolutionPolicy = ResolutionPolicy()
    imaging: ImagingPolicy = ImagingPolicy()
    ocr: OcrPolicy = OcrPolicy()
    volumes: VolumePolicy = VolumePolicy()
    pdfa: PdfaPolicy = PdfaPolicy()
    signing: SigningPolicy = SigningPolicy()
    retention: RetentionPolicy = RetentionPolicy()
    review: Literal["flagged", "always", "never"] = "flagged"  # when a run pauses for a 卷内目录 review
    input: InputPolicy = InputPolicy()

    @property
    def key(self) -> str:
        """id@version, the form used in manifests and cache keys."""
        return f"{self.id}@{self.version}"
