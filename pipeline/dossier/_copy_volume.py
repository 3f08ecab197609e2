"""One volume of a disclosure copy, rebuilt with the assembly code every volume is built with: each numbered page
from its painted image and its text without what was removed, the cover, 卷内目录 and 备考表 drawn again from the
dossier's data (names in their 某 form; the 备考表 saying what was removed, under which profile), then PDF/A with the
copy's provenance in its XMP, and the holding agency's signature."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipeline import __version__
from pipeline.assembly import VolumeContext, add_text_layer, build_volume
from pipeline.common import write_atomic
from pipeline.disclosure import People, RedactedPage, redacted_text
from pipeline.models import (
    CATEGORY_LABELS,
    DisclosureProfile,
    DossierManifest,
    PageRecord,
    VolumeCatalogue,
    VolumeEntry,
)
from pipeline.pages import PageArtifact, encode_archive
from pipeline.structure import VolumePart, VolumePlan


@dataclass(frozen=True)
class CopyPage:
    """A rebuilt page on disk: its record in the dossier, its painted image and text files."""

    record: PageRecord
    image: Path
    text: Path
    width: int
    height: int
    dpi: float


def write_page(redacted: RedactedPage, record: PageRecord, original: bytes | None, folder: Path,
               jpeg_quality: int) -> CopyPage:
    """The page's image (its original JPEG bytes when nothing was painted on it, else encoded again: G4 for a
    bitonal page, JPEG otherwise) and its text as the text-layer writer reads it."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"{record.volume:03d}-{record.page:04d}"
    image = redacted.image
    if original is not None and not redacted.changed:
        data, suffix = original, ".jpg"
    else:
        colour = "bitonal" if image.mode == "1" else "grey" if image.mode == "L" else "colour"
        data, suffix = encode_archive(image, colour, redacted.text.dpi, jpeg_quality)
    write_atomic(stem.with_suffix(suffix), data)
    text = stem.with_suffix(".json")
    write_atomic(text, json.dumps(redacted.text.to_dict(), ensure_ascii=False).encode())
    return CopyPage(record, stem.with_suffix(suffix), text, image.width, image.height, redacted.text.dpi)


def copy_note(profile: DisclosureProfile, counts: dict[str, int]) -> str:
    """阅卷版：依 <profile> 遮蔽 N 处（身份证号 a、电话 b…）."""
    total = sum(counts.values())
    parts = "、".join(f"{label} {counts[k]}" for k, label in CATEGORY_LABELS.items() if counts.get(k))
    return f"阅卷版：依 {profile.key} 遮蔽 {total} 处" + (f"（{parts}）。" if parts else "。")


def _blank_and_flagged(manifest: DossierManifest, number: int) -> tuple[int, tuple[tuple[int, str], ...]]:
    """Blank pages between the volume's first and last page in scan order, and its flagged pages (as the original
    volume's 备考表 counts them)."""
    placed = [k for k, p in enumerate(manifest.pages) if p.volume == number]
    blanks = sum(1 for k, p in enumerate(manifest.pages) if p.blank and placed and placed[0] <= k <= placed[-1])
    flagged = tuple((p.page, "; ".join(p.flags)) for p in sorted(
        (p for p in manifest.pages if p.volume == number and p.page is not None), key=lambda p: p.page) if p.flags)
    return blanks, flagged


def copy_context(manifest: DossierManifest, catalogue: VolumeCatalogue, entry: VolumeEntry, people: People,
                 profile: DisclosureProfile, note: str, made_by: tuple[str, str]) -> VolumeContext:
    """What the copy's cover, 卷内目录 and 备考表 print: the original's, with names in their 某 form and numbers
    removed, and the copy's own statement."""
    def clean(text: str) -> str:
        return redacted_text(text, people, profile) if text else text

    entries = tuple(e.model_copy(update={"title": clean(e.title), "doc_no": clean(e.doc_no),
                                         "author": clean(e.author), "remark": clean(e.remark)})
                    for e in catalogue.entries)
    dates = sorted(e.date for e in entries if e.date[:4].isdigit())
    blanks, flagged = _blank_and_flagged(manifest, entry.number)
    return VolumeContext(
        case_no=manifest.case_no, case_title=clean(manifest.case_title), agency=manifest.agency,
        number=entry.number, of=entry.of, retention=manifest.retention, security_level=manifest.security_level,
        standard=manifest.standard, pipeline_version=__version__, entries=entries,
        date_range=(dates[0], dates[-1]) if dates else ("", ""), blank_pages=blanks, flagged=flagged,
        prepared_by=made_by[0], checked_by=made_by[1], prepared_on=manifest.created.date(),
        copy_mark=profile.id, copy_note=note)


def build_copy_volume(pages: Sequence[CopyPage], context: VolumeContext, out: Path) -> int:
    """The copy volume's PDF (before PDF/A and signing) with the assembly's renderer; returns its page count."""
    artifacts = {k: PageArtifact(position=k, record=p.record, image_path=p.image, width=p.width, height=p.height,
                                 dpi=p.dpi, ocr_path=p.text) for k, p in enumerate(pages)}
    plan = VolumePlan(context.number, context.of, (VolumePart(0, tuple(range(len(pages)))),))
    return build_volume(plan, artifacts, context, out, text_layer=add_text_layer).pdf_pages


def xmp_provenance(profile: DisclosureProfile, source_sha256: str, source_version: str | None,
                   counts: dict[str, int], made_by: str, approved_by: str, made_at: datetime) \
        -> tuple[tuple[str, str, str, str], ...]:
    """The copy's provenance as XMP properties of the dossier schema: (name, type, description, value)."""
    return (
        ("disclosureProfile", "Text", "Disclosure profile of this copy (阅卷版): name", profile.name),
        ("disclosureProfileId", "Text", "Disclosure profile as its 备考表 names it", profile.id),
        ("disclosureProfileVersion", "Text", "Version of the disclosure profile", profile.version),
        ("disclosureRecipient", "Text", "Kind of recipient the copy is for: agency, lawyer or public",
         profile.recipient),
        ("sourceVolumeSha256", "Text", "SHA-256 of the original volume the copy was made from", source_sha256),
        ("sourceManifestVersion", "Text", "Object version of the dossier.json the copy was made from",
         source_version or ""),
        ("disclosureCounts", "Text", "What was removed or pseudonymised in this volume, by kind (kind=n;...)",
         ";".join(f"{k}={v}" for k, v in sorted(counts.items()))),
        ("disclosureMadeBy", "Text", "Who made the copy", made_by),
        ("disclosureApprovedBy", "Text", "Who approved the copy's release", approved_by),
        ("disclosureMadeAt", "Text", "When the copy was made (ISO 8601, UTC)",
         made_at.replace(microsecond=0).isoformat()),
    )
