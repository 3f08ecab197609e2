"""Reruns and reprocessing: finish a failed dossier from what its run left, or rebuild one from its archived originals.

- ``rerun-volume`` finds the case's latest run record in the state folder (``work/<case-key>/<batch-id>/run.json``),
  finds the batch (where the run read it, or where the hot-folder ledger says it went: quarantine), recomputes the
  plan from the page cache and rebuilds only the volumes asked for (default: those missing or failed). Volumes that
  were built are reused; on success the dossier is published and a quarantined batch moves on to ``done/``.
- ``reprocess-case`` downloads the originals of the published dossier from the store (fixity-checked against its
  manifest), builds the dossier again under the given standard profile and publishes a new manifest version that
  supersedes the old one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from prefect import flow, get_run_logger

from flows.artifacts import report_failure
from flows.build import Job
from flows.process import build_dossier, default_task_runner, locate_batch
from flows.runtime import current_flow_run_id
from pipeline.dossier import Admission, RunRecord, find_runs
from pipeline.errors import DossierError, StoreError
from pipeline.settings import Settings
from pipeline.storage import ObjectStore, StoreConfig, case_key, dossier_prefix, load_manifest


class NothingToRerun(DossierError):
    """The case has no run in this state folder that a rerun could finish."""


def latest_run(home: Path, case_no: str, batch_id: str | None = None) -> tuple[Path, RunRecord]:
    """The run record a rerun continues: the given batch's, else the case's most recent."""
    runs = [(f, r) for f, r in find_runs(home, case_no) if batch_id is None or r.batch_id == batch_id]
    if not runs:
        which = f" batch {batch_id}" if batch_id else ""
        raise NothingToRerun(f"no run of case {case_no}{which} in {home / 'work'}: process the batch first, or use "
                             f"'dossier reprocess' for a published case")
    return runs[0]


@flow(name="rerun-volume", task_runner=default_task_runner(), on_failure=[report_failure])
def rerun_volume(case_no: str, volumes: list[int] | None = None, batch_id: str | None = None,
                 state: str | None = None, publish: bool | None = None) -> dict:
    """Finish a failed dossier: rebuild the given volumes (default: whichever are missing), reuse the rest and every
    cached page, then check and publish."""
    log = get_run_logger()
    settings = Settings.load()
    home = settings.layout(state).root
    folder, record = latest_run(home, case_no, batch_id)
    if record.status == "published" and not volumes:
        raise NothingToRerun(f"case {case_no} batch {record.batch_id} was published at {record.updated:%Y-%m-%d %H:%M}"
                             f" (manifest version {record.manifest_version}): nothing failed; name --volume to "
                             f"rebuild one anyway")
    batch = locate_batch(home, record.batch_dir)
    log.info("rerun of case %s batch %s (last run %s: %s%s) from %s; volumes asked for: %s", case_no,
             record.batch_id, record.flow_run_id or "-", record.status,
             f", failed volumes {record.failed_volumes}" if record.failed_volumes else "", batch,
             volumes or "whichever are missing")
    admission = Admission(owner=record.owner or None, fingerprint=record.fingerprint or None, room=record.room)
    result = build_dossier(Job(batch, record.batch_id, home, settings, record.profile, record.case_no,
                               record.publish if publish is None else publish, "rerun",
                               frozenset(volumes or ()), record.created, review=record.review,
                               admission=admission))
    from pipeline.operations import settle_after_rerun

    moved = settle_after_rerun(home, record.case_no, record.batch_id, current_flow_run_id() or "rerun")
    for entry in moved:
        log.info("batch %s/%s moved from quarantine to %s", entry.room, entry.batch, entry.outcome_path)
    return result


def download_originals(settings: Settings, home: Path, case_no: str) -> tuple[Path, str, str, str]:
    """The originals of a published dossier, downloaded and checked against its manifest into
    ``<state>/reprocess/<case-key>/<batch-id>/``; returns (folder, batch id, standard the dossier was built to,
    owning agency)."""
    store = ObjectStore(StoreConfig.from_settings(settings.store, home))
    manifest = load_manifest(store, case_no).manifest
    batches = sorted({o.batch for o in manifest.originals})
    if len(batches) != 1:
        raise StoreError(f"dossier {case_no} has originals of {len(batches)} batches ({', '.join(batches) or 'none'}):"
                         f" reprocessing needs exactly one")
    batch_id = batches[0]
    target = home / "reprocess" / case_key(case_no) / batch_id
    if target.exists():
        shutil.rmtree(target)  # our own scratch copy from an earlier reprocessing
    target.mkdir(parents=True)
    prefix = dossier_prefix(case_no)
    for entry in manifest.originals:
        dest = target / entry.file
        if dest.resolve().parent != target.resolve():
            raise StoreError(f"original {entry.key} of {case_no} is not a plain file name")
        digest, size = store.download(prefix + entry.key, dest, manifest.object_versions.get(entry.key))
        if digest != entry.sha256.lower() or size != entry.bytes:
            raise StoreError(f"original {entry.key} of {case_no}: downloaded {size} bytes with SHA-256 {digest}, the "
                             f"manifest says {entry.bytes} bytes and {entry.sha256}")
    return target, batch_id, manifest.standard, manifest.agency


@flow(name="reprocess-case", task_runner=default_task_runner(), on_failure=[report_failure])
def reprocess_case(case_no: str, profile: str | None = None, state: str | None = None, publish: bool = True) -> dict:
    """Rebuild a published dossier from its archived originals under a (new) standard profile and republish it."""
    log = get_run_logger()
    settings = Settings.load()
    home = settings.layout(state).root
    if publish:  # who asked to reprocess what, stored before the originals are read
        from flows.publication import audit_reprocess, run_identity

        audit_reprocess(StoreConfig.from_settings(settings.store, home),
                        settings.access.database_url(settings.layout(home)), case_no, profile,
                        run_identity("reprocess"))
    batch, batch_id, old_standard, owner = download_originals(settings, home, case_no)
    log.info("reprocessing case %s from its originals (batch %s, %d files), built before to %s", case_no, batch_id,
             sum(1 for _ in batch.iterdir()), old_standard)
    # batch.json travels with the originals and names the case exactly; without one the case number given is used
    given = None if (batch / "batch.json").is_file() else case_no
    result = build_dossier(Job(batch, batch_id, home, settings, profile, given, publish, "reprocess",
                               admission=Admission(owner=owner)))
    log.info("case %s republished: manifest version %s supersedes %s", case_no, result.get("manifest_version"),
             result.get("supersedes"))
    return result
