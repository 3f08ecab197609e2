"""PAdES signing and validation of PDF/A volumes (pyHanko 0.38), with keys from a PKCS#12 file or a PKCS#11 token.

A signature is one incremental update that keeps the file PDF/A: pyHanko's writer is told not to rewrite the XMP
and Info dictionary, not to raise the catalog /Version and not to add a developer extension; the invisible widget
gets an empty appearance stream and the visible stamp is a page drawn by PyMuPDF in the embedded WenQuanYi Zen Hei
font, finished like any other page (CIDToGIDMap, CapHeight, CIDSet) before pyHanko imports it.

Environment variables read by :func:`signer_from_env` (the standard profile's ``signing`` block gives the defaults):

==============================  ========================================================================
``DOSSIER_SIGN_PKCS12``          path of a PKCS#12 (.p12/.pfx) file holding the signing key and certificate
``DOSSIER_SIGN_PASSWORD``        its passphrase
``DOSSIER_SIGN_PKCS11_MODULE``   path of a PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so)
``DOSSIER_SIGN_PKCS11_TOKEN``    token label
``DOSSIER_SIGN_PKCS11_KEY``      private key label on the token
``DOSSIER_SIGN_PKCS11_CERT``     certificate label on the token (default: the key label)
``DOSSIER_SIGN_PKCS11_PIN``      user PIN
``DOSSIER_SIGN_REASON``          signature reason (default: the profile's, else 电子卷宗制作)
``DOSSIER_SIGN_LOCATION``        signature location
``DOSSIER_SIGN_VISIBLE``         1/true for a visible stamp on the cover page
``DOSSIER_TSA_URL``              RFC 3161 timestamp authority URL: PAdES B-T instead of B-B
``DOSSIER_SIGN_TIMEOUT``         seconds allowed for one signature, TSA round trip included (default 60)
==============================  ========================================================================
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
import logging
import secrets
import tempfile
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from pipeline.common import write_private
from pipeline.errors import VolumeError
from pipeline.models import SignatureInfo, SigningPolicy
from pipeline.settings import SigningSettings

log = logging.getLogger(__name__)

DEV_SUBJECT_CN = "scan-to-dossier DEVELOPMENT KEY — NOT FOR PRODUCTION"
DEV_MARKER = "DEVELOPMENT KEY"
DEV_P12 = "development-signer.p12"
DEV_PASS = "development-signer.pass"
DEV_CERT = "development-signer.pem"
FIELD_NAME = "DossierSignature"
DEFAULT_REASON = "电子卷宗制作"
STAMP_BOX = (36.0, 36.0, 276.0, 120.0)  # bottom-left of the cover, in points
WQY = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")


@dataclass
class SignerConfig:
    """Where the signing key is and how the signature looks: from the environment, a config file or the demo."""

    kind: Literal["pkcs12", "pkcs11"] = "pkcs12"
    pkcs12_path: Path | None = None
    passphrase: str | None = None
    pkcs11_module: Path | None = None
    token_label: str | None = None
    key_label: str | None = None
    cert_label: str | None = None
    pin: str | None = None
    reason: str = ""  # empty: the profile's reason (with_policy), else DEFAULT_REASON
    location: str = ""
    visible: bool = False
    tsa_url: str | None = None
    timeout: float = 60.0
    development: bool = False
    timestamper: Any = field(default=None, repr=False)  # an in-process pyHanko TimeStamper (tests); wins over tsa_url

    @property
    def pades_level(self) -> str:
        """B-T when a timestamp authority is configured, else B-B."""
        return "B-T" if (self.timestamper is not None or self.tsa_url) else "B-B"

    def with_policy(self, policy: SigningPolicy) -> SignerConfig:
        """This config with reason, location and visibility taken from a standard profile where not set here;
        a profile asking for B-T without a timestamp authority configured is an error."""
        if policy.pades_level == "B-T" and self.pades_level != "B-T":
            raise VolumeError("the standard profile asks for PAdES B-T but no timestamp authority is configured "
                              "(set DOSSIER_TSA_URL)")
        return replace(self, reason=self.reason or policy.reason, location=self.location or policy.location,
                       visible=self.visible or policy.visible)


@dataclass
class SignatureCheck:
    """What validating a volume's signature found; ``passed`` is the archival verdict."""

    present: bool = False
    intact: bool = False
    valid: bool = False
    trusted: bool = False
    coverage: str = "NONE"
    signer: str = ""
    certificate_sha256: str = ""
    not_after: datetime | None = None
    signed_at: datetime | None = None
    pades_level: str = ""
    timestamp_valid: bool | None = None
    timestamp_trusted: bool | None = None
    signatures: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Intact, valid, trusted, covering the entire file, one signature, no error."""
        return (self.present and self.intact and self.valid and self.trusted and self.coverage == "ENTIRE_FILE"
                and self.signatures == 1 and not self.errors)


# ------------------------------------------------------------------------------------------------------------------
# Configuration


def signer_from_settings(settings: SigningSettings) -> SignerConfig | None:
    """A SignerConfig from the DOSSIER_SIGN_* / DOSSIER_TSA_URL settings, or None when no key is configured."""
    p12, module = settings.pkcs12, settings.pkcs11_module
    if p12 and module:
        raise VolumeError("both DOSSIER_SIGN_PKCS12 and DOSSIER_SIGN_PKCS11_MODULE are set; choose one key source")
    if not p12 and not module:
        return None
    common = dict(reason=settings.reason, location=settings.location, visible=settings.visible,
                  tsa_url=settings.tsa_url or None, timeout=settings.timeout)
    if p12:
        password = settings.password.get_secret_value() if settings.password else None
        return SignerConfig(kind="pkcs12", pkcs12_path=p12, passphrase=password, **common)
    key = settings.pkcs11_key
    if not settings.pkcs11_token or not key:
        raise VolumeError("DOSSIER_SIGN_PKCS11_MODULE needs DOSSIER_SIGN_PKCS11_TOKEN and DOSSIER_SIGN_PKCS11_KEY")
    pin = settings.pkcs11_pin.get_secret_value() if settings.pkcs11_pin else None
    return SignerConfig(kind="pkcs11", pkcs11_module=module, token_label=settings.pkcs11_token, key_label=key,
                        cert_label=settings.pkcs11_cert or key, pin=pin, **common)


def make_self_signed(common_name: str, organisation: str, days: int = 825, key_size: int = 2048):
    """A fresh RSA key and a self-signed signing certificate (digitalSignature + nonRepudiation)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation)])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def ensure_development_signer(state_dir: Path) -> SignerConfig:
    """The demo's development signer: made on first use (RSA key, self-signed certificate marked DEVELOPMENT KEY —
    NOT FOR PRODUCTION, PKCS#12 and passphrase files mode 0600 in ``state_dir``), reused afterwards."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    state_dir.mkdir(parents=True, exist_ok=True)
    p12_path, pass_path, cert_path = state_dir / DEV_P12, state_dir / DEV_PASS, state_dir / DEV_CERT
    if p12_path.exists() and pass_path.exists():
        passphrase = pass_path.read_text(encoding="ascii").strip()
        try:
            _, cert, _ = pkcs12.load_key_and_certificates(p12_path.read_bytes(), passphrase.encode())
        except ValueError as exc:
            raise VolumeError(f"development signer {p12_path} cannot be opened: {exc}") from exc
        if cert is not None and cert.not_valid_after_utc > datetime.now(timezone.utc) + timedelta(days=1):
            if not cert_path.exists():
                cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            return SignerConfig(kind="pkcs12", pkcs12_path=p12_path, passphrase=passphrase, development=True)
        log.warning("development signer certificate in %s expired; making a new one", state_dir)
    key, cert = make_self_signed(DEV_SUBJECT_CN, "scan-to-dossier (development only)")
    passphrase = secrets.token_urlsafe(24)
    data = pkcs12.serialize_key_and_certificates(
        b"scan-to-dossier development signer", key, cert, None,
        serialization.BestAvailableEncryption(passphrase.encode()),
    )
    write_private(pass_path, passphrase.encode("ascii"))
    write_private(p12_path, data)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    assert isinstance(cert, x509.Certificate)
    log.warning("made a DEVELOPMENT signing key in %s: not for production", state_dir)
    return SignerConfig(kind="pkcs12", pkcs12_path=p12_path, passphrase=passphrase, development=True)


def development_certificate(state_dir: Path) -> Path:
    """Path of the development signer's certificate (PEM), to use as a trust root in the demo."""
    return state_dir / DEV_CERT


# ------------------------------------------------------------------------------------------------------------------
# Signing


def _pdfa_writer_class():
    """pyHanko's incremental writer, kept from touching what PDF/A fixes: XMP, Info, /Version, /Extensions."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    class PdfAIncrementalWriter(IncrementalPdfFileWriter):
        """Incremental writer that leaves the document's metadata, version and extensions as they are."""

        def _update_meta(self) -> None:
            # Re-serialising the XMP renames our prefixes, mangles the extension schema and desynchronises
            # pdf:Producer from /Info; the signature dictionary carries the signing time instead.
            return None

        def ensure_output_version(self, version) -> None:
            # PAdES asks for 1.7 (RSA) or 2.0 (EC); PDF/A-1 must stay 1.4 and PDF/A-2 at most 1.7.
            return None

        def register_extension(self, ext) -> None:
            return None

    return PdfAIncrementalWriter


def _load_signer(config: SignerConfig, stack):
    from pyhanko.sign import signers

    if config.kind == "pkcs12":
        if not config.pkcs12_path or not config.pkcs12_path.exists():
            raise VolumeError(f"PKCS#12 file {config.pkcs12_path} not found")
        try:
            signer = signers.SimpleSigner.load_pkcs12(
                str(config.pkcs12_path), passphrase=config.passphrase.encode() if config.passphrase else None)
        except (ValueError, OSError) as exc:
            raise VolumeError(f"cannot open PKCS#12 file {config.pkcs12_path}: {exc}") from exc
        if signer is None:
            raise VolumeError(f"cannot open PKCS#12 file {config.pkcs12_path} (wrong passphrase?)")
        return signer
    if config.kind == "pkcs11":
        from pyhanko.config.pkcs11 import PKCS11SignatureConfig, TokenCriteria
        from pyhanko.sign.pkcs11 import PKCS11SigningContext

        if not config.pkcs11_module or not config.token_label or not config.key_label:
            raise VolumeError("PKCS#11 signing needs a module, a token label and a key label")
        p11 = PKCS11SignatureConfig(
            module_path=str(config.pkcs11_module), token_criteria=TokenCriteria(label=config.token_label),
            key_label=config.key_label, cert_label=config.cert_label or config.key_label, user_pin=config.pin,
        )
        try:
            return stack.enter_context(PKCS11SigningContext(p11))
        except Exception as exc:  # pyHanko and python-pkcs11 raise their own hierarchies
            raise VolumeError(f"PKCS#11 token {config.token_label!r} via {config.pkcs11_module}: {exc}") from exc
    raise VolumeError(f"unknown signer kind {config.kind!r} (pkcs12 or pkcs11)")


def _certificate_facts(cert) -> tuple[str, str, datetime]:
    """(subject, SHA-256 of the DER certificate, not-after) of an asn1crypto certificate."""
    subject = cert.subject.human_friendly
    digest = hashlib.sha256(cert.dump()).hexdigest()
    not_after = cert["tbs_certificate"]["validity"]["not_after"].native
    return subject, digest, not_after


def _stamp_pdf(path: Path, lines: list[str], width: float, height: float, level: str) -> None:
    """The visible stamp as a one-page PDF in the embedded CJK font, its fonts fixed for PDF/A."""
    import pikepdf
    import pymupdf

    from pipeline.archival._pdfa import FinishNotes, _clean_resources, save_kwargs

    doc = pymupdf.open()
    page = doc.new_page(width=width, height=height)
    page.insert_font(fontname="wqy", fontfile=str(WQY))
    font = pymupdf.Font(fontfile=str(WQY))
    widest = max(font.text_length(line, fontsize=1.0) for line in lines)
    size = min(10.0, (height - 8) / max(len(lines), 1) / 1.25, (width - 12) / max(widest, 1e-3))
    y = 4 + size
    for line in lines:
        page.insert_text((6, y), line, fontname="wqy", fontsize=size, color=(0.6, 0, 0))
        y += size * 1.25
    doc.subset_fonts()
    raw = doc.tobytes(garbage=3, deflate=True)
    doc.close()
    with pikepdf.open(io.BytesIO(raw)) as pdf:
        _clean_resources(pdf, level, FinishNotes())
        if "/Info" in pdf.Root:
            del pdf.Root["/Info"]
        pdf.save(path, **save_kwargs(level))


def _pdfa_level_of(path: Path) -> str:
    import pikepdf

    from pipeline.archival._pdfa import read_xmp

    with pikepdf.open(path) as pdf:
        xmp = read_xmp(pdf)
    return "1b" if xmp.get("pdfaid:part", "1") == "1" else "2b"


def preload() -> None:
    """Import the pyHanko modules signing and validation use (about 0.6 s), so a volume does not wait for them."""
    import pyhanko.pdf_utils.incremental_writer  # noqa: F401
    import pyhanko.pdf_utils.layout  # noqa: F401
    import pyhanko.pdf_utils.reader  # noqa: F401
    import pyhanko.sign.fields  # noqa: F401
    import pyhanko.sign.signers  # noqa: F401
    import pyhanko.sign.timestamps  # noqa: F401
    import pyhanko.sign.validation  # noqa: F401
    import pyhanko.stamp  # noqa: F401
    import pyhanko_certvalidator  # noqa: F401


def _sign(src: Path, dst: Path, config: SignerConfig, label: str,
          abandoned: threading.Event | None = None) -> SignatureInfo:
    from contextlib import ExitStack

    from pyhanko.pdf_utils.layout import AxisAlignment, Margins, SimpleBoxLayoutRule
    from pyhanko.sign import fields, signers
    from pyhanko.sign.timestamps import HTTPTimeStamper
    from pyhanko.stamp import StaticStampStyle

    signed_at = datetime.now(timezone.utc).replace(microsecond=0)
    reason = config.reason or DEFAULT_REASON
    with ExitStack() as stack:
        signer = _load_signer(config, stack)
        cert = signer.signing_cert
        if cert is None:
            raise VolumeError(f"{label}: the signing key has no certificate")
        subject, cert_sha, not_after = _certificate_facts(cert)
        if not_after <= signed_at:
            raise VolumeError(f"{label}: signing certificate {subject} expired on {not_after:%Y-%m-%d}")
        timestamper = config.timestamper
        if timestamper is None and config.tsa_url:
            timestamper = HTTPTimeStamper(config.tsa_url, timeout=max(1, int(config.timeout)))
        level = _pdfa_level_of(src)
        writer_cls = _pdfa_writer_class()
        tmpdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dossier-sign-")))
        stamp_style = None
        with src.open("rb") as inp:
            writer = writer_cls(inp, strict=False)
            if config.visible:
                box = STAMP_BOX
                name = cert.subject.native.get("common_name", subject)
                lines = ["电子签名", f"签名人：{name}", f"时间：{signed_at:%Y-%m-%d %H:%M:%S} UTC", f"事由：{reason}"]
                if config.location:
                    lines.append(f"地点：{config.location}")
                stamp_file = tmpdir / "stamp.pdf"
                _stamp_pdf(stamp_file, lines, box[2] - box[0], box[3] - box[1], level)
                stamp_style = StaticStampStyle.from_pdf_file(
                    str(stamp_file), border_width=1,
                    background_layout=SimpleBoxLayoutRule(x_align=AxisAlignment.ALIGN_MIN,
                                                          y_align=AxisAlignment.ALIGN_MAX, margins=Margins()),
                )
                spec = fields.SigFieldSpec(FIELD_NAME, on_page=0, box=box)
            else:
                spec = fields.SigFieldSpec(FIELD_NAME, on_page=0, box=None)
            out = io.BytesIO()
            try:
                fields.append_signature_field(writer, spec)
                if not config.visible:
                    _give_empty_appearance(writer, FIELD_NAME)
                meta = signers.PdfSignatureMetadata(
                    field_name=FIELD_NAME, reason=reason, location=config.location or None,
                    subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256",
                    embed_validation_info=False, use_pades_lta=False,
                )
                pdf_signer = signers.PdfSigner(meta, signer=signer, timestamper=timestamper, stamp_style=stamp_style)
                pdf_signer.sign_pdf(writer, existing_fields_only=True, output=out)
            except VolumeError:
                raise
            except Exception as exc:  # pyHanko (e.g. the file is already signed), the token or the TSA
                raise VolumeError(f"{label}: signing failed: {type(exc).__name__}: {exc}") from exc
    if abandoned is not None and abandoned.is_set():
        raise VolumeError(f"{label}: signing finished after its timeout; result discarded")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".part")
    tmp.write_bytes(out.getvalue())
    tmp.replace(dst)
    return SignatureInfo(signer=subject, certificate_sha256=cert_sha, level=config.pades_level, signed_at=signed_at,
                         development_key=config.development or DEV_MARKER in subject)


def _give_empty_appearance(writer, field_name: str) -> None:
    """PDF/A needs a normal appearance on every widget, even a zero-sized invisible one."""
    from pyhanko.pdf_utils.generic import ArrayObject, DictionaryObject, FloatObject, NameObject, StreamObject

    acro = writer.root["/AcroForm"]
    for ref in acro["/Fields"]:
        fld = ref.get_object()
        if str(fld.get("/T")) != field_name:
            continue
        form = StreamObject({
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Form"),
            NameObject("/BBox"): ArrayObject([FloatObject(0)] * 4),
        }, stream_data=b"")
        fld[NameObject("/AP")] = DictionaryObject({NameObject("/N"): writer.add_object(form)})
        writer.update_container(fld)
        return
    raise VolumeError(f"signature field {field_name} was not created")


def sign_pdf(src: Path, dst: Path, config: SignerConfig, label: str) -> SignatureInfo:
    """Sign a PDF/A volume with one PAdES signature (B-B, or B-T with a TSA) as an incremental update to ``dst``."""
    if not src.exists():
        raise VolumeError(f"{label}: {src} does not exist")
    abandoned = threading.Event()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sign")
    future = pool.submit(_sign, src, dst, config, label, abandoned)
    try:
        return future.result(timeout=config.timeout)
    except concurrent.futures.TimeoutError as exc:
        abandoned.set()  # a late finish must not write dst
        raise VolumeError(f"{label}: signing did not finish within {config.timeout:.0f} s "
                          "(token or timestamp authority not answering)") from exc
    finally:
        pool.shutdown(wait=False)


# ------------------------------------------------------------------------------------------------------------------
# Validation


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
                check.signer, check.certificate_sha256, check.not_after = _certificate_facts(status.signing_cert)
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
    except Exception as exc:  # any failure to validate is a failed signature, never a crash
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
