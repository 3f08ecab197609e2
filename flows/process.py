"""The process-batch flow: a batch folder in, a signed, checked and published dossier out.

Thin glue: every step is a library function from ``pipeline``; this module only decides what runs as a Prefect task,
what runs in parallel, and what gets logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from prefect import flow, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE

from pipeline import dossier as dz
from pipeline.artifacts import Document, PageArtifact, VolumeContext, VolumePlan
from pipeline.config import state_dir
from pipeline.errors import BadInputError, VolumeError
from pipeline.ingest import PageRef, list_pages, read_manifest
from pipeline.models import BatchManifest, StandardProfile, VolumeCatalogue, VolumeEntry
from pipeline.page import PageCache, PageEnvironment, process_page
from pipeline.standard import load_profile


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
    return manifest, list_pages(batch_dir)


@task(name="page", task_run_name="page-{position}", cache_policy=NO_CACHE)
def page_task(position: int, ref: PageRef, env: PageEnvironment) -> tuple[PageArtifact, bool]:
    """Process one page, or take it from the page cache."""
    return process_page(position, ref, env)


@task(name="structure", cache_policy=NO_CACHE)
def structure_task(artifacts: Sequence[PageArtifact], manifest: BatchManifest, profile: StandardProfile
                   ) -> tuple[list[Document], list[VolumePlan], list[VolumeCatalogue]]:
    """Find the documents, pack them into volumes, and make each volume's 卷内目录."""
    from pipeline.structure import find_documents, plan_volumes, volume_catalogue

    dz.require_no_review(artifacts)
    documents = find_documents(artifacts, manifest)
    plans = plan_volumes(documents, profile.volumes.max_pages)
    return documents, plans, [volume_catalogue(plan, documents) for plan in plans]


@task(name="volume", task_run_name="volume-{plan.number}", cache_policy=NO_CACHE)
def volume_task(plan: VolumePlan, pages: dict[int, PageArtifact], context: VolumeContext,
                profile: StandardProfile, folder: Path, signer, created: datetime) -> VolumeEntry:
    """Render, PDF/A-finish and sign one volume."""
    try:
        return dz.make_volume(plan, pages, context, folder, profile, signer, created)
    except VolumeError:
        raise
    except Exception as exc:
        raise VolumeError(f"volume {plan.number} of case {context.case_no} failed: {exc}", plan.number) from exc


@flow(name="process-batch")
def process_batch(batch_dir: str, case_no: str | None = None, profile: str | None = None,
                  state: str | None = None, publish: bool = True) -> dict:
    """Process one batch folder into a signed PDF/A dossier and publish it (dossier.json last)."""
    log = get_run_logger()
    home = state_dir(state)
    prof = load_profile(profile)
    batch = Path(batch_dir).resolve()
    manifest, refs = ingest(batch, case_no)
    log.info("batch %s: case %s, %d pages, standard %s", batch.name, manifest.case_no, len(refs), prof.key)

    env = PageEnvironment(batch, prof, PageCache(home / "cache" / "pages"), home / "cache" / "ocr", manifest.dpi)
    futures = page_task.map(list(range(len(refs))), refs, unmapped(env))
    results = [f.result() for f in futures]
    artifacts = [a for a, _ in results]
    cached = sum(1 for _, hit in results if hit)
    log.info("pages: %d processed, %d from cache", len(results) - cached, cached)

    documents, plans, catalogues = structure_task(artifacts, manifest, prof)
    artifacts = dz.place_pages(artifacts, documents, plans)
    by_pos = {a.position: a for a in artifacts}
    created = dz.now_utc()
    folder = home / "work" / dz.case_key(manifest.case_no) / batch.name
    signer = dz.signer_for_run(home, prof)

    dz.clear_volumes(folder)
    vol_futures = [
        volume_task.submit(plan, {p: by_pos[p] for p in plan.positions},
                           dz.volume_context(plan, cat, artifacts, manifest, prof, created), prof, folder, signer,
                           created)
        for plan, cat in zip(plans, catalogues)
    ]
    volumes = [f.result() for f in vol_futures]

    summary = dz.finish_dossier(folder, manifest, batch, prof, artifacts, documents, catalogues, volumes,
                                created, dz.trust_roots_for_run(home))
    log.info("dossier %s: %d volume(s), report %s", manifest.case_no, len(volumes),
             "passed" if summary.report and summary.report.passed else "FAILED")
    result = {"case_no": manifest.case_no, "case_key": summary.case_key, "folder": str(folder),
              "volumes": len(volumes), "pages": sum(v.pages for v in volumes),
              "report_passed": bool(summary.report and summary.report.passed), "published": False,
              "pages_processed": len(results) - cached, "pages_from_cache": cached}
    if summary.report is None or not summary.report.passed:
        raise VolumeError(f"dossier {manifest.case_no} failed its checks: see {folder / 'report.json'}")
    if publish:
        result.update(publish_task(home, folder, summary, batch, prof))
        announce(result)
    return result


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


@task(name="publish", cache_policy=NO_CACHE, retries=0)
def publish_task(home: Path, folder: Path, manifest, batch: Path, profile: StandardProfile) -> dict:
    """Publish the dossier: volumes, originals, catalogue, report, then dossier.json."""
    return dz.publish_folder(home, folder, manifest, batch, profile)
