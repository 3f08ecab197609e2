"""A fetched volume marked for its recipient: every page carries a line in its bottom margin — agency, person, 调卷函
number, date, copy identifier — on an opaque band (PDF/A-1 has no transparency), the copy identifier and recipient
are in the XMP, and the service certifies the result (a certification signature that permits no change).

Why a derived copy and not an incremental update after the archival signature: measured with pyHanko 0.38 on a
signed volume, a stamp appended as an update (page content or /Stamp annotations) leaves the original signature
intact but its modification analysis calls the update illegal (``EXTENDED_WITH_OTHER, ILLEGAL_MODIFICATIONS``,
``docmdp_ok`` false: its policy allows no page content or annotation after an approval signature); and anyone can cut
such a file back to the signed revision, which gives a validly signed volume with neither the line nor the
identifier — an untraceable copy. In the derived copy the line is part of what the service signed: taking it away
breaks the signature. Cost (bench/disclosure.py's volumes; 200 pages, 38 MB): ~1 CPU-s a volume.
"""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pikepdf

from pipeline.common import sha256_file
from pipeline.errors import VolumeError

BEIJING = timezone(timedelta(hours=8), "北京时间")  # the time the line prints, as the web pages show times

BAND = 13.0  # points: the height of the marked band at the bottom of every page
COPY_PROPERTIES = ("copyId", "copyAgency", "copyPerson", "copyRequest", "copyFetchedAt", "copyOf", "copySourceSha256")


@dataclass(frozen=True)
class Recipient:
    """Who a copy is made for, and its identifier."""

    copy_id: str
    agency: str
    person: str
    request_id: int | None
    fetched_at: datetime
    copy_of: str = "原件"  # 原件, or the disclosure profile's id (阅卷版（律师）)

    @property
    def line(self) -> str:
        """The line every page carries."""
        request = f"调卷函第{self.request_id}号" if self.request_id is not None else "本单位调阅"
        return (f"调阅副本·{self.copy_of}：{self.agency} {self.person} · {request} · "
                f"{self.fetched_at.astimezone(BEIJING):%Y-%m-%d %H:%M} · 副本编号 {self.copy_id}")


def new_copy_id() -> str:
    """A copy identifier: C- and 12 random hex digits (48 bits)."""
    return "C-" + secrets.token_hex(6).upper()


def _unsign(pdf: pikepdf.Pdf) -> None:
    """Take the archival signature out of a volume (its field, its widget, the catalog's permissions)."""
    for key in ("/AcroForm", "/Perms"):
        if key in pdf.Root:
            del pdf.Root[key]
    for page in pdf.pages:
        annots = page.obj.get("/Annots")
        if isinstance(annots, pikepdf.Array):
            kept = pikepdf.Array([a for a in annots if a.get("/FT") != pikepdf.Name.Sig
                                  and a.get("/Subtype") != pikepdf.Name.Widget])
            if len(kept):
                page.obj.Annots = kept
            else:
                del page.obj["/Annots"]


def _mark_pages(pdf: pikepdf.Pdf, line: str, level: str, scratch: Path) -> None:
    from pipeline.archival import stamp_page

    forms: dict[float, pikepdf.Object] = {}
    for page in pdf.pages:
        width = float(page.mediabox[2]) - float(page.mediabox[0])
        if width not in forms:
            path = scratch / f"band-{len(forms)}.pdf"
            stamp_page(path, [line], width, BAND, level, colour=(0.0, 0.0, 0.0), background=(1.0, 1.0, 1.0),
                       size=7.5, left=18.0)
            with pikepdf.open(path) as band:
                forms[width] = pdf.copy_foreign(band.pages[0].as_form_xobject())
        name = page.add_resource(forms[width], pikepdf.Name.XObject, prefix="Copy")
        x, y = float(page.mediabox[0]), float(page.mediabox[1])
        page.contents_add(pikepdf.Stream(pdf, f"q 1 0 0 1 {x:.2f} {y:.2f} cm {name} Do Q\n".encode()))


def _metadata(pdf: pikepdf.Pdf, recipient: Recipient, source_sha256: str):
    """The volume's archival metadata read back from its XMP, with the copy's own properties added."""
    from pipeline.archival import metadata_of

    meta = metadata_of(pdf, recipient.fetched_at)
    copy = (("copyId", "Text", "Identifier of this copy, as the audit log records its fetch", recipient.copy_id),
            ("copyAgency", "Text", "Agency the copy was made for", recipient.agency),
            ("copyPerson", "Text", "Person who fetched the copy", recipient.person),
            ("copyRequest", "Text", "调卷函 (request) number the copy was fetched under",
             "" if recipient.request_id is None else str(recipient.request_id)),
            ("copyFetchedAt", "Text", "When the copy was made (ISO 8601)", recipient.fetched_at.isoformat()),
            ("copyOf", "Text", "What was copied: 原件 or a disclosure profile", recipient.copy_of),
            ("copySourceSha256", "Text", "SHA-256 of the published volume the copy was made from", source_sha256))
    kept = tuple(e for e in meta.extra if e[0] not in COPY_PROPERTIES)
    return replace(meta, modified=recipient.fetched_at, extra=kept + copy)


def copy_for_recipient(src: Path, dst: Path, recipient: Recipient, signer) -> str:
    """Write ``src`` (a published, signed PDF/A volume) marked for ``recipient`` to ``dst``, certified by
    ``signer``; returns the SHA-256 of the copy."""
    from pipeline.archival import finish_pdfa, read_xmp, sign_pdf

    source_sha256 = sha256_file(src)
    with tempfile.TemporaryDirectory(prefix="dossier-copy-") as tmp:
        scratch = Path(tmp)
        try:
            with pikepdf.open(src) as pdf:
                level = "2b" if read_xmp(pdf).get("pdfaid:part") == "2" else "1b"
                meta = _metadata(pdf, recipient, source_sha256)
                _unsign(pdf)
                _mark_pages(pdf, recipient.line, level, scratch)
                pdf.save(scratch / "marked.pdf", stream_decode_level=pikepdf.StreamDecodeLevel.none,
                         object_stream_mode=pikepdf.ObjectStreamMode.disable)
        except pikepdf.PdfError as exc:
            raise VolumeError(f"copy {recipient.copy_id} of {src.name}: cannot mark it: {exc}") from exc
        finish_pdfa(scratch / "marked.pdf", scratch / "finished.pdf", level, meta)
        sign_pdf(scratch / "finished.pdf", dst, signer, f"copy {recipient.copy_id} of {src.name}", certify=True)
    return sha256_file(dst)


def read_copy(path: Path) -> dict[str, str]:
    """The copy properties of a fetched volume's XMP (``copyId`` …), empty when it carries none."""
    from pipeline.archival import read_xmp

    with pikepdf.open(path) as pdf:
        xmp = read_xmp(pdf)
    return {name: xmp[f"dossier:{name}"] for name in COPY_PROPERTIES if f"dossier:{name}" in xmp}


def recipient_copy(store, key: str, version: str | None, sha256: str, recipient: Recipient, signer,
                   folder: Path) -> tuple[Path, str]:
    """A published volume (``key``, pinned ``version``) fetched from the store into ``folder``, checked against
    the SHA-256 its manifest names, and marked for ``recipient``: returns the copy's path and SHA-256."""
    from pipeline.storage import IntegrityError

    original = folder / f"{recipient.copy_id}.source.pdf"
    got, _ = store.download(key, original, version)
    if got != sha256:
        raise IntegrityError(f"{key} version {version}: the store's bytes have SHA-256 {got}, the manifest says "
                             f"{sha256}")
    copy = folder / f"{recipient.copy_id}.pdf"
    try:
        digest = copy_for_recipient(original, copy, recipient, signer)
    finally:
        original.unlink(missing_ok=True)
    return copy, digest
