"""The rooms and their batches as the desk shows them: one state per batch, computed by the library as
``dossier status`` computes it (:func:`pipeline.operations.status_report`), with how far a running batch is, its
pages, and the actions that fit it — requeue a quarantined batch, rerun a volume, reprocess a case — each audited
with the person before it is done, through the same library calls and deployments as the command line."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pipeline.access._auth import Principal
from pipeline.access.desk._context import DeskContext, Hidden, RunSeen
from pipeline.access.desk._orchestrator import OrchestratorUnavailable
from pipeline.access.desk._scope import every_room, may_reprocess, may_rerun, may_see, rooms_seen
from pipeline.access.desk._words import desk_reason
from pipeline.capture import inspect_batch
from pipeline.dossier import PageImage, RunProgress, find_runs, load_page_index, load_progress, run_files
from pipeline.errors import BadInputError, NotFoundError, RefusedError
from pipeline.models import BatchStatus, InputPolicy, StatusReport, WatcherSummary
from pipeline.operations import (
    HotFolder,
    Ledger,
    RoomsFile,
    entry_files,
    load_rooms_file,
    requeue,
    requeue_helps,
    status_report,
)

SECTIONS = (
    ("attention", "需要处理", ("quarantined", "held", "review")),
    ("moving", "进行中", ("arriving", "waiting", "claimed", "running", "retrying", "requeued")),
    ("published", "已发布", ("published",)),
)
"""How the desk groups batches: what needs a person, what is on its way, what is done."""
MOVING = frozenset(SECTIONS[1][2]) | {"review", "held"}
"""States in which a batch changes by itself (a review answered elsewhere, the machine back): a page showing one
refreshes itself."""


@dataclass(frozen=True)
class BatchRow:
    """One batch: its state (the library's), its run and how far it is."""

    status: BatchStatus
    run: RunSeen | None = None
    progress: RunProgress | None = None

    @property
    def pages(self) -> tuple[int, int] | None:
        """(pages done, of how many) while its pages are processed."""
        stage = self.progress.stages.get("pages") if self.progress else None
        return (stage.done, stage.total) if stage and stage.total else None

    @property
    def volumes(self) -> tuple[int, int] | None:
        """(volumes built, of how many) once the volume stage began."""
        stage = self.progress.stages.get("volumes") if self.progress else None
        return (stage.done, stage.total) if stage and stage.total else None


@dataclass(frozen=True)
class RoomView:
    """One room: its batches by section."""

    name: str
    sections: dict[str, list[BatchRow]] = field(default_factory=dict)

    def count(self, key: str) -> int:
        """Batches in a section."""
        return len(self.sections.get(key, ()))


@dataclass(frozen=True)
class RoomsView:
    """The rooms a person sees, their batches, and the watcher."""

    rooms: list[RoomView]
    watcher: WatcherSummary
    generated: datetime

    @property
    def moving(self) -> bool:
        """Whether a batch shown is on its way (the page refreshes itself)."""
        return any(r.status.state in MOVING for room in self.rooms for rows in room.sections.values() for r in rows)


@dataclass(frozen=True)
class BatchView:
    """One batch with its pages (the bad ones marked) and what may be done with it."""

    row: BatchRow
    pages: list[PageImage]
    bad: frozenset[int]
    may_requeue: bool
    may_rerun: bool
    why: str = ""
    detail: str = ""
    step: str = ""
    unread: bool = False  # the pages are the batch's files by name: it was refused before any page was read


def _files_of(folder: Path) -> list[PageImage]:
    """The page files of a quarantined batch by name, none of them opened (nothing of it is in the page cache when
    it was refused before its pages were read); none when its folder cannot be listed as a batch."""
    try:
        files = [f for f in inspect_batch(folder, InputPolicy()) if f.is_page]
    except (BadInputError, OSError):
        return []
    return [PageImage(position=n, file=f.name) for n, f in enumerate(files)]


def _sectioned(rows: Iterable[BatchRow], published: int) -> dict[str, list[BatchRow]]:
    found: dict[str, list[BatchRow]] = {key: [] for key, _, _ in SECTIONS}
    for row in rows:
        key = next((k for k, _, states in SECTIONS if row.status.state in states), "moving")
        found[key].append(row)
    found["published"] = found["published"][:published]
    return found


class Snapshot:
    """The state of every batch, computed at most once every ``ttl`` seconds however many people look (one
    computation at a time): the pages refresh every 5 s, and a state folder of a thousand batches takes a while to
    read. An action of the desk starts a new one at once."""

    def __init__(self, ttl: float = 2.0):
        self.ttl = ttl
        self._value: tuple | None = None
        self._at = 0.0
        self._lock = threading.Lock()

    def get(self, compute):
        """The current snapshot, computed now when the last one is older than ``ttl``."""
        with self._lock:
            if self._value is None or time.monotonic() - self._at >= self.ttl:
                self._value = compute()
                self._at = time.monotonic()
            return self._value

    def expire(self) -> None:
        """Forget the snapshot (something was just changed)."""
        with self._lock:
            self._value = None


class RoomsDesk:
    """Rooms, batches and the actions on them."""

    def __init__(self, context: DeskContext, snapshot_seconds: float = 2.0):
        self.ctx = context
        self.snapshot = Snapshot(snapshot_seconds)
        self._runs, self._entries = run_files(), entry_files()

    def known_rooms(self) -> list[str]:
        """Every room the desk knows of: bound in the rooms file, or a folder of the hot folder."""
        rooms: set[str] = set()
        path = self.ctx.sources.rooms_file
        if path is not None and Path(path).is_file():
            try:
                rooms |= set(load_rooms_file(Path(path)).rooms)
            except Exception:  # noqa: BLE001 - an invalid rooms file: the watcher says so; the desk shows the rest
                pass
        for hot in self.ctx.sources.hotfolders:
            try:
                rooms |= set(HotFolder(hot, RoomsFile()).rooms())
            except Exception:  # noqa: BLE001 - a hot folder that is gone has no rooms
                continue
        return sorted(rooms)

    def _rows(self, who: Principal, rooms: list[str]) -> tuple[list[BatchRow], StatusReport]:
        report, runs = self.snapshot.get(self._compute)
        by_id = {r.run_id: r for r in runs if r.run_id}
        by_batch = {(r.case_no, r.batch_id): r for r in reversed(runs)}
        wanted = set(rooms)
        rows = []
        for status in report.batches:
            if not may_see(who, status.room) or (wanted and status.room not in wanted):
                continue
            run = by_id.get(status.run_id or "") or by_batch.get((status.case_no, status.batch))
            progress = load_progress(run.folder) if run is not None and status.state in MOVING else None
            rows.append(BatchRow(status, run, progress))
        return rows, report

    def _compute(self) -> tuple[StatusReport, list[RunSeen]]:
        """Every batch of every room and every run: what all the desk's pages of the next moment are made from (the
        records that did not change since the last time are not read again)."""
        ctx = self.ctx
        root = ctx.layout.root
        runs = [RunSeen.of(folder, record) for folder, record in find_runs(root, files=self._runs)]
        report = status_report(root, [r.record for r in runs], ctx.sources.hotfolders, zone=ctx.sources.zone,
                               entries=Ledger(root).entries(self._entries))
        return report, runs

    def overview(self, who: Principal, room: str | None = None, published: int = 20) -> RoomsView:
        """The rooms the person sees (or one of them: Hidden when it is not theirs) with their batches."""
        if room is not None and not may_see(who, room):
            raise Hidden(f"room {room[:64]!r}: not one the person may see")
        names = [room] if room is not None else rooms_seen(who, self.known_rooms())
        wanted = names if room is not None or not every_room(who) else []
        rows, report = self._rows(who, wanted)
        rooms = sorted(set(names) | {r.status.room for r in rows})
        views = [RoomView(name, _sectioned([r for r in rows if r.status.room == name], published)) for name in rooms]
        return RoomsView(views, report.watcher, report.generated_at)

    def batch(self, who: Principal, room: str, batch: str) -> BatchView:
        """One batch of a room the person sees (Hidden for another's room; NotFoundError when there is none)."""
        view = self.overview(who, room, published=10_000)
        row = next((r for rows in view.rooms[0].sections.values() for r in rows if r.status.batch == batch), None) \
            if view.rooms else None
        if row is None:
            raise NotFoundError(f"room {room}: no batch {batch!r}")
        index = load_page_index(row.run.folder) if row.run is not None else None
        pages = index.pages if index else []
        unread = not pages and row.status.state == "quarantined"
        if unread:
            pages = _files_of(Path(row.status.where))
        reason = row.status.reason or ""
        bad = frozenset(p.position for p in pages if p.file in reason or (p.flags and not p.blank))
        may_requeue = row.status.state == "quarantined" and requeue_helps(row.status.reason_kind)
        return BatchView(row, pages, bad, may_requeue,
                         row.run is not None and may_rerun(who, row.run.status), *desk_reason(row.status),
                         unread=unread)

    def requeue(self, who: Principal, room: str, batch: str) -> str:
        """Put a quarantined batch of the person's room back in its room (audited first); where it went."""
        view = self.batch(who, room, batch)
        status = view.row.status
        where = Path(status.where)
        if status.state != "quarantined" or where.parent.parent.name != "quarantine":
            raise RefusedError(f"批次 {room}/{batch} 不在隔离区，无需重新排队")
        if not view.may_requeue:
            raise RefusedError(f"批次 {room}/{batch} 不能重新排队：同样的文件会再次被拒绝。{view.step}")
        with self.ctx.acting(who, "batch.requeue", view.row.run, room=room, batch=batch,
                             case_no=status.case_no or "-", detail=status.reason[:500]):
            entry = requeue(Ledger(self.ctx.layout.root), where.parent.parent.parent, room, batch, who.label)
        self.snapshot.expire()
        return entry.claim_path

    def rerun(self, who: Principal, room: str, batch: str, volume: int) -> str:
        """Rebuild one volume of a batch's dossier (audited first); the new run's id."""
        view = self.batch(who, room, batch)
        run = view.row.run
        if run is None or not view.may_rerun:
            raise RefusedError("只有运行失败的案卷可以由扫描员重做；已发布的案卷请管理员处理")
        if not 1 <= volume <= max(1, run.record.volumes):
            raise BadInputError(f"第{volume}卷不存在：该案共 {run.record.volumes} 卷")
        return self._start(who, "run.rerun", run, lambda o: o.rerun(run.case_no, [volume], run.batch_id, run.room),
                           volume=volume)

    def reprocess(self, who: Principal, room: str, batch: str, profile: str | None) -> str:
        """Rebuild a published case under a standard profile (desk administrators only; audited first)."""
        view = self.batch(who, room, batch)
        run = view.row.run
        if not may_reprocess(who):
            raise RefusedError("只有管理员可以按新的标准重新处理已发布的案卷")
        if run is None or view.row.status.state != "published":
            raise RefusedError("只有已发布的案卷可以重新处理")
        return self._start(who, "run.reprocess", run, lambda o: o.reprocess(run.case_no, profile, run.room),
                           profile=profile or "default")

    def _start(self, who: Principal, action: str, run: RunSeen, start, **fields) -> str:
        orchestrator = self.ctx.orchestrator
        if orchestrator is None:
            raise OrchestratorUnavailable("no workflow engine is configured for the desk (PREFECT_API_URL)")
        with self.ctx.acting(who, action, run, **fields):
            started = start(orchestrator)
        self.snapshot.expire()
        return started
