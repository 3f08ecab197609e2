"""The process-batch flow: a batch folder in, a signed, checked and published dossier out.

Thin glue: every step is a library function from ``pipeline``; this module decides what runs as a Prefect task, what
runs in parallel, what is locked, what is kept for a rerun, and what gets logged. :func:`build_dossier` is the one
body shared by the three flows (process-batch here, rerun-volume and reprocess-case in :mod:`flows.rerun`).

What a rerun can count on (see :mod:`flows.runstate`): every finished page is in the page cache (keyed by content,
profile and pipeline version), and every volume that was built is recorded beside its PDF with the digest of its
inputs. Running the same batch again, by ``dossier rerun``, by ``prefect flow-run retry`` or from the UI, recomputes
the plan from the cached pages and rebuilds only the volumes that are missing or whose inputs changed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from flows import progress
from flows.runstate import (
    RunRecord,
    drop_volumes_beyond,
    forget_volume,
    load_run,
    reusable_volume,
    save_run,
    save_volume,
    volume_input_digest,
    work_folder,
)
from flows.safety import HostSlots, case_lock
from pipeline import dossier as dz
from pipeline.assembly import VolumeContext
from pipeline.capture import PageRef, list_pages, read_manifest
from pipeline.common import utcnow_seconds
from pipeline.errors import BadInputError, VolumeError
from pipeline.models import BatchManifest, StandardProfile, VolumeCatalogue, VolumeEntry
from pipeline.pages import PageArtifact, PageCache, PageEnvironment, chunked, process_pages
from pipeline.settings import ProcessingSettings, Settings, StateLayout
from pipeline.standard import load_profile
from pipeline.storage import StoreConfig, case_key
from pipeline.structure import Document, VolumePlan, has_title


def default_task_runner(workers: int | None = None, dask_address: str | None = None):
    """Threads (one per core unless told) for pages on this machine, or a dask cluster when an address is given
    (``--dask-address`` or $DOSSIER_DASK_ADDRESS)."""
    processing = ProcessingSettings.from_environ()
    address = dask_address or processing.dask_address
    if address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=address)
    return ThreadPoolTaskRunner(max_workers=workers or processing.page_workers)


# --------------------------------------------------------------------------------------------------------------------
# Tasks


@task(name="ingest", cache_policy=NO_CACHE)
def ingest(batch_dir: Path, case_no: str | None, workers: int) -> tuple[BatchManifest, list[PageRef]]:
    """Read the batch manifest (or make one from --case) and list every page, refusing bad files by name."""
    manifest = read_manifest(batch_dir)
    if manifest is None:
        if not case_no:
            raise BadInputError(f"batch {batch_dir.name} has no batch.json: give the case number (--case)")
        manifest = BatchManifest(case_no=case_no)
    elif case_no and case_no != manifest.case_no:
        raise BadInputError(f"--case {case_no} differs from batch.json's case number {manifest.case_no}")
    return manifest, list_pages(batch_dir, workers)


@task(name="pages", task_run_name="pages-{first}", cache_policy=NO_CACHE)
def pages_task(first: int, refs: list[PageRef], env: PageEnvironment, slots: HostSlots) -> list[tuple[PageArtifact, bool]]:
    """Process a chunk of consecutive pages (OCR in one engine run), or take them from the page cache, holding one of
    the host's page slots."""
    with slots.slot():
        return process_pages(list(enumerate(refs, start=first)), env)


def chunk_size(pages: int, workers: int, limit: int = 8) -> int:
    """Pages per chunk: up to ``limit`` (DOSSIER_OCR_CHUNK; one OCR engine run each), but small enough that every
    worker gets work on a short batch."""
    return max(1, min(limit, -(-pages // max(1, workers))))


@task(name="structure", cache_policy=NO_CACHE)
def structure_task(artifacts: Sequence[PageArtifact], manifest: BatchManifest, profile: StandardProfile
                   ) -> tuple[list[Document], list[VolumePlan], list[VolumeCatalogue]]:
    """Find the documents, pack them into volumes, and make each volume's 卷内目录."""
    from pipeline.structure import find_documents, plan_volumes, volume_catalogue

    dz.require_no_review(artifacts)
    documents = find_documents(artifacts, manifest, headings=None)  # page tasks already re-read dropped titles
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
def publish_task(store: StoreConfig, folder: Path, manifest, batch: Path, profile: StandardProfile) -> dict:
    """Publish the dossier: volumes, originals, catalogue, report, then dossier.json."""
    return dz.publish_folder(store, folder, manifest, batch, profile)


# --------------------------------------------------------------------------------------------------------------------
# The shared body


@dataclass(frozen=True)
class Job:
    """One dossier build: which batch, under which id, settings and profile, and what a rerun asks for."""

    batch_dir: Path
    batch_id: str
    home: Path
    settings: Settings
    profile: str | None = None
    case_no: str | None = None
    publish: bool = True
    kind: str = "process"  # process | rerun | reprocess
    rebuild: frozenset[int] = field(default_factory=frozenset)  # volumes to build even when reusable
    created: datetime | None = None  # the dossier's creation time; a rerun keeps the failed run's

    @property
    def layout(self) -> StateLayout:
        """The state folder's layout."""
        return StateLayout(self.home)

    @property
    def workers(self) -> int:
        """Pages processed at once."""
        return self.settings.processing.page_workers


def current_flow_run_id() -> str | None:
    """The id of the flow run we are in, if any."""
    from prefect.runtime import flow_run

    return str(flow_run.id) if flow_run.id else None


def locate_batch(home: Path, batch_dir: str | Path) -> Path:
    """The batch folder: where it was given, or where the hot-folder ledger says it went (a retried run whose batch
    was quarantined meanwhile)."""
    path = Path(batch_dir)
    if path.is_dir():
        return path.resolve()
    from pipeline.operations import Ledger

    moved = Ledger(home).locate(path)
    if moved is not None and moved.is_dir():
        return moved.resolve()
    raise BadInputError(f"batch folder {path} does not exist, and the hot-folder ledger in {home} does not know "
                        f"where it went")


def build_dossier(job: Job) -> dict:
    """Ingest, process pages, plan, build (or reuse) volumes, check, publish: under the case's lock."""
    log = get_run_logger()
    prof = load_profile(job.profile)
    manifest, refs = ingest(job.batch_dir, job.case_no, job.workers)
    log.info("batch %s (id %s): case %s, %d pages, standard %s", job.batch_dir, job.batch_id, manifest.case_no,
             len(refs), prof.key)
    folder = work_folder(job.home, manifest.case_no, job.batch_id)
    folder.mkdir(parents=True, exist_ok=True)
    waited = time.monotonic()
    with case_lock(manifest.case_no) as lock_name:
        locked_at = time.time()
        log.info("case lock %s taken after %.1f s", lock_name, time.monotonic() - waited)
        record = RunRecord(case_no=manifest.case_no, case_key=case_key(manifest.case_no), batch_id=job.batch_id,
                           batch_dir=str(job.batch_dir), profile=job.profile, profile_key=prof.key, kind=job.kind,
                           flow_run_id=current_flow_run_id(), publish=job.publish)
        record = save_run(folder, record)
        run = _Run(job, log, prof, manifest, folder, record)
        try:
            result = run.build(refs)
        except BaseException as exc:
            latest = load_run(folder) or record
            save_run(folder, latest, status="failed", error=f"{type(exc).__name__}: {exc}"[:2000])
            raise
        result.update({"locked_at": locked_at, "unlocked_at": time.time(), "lock": lock_name})
    return result


@dataclass
class _Run:
    """One locked build of a dossier, stage by stage."""

    job: Job
    log: Any
    profile: StandardProfile
    manifest: BatchManifest
    folder: Path
    record: RunRecord
    summary_args: dict = field(default_factory=dict)

    def build(self, refs: list[PageRef]) -> dict:
        """Pages, structure, volumes, checks, publication; returns the run's result."""
        artifacts, processed, cached = self.pages(refs)
        # fonts and pyHanko (~100 MB, ~1 s) load on the core the structure stage leaves idle, not during the volume
        # stage; not earlier either: beside the last pages' OCR they raised the peak RSS of a 1,000-page run. The
        # volume stage waits for it: importing the same packages from two threads at once can fail (import deadlock)
        preloading = threading.Thread(target=_preload, args=(self.log,), name="preload", daemon=True)
        preloading.start()
        documents, plans, catalogues = structure_task(artifacts, self.manifest, self.profile)
        artifacts = dz.place_pages(artifacts, documents, plans)
        by_pos = {a.position: a for a in artifacts}
        # contact sheets need only the placed pages (and their thumbnails, kept since the page stage): drawn beside
        # the volume stage, which leaves a core idle while it builds one volume, instead of holding up the end
        drawing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="contact-sheets")
        self.sheets = drawing.submit(_contact_sheets, self.folder, self.manifest.case_no, plans, by_pos, self.log)
        drawing.shutdown(wait=False)
        created = self.job.created or utcnow_seconds()
        self.record = save_run(self.folder, self.record, created=created, volumes=len(plans),
                               pages=sum(p.page_count for p in plans))
        preloading.join()
        entries, built, reused, failed = self.volumes(plans, catalogues, artifacts, by_pos, created)
        self.summary_args = dict(artifacts=artifacts, plans=plans, volumes=entries, failed=failed, reused=reused,
                                 pages_processed=processed, pages_cached=cached, folder=self.folder)
        if failed:
            self.fail_volumes(failed, len(plans))
        volumes = [entries[p.number] for p in plans]
        result = self.check(artifacts, documents, catalogues, volumes, created)
        result.update({"pages_processed": processed, "pages_from_cache": cached, "volumes_built": built,
                       "volumes_reused": sorted(reused)})
        return self.publish(result)

    def pages(self, refs: list[PageRef]) -> tuple[list[PageArtifact], int, int]:
        """Every page processed (or taken from the cache), in chunks on the task runner."""
        job, layout = self.job, self.job.layout
        env = PageEnvironment(job.batch_dir, self.profile, PageCache(layout.page_cache), layout.ocr_cache,
                              self.manifest.dpi, has_title=has_title)
        processing = job.settings.processing
        slots = HostSlots("pages", processing.page_slots, job.settings.paths.slots_dir)
        ocr = self.profile.ocr.enabled
        progress.report("pages", "total", len(refs))
        progress.report("ocr", "total", len(refs) if ocr else 0)
        chunks = chunked(len(refs), chunk_size(len(refs), job.workers, processing.ocr_chunk), job.workers)
        futures = [pages_task.submit(c[0], [refs[i] for i in c], env, slots) for c in chunks]
        results: dict[int, tuple[PageArtifact, bool]] = {}
        for fut in as_completed(futures):
            done = fut.result()
            for artifact, hit in done:
                results[artifact.position] = (artifact, hit)
            progress.report("pages", "advance", len(done))
            if ocr:  # imaging and OCR are one task per chunk: a page done is a page OCRed (or found blank)
                progress.report("ocr", "advance", len(done))
        cached = sum(1 for _, hit in results.values() if hit)
        self.log.info("pages: %d processed, %d from cache", len(results) - cached, cached)
        return [results[i][0] for i in range(len(refs))], len(results) - cached, cached

    def volumes(self, plans: list[VolumePlan], catalogues: list[VolumeCatalogue], artifacts: list[PageArtifact],
                by_pos: dict[int, PageArtifact], created: datetime
                ) -> tuple[dict[int, VolumeEntry], list[int], list[int], dict[int, str]]:
        """Build the volumes whose inputs changed, reuse the others; returns entries, built, reused, failed."""
        job, folder = self.job, self.folder
        signer = dz.signer_for_run(job.settings.signing, job.layout.signing, self.profile)
        dropped = drop_volumes_beyond(folder, len(plans))
        if dropped:
            self.log.info("removed volume(s) %s left by an earlier plan", dropped)
        progress.report("volumes", "total", len(plans))
        entries: dict[int, VolumeEntry] = {}
        reused: list[int] = []
        pending = {}
        for plan, cat in zip(plans, catalogues):
            pages = {p: by_pos[p] for p in plan.positions}
            context = dz.volume_context(plan, cat, artifacts, self.manifest, self.profile, created)
            digest = volume_input_digest(plan, context, pages, self.profile)
            entry = None if plan.number in job.rebuild else reusable_volume(folder, plan.number, digest)
            if entry is not None:
                entries[plan.number] = entry
                reused.append(plan.number)
                progress.report("volumes", "advance")
                continue
            future = volume_task.submit(plan, pages, context, self.profile, folder, signer, created, digest)
            pending[future] = plan.number
        failed: dict[int, str] = {}
        for fut in as_completed(list(pending)):
            number = pending[fut]
            outcome = fut.result(raise_on_failure=False)
            if isinstance(outcome, BaseException):
                failed[number] = f"{type(outcome).__name__}: {outcome}"
            else:
                entries[number] = outcome
            progress.report("volumes", "advance")
        built = sorted(set(pending.values()) - set(failed))
        self.log.info("volumes: built %s, reused %s, failed %s", built or "none", sorted(reused) or "none",
                      sorted(failed) or "none")
        return entries, built, reused, failed

    def fail_volumes(self, failed: dict[int, str], of: int) -> None:
        """Record the failed volumes and stop: the built ones are kept for a rerun."""
        case_no = self.manifest.case_no
        save_run(self.folder, self.record, status="failed", failed_volumes=sorted(failed),
                 error="; ".join(f"volume {n}: {m}" for n, m in sorted(failed.items()))[:2000])
        self.artifacts("volume(s) failed")
        raise VolumeError(f"case {case_no}: volume(s) {', '.join(map(str, sorted(failed)))} of {of} failed "
                          f"({'; '.join(failed[n] for n in sorted(failed))}); the others are kept: "
                          f"'dossier rerun {case_no}' builds only what failed", min(failed))

    def check(self, artifacts, documents, catalogues, volumes: list[VolumeEntry], created: datetime) -> dict:
        """Write catalogue, manifest and report, and run the four-property checks; stop when they fail."""
        job, case_no = self.job, self.manifest.case_no
        roots = dz.trust_roots_for_run(job.settings.signing, job.layout.signing)
        self.summary = dz.finish_dossier(self.folder, self.manifest, job.batch_dir, self.profile, artifacts,
                                         documents, catalogues, volumes, created, roots, batch_id=job.batch_id)
        passed = bool(self.summary.report and self.summary.report.passed)
        self.log.info("dossier %s: %d volume(s), report %s", case_no, len(volumes), "passed" if passed else "FAILED")
        if not passed:
            self.artifacts("checks FAILED")
            raise VolumeError(f"dossier {case_no} failed its checks: see {self.folder / 'report.json'}")
        return {"case_no": case_no, "case_key": self.summary.case_key, "folder": str(self.folder),
                "batch_id": job.batch_id, "volumes": len(volumes), "pages": sum(v.pages for v in volumes),
                "report_passed": passed, "published": False}

    def publish(self, result: dict) -> dict:
        """Publish the checked dossier (unless told not to) and announce it."""
        job = self.job
        self.record = save_run(self.folder, self.record, status="built", failed_volumes=[], error="")
        status = "built, not published"
        try:
            if job.publish:
                status = "publish FAILED"
                store = StoreConfig.from_settings(job.settings.store, job.home)
                result.update(publish_task(store, self.folder, self.summary, job.batch_dir, self.profile))
                status = f"published (manifest version {result.get('manifest_version')})"
                save_run(self.folder, self.record, status="published", manifest_version=result.get("manifest_version"))
                announce(result)
        finally:
            self.artifacts(status)
        return result

    def artifacts(self, status: str) -> None:
        """The run's summary and contact sheets in the Prefect UI."""
        from flows.artifacts import publish_artifacts, sheet_url, summary_markdown

        sheets, home = self.sheets.result(), self.job.home
        base = self.job.settings.service.artifact_base_url
        urls = {n: sheet_url(p, home, base) for n, p in sheets.items()}
        case_no = self.manifest.case_no
        publish_artifacts(case_no, summary_markdown(case_no, status, sheets=urls, **self.summary_args), urls, self.log)


def _preload(log) -> None:
    try:
        dz.preload_volume_stage()
    except Exception as exc:  # noqa: BLE001 - the volume stage loads (and reports) the same things itself
        log.debug("preloading the volume stage failed: %s", exc)


def _contact_sheets(folder: Path, case_no: str, plans, by_pos, log) -> dict[int, Path]:
    from flows.artifacts import write_contact_sheets

    try:
        return write_contact_sheets(folder, case_no, plans, by_pos)
    except Exception as exc:  # noqa: BLE001 - thumbnails are a convenience
        log.warning("could not draw contact sheets: %s", exc)
        return {}


def announce(result: dict) -> None:
    """Tell the transfer layer a dossier is published: a Prefect event `dossier.published` (and the log)."""
    from prefect.events import emit_event

    emit_event(
        event="dossier.published",
        resource={"prefect.resource.id": f"dossier.case.{result['case_key']}", "case_no": result["case_no"]},
        payload={"case_no": result["case_no"], "case_key": result["case_key"],
                 "manifest_version": result.get("manifest_version"), "supersedes": result.get("supersedes"),
                 "volumes": result["volumes"], "pages": result["pages"]},
    )


# --------------------------------------------------------------------------------------------------------------------
# The flow


@flow(name="process-batch", task_runner=default_task_runner())
def process_batch(batch_dir: str, case_no: str | None = None, profile: str | None = None,
                  state: str | None = None, publish: bool = True, batch_id: str | None = None) -> dict:
    """Process one batch folder into a signed PDF/A dossier and publish it (dossier.json last).

    ``batch_id`` defaults to the folder's name; the hot-folder watcher passes the name the batch was dropped with.
    A retried run whose batch has since moved to quarantine finds it through the hot-folder ledger.
    """
    settings = Settings.load()
    home = settings.layout(state).root
    batch_id = batch_id or Path(batch_dir).name
    batch = locate_batch(home, batch_dir)
    return build_dossier(Job(batch, batch_id, home, settings, profile, case_no, publish))
