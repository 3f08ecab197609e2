"""Validating a volume's signature: intact, valid, trusted, covering the entire file."""

from __future__ import annotations

from pathlib import Path

from pipeline.archival._sign import certificate_facts
from pipeline.archival._signer import SignatureCheck


def load_trust_roots(paths: list[Path]) -> list:
    """asn1crypto certificates from PEM or DER files (a PEM file may hold several)."""
    from asn1crypto import pem, x509

    roots = []
    for path in paths:
        data = path.read_bytes()
        if pem.detect(data):
            roots += [x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True)]
        else:
            roots.append(x509.Certificate.load(data))
    return roots


def validate_signature(path: Path, trust_roots: list[Path] | None) -> SignatureCheck:
    """Validate the volume's signature: integrity, CMS validity, chain to ``trust_roots``, coverage, PAdES level.

    An exception while validating (a corrupted /Contents, an unreadable file) is a failed check, not a crash.
    """
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    check = SignatureCheck()
    try:
        roots = load_trust_roots(trust_roots or [])
    except (OSError, ValueError) as exc:
        check.errors.append(f"trust roots cannot be read: {exc}")
        return check
    try:
        with path.open("rb") as fh:
            reader = PdfFileReader(fh, strict=False)
            sigs = reader.embedded_signatures
            check.signatures = len(sigs)
            if not sigs:
                check.errors.append("no signature")
                return check
            check.present = True
            if len(sigs) != 1:
                check.errors.append(f"expected one signature, found {len(sigs)}")
            sig = sigs[-1]
            vc = ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")
            status = validate_pdf_signature(sig, signer_validation_context=vc, ts_validation_context=vc)
            check.intact, check.valid, check.trusted = bool(status.intact), bool(status.valid), bool(status.trusted)
            check.coverage = status.coverage.name if status.coverage is not None else "UNCLEAR"
            if status.signing_cert is not None:
                check.signer, check.certificate_sha256, check.not_after = certificate_facts(status.signing_cert)
            check.signed_at = status.signer_reported_dt
            subfilter = str(sig.sig_object.get("/SubFilter", ""))
            ts = status.timestamp_validity
            if "ETSI.CAdES.detached" in subfilter:
                check.pades_level = "B-T" if ts is not None else "B-B"
            else:
                check.pades_level = f"not PAdES ({subfilter})"
                check.errors.append(f"signature sub-filter {subfilter} is not PAdES")
            if ts is not None:
                check.timestamp_valid = bool(ts.intact and ts.valid)
                check.timestamp_trusted = bool(ts.trusted)
                check.signed_at = ts.timestamp
                if not check.timestamp_valid:
                    check.errors.append("signature timestamp is not intact or not valid")
                elif not ts.trusted:
                    check.warnings.append("signature timestamp authority does not chain to the trust roots")
    except Exception as exc:  # noqa: BLE001 - any failure to validate is a failed signature, never a crash
        check.errors.append(f"signature cannot be validated: {type(exc).__name__}: {exc}")
        return check
    if not check.intact:
        check.errors.append("signed bytes were changed (digest mismatch)")
    elif not check.valid:
        check.errors.append("CMS signature is not valid")
    if check.intact and check.valid and not check.trusted:
        check.errors.append("signer certificate does not chain to the trust roots"
                            + ("" if roots else " (no trust roots configured)"))
    if check.coverage != "ENTIRE_FILE":
        check.errors.append(f"signature coverage is {check.coverage}, not ENTIRE_FILE "
                            "(bytes were added after the signed revision)")
    return check
