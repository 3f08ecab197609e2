"""PDF/A finishing, PAdES signing, the independent validators (PDFBox Preflight, qpdf) and the four-property checks."""

from pipeline.archival._checks import PROPERTIES, check_dossier, check_volume, make_report, qpdf_cli_checks
from pipeline.archival._pdfa import ArchivalMetadata, finish_pdfa, page_hash_root, read_xmp
from pipeline.archival._sign import (
    SignatureCheck,
    SignerConfig,
    development_certificate,
    ensure_development_signer,
    preload,
    sign_pdf,
    signer_from_settings,
    validate_signature,
)

__all__ = [
    "ArchivalMetadata",
    "PROPERTIES",
    "SignatureCheck",
    "SignerConfig",
    "check_dossier",
    "check_volume",
    "development_certificate",
    "ensure_development_signer",
    "finish_pdfa",
    "make_report",
    "page_hash_root",
    "preload",
    "qpdf_cli_checks",
    "read_xmp",
    "sign_pdf",
    "signer_from_settings",
    "validate_signature",
]
