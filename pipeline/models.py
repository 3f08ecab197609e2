"""Pydantic models for the contracts other systems depend on.

The JSON Schemas under ``schemas/`` are generated from these models (``python -m pipeline.schemas``) and a test
fails when they drift. Field names here are part of the public contract: rename nothing without a schema version bump.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.0"

SecurityLevel = Literal["public", "internal", "secret", "confidential", "top-secret"]
"""Security levels, lowest first (公开, 内部, 秘密, 机密, 绝密)."""

SECURITY_ORDER: tuple[str, ...] = ("public", "internal", "secret", "confidential", "top-secret")

ColourMode = Literal["bitonal", "grey", "colour"]
PdfaLevel = Literal["1b", "2b"]


class Contract(BaseModel):
    """Base for contract models: unknown fields are refused so that typos fail loudly."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --------------------------------------------------------------------------------------------------------------------
# Batch manifest (batch.json, written by the scanning room)


class DocumentSpec(Contract):
    """One document of the batch as declared by the scanning room (order = scan order)."""

    title: str = Field(description="题名, e.g. 起诉书")
    doc_no: str = Field(default="", description="文号, e.g. 新封检公诉刑诉〔2019〕172号")
    author: str = Field(default="", description="责任者 (issuing authority)")
    date: str = Field(default="", description="日期, ISO 8601 (YYYY-MM-DD) or as printed")
    pages: int = Field(ge=1, description="number of scanned pages of this document, blank backs included")
    remark: str = Field(default="", description="备注")


class BatchManifest(Contract):
    """batch.json: what the scanning room knows about one batch of page images."""

    schema_version: str = SCHEMA_VERSION
    case_no: str = Field(description="案号, e.g. （2024）豫0727刑初172号")
    case_title: str = Field(default="", description="案件名称")
    agency: str = Field(default="", description="the agency that owns and scans the file (立卷单位)")
    room: str = Field(default="", description="scanning room id")
    operator: str = Field(default="", description="scanner operator")
    scanned: datetime | None = Field(default=None, description="when the batch was scanned")
    dpi: int | None = Field(default=None, ge=50, le=2400,
                            description="declared scan resolution, used when a file has none")
    security_level: SecurityLevel = "internal"
    retention: str = Field(default="", description="保管期限, e.g. 永久, 长期, 30年")
    prepared_by: str = Field(default="", description="立卷人")
    checked_by: str = Field(default="", description="检查人")
    grants: list[str] = Field(default_factory=list, description="agencies allowed to fetch the finished dossier")
    documents: list[DocumentSpec] = Field(default_factory=list, description="document list; empty = detect")
    standard: str | None = Field(default=None, description="standard profile id@version to use, default if absent")


# --------------------------------------------------------------------------------------------------------------------
# Separator sheet payload (the QR code printed by `dossier sheets`)


class SeparatorPayload(Contract):
    """The QR payload of a separator sheet: a batch cover or the start of one document."""

    v: Literal[1] = 1
    kind: Literal["batch", "document"]
    case_no: str = Field(default="", description="案号 (always on the batch cover)")
    case_title: str = ""
    agency: str = ""
    title: str = Field(default="", description="document 题名 (kind=document)")
    doc_no: str = Field(default="", description="文号")
    author: str = Field(default="", description="责任者")
    date: str = Field(default="", description="ISO 8601 date")
    pages: int | None = Field(default=None, ge=1, description="expected page count of the document, if known")


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


class OcrPolicy(Contract):
    """How pages are read: the engine and its settings."""

    enabled: bool = True
    engine: Literal["tesseract", "ppocr"] = Field(
        default="ppocr", description="ppocr: PP-OCRv4 (rapidocr-onnxruntime) in-process; tesseract: tesseract -l")
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
    """Object-lock retention of published objects."""

    mode: Literal["none", "GOVERNANCE", "COMPLIANCE"] = "none"
    days: int = Field(default=0, ge=0)


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

    @property
    def key(self) -> str:
        """id@version, the form used in manifests and cache keys."""
        return f"{self.id}@{self.version}"


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


class CatalogueEntry(Contract):
    """One row of a volume's 卷内目录."""

    seq: int = Field(description="顺序号 within the volume")
    doc_no: str = Field(default="", description="文号")
    author: str = Field(default="", description="责任者")
    title: str = Field(description="题名")
    date: str = Field(default="", description="日期, ISO 8601 when known")
    first_page: int = Field(description="first page number in the volume")
    last_page: int = Field(description="last page number in the volume")
    remark: str = Field(default="", description="备注, e.g. 续 for a continued document")
    continued: bool = False
    document: int = Field(description="document index in the case")
    flags: list[str] = Field(default_factory=list, description="fields missing or inferred")


class VolumeCatalogue(Contract):
    """The 卷内目录 of one volume."""

    volume: int
    entries: list[CatalogueEntry]


class Catalogue(Contract):
    """catalogue.json: the 卷内目录 of every volume of a dossier."""

    schema_version: str = SCHEMA_VERSION
    case_no: str
    volumes: list[VolumeCatalogue]


class SignatureInfo(Contract):
    """Signature of one volume as made by the pipeline."""

    signer: str = Field(description="signer certificate subject")
    certificate_sha256: str
    level: str = Field(description="PAdES level, e.g. B-B")
    signed_at: datetime
    development_key: bool = Field(default=False, description="true when signed with the generated development key")


def volume_key(number: int) -> str:
    """The key of volume N relative to the dossier prefix and in the local dossier folder: ``volumes/NNN.pdf``."""
    return f"volumes/{number:03d}.pdf"


class VolumeEntry(Contract):
    """One published volume."""

    number: int
    of: int
    key: str = Field(description="object key relative to the dossier prefix, e.g. volumes/001.pdf")
    sha256: str
    bytes: int
    pages: int = Field(description="numbered pages in the volume")
    pdf_pages: int = Field(description="all pages in the PDF including cover, 卷内目录 and 备考表")
    documents: int
    pdfa: PdfaLevel
    signature: SignatureInfo | None = None


class OriginalEntry(Contract):
    """One raw batch file as received, stored for fixity."""

    batch: str
    file: str
    key: str
    sha256: str
    bytes: int


class DocumentEntry(Contract):
    """One document of the case as found."""

    index: int
    title: str
    doc_no: str = ""
    author: str = ""
    date: str = ""
    pages: int = Field(description="numbered pages of the document")
    boundary: Literal["manifest", "separator", "ocr", "single"] = Field(description="how its start was found")
    flags: list[str] = Field(default_factory=list)


class PropertyVerdict(Contract):
    """Verdict for one of the four properties."""

    passed: bool
    failures: list[str] = Field(default_factory=list)


class ReportSummary(Contract):
    """The four-property verdicts as recorded in the manifest."""

    passed: bool
    authenticity: PropertyVerdict
    completeness: PropertyVerdict
    usability: PropertyVerdict
    security: PropertyVerdict


class ModelFileEntry(Contract):
    """One model file an OCR engine read pages with."""

    file: str
    bytes: int
    sha256: str


class OcrEngineEntry(Contract):
    """The OCR engine that read a dossier's pages: its name, version, runtime and model files."""

    engine: Literal["tesseract", "ppocr"]
    version: str = Field(description="e.g. rapidocr-onnxruntime 1.4.4, tesseract 5.3.0")
    runtime: str = Field(default="", description="e.g. onnxruntime 1.32.0")
    models: list[ModelFileEntry] = Field(default_factory=list)


class DossierManifest(Contract):
    """dossier.json: the manifest of a published dossier, written last."""

    schema_version: str = SCHEMA_VERSION
    case_no: str
    case_key: str
    case_title: str = ""
    agency: str = ""
    security_level: SecurityLevel = "internal"
    retention: str = ""
    standard: str = Field(description="standard profile id@version")
    pipeline_version: str
    created: datetime
    batches: list[str] = Field(description="batch ids the dossier was built from")
    supersedes: str | None = Field(default=None, description="object version id of the dossier.json this replaces")
    grants: list[str] = Field(default_factory=list)
    volumes: list[VolumeEntry]
    documents: list[DocumentEntry]
    pages: list[PageRecord]
    ocr: OcrEngineEntry | None = Field(default=None, description="the OCR engine of the text layer")
    originals: list[OriginalEntry] = Field(default_factory=list)
    catalogue_sha256: str | None = None
    report_sha256: str | None = None
    report: ReportSummary | None = None
    object_versions: dict[str, str] = Field(
        default_factory=dict,
        description="object version id of every stored object this manifest names, by key relative to the dossier "
        "prefix (e.g. volumes/001.pdf); filled by publish so that an older manifest still reads its own volumes",
    )


# --------------------------------------------------------------------------------------------------------------------
# Four-property report (report.json)


class Check(Contract):
    """One check that was run, with its subject and outcome."""

    property: Literal["authenticity", "completeness", "usability", "security"]
    name: str
    subject: str = Field(description="what was checked: a volume key, a page, the manifest")
    passed: bool
    detail: str = ""


class Report(Contract):
    """report.json: every check run on a dossier and the verdict per property."""

    schema_version: str = SCHEMA_VERSION
    case_no: str
    checked_at: datetime
    tool: str
    summary: ReportSummary
    checks: list[Check]

