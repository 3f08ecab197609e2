"""The process-batch flow: a batch folder in, a signed, checked and published dossier out.

Thin glue: every step is a library function from ``pipeline``; this module decides what runs as a Prefect task, what
runs in parallel, what is locked, what is kept for a rerun, and what gets logged. :func:`build_dossier` is the one
body shared by the three flows (process-batch here, rerun-volume and reprocess-case in :mod:`flows.rerun`).

What a rerun can count on (see :mod:`pipeline.dossier`'s run record): every finished page is in the page cache
(keyed by content, profile and pipeline version), and every volume that was built is recorded beside its PDF with the
digest of its inputs. Running the same batch again, by ``dossier rerun``, by ``prefect flow-run retry`` or from the
UI, recomputes the plan from the cached pages and rebuilds only the volumes that are missing or whose inputs changed.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Literal

from prefect import flow, get_run_logger

from flows.artifacts import report_failure
from flows.build import DossierBuild, Job
from flows.runlabels import label_run
from flows.runtime import current_api_url, current_flow_run_id
from flows.safety import case_lock
from flows.tasks import default_task_runner, ingest
from pipeline.dossier import (
    Admission,
    RunRecord,
    load_run,
    save_run,
    work_folder,
)
from pipeline.errors import BadInputError
from pipeline.messages import use_language
from pipeline.models import StandardProfile
from pipeline.ocr import check_engine, warm_engine
from pipeline.operations import Ledger, RoomPolicy, record_run_fault
from pipeline.settings import Settings
from pipeline.standard import load_profile
from pipeline.storage import case_key


def locate_batch(home: Path, batch_dir: str | Path) -> Path:
    """The batch folder: where it was given, or where the hot-folder ledger says it went (a retried run whose batch
    was quarantined meanwhile)."""
    path = Path(os.path.abspath(batch_dir))  # not resolved: a batch folder that is a link is refused at ingest
    if path.is_dir():
        return path
    moved = Ledger(home).locate(path)
    if moved is not None and moved.is_dir():
        return Path(os.path.abspath(moved))
    raise BadInputError(f"batch folder {path} does not exist, and the hot-folder ledger in {home} does not know "
                        f"where it went")


def warm_up(profile: StandardProfile, workers: int) -> threading.Thread:
    """Load the OCR engine for the page workers in a thread, beside work that leaves a core idle."""
    thread = threading.Thread(target=warm_engine, args=(profile.ocr, workers), name="ocr-warm-up", daemon=True)
    thread.start()
    return thread


def label(job: Job) -> None:
    """Name and tag the run by its case (the one given, else batch.json's) before anything can fail."""
    from pipeline.capture import read_batch_manifest

    case_no = job.case_no
    if not case_no:
        try:
            manifest = read_batch_manifest(job.batch_dir)
        except Exception:  # noqa: BLE001 - a bad batch.json is reported by the ingest, with its file named
            manifest = None
        case_no = manifest.case_no if manifest is not None else None
    if case_no:
        label_run(case_no, job.kind, job.rebuild, job.admission.room or "", job.batch_id,
                  job.profile if job.kind == "reprocess" else None)


def build_dossier(job: Job) -> dict:
    """Ingest, process pages, plan, build (or reuse) volumes, check, publish: under the case's lock."""
    log = get_run_logger()
    label(job)
    prof = load_profile(job.profile)
    check_engine(prof.ocr)  # the OCR engine and its model files are installed, before anything is read
    warm_up(prof, job.workers)  # beside hashing the batch and taking the case lock
    manifest, refs, sealed = ingest(job.batch_dir, job.batch_id, job.case_no, job.workers, prof, job.admission,
                                    job.publish, job.settings, job.home)
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
                           flow_run_id=current_flow_run_id(), publish=job.publish, review=job.review,
                           api_url=current_api_url(), owner=manifest.agency, room=job.admission.room,
                           fingerprint=sealed)
        record = save_run(folder, record)
        run = DossierBuild(job, log, prof, manifest, folder, record)
        try:
            result = run.build(refs)
        except BaseException as exc:
            latest = load_run(folder) or record
            save_run(folder, latest, status="failed", error=f"{type(exc).__name__}: {exc}"[:2000])
            raise
        result.update({"locked_at": locked_at, "unlocked_at": time.time(), "lock": lock_name})
    return result


@flow(name="process-batch", task_runner=default_task_runner(), on_failure=[report_failure])
def process_batch(batch_dir: str, case_no: str | None = None, profile: str | None = None,
                  state: str | None = None, publish: bool = True, batch_id: str | None = None,
                  review: Literal["flagged", "always", "never"] | None = None,
                  room: RoomPolicy | None = None, fingerprint: str | None = None, agency: str | None = None) -> dict:
    """Process one batch folder into a signed PDF/A dossier and publish it (dossier.json last).

    ``batch_id`` defaults to the folder's name; the hot-folder watcher passes the name the batch was dropped with,
    its room's policy (the agencies and case numbers the administrator allows it) and the claim's fingerprint.
    A retried run whose batch has since moved to quarantine finds it through the hot-folder ledger. ``review``
    overrides the profile's: the run pauses for a person to check the 卷内目录 when a field is in doubt (flagged),
    always, or never (the flags are published in the catalogue). ``agency`` owns the dossier of a batch run by hand
    whose batch.json names none; a dossier nobody owns is refused before any page work.
    """
    try:
        settings = Settings.load()
        use_language(settings.locale.language)
        home = settings.layout(state).root
        batch_id = batch_id or Path(batch_dir).name
        batch = locate_batch(home, batch_dir)
        return build_dossier(Job(batch, batch_id, home, settings, profile, case_no, publish, review=review,
                                 admission=Admission.of_room(room, fingerprint) if room or not agency
                                 else Admission(owner=agency.strip())))
    except Exception as exc:
        if fingerprint and state:  # a hot-folder batch: the watcher acts on the error's class, recorded here
            record_run_fault(Path(state), fingerprint, current_flow_run_id(), exc)
        raise
