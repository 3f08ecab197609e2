"""The Prefect tasks of a dossier build, each a thin call into the library, and the task runner they run on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from flows.safety import HostSlots
from pipeline import dossier as dz
from pipeline.assembly import VolumeContext
from pipeline.capture import PageRef, inspect_batch, list_pages, read_batch_manifest
from pipeline.dossier import (
    Admission,
    admit,
    forget_volume,
    require_publishable,
    save_volume,
    seal,
)
from pipeline.errors import BadInputError, VolumeError
from pipeline.models import BatchManifest, StandardProfile, VolumeCatalogue, VolumeEntry
from pipeline.ocr import line_reader
from pipeline.pages import PageArtifact, PageEnvironment, process_pages
from pipeline.settings import ProcessingSettings, Settings
from pipeline.storage import StoreConfig
from pipeline.structure import Document, VolumePlan, find_documents, plan_volumes, volume_catalogue


def default_task_runner(workers: int | None = None, dask_address: str | None = None):
    """Threads (one per core unless told) for pages on this machine, or a dask cluster when an address is given
    (``--dask-address`` or $DOSSIER_DASK_ADDRESS)."""
    processing = ProcessingSettings.from_environ()
    address = dask_address or processing.dask_address
    if address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=address)
    return ThreadPoolTaskRunner(max_workers=workers or processing.page_workers)


@task(name="ingest", cache_policy=NO_CACHE)
def ingest(batch_dir: Path, batch_id: str, case_no: str | None, workers: int, profile: StandardProfile,
           admission: Admission, publish: bool, settings: Settings, home: Path
           ) -> tuple[BatchManifest, list[PageRef], str]:
    """Before any page work: look at every file without opening it, read the batch manifest (or make one from
    --case), decide the owner, refuse what may not be published (security level, signing key, another agency's
    case), fingerprint the batch, and list every page (refusing bad files by name). Returns the manifest as the run
    uses it, the pages and the fingerprint."""
    inspect_batch(batch_dir, profile.input)
    manifest = read_batch_manifest(batch_dir)
    if manifest is None:
        if not case_no:
            raise BadInputError(f"batch {batch_dir.name} has no batch.json: give the case number (--case)")
        manifest = BatchManifest(case_no=case_no)
    elif case_no and case_no != manifest.case_no:
        raise BadInputError(f"--case {case_no} differs from batch.json's case number {manifest.case_no}")
    manifest = admit(manifest, admission)
    dz.require_signing_key(settings.signing, profile)
    if publish:
        require_publishable(manifest, settings, home)
    sealed = seal(batch_dir, batch_id, admission, profile)
    return manifest, list_pages(batch_dir, workers, profile.input), sealed


@task(name="pages", task_run_name="pages-{first}", cache_policy=NO_CACHE)
def pages_task(first: int, refs: list[PageRef], env: PageEnvironment,
               slots: HostSlots) -> list[tuple[PageArtifact, bool]]:
    """Process a chunk of consecutive pages (OCR in one engine run), or take them from the page cache, holding one of
    the host's page slots."""
    with slots.slot():
        return process_pages(list(enumerate(refs, start=first)), env)


def chunk_size(pages: int, workers: int, limit: int = 8) -> int:
    """Pages per chunk: up to ``limit`` (DOSSIER_OCR_CHUNK; one OCR engine run each), but small enough that every
    worker gets work on a short batch."""
    return max(1, min(limit, -(-pages // max(1, workers))))


@task(name="structure", cache_policy=NO_CACHE)
def structure_task(artifacts: Sequence[PageArtifact], manifest: BatchManifest, profile: StandardProfile,
                   ocr_cache: Path | None = None, workers: int = 1
                   ) -> tuple[list[Document], list[VolumePlan], list[VolumeCatalogue]]:
    """Find the documents, pack them into volumes, and make each volume's 卷内目录 (lines that decide a field are
    read again through the OCR cache in ``ocr_cache``, pages side by side in ``workers`` threads)."""
    dz.require_no_review(artifacts)
    dz.require_content(artifacts, manifest.case_no)
    lines = line_reader(profile.ocr, ocr_cache)
    # page tasks already re-read dropped titles (headings=None)
    documents = find_documents(artifacts, manifest, headings=None, lines=lines, workers=workers)
    plans = plan_volumes(documents, profile.volumes.max_pages)
    return documents, plans, [volume_catalogue(plan, documents) for plan in plans]


@task(name="volume", task_run_name="volume-{plan.number}", cache_policy=NO_CACHE)
def volume_task(plan: VolumePlan, pages: dict[int, PageArtifact], context: VolumeContext,
                profile: StandardProfile, folder: Path, signer, created: datetime, input_digest: str) -> VolumeEntry:
    """Render, PDF/A-finish and sign one volume, and record it for reruns."""
    forget_volume(folder, plan.number)
    try:
        entry = dz.make_volume(plan, pages, context, folder, profile, signer, created)
    except VolumeError:
        raise
    except Exception as exc:
        raise VolumeError(f"volume {plan.number} of case {context.case_no} failed: {exc}", plan.number) from exc
    save_volume(folder, plan.number, input_digest, entry)
    return entry


@task(name="publish", cache_policy=NO_CACHE, retries=0)
def publish_task(store: StoreConfig, folder: Path, manifest, batch: Path, profile: StandardProfile,
                 who: dict, database_url: str) -> dict:
    """Publish the dossier: volumes, originals, catalogue, report, then — once the access database records the
    case's owner and the publication is in the audit log (``who`` published which manifest, superseding which) —
    dossier.json."""
    from flows.publication import PublicationAudit

    with PublicationAudit(store, database_url, manifest.case_no, who) as audit:
        result = dz.publish_folder(store, folder, manifest, batch, profile, before_manifest=audit.before_manifest)
        audit.published(result.get("manifest_version"))
    return result
