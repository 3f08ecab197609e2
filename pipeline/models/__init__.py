"""Pydantic models for the contracts other systems depend on, one private module per document.

The JSON Schemas under ``schemas/`` are generated from these models (``python -m pipeline.schemas``); a test fails
when they drift. Field names here are part of the public contract: rename nothing without a schema version bump."""

from pipeline.models._base import (
    SCHEMA_VERSION,
    SECURITY_ORDER,
    ColourMode,
    Contract,
    FieldSource,
    PdfaLevel,
    SecurityLevel,
)
from pipeline.models._batch import (
    BatchManifest,
    DocumentSpec,
    SeparatorPayload,
)
from pipeline.models._catalogue import (
    Catalogue,
    CatalogueCorrection,
    CatalogueEntry,
    EntryEvidence,
    FieldEvidence,
    VolumeCatalogue,
)
from pipeline.models._disclosure import (
    CATEGORY_LABELS,
    Category,
    Detection,
    DisclosureManifest,
    DisclosureProfile,
    DisclosureVolume,
    PersonRole,
    Recipient,
    ReviewDecision,
)
from pipeline.models._dossier import (
    DocumentEntry,
    DossierManifest,
    ModelFileEntry,
    OcrEngineEntry,
    OriginalEntry,
    PropertyVerdict,
    ReportSummary,
    SignatureInfo,
    VolumeEntry,
    volume_key,
)
from pipeline.models._limits import InputPolicy
from pipeline.models._pages import (
    PageRecord,
    PageSource,
)
from pipeline.models._profile import (
    EngineModel,
    ImagingPolicy,
    OcrPolicy,
    PdfaPolicy,
    ResolutionPolicy,
    RetentionPolicy,
    SigningPolicy,
    StandardProfile,
    VolumePolicy,
)
from pipeline.models._report import (
    Check,
    Report,
)
from pipeline.models._status import (
    BatchState,
    BatchStatus,
    CaseHistory,
    HistoryEvent,
    StatusReport,
    WatcherSummary,
)

__all__ = [
    "BatchState",
    "BatchStatus",
    "CaseHistory",
    "HistoryEvent",
    "StatusReport",
    "WatcherSummary",
    "BatchManifest",
    "CATEGORY_LABELS",
    "Category",
    "Detection",
    "DisclosureManifest",
    "DisclosureProfile",
    "DisclosureVolume",
    "PersonRole",
    "Recipient",
    "ReviewDecision",
    "Catalogue",
    "CatalogueCorrection",
    "CatalogueEntry",
    "Check",
    "ColourMode",
    "Contract",
    "DocumentEntry",
    "DocumentSpec",
    "DossierManifest",
    "EntryEvidence",
    "FieldEvidence",
    "FieldSource",
    "ImagingPolicy",
    "InputPolicy",
    "ModelFileEntry",
    "OcrEngineEntry",
    "EngineModel",
    "OcrPolicy",
    "OriginalEntry",
    "PageRecord",
    "PageSource",
    "PdfaLevel",
    "PdfaPolicy",
    "PropertyVerdict",
    "Report",
    "ReportSummary",
    "ResolutionPolicy",
    "RetentionPolicy",
    "SCHEMA_VERSION",
    "SECURITY_ORDER",
    "SecurityLevel",
    "SeparatorPayload",
    "SignatureInfo",
    "SigningPolicy",
    "StandardProfile",
    "VolumeCatalogue",
    "VolumeEntry",
    "VolumePolicy",
    "volume_key",
]
