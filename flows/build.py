"""One dossier build: the job (which batch, settings, profile, what a rerun asks for) and its locked run, stage by
stage: pages, structure, volumes, checks, publication."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect.futures import as_completed

from flows import progress
from flows.publication import run_identity
from flows.safety import HostSlots
from flows.search import index_published
from flows.tasks import chunk_size, pages_task, publish_task, structure_task, volume_task
from pipeline import dossier as dz
from pipeline.capture import PageRef
from pipeline.common import utcnow_seconds
from pipeline.dossier import (
    Admission,
    RunRecord,
    drop_volumes_beyond,
    require_unchanged,
    reusable_volume,
    save_run,
    volume_input_digest,
)
from pipeline.errors import VolumeError
from pipeline.models import BatchManifest, StandardProfile, VolumeCatalogue, VolumeEntry
from pipeline.ocr import release_engine
from pipeline.pages import PageArtifact, PageCache, PageEnvironment, chunked
from pipeline.settings import Settings, StateLayout
from pipeline.storage import StoreConfig
from pipeline.structure import VolumePlan, has_title, reapply, reviewed_documents, volumes_to_review


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
    admission: Admission = Admission()  # the room's policy, the claim's fingerprint, the owner to keep
    review: str | None = None  # flagged | always | never: overrides the profile's review mode

    @property
    def layout(self) -> StateLayout:
        """The state folder's layout."""
        return StateLayout(self.home)

    @property
    def database_url(self) -> str:
        """The access database the run records the case's owner in and reads the audit key from."""
        return self.settings.access.database_url(self.layout)

    @property
    def workers(self) -> int:
        """Pages processed at once."""
        return self.settings.processing.page_workers


@dataclass
class DossierBuild:
    """One locked build of a dossier, stage by stage."""

    job: Job
    log: Any
    profile: StandardProfile
    manifest: BatchManifest
    folder: Path
    record: RunRecord
    summary_args: dict = field(default_factory=dict)
    corrections: list = field(default_factory=list)

    def build(self, refs: list[PageRef]) -> dict:
        """Pages, structure, volumes, checks, publication; returns the run's result (its progress kept in the work
        folder for the operators' desk meanwhile)."""
        stop_showing = progress.listen(dz.ProgressFile(self.folder))
        try:
            return self._build(refs)
        finally:
            stop_showing()

    def _build(self, refs: list[PageRef]) -> dict:
        artifacts, processed, cached = self.pages(refs)
        # fonts and pyHanko (~100 MB, ~1 s) load beside the structure stage, not during the volume stage; not earlier
        # either: beside the last pages' OCR they raised the peak RSS of a 1,000-page run. The volume stage waits for
        # it: importing the same packages from two threads at once can fail (import deadlock)
        preloading = threading.Thread(target=_preload, args=(self.log,), name="preload", daemon=True)
        preloading.start()
        documents, plans, catalogues = structure_task(artifacts, self.manifest, self.profile,
                                                      self.job.layout.ocr_cache, self.job.workers)
        # the reading is over: the engine's readers (~400 MB with PP-OCR) go before a review's wait, the volumes and
        # their checks
        release_engine()
        documents, catalogues = self.review(documents, catalogues, artifacts)
        artifacts = dz.place_pages(artifacts, documents, plans)
        self.show_pages(refs, artifacts)  # now with their places in the volumes
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
        self.summary_args = dict(artifacts=artifacts, plans=plans, volumes=entries, reused=reused,
                                 failed={n: f"{type(e).__name__}: {e}" for n, e in failed.items()},
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
        try:
            for fut in as_completed(futures):
                done = fut.result()
                for artifact, hit in done:
                    results[artifact.position] = (artifact, hit)
                progress.report("pages", "advance", len(done))
                if ocr:  # imaging and OCR are one task per chunk: a page done is a page OCRed (or found blank)
                    progress.report("ocr", "advance", len(done))
        finally:  # the desk shows the pages (those done, when a page failed the stage)
            self.show_pages(refs, [a for a, _ in results.values()])
        cached = sum(1 for _, hit in results.values() if hit)
        self.log.info("pages: %d processed, %d from cache", len(results) - cached, cached)
        return [results[i][0] for i in range(len(refs))], len(results) - cached, cached

    def show_pages(self, refs: list[PageRef], artifacts: list[PageArtifact]) -> None:
        """Record where the batch's pages are for the desk (pages not processed by their file name only)."""
        shown = {a.position: dz.page_image(a) for a in artifacts}
        for i, ref in enumerate(refs):
            shown.setdefault(i, dz.PageImage(position=i, file=ref.file, index=ref.index))
        try:
            dz.save_page_index(self.folder, list(shown.values()))
        except OSError as exc:  # only for looking: the run goes on
            self.log.warning("could not record the page index for the desk: %s", exc)

    def review(self, documents: list, catalogues: list[VolumeCatalogue],
               artifacts: list[PageArtifact]) -> tuple[list, list[VolumeCatalogue]]:
        """The 卷内目录 as a person left it: reviews of an earlier run of this batch applied again, then a pause per
        volume the review mode asks for (``--review``/room.yaml, else the profile's ``review``)."""
        from flows.review import audit_review, wait_for_review

        job, case_no = self.job, self.manifest.case_no
        mode = job.review or self.profile.review
        catalogues, self.corrections = reapply(catalogues, dz.load_corrections(self.folder))
        pending = volumes_to_review(catalogues, mode)
        self.log.info("卷内目录 review (%s): %s", mode, f"volume(s) {pending}" if pending else "none needed")
        if pending:
            by_number = {c.volume: c for c in catalogues}
            by_pos = {a.position: a for a in artifacts}
            for k, number in enumerate(pending):
                dz.save_review_sheet(self.folder, dz.review_sheet(case_no, by_number[number], len(catalogues),
                                                                  self.record.flow_run_id, documents, by_pos))
                self.record = save_run(self.folder, self.record, status="review", review_volumes=pending[k:])
                reviewed, records = wait_for_review(case_no, by_number[number], len(catalogues),
                                                    job.settings.processing.review_timeout, self.record.flow_run_id,
                                                    self.log)
                by_number[number] = reviewed
                self.corrections = [c for c in self.corrections if c.volume != number] + records
                dz.save_corrections(self.folder, self.corrections)
                if job.publish:
                    audit_review(StoreConfig.from_settings(job.settings.store, job.home), job.database_url, case_no,
                                 records)
                self.log.info("volume %d reviewed by %s: %d field(s) corrected", number, records[0].by if records
                              else "?", sum(1 for c in records if c.action == "corrected"))
            catalogues = [by_number[c.volume] for c in catalogues]
            self.record = save_run(self.folder, self.record, status="running", review_volumes=[])
        return (reviewed_documents(documents, catalogues) if self.corrections else documents), catalogues

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
        failed: dict[int, BaseException] = {}
        for fut in as_completed(list(pending)):
            number = pending[fut]
            outcome = fut.result(raise_on_failure=False)
            if isinstance(outcome, BaseException):
                failed[number] = outcome
            else:
                entries[number] = outcome
            progress.report("volumes", "advance")
        built = sorted(set(pending.values()) - set(failed))
        self.log.info("volumes: built %s, reused %s, failed %s", built or "none", sorted(reused) or "none",
                      sorted(failed) or "none")
        return entries, built, reused, failed

    def fail_volumes(self, failed: dict[int, BaseException], of: int) -> None:
        """Record the failed volumes and stop: the built ones are kept for a rerun; the error carries each volume's
        own (whose classes tell the machine's faults from the batch's)."""
        case_no = self.manifest.case_no
        said = {n: f"{type(e).__name__}: {e}" for n, e in sorted(failed.items())}
        save_run(self.folder, self.record, status="failed", failed_volumes=sorted(failed),
                 error="; ".join(f"volume {n}: {m}" for n, m in said.items())[:2000])
        self.artifacts("volume(s) failed")
        raise VolumeError(f"case {case_no}: volume(s) {', '.join(map(str, sorted(failed)))} of {of} failed "
                          f"({'; '.join(said.values())}); the others are kept: "
                          f"'dossier rerun {case_no}' builds only what failed", min(failed),
                          causes=tuple(failed[n] for n in sorted(failed)))

    def check(self, artifacts, documents, catalogues, volumes: list[VolumeEntry], created: datetime) -> dict:
        """Write catalogue, manifest and report, and run the four-property checks; stop when they fail."""
        job, case_no = self.job, self.manifest.case_no
        roots = dz.trust_roots_for_run(job.settings.signing, job.layout.signing)
        self.summary = dz.finish_dossier(self.folder, self.manifest, job.batch_dir, self.profile, artifacts,
                                         documents, catalogues, volumes, created, roots, batch_id=job.batch_id,
                                         corrections=self.corrections)
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
                require_unchanged(job.batch_dir, job.batch_id, job.admission, self.profile, self.record.fingerprint)
                store = StoreConfig.from_settings(job.settings.store, job.home)
                who = run_identity(job.kind, job.admission.room)
                result.update(publish_task(store, self.folder, self.summary, job.batch_dir, self.profile, who,
                                           job.database_url))
                result["search_entries"] = index_published(job.settings, job.layout, self.folder, self.summary,
                                                           result.get("manifest_version"))
                status = f"published (manifest version {result.get('manifest_version')})"
                save_run(self.folder, self.record, status="published", manifest_version=result.get("manifest_version"))
                announce(result)
        finally:
            self.artifacts(status)
        return result

    def artifacts(self, status: str) -> None:
        """The run's summary and contact sheets in the Prefect UI."""
        from flows.artifacts import publish_artifacts, sheet_url, summary_markdown

        sheets, case_no = self.sheets.result(), self.manifest.case_no
        base = self.job.settings.service.artifact_base_url
        urls = {n: sheet_url(p, base, case_no, self.job.batch_id, n) for n, p in sheets.items()}
        markdown = summary_markdown(case_no, status, sheets=urls, corrections=self.corrections, **self.summary_args)
        publish_artifacts(case_no, markdown, urls, self.log)


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
