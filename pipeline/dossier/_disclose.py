"""A case's disclosure copy (阅卷版) under one profile, made from its published volumes into a local folder::

    <work>/volumes/001.pdf …   the copy's signed PDF/A volumes
    <work>/catalogue.json      its 卷内目录 (names in their 某 form)
    <work>/disclosure.json     its manifest: provenance, what was removed where (never what it said)
    <work>/review.json         for the reviewer only (mode 0600, never published): what each detection read
    <work>/review/NNNN.png     the page around each doubtful detection, as the original shows it

The original volumes are only read. Every name the case file gives a hidden person is found over all volumes
first, so a name is replaced on every page it occurs on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pikepdf

from pipeline import __version__
from pipeline.assembly import scanned_image
from pipeline.common import write_atomic, write_private
from pipeline.disclosure import Numbered, People, read_people, redact_page
from pipeline.dossier._copy_source import SourcePage, record_people, source_pages
from pipeline.dossier._copy_volume import (
    CopyPage,
    build_copy_volume,
    copy_context,
    copy_note,
    write_page,
    xmp_provenance,
)
from pipeline.errors import VerificationError, VolumeError
from pipeline.models import (
    Catalogue,
    Detection,
    DisclosureManifest,
    DisclosureProfile,
    DisclosureVolume,
    DossierManifest,
    ReviewDecision,
    VolumeCatalogue,
    VolumeEntry,
    volume_key,
)
from pipeline.ocr import OcrSettings

DISCLOSURE_NAME = "disclosure.json"
CATALOGUE_NAME = "catalogue.json"
REVIEW_NAME = "review.json"


@dataclass(frozen=True)
class Source:
    """A published dossier fetched into a folder (dossier.json, catalogue.json, volumes/): what a copy is made
    from."""

    folder: Path
    manifest: DossierManifest
    version_id: str | None
    sha256: str
    catalogue: Catalogue | None

    @classmethod
    def of(cls, folder: Path, version_id: str | None) -> Source:
        """Read a fetched dossier folder."""
        data = (folder / "dossier.json").read_bytes()
        manifest = DossierManifest.model_validate_json(data)
        path = folder / "catalogue.json"
        catalogue = Catalogue.model_validate_json(path.read_bytes()) if path.is_file() else None
        return cls(folder, manifest, version_id, hashlib.sha256(data).hexdigest(), catalogue)


@dataclass(frozen=True)
class CopyOrder:
    """How a copy is made: the profile, who makes it, what a reviewer decided, how pages are read again."""

    profile: DisclosureProfile
    made_by: str
    approved_by: str = ""
    review: ReviewDecision | None = None
    ocr: OcrSettings | None = None
    jpeg_quality: int = 75
    created: datetime | None = None
    kept: frozenset[int] = field(default_factory=frozenset)


def _titles(source: Source) -> list[tuple[str, str]]:
    if source.catalogue is None:
        return []
    return [(f"卷内目录第{v.volume}卷", e.title) for v in source.catalogue.volumes for e in v.entries]


def _record(manifest: DossierManifest, volume: int, page: int):
    for record in manifest.pages:
        if record.volume == volume and record.page == page:
            return record
    raise VolumeError(f"volume {volume} page {page} of {manifest.case_no} is not in its manifest", volume)


def _detection(n: Numbered) -> Detection:
    f = n.finding
    replaced = "".join(c or "" for c in f.cells)
    action = "kept" if n.kept else "pseudonymised" if f.kind == "name" else "removed"
    return Detection(id=n.id, volume=f.volume, page=f.page, kind=f.kind, certain=f.certain, reason=f.reason,
                     action=action, replacement=replaced if f.kind == "name" else "", boxes=n.rects,
                     found_by=f.found_by)


def _counts(detections: Sequence[Detection]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in detections:
        if d.action != "kept":
            out[d.kind] = out.get(d.kind, 0) + 1
    return out


@dataclass
class _Review:
    """What the reviewer sees: each detection with what it read, and a picture of the doubtful ones."""

    folder: Path
    items: list[dict] = field(default_factory=list)

    def add(self, n: Numbered, image, case_no: str) -> None:
        f = n.finding
        item = {"id": n.id, "volume": f.volume, "page": f.page, "kind": f.kind, "value": f.value,
                "certain": f.certain, "reason": f.reason, "kept": n.kept, "box": list(n.area)}
        if not f.certain:
            x0, y0, x1, y1 = n.area
            margin = (y1 - y0) * 3
            crop = image.crop((max(0, x0 - margin), max(0, y0 - margin), min(image.width, x1 + margin),
                               min(image.height, y1 + margin))).convert("RGB")
            path = self.folder / "review" / f"{n.id:04d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            crop.save(path)
            item["picture"] = path.relative_to(self.folder).as_posix()
        self.items.append(item)

    def write(self, case_no: str, profile: DisclosureProfile) -> None:
        data = {"case_no": case_no, "profile": profile.name, "detections": self.items}
        write_private(self.folder / REVIEW_NAME, json.dumps(data, ensure_ascii=False, indent=1).encode())


def _pages(source: Source, entry: VolumeEntry, pages: Sequence[SourcePage], order: CopyOrder, people: People,
           first: int, work: Path, review: _Review) -> tuple[list[CopyPage], list[Detection]]:
    """Every numbered page of one volume painted and read again; returns the pages on disk and their detections."""
    out, detections = [], []
    kept = set(order.kept)
    with pikepdf.open(source.folder / entry.key) as pdf:
        for page in pages:
            label = f"volume {entry.number} page {page.number} of {source.manifest.case_no}"
            scanned = scanned_image(pdf, page.pdf_index, label)
            redacted = redact_page(page.text, scanned.image, scanned.dpi, order.profile, people, first, kept,
                                   order.ocr)
            first += len(redacted.findings)
            record = _record(source.manifest, entry.number, page.number)
            out.append(write_page(redacted, record, scanned.jpeg, work / "pages", order.jpeg_quality))
            for n in redacted.findings:
                detections.append(_detection(n))
                review.add(n, scanned.image, source.manifest.case_no)
    return out, detections


def _volume_catalogue(source: Source, entry: VolumeEntry) -> VolumeCatalogue:
    found = next((v for v in source.catalogue.volumes if v.volume == entry.number), None) if source.catalogue \
        else None
    if found is None:
        raise VolumeError(f"volume {entry.number} of {source.manifest.case_no} has no 卷内目录 in catalogue.json",
                          entry.number)
    return found


def _finish_volume(source: Source, entry: VolumeEntry, order: CopyOrder, pages: Sequence[CopyPage], context,
                   counts: dict[str, int], work: Path, signer, trust_roots: list[Path],
                   created: datetime) -> DisclosureVolume:
    """The copy of one volume rendered, made PDF/A with its provenance, signed and checked like any volume."""
    from pipeline.archival import ArchivalMetadata, check_volume, finish_pdfa, read_xmp, sign_pdf

    manifest, profile, n = source.manifest, order.profile, entry.number
    raw, archival, final = work / "build" / f"{n:03d}.raw.pdf", work / "build" / f"{n:03d}.pdfa.pdf", \
        work / volume_key(n)
    pdf_pages = build_copy_volume(pages, context, raw)
    with pikepdf.open(source.folder / entry.key) as pdf:
        page_root = read_xmp(pdf).get("dossier:pageHashRoot", "")
    standard_id, _, standard_version = manifest.standard.partition("@")
    meta = ArchivalMetadata(
        title=f"{manifest.case_no} 第{n}卷 共{entry.of}卷 {profile.id}", author=manifest.agency,
        subject=context.case_title, case_no=manifest.case_no, volume=n, volumes=entry.of, standard_id=standard_id,
        standard_version=standard_version, pipeline_version=__version__, page_hash_root=page_root, created=created,
        extra=xmp_provenance(profile, entry.sha256, source.version_id, counts, order.made_by, order.approved_by,
                             created))
    finish_pdfa(raw, archival, entry.pdfa, meta)
    final.parent.mkdir(parents=True, exist_ok=True)
    signature = sign_pdf(archival, final, signer, f"disclosure copy of volume {n}")
    failed = [c for c in check_volume(final, entry.pdfa, trust_roots) if not c.passed]
    if failed:
        raise VerificationError(f"disclosure copy of volume {n} of {manifest.case_no} failed its checks: "
                                + "; ".join(f"{c.name}: {c.detail}" for c in failed[:5]))
    raw.unlink(missing_ok=True)
    archival.unlink(missing_ok=True)
    data = final.read_bytes()
    return DisclosureVolume(number=n, key=volume_key(n), sha256=hashlib.sha256(data).hexdigest(), bytes=len(data),
                            source_sha256=entry.sha256, pages=len(pages), pdf_pages=pdf_pages, counts=counts,
                            signature=signature)


def make_copy(source: Source, order: CopyOrder, work: Path, signer, trust_roots: list[Path]) -> DisclosureManifest:
    """Make the copy of every volume into ``work`` (see the module docstring) and return its manifest, also written
    there as disclosure.json. Each volume is checked like any volume (PDF/A, signature) before it is kept."""
    manifest, profile = source.manifest, order.profile
    created = order.created or datetime.now().astimezone()
    by_volume = {e.number: list(source_pages(source.folder / e.key, e.number)) for e in manifest.volumes}
    people = read_people([p.text for pages in by_volume.values() for p in pages], _titles(source), profile)
    review = _Review(work)
    volumes, detections, catalogues = [], [], []
    for entry in manifest.volumes:
        pages, found = _pages(source, entry, by_volume[entry.number], order, people, len(detections) + 1, work,
                              review)
        detections += found
        counts = _counts(found)
        context = copy_context(manifest, _volume_catalogue(source, entry), entry, people, profile,
                               copy_note(profile, counts), record_people(source.folder / entry.key))
        catalogues.append(VolumeCatalogue(volume=entry.number, entries=list(context.entries)))
        volumes.append(_finish_volume(source, entry, order, pages, context, counts, work, signer, trust_roots,
                                      created))
    review.write(manifest.case_no, profile)
    catalogue = (Catalogue(case_no=manifest.case_no, volumes=catalogues).model_dump_json(indent=2) + "\n").encode()
    write_atomic(work / CATALOGUE_NAME, catalogue)
    result = DisclosureManifest(
        case_no=manifest.case_no, case_key=manifest.case_key, security_level=manifest.security_level,
        profile=profile.name, profile_id=profile.id, profile_version=profile.version, recipient=profile.recipient,
        source_manifest_version=source.version_id, source_manifest_sha256=source.sha256, created=created,
        made_by=order.made_by, approved_by=order.approved_by, review=order.review, volumes=volumes,
        catalogue_sha256=hashlib.sha256(catalogue).hexdigest(), detections=detections, counts=_counts(detections))
    write_atomic(work / DISCLOSURE_NAME, (result.model_dump_json(indent=2) + "\n").encode())
    return result


def doubtful(manifest: DisclosureManifest) -> list[Detection]:
    """The detections a person must look at before the copy is released."""
    return [d for d in manifest.detections if not d.certain]


def fetch_source(store, case_no: str, into: Path) -> Source:
    """The latest published dossier of a case downloaded into ``into`` (every SHA-256 checked against its
    manifest), as a copy's source."""
    import shutil

    from pipeline.storage import fetch_dossier, load_manifest

    ref = load_manifest(store, case_no)
    shutil.rmtree(into, ignore_errors=True)
    folder = fetch_dossier(store, case_no, into, version_id=ref.version_id)
    return Source.of(folder, ref.version_id)


def publish_copy(store, manifest: DisclosureManifest, work: Path, retention=None, before_manifest=None):
    """Publish a copy made in ``work`` beside its original (``cases/<key>/disclosure/<profile>/``), its manifest
    last; returns the stored reference."""
    from pipeline.storage import publish_disclosure

    return publish_disclosure(store, manifest, work, retention, before_manifest)
