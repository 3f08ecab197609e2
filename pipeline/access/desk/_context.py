"""What every part of the desk shares: where it reads (the state folder, the runs' records), whom it asks (the
workflow engine), what it may show (:mod:`._scope`), and the audit log it writes to before anything is done."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path

from pipeline.access._audit import AuditLog
from pipeline.access._audit_first import AuditFirst
from pipeline.access._auth import Clock, Principal
from pipeline.access.db import Database
from pipeline.access.desk._claims import ReviewClaims
from pipeline.access.desk._images import RenderedImages
from pipeline.access.desk._orchestrator import Orchestrator
from pipeline.access.desk._scope import may_see
from pipeline.common import utcnow
from pipeline.dossier import RunRecord, find_runs
from pipeline.errors import CaseNumberError, RefusedError
from pipeline.settings import StateLayout

HIDDEN = "没有这一项，或您无权查看。"
"""What the desk answers for anything a person may not see, and for what does not exist: the same words."""

class Hidden(RefusedError):
    """Not the person's to see, or not there at all (403 either way, same words)."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class DeskSources:
    """Where the desk reads and whom it asks, given by the edge that runs the service."""

    home: Path
    orchestrator: Orchestrator | None = None
    hotfolders: tuple[Path, ...] = ()
    rooms_file: Path | None = None
    zone: tzinfo | None = None


@dataclass(frozen=True)
class RunSeen:
    """A run of a batch as the desk knows it from its record."""

    run_id: str
    case_no: str
    batch_id: str
    room: str
    status: str
    kind: str
    folder: Path
    updated: datetime
    review_volumes: tuple[int, ...] = ()
    failed_volumes: tuple[int, ...] = ()
    record: RunRecord | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, folder: Path, record: RunRecord) -> RunSeen:
        """From a run record (``run.json``)."""
        return cls(str(record.flow_run_id or ""), record.case_no, record.batch_id, record.room or "", record.status,
                   record.kind, folder, record.updated, tuple(record.review_volumes),
                   tuple(record.failed_volumes), record)


class DeskContext:
    """The desk's shared parts."""

    def __init__(self, sources: DeskSources, db: Database, audit: AuditLog, clock: Clock = utcnow):
        self.sources, self.db, self.audit, self.clock = sources, db, audit, clock
        self.claims = ReviewClaims(db, clock)
        self.rendered = RenderedImages()
        self.layout = StateLayout(Path(sources.home))

    @property
    def orchestrator(self) -> Orchestrator | None:
        """The workflow engine, when one is configured."""
        return self.sources.orchestrator

    @property
    def page_cache(self) -> Path:
        """The page cache the runs' images are in."""
        return self.layout.page_cache

    def runs(self, who: Principal, case_no: str | None = None) -> list[RunSeen]:
        """The runs (of a case) the person may see, newest first."""
        seen = [RunSeen.of(folder, record) for folder, record in find_runs(self.layout.root, case_no)]
        return [r for r in seen if may_see(who, r.room)]

    def run(self, who: Principal, run_id: str) -> RunSeen:
        """One run the person may see, by its flow run id (Hidden when it is not theirs or not there)."""
        found = next((r for r in self.runs(who) if r.run_id and r.run_id == run_id), None)
        if found is None:
            raise Hidden(f"run {run_id[:64]!r}: none the person may see")
        return found

    def batch_run(self, who: Principal, case_no: str, batch_id: str) -> RunSeen:
        """The latest run of a case's batch the person may see (Hidden when it is not theirs or not there)."""
        try:
            runs = self.runs(who, case_no)
        except CaseNumberError:
            runs = []
        found = next((r for r in runs if r.batch_id == batch_id), None)
        if found is None:
            raise Hidden(f"case {case_no[:64]!r} batch {batch_id[:64]!r}: none the person may see")
        return found

    @contextmanager
    def acting(self, who: Principal, action: str, run: RunSeen | None = None, **fields) -> Iterator[AuditFirst]:
        """An act of the desk, audited first: its entry (who, which run, what) is stored before the block runs (when
        it cannot be, nothing is done); a failure in the block records that the act did not happen."""
        about = {"case_no": run.case_no, "room": run.room or "-", "batch": run.batch_id, "run": run.run_id} \
            if run is not None else {}
        with AuditFirst(self.audit, _void, close=False) as act:
            act.announce(**{"actor": who.id, "agency": who.agency, "by": who.label, "action": f"desk.{action}",
                            "status": 0, "bytes": 0, "result": "ok", **about, **fields})
            yield act
            act.took_effect()


def _void(announced: dict, failure: str) -> dict:
    return {"actor": announced["actor"], "agency": announced["agency"], "action": "desk.void", "status": 0,
            "bytes": 0, "result": "void", "voids": announced["hash"], "detail": f"not done: {failure}"}
