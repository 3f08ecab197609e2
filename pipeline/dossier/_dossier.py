"""Assemble a dossier from processed pages: place pages in volumes, make each volume, write the local dossier folder.

The local dossier folder is what gets checked and then published::

    <folder>/volumes/001.pdf …   signed PDF/A volumes
    <folder>/catalogue.json      卷内目录 of every volume
    <folder>/report.json         the four-property report
    <folder>/dossier.json        the manifest
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline import __version__
from pipeline.assembly import VolumeContext, add_text_layer, build_volume, cjk_font, numeral_font
from pipeline.common import sha256_file, write_atomic
from pipeline.errors import BadInputError, RefusedError, ReviewNeeded, SigningKeyError, VolumeError
from pipeline.models import (
    BatchManifest,
    Catalogue,
    CatalogueCorrection,
    DocumentEntry,
    DossierManifest,
    OriginalEntry,
    StandardProfile,
    VolumeCatalogue,
    VolumeEntry,
    volume_key,
)
from pipeline.ocr import engine_entry
from pipeline.pages import PageArtifact
from pipeline.settings import SigningSettings
from pipeline.storage import DossierNotFound, ObjectStore, case_key, load_manifest, publish_dossier
from pipeline.structure import Document, VolumePlan

if TYPE_CHECKING:
    from pipeline.archival import SignerConfig
    from pipeline.storage import StoreConfig



def require_no_review(artifacts: Sequence[PageArtifact]) -> None:
    """Stop the batch for review when any page looks like a separator sheet but could not be decoded."""
    bad = [a for a in artifacts if a.record.separator and a.separator is None]
    if bad:
        names = ", ".join(f"{a.record.source.file}[{a.record.source.index}]" for a in bad)
        raise ReviewNeeded(f"separator sheet could not be decoded on page(s) {names}: check the sheet and rescan")


def require_content(artifacts: Sequence[PageArtifact], case_no: str) -> None:
    """Stop a batch whose every page is blank (or a separator sheet) with that reason, before structure and volumes
    are attempted: there is nothing to put in a volume."""
    if artifacts and all(a.image_path is None for a in artifacts):
        blank = [a for a in artifacts if a.record.blank]
        names = ", ".join(f"{a.record.source.file}[{a.record.source.index}]" for a in blank[:5])
        more = f" and {len(blank) - 5} more" if len(blank) > 5 else ""
        raise BadInputError(f"case {case_no}: all {len(artifacts)} page(s) of the batch are blank or separator sheets "
                            f"({len(blank)} blank: {names or 'none'}{more}): nothing to publish; rescan the batch")


def place_pages(artifacts: Sequence[PageArtifact], documents: Sequence[Document],
                plans: Sequence[VolumePlan]) -> list[PageArtifact]:
    """Artifacts with document, volume and page number filled in (blank and separator pages stay unplaced)."""
    where: dict[int, tuple[int, int]] = {}
    for plan in plans:
        for page_no, pos in enumerate(plan.positions, start=1):
            if pos in where:
                raise VolumeError(f"page at batch position {pos} placed twice", plan.number)
            where[pos] = (plan.number, page_no)
    doc_of = {pos: doc.index for doc in documents for pos in doc.positions}
    placed = []
    for a in artifacts:
        vol, page = where.get(a.position, (None, None))
        if a.image_path is not None and vol is None:
            raise VolumeError(f"page {a.record.source.file}[{a.record.source.index}] is in no volume")
        record = a.record.model_copy(update={"volume": vol, "page": page, "document": doc_of.get(a.position)})
        placed.append(replace(a, record=record))
    return placed


def volume_context(plan: VolumePlan, catalogue: VolumeCatalogue, artifacts: Sequence[PageArtifact],
                   manifest: BatchManifest, profile: StandardProfile, prepared_on: datetime) -> VolumeContext:
    """What the cover, 卷内目录 and 备考表 of one volume print."""
    in_volume = [a for a in artifacts if a.record.volume == plan.number]
    dates = sorted(e.date for e in catalogue.entries if e.date[:4].isdigit())
    # Blank pages that sit between this volume's first and last page in scan order are counted against it.
    positions = plan.positions
    blanks = sum(1 for a in artifacts if a.record.blank and positions and positions[0] <= a.position <= positions[-1])
    flagged = tuple((a.record.page, "; ".join(a.record.flags)) for a in sorted(in_volume, key=lambda a: a.record.page)
                    if a.record.flags)
    return VolumeContext(
        case_no=manifest.case_no, case_title=manifest.case_title, agency=manifest.agency, number=plan.number,
        of=plan.of, retention=manifest.retention or profile.volumes.retention,
        security_level=manifest.security_level, standard=profile.key, pipeline_version=__version__,
        entries=tuple(catalogue.entries), date_range=(dates[0], dates[-1]) if dates else ("", ""),
        blank_pages=blanks, flagged=flagged, prepared_by=manifest.prepared_by, checked_by=manifest.checked_by,
        prepared_on=prepared_on.date(),
    )


def document_entries(documents: Sequence[Document]) -> list[DocumentEntry]:
    """Manifest entries for the documents found."""
    return [
        DocumentEntry(index=d.index, title=d.title, doc_no=d.doc_no, author=d.author, date=d.date,
                      pages=len(d.positions), boundary=d.boundary, flags=d.doubts())
        for d in documents
    ]


def build_manifest(manifest: BatchManifest, batch_id: str, profile: StandardProfile,
                   artifacts: Sequence[PageArtifact], documents: Sequence[Document],
                   volumes: Sequence[VolumeEntry], created: datetime,
                   corrections: Sequence[CatalogueCorrection] = ()) -> DossierManifest:
    """The dossier manifest (without report and catalogue digests, which are added once those files exist), with
    the 卷内目录 reviews made before the volumes were built."""
    return DossierManifest(
        case_no=manifest.case_no, case_key=case_key(manifest.case_no), case_title=manifest.case_title,
        agency=manifest.agency, security_level=manifest.security_level,
        retention=manifest.retention or profile.volumes.retention, standard=profile.key,
        pipeline_version=__version__, created=created, batches=[batch_id], grants=[],  # never from the room
        volumes=list(volumes), documents=document_entries(documents), pages=[a.record for a in artifacts],
        corrections=list(corrections), ocr=engine_entry(profile.ocr),
    )


def write_json(path: Path, model) -> str:
    """Write a model as pretty UTF-8 JSON atomically; returns its SHA-256."""
    data = (json.dumps(model.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n").encode()
    write_atomic(path, data)
    return hashlib.sha256(data).hexdigest()


def write_catalogue(folder: Path, case_no: str, catalogues: Sequence[VolumeCatalogue]) -> str:
    """Write catalogue.json; returns its SHA-256."""
    return write_json(folder / "catalogue.json", Catalogue(case_no=case_no, volumes=list(catalogues)))


def file_entry_digest(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a file."""
    return sha256_file(path), path.stat().st_size




def preload_volume_stage() -> None:
    """Load what building and checking a volume needs (the CJK and digits fonts, pyHanko, the checks) ahead of time.

    Called beside the structure stage (which keeps one core busy), it takes ~1 s off the volume stage, which
    otherwise loads these on its critical path.
    """
    import pipeline.archival  # noqa: F401  (PDF/A finishing, signing, validators, checks)
    from pipeline.archival import preload

    cjk_font()
    numeral_font()
    preload()


def make_volume(plan: VolumePlan, pages: dict[int, PageArtifact], context: VolumeContext, folder: Path,
                profile: StandardProfile, signer, created: datetime) -> VolumeEntry:
    """Render, finish as PDF/A, and sign one volume into ``folder/volumes/NNN.pdf``; returns its manifest entry."""
    from pipeline.archival import ArchivalMetadata, finish_pdfa, page_hash_root, sign_pdf

    work = folder / "work"
    work.mkdir(parents=True, exist_ok=True)
    final = folder / volume_key(plan.number)
    final.parent.mkdir(parents=True, exist_ok=True)
    raw = work / f"{plan.number:03d}.raw.pdf"
    archival = work / f"{plan.number:03d}.pdfa.pdf"
    built = build_volume(plan, pages, context, raw, text_layer=add_text_layer if profile.ocr.enabled else None)
    records = [pages[p].record for p in plan.positions]
    meta = ArchivalMetadata(
        title=f"{context.case_no} 第{plan.number}卷 共{plan.of}卷", author=context.agency,
        subject=context.case_title, case_no=context.case_no, volume=plan.number, volumes=plan.of,
        standard_id=profile.id, standard_version=profile.version, pipeline_version=__version__,
        page_hash_root=page_hash_root([r.sha256 for r in records]), created=created,
    )
    finish_pdfa(raw, archival, profile.pdfa.level, meta)
    signature = None
    if profile.signing.enabled:
        signature = sign_pdf(archival, final, signer, f"volume {plan.number}")
    else:
        archival.replace(final)
    raw.unlink(missing_ok=True)
    archival.unlink(missing_ok=True)
    digest, size = file_entry_digest(final)
    return VolumeEntry(
        number=plan.number, of=plan.of, key=volume_key(plan.number), sha256=digest, bytes=size,
        pages=plan.page_count, pdf_pages=built.pdf_pages, documents=len({p.document for p in plan.parts}),
        pdfa=profile.pdfa.level, signature=signature,
    )


def require_signing_key(signing: SigningSettings, profile: StandardProfile) -> None:
    """Refuse, before any work, a run that would have to sign with a key nobody configured or that cannot be opened
    now (SigningKeyError: the machine's fault, the run is held until the key is back)."""
    from pipeline.archival import require_signer

    require_signer(signing, profile.signing.enabled)


def signer_for_run(signing: SigningSettings, signing_dir: Path, profile: StandardProfile) -> SignerConfig:
    """The signing key: DOSSIER_SIGN_* when configured, else — only when the development key was asked for — the
    development key in ``signing_dir`` (marked so); SettingsError otherwise."""
    from pipeline.archival import NO_KEY, ensure_development_signer, signer_from_settings

    config = signer_from_settings(signing)
    if config is None:
        if not signing.development_key:
            raise SigningKeyError(NO_KEY)
        config = ensure_development_signer(signing_dir)
    return config.with_policy(profile.signing)


def trust_roots_for_run(signing: SigningSettings, signing_dir: Path) -> list[Path]:
    """Certificates signatures must chain to: DOSSIER_TRUST_ROOTS, else the development certificate in
    ``signing_dir`` when the development key was asked for and no key is configured; else none (nothing is
    trusted)."""
    from pipeline.archival import development_certificate, signer_from_settings

    if signing.trust_roots:
        return signing.trust_roots
    dev = development_certificate(signing_dir)
    if signing.development_key and signer_from_settings(signing) is None and dev.exists():
        return [dev]
    return []


def require_owner(config: StoreConfig, case_no: str, owner: str) -> None:
    """Refuse to publish over a dossier another agency owns: the published manifest's agency must be ``owner``."""
    try:
        current = load_manifest(ObjectStore(config), case_no).manifest
    except DossierNotFound:
        return
    if current.agency != owner:  # the other agency is not named: a room learns nothing of other agencies' cases
        raise RefusedError(f"case {case_no} is published by another agency; a dossier of {owner or '(no agency)'} "
                           f"may not supersede it: refused")


def original_entries(batch_dir: Path, batch_id: str) -> list[OriginalEntry]:
    """Every file of the batch as received (pages and batch.json), with its SHA-256: the fixity record."""
    from pipeline.capture import MANIFEST_NAME, batch_files

    files = batch_files(batch_dir)
    if (batch_dir / MANIFEST_NAME).is_file():
        files.append(batch_dir / MANIFEST_NAME)
    entries = []
    for path in files:
        digest, size = file_entry_digest(path)
        entries.append(OriginalEntry(batch=batch_id, file=path.name, key=f"originals/{batch_id}/{path.name}",
                                     sha256=digest, bytes=size))
    return entries


def finish_dossier(folder: Path, batch: BatchManifest, batch_dir: Path, profile: StandardProfile,
                   artifacts: Sequence[PageArtifact], documents: Sequence[Document],
                   catalogues: Sequence[VolumeCatalogue], volumes: Sequence[VolumeEntry], created: datetime,
                   trust_roots: list[Path], batch_id: str | None = None,
                   corrections: Sequence[CatalogueCorrection] = ()) -> DossierManifest:
    """Write catalogue.json and dossier.json, run the four-property checks, write report.json, and return the
    manifest carrying the report's verdicts and the digests of catalogue and report. The batch id defaults to the
    batch folder's name (a batch rerun from ``quarantine/<room>/<batch>~2`` keeps the name it was dropped with)."""
    from pipeline.archival import check_dossier

    batch_id = batch_id or batch_dir.name
    catalogue_sha = write_catalogue(folder, batch.case_no, catalogues)
    manifest = build_manifest(batch, batch_id, profile, artifacts, documents, volumes, created, corrections)
    manifest = manifest.model_copy(update={"catalogue_sha256": catalogue_sha,
                                           "originals": original_entries(batch_dir, batch_id)})
    write_json(folder / "dossier.json", manifest)
    report = check_dossier(folder, trust_roots)
    report_sha = write_json(folder / "report.json", report)
    manifest = manifest.model_copy(update={"report_sha256": report_sha, "report": report.summary})
    write_json(folder / "dossier.json", manifest)
    return manifest


def publish_folder(config: StoreConfig, folder: Path, manifest: DossierManifest, batch_dir: Path,
                   profile: StandardProfile, before_manifest=None) -> dict:
    """Publish a checked local dossier folder with its batch's originals, dossier.json last (``before_manifest``
    is called right before it is written), unless the case is published by another agency (RefusedError)."""
    require_owner(config, manifest.case_no, manifest.agency)
    store = ObjectStore(config)
    originals = [(o.batch, batch_dir, batch_dir / o.file) for o in manifest.originals]
    result = publish_dossier(store, manifest, folder, originals, profile.retention,
                             before_manifest=before_manifest)
    return {"published": True, "manifest_version": result.manifest_version_id,
            "supersedes": result.manifest.supersedes, "unchanged": getattr(result, "unchanged", False)}
