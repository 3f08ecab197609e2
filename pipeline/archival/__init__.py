"""PDF/A finishing, PAdES signing, the independent validators (PDFBox Preflight, qpdf) and the four-property
checks."""

from pipeline.archival._checks import check_dossier, make_report
from pipeline.archival._facts import PROPERTIES
from pipeline.archival._pdfa import finish_pdfa
from pipeline.archival._sign import preload, sign_pdf
from pipeline.archival._signature_check import validate_signature
from pipeline.archival._signer import (
    NO_KEY,
    SignatureCheck,
    SignerConfig,
    check_signer,
    development_certificate,
    ensure_development_signer,
    require_signer,
    signer_from_settings,
)
from pipeline.archival._stamp import stamp_page
from pipeline.archival._volume_checks import check_volume, qpdf_cli_checks
from pipeline.archival._xmp import (
    ArchivalMetadata,
    declared_pdfa_level,
    metadata_of,
    page_hash_root,
    pdfa_level_of,
    read_xmp,
)

__all__ = [
    "NO_KEY",
    "ArchivalMetadata",
    "PROPERTIES",
    "SignatureCheck",
    "SignerConfig",
    "check_dossier",
    "check_signer",
    "check_volume",
    "declared_pdfa_level",
    "development_certificate",
    "ensure_development_signer",
    "finish_pdfa",
    "make_report",
    "metadata_of",
    "page_hash_root",
    "pdfa_level_of",
    "preload",
    "qpdf_cli_checks",
    "read_xmp",
    "require_signer",
    "sign_pdf",
    "stamp_page",
    "signer_from_settings",
    "validate_signature",
]
