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

import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from flows import progress
from flows.runstate import (RunRecord, drop_volumes_beyond, forget_volume, load_run, reusable_volume, save_run,
                            save_volume, volume_input_digest, work_folder)
from flows.safety import HostSlots, case_lock
from pipeline import dossier as dz
from pipeline.artifacts import Document, PageArtifact, VolumeContext, VolumePlan
from pipeline.casekey import case_key
from pipeline.config import default_workers, state_dir
from pipeline.errors import BadInputError, VolumeError
from pipeline.ingest import PageRef, list_pages, read_manifest
from pipeline.models import BatchManifest, StandardProfile, VolumeCatalogue, VolumeEntry
from pipeline.page import PageCache, PageEnvironment, chunked, process_pages
from pipeline.standard import load_profile

FAULT_ENV = "DOSSIER_TEST_FAIL_VOLUME"
"""Tests only: comma-separated volume numbers whose build fails on purpose, to exercise reruns."""
FAULT_WHILE_ENV = "DOSSIER_TEST_FAIL_VOLUME_WHILE"
"""Tests only: a file; when set, the injected fault fires only while that file exists (to test a retry)."""


def default_task_runner(workers: int | None = None, dask_address: str | None = None):
    """Threads (one per core unless told) for pages on this machine, or a dask cluster when an address is given
    (``--dask-address`` or $DOSSIER_DASK_ADDRESS)."""
    address = dask_address or os.environ.get("DOSSIER_DASK_ADDRESS")
    if address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=address)
    return ThreadPoolTaskRunner(max_workers=workers or default_workers())


def injected_fault(number: int) -> bool:
    """True when a test asked volume ``number`` to fail (see FAULT_ENV)."""
    wanted = os.environ.get(FAULT_ENV, "")
    if str(number) not in {v.strip() for v in wanted.split(",") if v.strip()}:
        return False
    flag = os.environ.get(FAULT_WHILE_ENV)
    return not flag or Path(flag).exists()


# --------------------------------------------------------------------------------------------------------------------
# Tasks


@task(name="ingest", cache_policy=NO_CACHE)
def ingest(batch_dir: Path, case_no: str | None) -> tuple[BatchManifest, list[PageRef]]:
    """Read the batch manifest (or make one from --case) and list every page, refusing bad files by name."""
    manifest = read_manifest(batch_dir)
    if manifest is None:
        if not case_no:
            raise BadInputError(f"batch {batch_dir.name} has no batch.json: give the case number (--case)")
        manifest = BatchManifest(case_no=case_no)
    elif case_no and case_no != manifest.case_no:
        raise BadInputError(f"--case {case_no} differs from batch.json's case number {manifest.case_no}")
    return manifest, list_pages(batch_dir, default_workers())


@task(name="pages", task_run_name="pages-{first}", cache_policy=NO_CACHE)
def pages_task(first: int, refs: list[PageRef], env: PageEnvironment) -> list[tuple[PageArtifact, bool]]:
    """Process a chunk of consecutive pages (OCR in one tesseract process), or take them from the page cache,
    holding one of the host's page slots."""
    with HostSlots("pages").slot():
        return process_pages(list(enumerate(refs, start=first)), env)


def chunk_size(pages: int, workers: int) -> int:
    """Pages per chunk: up to $DOSSIER_OCR_CHUNK (default 8, one tesseract process each), but small enough that
    every worker gets work on a short batch."""
    limit = int(os.environ.get("DOSSIER_OCR_CHUNK", "8"))
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
    if injected_fault(plan.number):
        raise VolumeError(f"volume {plan.number} of case {context.case_no} failed: fault injected by {FAULT_ENV} "
                          f"(tests only)", plan.number)
    try:
        entry = dz.make_volume(plan, pages, context, folder, profile, signer, created)
    except VolumeError:
        raise
    except Exception as exc:
        raise VolumeError(f"volume {plan.number} of case {context.case_no} failed: {exc}", plan.number) from exc
    save_volume(folder, plan.number, input_digest, entry)
    return entry


@task(name="publish", cache_policy=NO_CACHE, retries=0)
def publish_task(home: Path, folder: Path, manifest, batch: Path, profile: StandardProfile) -> dict:
    """Publish the dossier: volumes, originals, catalogue, report, then dossier.json."""
    return dz.publish_folder(home, folder, manifest, batch, profile)


# --------------------------------------------------------------------------------------------------------------------
# The shared body


@dataclass(frozen=True)
class Job:
    """One dossier build: which batch, under which id and profile, and what a rerun asks for."""

    batch_dir: Path
    batch_id: str
    home: Path
    profile: str | None = None
    case_no: str | None = None
    publish: bool = True
    kind: str = "process"  # process | rerun | reprocess
    rebuild: frozenset[int] = field(default_factory=frozenset)  # volumes to build even when reusable
    created: datetime | None = None  # the dossier's creation time; a rerun keeps the failed run's


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
    from pipeline.hotfolder import Ledger

    moved = Ledger(home).locate(path)
    if moved is not None and moved.is_dir():
        return moved.resolve()
    raise BadInputError(f"batch folder {path} does not exist, and the hot-folder ledger in {home} does not know "
                        f"where it went")


def build_dossier(job: Job) -> dict:
    """Ingest, process pages, plan, build (or reuse) volumes, check, publish: under the case's lock."""
    log = get_run_logger()
    prof = load_profile(job.profile)
    batch = job.batch_dir
    manifest, refs = ingest(batch, job.case_no)
    log.info("batch %s (id %s): case %s, %d pages, standard %s", batch, job.batch_id, manifest.case_no, len(refs),
             prof.key)
    folder = work_folder(job.home, manifest.case_no, job.batch_id)
    folder.mkdir(parents=True, exist_ok=True)
    waited = time.monotonic()
    with case_lock(manifest.case_no) as lock_name:
        locked_at = time.time()
        log.info("case lock %s taken after %.1f s", lock_name, time.monotonic() - waited)
        record = RunRecord(case_no=manifest.case_no, case_key=case_key(manifest.case_no), batch_id=job.batch_id,
                           batch_dir=str(batch), profile=job.profile, profile_key=prof.key, kind=job.kind,
                           flow_run_id=current_flow_run_id(), publish=job.publish)
        record = save_run(folder, record)
        try:
            result = _build_locked(job, log, prof, manifest, refs, folder, record)
        except BaseException as exc:
            latest = load_run(folder) or record
            save_run(folder, latest, status="failed", error=f"{type(exc).__name__}: {exc}"[:2000])
            raise
        result.update({"locked_at": locked_at, "unlocked_at": time.time(), "lock": lock_name})
    return result


def _build_locked(job: Job, log, prof: StandardProfile, manifest: BatchManifest, refs: list[PageRef], folder: Path,
                  record: RunRecord) -> dict:
    home, batch = job.home, job.batch_dir
    env = PageEnvironment(batch, prof, PageCache(home / "cache" / "pages"), home / "cache" / "ocr", manifest.dpi)
    ocr = prof.ocr.enabled
    progress.report("pages", "total", len(refs))
    progress.report("ocr", "total", len(refs) if ocr else 0)
    chunks = chunked(len(refs), chunk_size(len(refs), default_workers()), default_workers())
    futures = [pages_task.submit(c[0], [refs[i] for i in c], env) for c in chunks]
    results: dict[int, tuple[PageArtifact, bool]] = {}
    for fut in as_completed(futures):
        done = fut.result()
        for artifact, hit in done:
            results[artifact.position] = (artifact, hit)
        progress.report("pages", "advance", len(done))
        if ocr:  # imaging and OCR are one task per chunk: a page done is a page OCRed (or found blank)
            progress.report("ocr", "advance", len(done))
    artifacts = [results[i][0] for i in range(len(refs))]
    cached = sum(1 for _, hit in results.values() if hit)
    log.info("pages: %d processed, %d from cache", len(results) - cached, cached)

    # fonts and pyHanko (~100 MB, ~1 s) load on the core the structure stage leaves idle, not during the volume stage;
    # not earlier either: beside the last pages' Tesseract runs they raised the peak RSS of a 1,000-page run. The
    # volume stage waits for it: importing the same packages from two threads at once can fail (import deadlock)
    preloading = threading.Thread(target=_preload, args=(log,), name="preload", daemon=True)
    preloading.start()
    documents, plans, catalogues = structure_task(artifacts, manifest, prof)
    artifacts = dz.place_pages(artifacts, documents, plans)
    by_pos = {a.position: a for a in artifacts}
    # contact sheets need only the placed pages (and their thumbnails, kept since the page stage): drawn beside the
    # volume stage, which leaves a core idle while it builds one volume, instead of holding up the end of the run
    drawing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="contact-sheets")
    sheets_future = drawing.submit(_contact_sheets, folder, manifest.case_no, plans, by_pos, log)
    drawing.shutdown(wait=False)
    created = job.created or dz.now_utc()
    record = save_run(folder, record, created=created, volumes=len(plans), pages=sum(p.page_count for p in plans))
    signer = dz.signer_for_run(home, prof)
    dropped = drop_volumes_beyond(folder, len(plans))
    if dropped:
        log.info("removed volume(s) %s left by an earlier plan", dropped)

    preloading.join()
    progress.report("volumes", "total", len(plans))
    entries: dict[int, VolumeEntry] = {}
    reused: list[int] = []
    pending = {}
    for plan, cat in zip(plans, catalogues):
        pages = {p: by_pos[p] for p in plan.positions}
        context = dz.volume_context(plan, cat, artifacts, manifest, prof, created)
        digest = volume_input_digest(plan, context, pages, prof)
        entry = None if plan.number in job.rebuild else reusable_volume(folder, plan.number, digest)
        if entry is not None:
            entries[plan.number] = entry
            reused.append(plan.number)
            progress.report("volumes", "advance")
            continue
        pending[volume_task.submit(plan, pages, context, prof, folder, signer, created, digest)] = plan.number
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
    log.info("volumes: built %s, reused %s, failed %s", built or "none", sorted(reused) or "none",
             sorted(failed) or "none")

    summary_args = dict(artifacts=artifacts, plans=plans, volumes=entries, failed=failed, reused=reused,
                        pages_processed=len(results) - cached, pages_cached=cached, folder=folder)
    if failed:
        save_run(folder, record, status="failed", failed_volumes=sorted(failed),
                 error="; ".join(f"volume {n}: {m}" for n, m in sorted(failed.items()))[:2000])
        _artifacts(manifest.case_no, "volume(s) failed", summary_args, sheets_future.result(), home, log)
        raise VolumeError(f"case {manifest.case_no}: volume(s) {', '.join(map(str, sorted(failed)))} of {len(plans)} "
                          f"failed ({'; '.join(failed[n] for n in sorted(failed))}); the others are kept: "
                          f"'dossier rerun {manifest.case_no}' builds only what failed",
                          min(failed))

    volumes = [entries[p.number] for p in plans]
    summary = dz.finish_dossier(folder, manifest, batch, prof, artifacts, documents, catalogues, volumes, created,
                                dz.trust_roots_for_run(home), batch_id=job.batch_id)
    passed = bool(summary.report and summary.report.passed)
    log.info("dossier %s: %d volume(s), report %s", manifest.case_no, len(volumes), "passed" if passed else "FAILED")
    result = {"case_no": manifest.case_no, "case_key": summary.case_key, "folder": str(folder),
              "batch_id": job.batch_id, "volumes": len(volumes), "pages": sum(v.pages for v in volumes),
              "report_passed": passed, "published": False, "pages_processed": len(results) - cached,
              "pages_from_cache": cached, "volumes_built": built, "volumes_reused": sorted(reused)}
    if not passed:
        _artifacts(manifest.case_no, "checks FAILED", summary_args, sheets_future.result(), home, log)
        raise VolumeError(f"dossier {manifest.case_no} failed its checks: see {folder / 'report.json'}")
    record = save_run(folder, record, status="built", failed_volumes=[], error="")
    status = "built, not published"
    try:
        if job.publish:
            status = "publish FAILED"
            result.update(publish_task(home, folder, summary, batch, prof))
            status = f"published (manifest version {result.get('manifest_version')})"
            save_run(folder, record, status="published", manifest_version=result.get("manifest_version"))
            announce(result)
    finally:
        _artifacts(manifest.case_no, status, summary_args, sheets_future.result(), home, log)
    return result


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


def _artifacts(case_no: str, status: str, args: dict, sheets: dict[int, Path], home: Path, log) -> None:
    from flows.artifacts import publish_artifacts, sheet_url, summary_markdown

    urls = {n: sheet_url(p, home) for n, p in sheets.items()}
    publish_artifacts(case_no, summary_markdown(case_no, status, sheets=urls, **args), sheets, home, log)


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
    home = state_dir(state)
    batch_id = batch_id or Path(batch_dir).name
    batch = locate_batch(home, batch_dir)
    return build_dossier(Job(batch, batch_id, home, profile, case_no, publish))
