"""PAdES signing of PDF/A volumes (pyHanko 0.38) as an incremental update that keeps the file PDF/A."""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
import tempfile
import threading
import warnings
from datetime import datetime
from pathlib import Path

from pipeline.archival._signer import DEFAULT_REASON, DEV_MARKER, FIELD_NAME, STAMP_BOX, SignerConfig
from pipeline.archival._stamp import stamp_page
from pipeline.archival._xmp import pdfa_level_of
from pipeline.common import utcnow
from pipeline.errors import SigningKeyError, VolumeError
from pipeline.models import SignatureInfo

# pyHanko 0.38 imports cryptography's DSA key class to recognise such keys; cryptography 51 deprecates DSA and warns
# on that import, in every command that signs or validates. The warning is about pyHanko's import, not about a key of
# ours: it is silenced for that one module, and a DSA key would still sign as before.
warnings.filterwarnings("ignore", message="DSA is deprecated", module=r"pyhanko\.sign\.signers\.pdf_cms")


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
            raise SigningKeyError(f"PKCS#12 file {config.pkcs12_path} not found")
        try:
            signer = signers.SimpleSigner.load_pkcs12(
                str(config.pkcs12_path), passphrase=config.passphrase.encode() if config.passphrase else None)
        except (ValueError, OSError) as exc:
            raise SigningKeyError(f"cannot open PKCS#12 file {config.pkcs12_path}: {exc}") from exc
        if signer is None:
            raise SigningKeyError(f"cannot open PKCS#12 file {config.pkcs12_path} (wrong passphrase?)")
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
            raise SigningKeyError(f"PKCS#11 token {config.token_label!r} via {config.pkcs11_module}: {exc}") from exc
    raise VolumeError(f"unknown signer kind {config.kind!r} (pkcs12 or pkcs11)")


def certificate_facts(cert) -> tuple[str, str, datetime]:
    """(subject, SHA-256 of the DER certificate, not-after) of an asn1crypto certificate."""
    subject = cert.subject.human_friendly
    digest = hashlib.sha256(cert.dump()).hexdigest()
    not_after = cert["tbs_certificate"]["validity"]["not_after"].native
    return subject, digest, not_after




def preload() -> None:
    """Import the pyHanko modules signing and validation use (about 0.6 s), so a volume does not wait for them."""
    import pyhanko.pdf_utils.incremental_writer
    import pyhanko.pdf_utils.layout
    import pyhanko.pdf_utils.reader
    import pyhanko.sign.fields
    import pyhanko.sign.signers
    import pyhanko.sign.timestamps
    import pyhanko.sign.validation
    import pyhanko.stamp  # noqa: F401
    import pyhanko_certvalidator  # noqa: F401


def _sign(src: Path, dst: Path, config: SignerConfig, label: str,
          abandoned: threading.Event | None = None, certify: bool = False) -> SignatureInfo:
    from contextlib import ExitStack

    from pyhanko.pdf_utils.layout import AxisAlignment, Margins, SimpleBoxLayoutRule
    from pyhanko.sign import fields, signers
    from pyhanko.sign.timestamps import HTTPTimeStamper
    from pyhanko.stamp import StaticStampStyle

    signed_at = utcnow().replace(microsecond=0)
    reason = config.reason or DEFAULT_REASON
    with ExitStack() as stack:
        signer = _load_signer(config, stack)
        cert = signer.signing_cert
        if cert is None:
            raise VolumeError(f"{label}: the signing key has no certificate")
        subject, cert_sha, not_after = certificate_facts(cert)
        if not_after <= signed_at:
            raise VolumeError(f"{label}: signing certificate {subject} expired on {not_after:%Y-%m-%d}")
        timestamper = config.timestamper
        if timestamper is None and config.tsa_url:
            timestamper = HTTPTimeStamper(config.tsa_url, timeout=max(1, int(config.timeout)))
        level = pdfa_level_of(src)
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
                stamp_page(stamp_file, lines, box[2] - box[0], box[3] - box[1], level)
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
                    embed_validation_info=False, use_pades_lta=False, certify=certify,
                    docmdp_permissions=fields.MDPPerm.NO_CHANGES,
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


def sign_pdf(src: Path, dst: Path, config: SignerConfig, label: str, certify: bool = False) -> SignatureInfo:
    """Sign a PDF/A volume with one PAdES signature (B-B, or B-T with a TSA) as an incremental update to ``dst``;
    ``certify`` makes it a certification signature that permits no change (DocMDP 1), as a copy certified for its
    recipient is."""
    if not src.exists():
        raise VolumeError(f"{label}: {src} does not exist")
    abandoned = threading.Event()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sign")
    future = pool.submit(_sign, src, dst, config, label, abandoned, certify)
    try:
        return future.result(timeout=config.timeout)
    except concurrent.futures.TimeoutError as exc:
        abandoned.set()  # a late finish must not write dst
        raise VolumeError(f"{label}: signing did not finish within {config.timeout:.0f} s "
                          "(token or timestamp authority not answering)") from exc
    finally:
        pool.shutdown(wait=False)
