"""dossier.json: the published manifest of a dossier, its volumes, documents, originals and OCR engine."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from pipeline.models._base import SCHEMA_VERSION, Contract, PdfaLevel, SecurityLevel
from pipeline.models._catalogue import CatalogueCorrection
from pipeline.models._pages import PageRecord


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
    version: str = Field(description="e.g. rapidocr 3.10.0, tesseract 5.3.0")
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
    corrections: list[CatalogueCorrection] = Field(default_factory=list, description="卷内目录 reviews")
    object_versions: dict[str, str] = Field(
        default_factory=dict,
        description="object version id of every stored object this manifest names, by key relative to the dossier "
        "prefix (e.g. volumes/001.pdf); filled by publish so that an older manifest still reads its own volumes",
    )
