"""Hot folders without Prefect: when a batch is complete, how it is claimed exactly once, and where it ends up.

Layout of a hot folder (``ROOT``)::

    ROOT/<room>/room.yaml                 optional per-room settings (RoomConfig)
    ROOT/<room>/<batch>/…                 batches being dropped by the scanning room
    ROOT/.processing/<room>/<batch>/      claimed batches (the claim is an atomic rename into here)
    ROOT/done/<room>/<batch>[~N]/         processed and published
    ROOT/quarantine/<room>/<batch>[~N]/   failed, refused or duplicate; ``reason.txt`` is written inside, after the move

``done``, ``quarantine`` and names starting with ``.`` or ``_`` are not rooms. Files are never written inside a batch
before it is in an outcome folder, and never modified or deleted; ``reason.txt`` is the only file ever added.

A claimed batch is recorded in the ledger (``<state>/hotfolder/ledger/<fingerprint>.json``) under its fingerprint:
room, batch name and every file's relative path, size and SHA-256. The ledger and the ``.processing`` area together
make a crash at any point recoverable: whatever is in ``.processing`` is resumed with the same idempotency key, and a
batch whose fingerprint was already processed is a duplicate and goes to quarantine without a second run.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.capture import MANIFEST_NAME, READY_MARKER
from pipeline.common import write_atomic
from pipeline.errors import DossierError

PROCESSING = ".processing"
DONE = "done"
QUARANTINE = "quarantine"
ROOM_CONFIG = "room.yaml"
REASON_FILE = "reason.txt"
RESERVED = {PROCESSING, DONE, QUARANTINE}

# Names that copy tools give files they are still writing; a batch holding one is not complete.
IN_PROGRESS_SUFFIXES = (".part", ".partial", ".tmp", ".temp", ".crdownload", ".filepart", ".download", ".!sync")
_RSYNC_TEMP = re.compile(r"^\..+\.[A-Za-z0-9]{6}$")  # rsync writes .name.XXXXXX and renames it at the end
# Left out of the fingerprint: a READY marker's content means nothing, reason.txt is ours.
NOT_FINGERPRINTED = {READY_MARKER, REASON_FILE}
NOT_PAGES = {READY_MARKER, MANIFEST_NAME, REASON_FILE}


class HotFolderError(DossierError):
    """A hot folder, room configuration or ledger entry is unusable."""


def utcnow() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------------------------------------------------
# Room configuration


class RoomConfig(BaseModel):
    """Per-room settings, read from ``<room>/room.yaml``; every field has a default."""

    model_config = ConfigDict(extra="forbid")

    completion: Literal["marker", "quiet"] = Field(
        default="marker", description="marker: READY or batch.json written last; quiet: no change for quiet_seconds")
    quiet_seconds: float = Field(default=300.0, gt=0,
                                 description="quiet period; in marker mode also accepts a marker not written last")
    settle_seconds: float = Field(default=2.0, ge=0, description="sizes and mtimes must hold still this long")
    profile: str | None = Field(default=None, description="standard profile (built-in name or YAML path)")
    work_queue: str | None = Field(default=None, description="Prefect work queue; default: the room name")
    deployment: str | None = Field(default=None, description="deployment to run; default: the watcher's")


def load_room_config(room_dir: Path) -> RoomConfig:
    """The room's settings from ``room.yaml`` (defaults when absent); raises HotFolderError naming the file."""
    path = room_dir / ROOM_CONFIG
    if not path.is_file():
        return RoomConfig()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return RoomConfig.model_validate(data)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValidationError) as exc:
        raise HotFolderError(f"{path}: invalid room configuration: {exc}") from exc


# --------------------------------------------------------------------------------------------------------------------
# Completeness


@dataclass(frozen=True)
class FileState:
    """What the watcher compares between looks at a file."""

    size: int
    mtime_ns: int
    ctime_ns: int

    @property
    def arrived_ns(self) -> int:
        """When the file last changed here: ctime cannot be set back by copy tools that keep the source mtime."""
        return max(self.mtime_ns, self.ctime_ns)


Snapshot = dict[str, FileState]


def snapshot(batch_dir: Path) -> Snapshot:
    """Every file under the batch folder (relative POSIX path → size and times); empty if the folder is gone."""
    found: Snapshot = {}
    try:
        for dirpath, dirnames, filenames in os.walk(batch_dir):
            dirnames.sort()
            for name in filenames:
                path = Path(dirpath) / name
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue  # a pipe or device is never read (ingest refuses the batch by name)
                found[path.relative_to(batch_dir).as_posix()] = FileState(st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    except FileNotFoundError:
        return {}
    return found


def in_progress_files(snap: Snapshot) -> list[str]:
    """Files whose names say a copy tool is still writing them."""
    out = []
    for rel in snap:
        name = rel.rsplit("/", 1)[-1]
        if name.lower().endswith(IN_PROGRESS_SUFFIXES) or name.startswith("~$") or _RSYNC_TEMP.match(name):
            out.append(rel)
    return out


@dataclass(frozen=True)
class Readiness:
    """Whether a batch may be claimed now, and why (or why not)."""

    ready: bool
    reason: str


def marker_of(snap: Snapshot) -> str | None:
    """The completion marker present: READY if there is one, else batch.json, else None."""
    for name in (READY_MARKER, MANIFEST_NAME):
        if name in snap:
            return name
    return None


def readiness(snap: Snapshot, config: RoomConfig, stable_for: float, now: float | None = None) -> Readiness:
    """Decide completeness from a snapshot and how long (seconds) it has been seen unchanged.

    A batch holding only markers is never complete. A marker (READY, else batch.json) written last makes the batch
    complete once everything has held still for ``settle_seconds``. A batch that has been quiet for ``quiet_seconds`` is complete in quiet mode, and in marker
    mode too when it has a marker that was not written last.
    """
    now = time.time() if now is None else now
    if not snap:
        return Readiness(False, "empty")
    if not any(rel not in NOT_PAGES for rel in snap):
        # e.g. batch.json copied first: it is "last" only until the first page arrives
        return Readiness(False, "no page files yet")
    busy = in_progress_files(snap)
    if busy:
        return Readiness(False, f"still being written: {', '.join(sorted(busy)[:3])}")
    if stable_for < config.settle_seconds:
        return Readiness(False, f"changing (unchanged for {stable_for:.1f} s of {config.settle_seconds:g} s)")
    newest = max(s.arrived_ns for s in snap.values()) / 1e9
    quiet = max(stable_for, now - newest)
    marker = marker_of(snap)
    if marker is not None:
        marker_time = snap[marker].arrived_ns
        later = sorted(rel for rel, s in snap.items() if rel != marker and s.arrived_ns > marker_time)
        if not later:
            return Readiness(True, f"{marker} written last")
        if quiet >= config.quiet_seconds:
            return Readiness(True, f"{marker} present but not written last; quiet for {quiet:.0f} s")
        return Readiness(False, f"{', '.join(later[:3])} written after {marker}; waiting for a new marker or "
                                f"{config.quiet_seconds:g} s of quiet")
    if config.completion == "quiet":
        if quiet >= config.quiet_seconds:
            return Readiness(True, f"quiet for {quiet:.0f} s")
        return Readiness(False, f"quiet for {quiet:.0f} s of {config.quiet_seconds:g} s")
    return Readiness(False, f"waiting for {READY_MARKER} or {MANIFEST_NAME}")


class StabilityTracker:
    """Remembers each batch's last snapshot and since when it has been unchanged."""

    def __init__(self) -> None:
        self._seen: dict[Path, tuple[Snapshot, float]] = {}

    def observe(self, batch_dir: Path, snap: Snapshot, now: float | None = None) -> float:
        """Record a look at the batch; returns how many seconds its snapshot has been unchanged."""
        now = time.monotonic() if now is None else now
        last = self._seen.get(batch_dir)
        if last is None or last[0] != snap:
            self._seen[batch_dir] = (snap, now)
            return 0.0
        return now - last[1]

    def forget(self, batch_dir: Path) -> None:
        """Drop what is known of a batch (claimed, or gone)."""
        self._seen.pop(batch_dir, None)

    def tracked(self) -> list[Path]:
        """Batches being watched for stability."""
        return list(self._seen)


# --------------------------------------------------------------------------------------------------------------------
# Fingerprints


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def fingerprint(room: str, batch: str, batch_dir: Path) -> str:
    """SHA-256 over room, batch name and every file's relative path, size and SHA-256 (READY and reason.txt left
    out): the same batch dropped twice has the same fingerprint."""
    h = hashlib.sha256(f"dossier-batch/1\0{room}\0{batch}\0".encode())
    for rel in sorted(snapshot(batch_dir)):
        if rel in NOT_FINGERPRINTED:
            continue
        path = batch_dir / rel
        h.update(f"{rel}\0{path.stat().st_size}\0{_sha256(path)}\n".encode())
    return h.hexdigest()


def idempotency_key(fp: str) -> str:
    """The flow-run idempotency key of a batch fingerprint (deliberate reprocessing uses a different key)."""
    return f"dossier-batch-{fp}"


# --------------------------------------------------------------------------------------------------------------------
# The folder


def _valid_name(name: str) -> bool:
    return bool(name) and not name.startswith((".", "_")) and name not in RESERVED


class HotFolder:
    """A hot folder root: its rooms, incoming batches, the claim area and the outcome folders."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise HotFolderError(f"hot folder {self.root} does not exist or is not a folder")

    def rooms(self) -> list[str]:
        """Room folders, sorted."""
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _valid_name(p.name))

    def room_config(self, room: str) -> RoomConfig:
        """A room's settings."""
        return load_room_config(self.root / room)

    def incoming(self, room: str) -> list[Path]:
        """Batch folders waiting in a room (not yet claimed)."""
        folder = self.root / room
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.is_dir() and _valid_name(p.name))

    def room_of(self, path: Path) -> tuple[str, str] | None:
        """(room, batch) when a path lies inside an incoming batch folder, else None."""
        try:
            parts = Path(path).resolve().relative_to(self.root).parts
        except ValueError:
            return None
        if len(parts) < 2 or not _valid_name(parts[0]) or not _valid_name(parts[1]):
            return None
        return parts[0], parts[1]

    def claim_path(self, room: str, batch: str) -> Path:
        """Where a claimed batch lives while it is processed."""
        return self.root / PROCESSING / room / batch

    def claim(self, batch_dir: Path) -> Path | None:
        """Claim a batch by an atomic rename into ``.processing/<room>/``; None if it is gone or the name is taken
        by a batch still in flight (it is tried again later)."""
        batch_dir = Path(batch_dir)
        room = batch_dir.parent.name
        target = self.claim_path(room, batch_dir.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            return None
        try:
            # rename(2) replaces an empty target folder silently; the check above and a non-empty batch make a
            # lost race fail with ENOTEMPTY instead.
            os.rename(batch_dir, target)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if target.exists():
                return None
            raise HotFolderError(f"cannot claim batch {batch_dir}: {exc}") from exc
        return target

    def unclaim(self, claimed: Path, room: str) -> bool:
        """Put a claimed batch back into its room (it changed while being claimed); False if the name is taken."""
        back = self.root / room / claimed.name
        if back.exists():
            return False
        os.rename(claimed, back)
        return True

    def processing(self) -> list[tuple[str, Path]]:
        """Every claimed batch: (room, path)."""
        base = self.root / PROCESSING
        if not base.is_dir():
            return []
        return [(room.name, batch) for room in sorted(base.iterdir()) if room.is_dir()
                for batch in sorted(room.iterdir()) if batch.is_dir()]

    def outcome_path(self, outcome: Literal["done", "quarantine"], room: str, batch: str) -> Path:
        """A free path in an outcome folder: ``<outcome>/<room>/<batch>``, or ``<batch>~2``, ``~3``… when taken."""
        folder = self.root / outcome / room
        folder.mkdir(parents=True, exist_ok=True)
        candidate = folder / batch
        n = 2
        while candidate.exists():
            candidate = folder / f"{batch}~{n}"
            n += 1
        return candidate


def write_reason(folder: Path, text: str) -> Path:
    """Write ``reason.txt`` inside a quarantined batch (only ever after it was moved to quarantine)."""
    if folder.parent.parent.name != QUARANTINE:
        raise HotFolderError(f"refusing to write {REASON_FILE} into {folder}: it is not in a quarantine folder")
    path = folder / REASON_FILE
    write_atomic(path, (text.rstrip() + "\n").encode("utf-8"))
    return path


# --------------------------------------------------------------------------------------------------------------------
# The ledger

EntryState = Literal["claimed", "submitted", "settling", "done", "quarantined"]
SETTLED = ("done", "quarantined")


class LedgerEntry(BaseModel):
    """One batch as the watcher handled it, keyed by its fingerprint."""

    model_config = ConfigDict(extra="ignore")

    fingerprint: str
    room: str
    batch: str = Field(description="batch id: the folder name as dropped")
    hotfolder: str
    claim_path: str
    key: str = Field(description="idempotency key of its flow run")
    state: EntryState = "claimed"
    case_no: str = ""
    run_id: str | None = None
    deployment: str | None = None
    outcome_path: str | None = None
    target: Literal["done", "quarantine"] | None = None
    settle_from: str | None = None
    reason: str = ""
    claimed_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    history: list[str] = Field(default_factory=list)
    duplicates: list[dict] = Field(default_factory=list)

    @property
    def location(self) -> Path:
        """Where the batch is now (outcome folder once settled, else the claim area)."""
        if self.state in SETTLED and self.outcome_path:
            return Path(self.outcome_path)
        return Path(self.claim_path)


class Ledger:
    """Ledger entries as one JSON file per fingerprint under ``<state>/hotfolder/ledger/``, written atomically;
    read-modify-write cycles hold a file lock so the watcher, reruns and status never lose an update."""

    def __init__(self, state_dir: Path):
        self.folder = Path(state_dir) / "hotfolder" / "ledger"
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock_path = self.folder.parent / "ledger.lock"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the ledger lock (blocking)."""
        with open(self._lock_path, "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _path(self, fp: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", fp):
            raise HotFolderError(f"not a batch fingerprint: {fp!r}")
        return self.folder / f"{fp}.json"

    def get(self, fp: str) -> LedgerEntry | None:
        """The entry of a fingerprint, or None."""
        path = self._path(fp)
        try:
            return LedgerEntry.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return None
        except ValidationError as exc:
            raise HotFolderError(f"ledger entry {path} is unreadable: {exc}") from exc

    def put(self, entry: LedgerEntry, event: str | None = None) -> LedgerEntry:
        """Write an entry (stamping updated_at and appending the event to its history)."""
        now = utcnow()
        history = entry.history + ([f"{now.isoformat(timespec='seconds')} {event}"] if event else [])
        entry = entry.model_copy(update={"updated_at": now, "history": history})
        write_atomic(self._path(entry.fingerprint), entry.model_dump_json(indent=2).encode("utf-8"))
        return entry

    def update(self, fp: str, event: str, **changes) -> LedgerEntry:
        """Change fields of an existing entry under the lock."""
        with self.locked():
            entry = self.get(fp)
            if entry is None:
                raise HotFolderError(f"no ledger entry for batch fingerprint {fp}")
            return self.put(entry.model_copy(update=changes), event)

    def entries(self) -> list[LedgerEntry]:
        """Every entry, most recently updated first."""
        found = []
        for path in self.folder.glob("*.json"):
            try:
                found.append(LedgerEntry.model_validate_json(path.read_bytes()))
            except (OSError, ValidationError):
                continue
        return sorted(found, key=lambda e: e.updated_at, reverse=True)

    def locate(self, path: Path | str) -> Path | None:
        """Where a batch claimed at ``path`` (or once found there) is now, per the ledger; None if unknown."""
        wanted = str(Path(path))
        for entry in self.entries():
            if wanted in (entry.claim_path, entry.outcome_path):
                return entry.location
        return None


# --------------------------------------------------------------------------------------------------------------------
# Settling: the move to done/ or quarantine/


def settle(hot: HotFolder, ledger: Ledger, fp: str, outcome: Literal["done", "quarantine"], reason: str = "",
           event: str = "") -> LedgerEntry:
    """Move a claimed (or quarantined) batch to an outcome folder and record it; safe to repeat after a crash.

    The target path is recorded first (state ``settling``), then the folder is renamed, then ``reason.txt`` is
    written inside a quarantined batch (a batch moving on from quarantine to done keeps it, with a line saying how
    it was resolved), then the entry is marked settled.
    """
    final_state: EntryState = "done" if outcome == DONE else "quarantined"
    with ledger.locked():
        entry = ledger.get(fp)
        if entry is None:
            raise HotFolderError(f"no ledger entry for batch fingerprint {fp}")
        if entry.state == final_state:
            return entry
        if entry.state == "settling" and entry.target == outcome and entry.outcome_path:
            target = Path(entry.outcome_path)
            source = Path(entry.settle_from or entry.claim_path)
        else:
            source = Path(entry.outcome_path) if entry.state in SETTLED and entry.outcome_path \
                else Path(entry.claim_path)
            target = hot.outcome_path(outcome, entry.room, entry.batch)
            entry = ledger.put(entry.model_copy(update={"state": "settling", "target": outcome,
                                                        "outcome_path": str(target), "settle_from": str(source),
                                                        "reason": reason or entry.reason}),
                               f"settling to {outcome}: {target}")
        if not target.exists():
            if not source.is_dir():
                # the batch is somewhere we did not put it: leave the entry settling for a human to look at
                raise HotFolderError(f"batch {entry.room}/{entry.batch} ({fp[:12]}) is neither at {source} nor at "
                                     f"{target}")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(source, target)
        if outcome == QUARANTINE:
            write_reason(target, reason_text(entry, reason))
        elif (target / REASON_FILE).is_file():
            old = (target / REASON_FILE).read_text(encoding="utf-8", errors="replace").rstrip()
            note = f"resolved:     {utcnow().isoformat(timespec='seconds')} {event or 'done'}; moved to {target}"
            write_atomic(target / REASON_FILE, (old + "\n" + note + "\n").encode("utf-8"))
        return ledger.put(entry.model_copy(update={"state": final_state, "target": None, "settle_from": None,
                                                   "outcome_path": str(target),
                                                   "reason": reason if outcome == QUARANTINE else entry.reason}),
                          event or f"{final_state}: {target}" + (f" ({reason})" if reason else ""))


def reason_text(entry: LedgerEntry, reason: str) -> str:
    """The human-readable content of ``reason.txt``."""
    lines = [
        f"batch:        {entry.room}/{entry.batch}",
        f"case:         {entry.case_no or '(unknown)'}",
        f"fingerprint:  {entry.fingerprint}",
        f"flow run:     {entry.run_id or '(none)'}",
        f"quarantined:  {utcnow().isoformat(timespec='seconds')}",
        "",
        f"reason: {reason}",
    ]
    return "\n".join(lines)


def quarantine_duplicate(hot: HotFolder, ledger: Ledger, original: LedgerEntry, claimed: Path,
                         why: str) -> Path:
    """Move a second copy of an already-handled batch to quarantine with a reason naming the first; no new run."""
    target = hot.outcome_path(QUARANTINE, original.room, claimed.name)
    os.rename(claimed, target)
    write_reason(target, "\n".join([
        f"batch:        {original.room}/{claimed.name}",
        f"fingerprint:  {original.fingerprint}",
        f"quarantined:  {utcnow().isoformat(timespec='seconds')}",
        "",
        f"reason: duplicate of batch {original.room}/{original.batch} (fingerprint {original.fingerprint[:16]}, "
        f"run {original.run_id or '-'}, {original.state}{': ' + original.reason if original.reason else ''}); "
        f"{why}. Not processed again: to reprocess deliberately use 'dossier rerun' or 'dossier process'.",
    ]))
    with ledger.locked():
        entry = ledger.get(original.fingerprint) or original
        ledger.put(entry.model_copy(update={"duplicates": entry.duplicates + [
            {"path": str(target), "at": utcnow().isoformat(timespec="seconds")}]}),
            f"duplicate dropped again, quarantined at {target}")
    return target


def batch_case_no(batch_dir: Path) -> str:
    """The case number from batch.json, or '' when there is none or it cannot be read (the run will say why)."""
    try:
        data = json.loads((batch_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
        return str(data.get("case_no", "")) if isinstance(data, dict) else ""
    except (OSError, ValueError):
        return ""


# --------------------------------------------------------------------------------------------------------------------
# The intake loop (the watcher without the watching): claim, submit, follow, settle


@dataclass(frozen=True)
class RunStatus:
    """What became of a submitted run."""

    final: bool
    ok: bool = False
    message: str = ""
    run_id: str | None = None  # set when the submitter learns a better id (in-process runs)


@dataclass(frozen=True)
class Submission:
    """A run created for a claimed batch: its id and the batch folder the run was created for."""

    run_id: str
    batch_dir: str | None = None


class SubmitUnavailable(HotFolderError):
    """The orchestrator cannot be reached now; the claim stays and submission is retried."""


class Submitter(Protocol):
    """Creates one run per batch (idempotent by key) and reports its state."""

    def submit(self, entry: LedgerEntry, batch_dir: Path, config: RoomConfig) -> Submission:
        """Create (or find, by ``entry.key``) the run for a claimed batch."""
        ...

    def status(self, run_id: str) -> RunStatus:
        """The run's state now; raises SubmitUnavailable when it cannot be asked."""
        ...


@dataclass
class Intake:
    """One pass at a time over a hot folder: catch up on claims, claim complete batches, submit, follow, settle.

    The watcher calls :meth:`recover` once at start, then :meth:`tick` whenever something changed or a second passed.
    A problem with one batch (an unreadable file, a move that fails) is logged and retried; it never stops the others.
    """

    hot: HotFolder
    ledger: Ledger
    submitter: Submitter
    log: Callable[[str], None] = print
    retry_seconds: float = 5.0
    error_retry_seconds: float = 60.0
    status_seconds: float = 2.0
    reconcile_seconds: float = 60.0
    reconcile_days: float = 3.0
    tracker: StabilityTracker = field(default_factory=StabilityTracker)
    _waiting: dict[Path, str] = field(default_factory=dict)
    _next_try: dict[str, float] = field(default_factory=dict)  # claims to submit: fingerprint -> when
    _inflight: set[str] = field(default_factory=set)  # submitted runs to follow
    _unaccepted: dict[Path, str] = field(default_factory=dict)  # claims that could not be fingerprinted yet
    _last_status: float = 0.0
    _last_reconcile: float = 0.0

    # -- start-up ----------------------------------------------------------------------------------------------------
    def recover(self) -> None:
        """Catch up after a stop or crash: finish interrupted settles, resume every claim in ``.processing``."""
        for entry in self.ledger.entries():
            if entry.state == "settling" and entry.target:
                self._settle(entry, entry.target, entry.reason, "settle resumed after restart")
        for room, claimed in self.hot.processing():
            self._accept_safely(room, claimed, None)

    # -- one pass ----------------------------------------------------------------------------------------------------
    def tick(self, dirty: set[Path] | None = None, full_scan: bool = False) -> None:
        """Look at changed (or all) batches, claim the complete ones, submit pending claims, follow their runs."""
        candidates = set(self.tracker.tracked())
        if full_scan or dirty is None:
            for room in self.hot.rooms():
                candidates.update(self.hot.incoming(room))
            for claimed, room in list(self._unaccepted.items()):
                self._accept_safely(room, claimed, None)
        else:
            candidates.update(dirty)
        for batch_dir in sorted(candidates):
            try:
                self._look(batch_dir)
            except (OSError, HotFolderError) as exc:
                self._note(batch_dir, f"batch {batch_dir.parent.name}/{batch_dir.name}: cannot look at it now: {exc}")
        now = time.monotonic()
        self._submit_pending(now)
        if now - self._last_status >= self.status_seconds:
            self._last_status = now
            self._follow_runs()
        if now - self._last_reconcile >= self.reconcile_seconds:
            self._last_reconcile = now
            self._reconcile_quarantined()

    def _look(self, batch_dir: Path) -> None:
        where = self.hot.room_of(batch_dir)
        if where is None or not batch_dir.is_dir():
            self.tracker.forget(batch_dir)
            self._waiting.pop(batch_dir, None)
            return
        room, _ = where
        try:
            config = self.hot.room_config(room)
        except HotFolderError as exc:
            self._note(batch_dir, f"room {room} skipped: {exc}")
            return
        snap = snapshot(batch_dir)
        stable = self.tracker.observe(batch_dir, snap)
        verdict = readiness(snap, config, stable)
        if not verdict.ready:
            self._note(batch_dir, f"batch {room}/{batch_dir.name}: not yet complete ({verdict.reason})")
            return
        claimed = self.hot.claim(batch_dir)
        if claimed is None:
            self._note(batch_dir, f"batch {room}/{batch_dir.name}: complete, but a batch of that name is still in "
                                  f"flight; claim retried later")
            return
        self.tracker.forget(batch_dir)
        self._waiting.pop(batch_dir, None)
        self.log(f"batch {room}/{batch_dir.name}: claimed ({verdict.reason})")
        self._accept_safely(room, claimed, snap)

    def _note(self, batch_dir: Path, message: str) -> None:
        """Log why a batch waits, once per kind of reason (the seconds in it change on every look)."""
        previous = self._waiting.get(batch_dir)
        self._waiting[batch_dir] = message
        if previous is None or re.sub(r"[\d.]+", "#", previous) != re.sub(r"[\d.]+", "#", message):
            self.log(message)

    def waiting(self) -> dict[Path, str]:
        """Batches seen but not claimed, with the reason."""
        return dict(self._waiting)

    # -- a claim -----------------------------------------------------------------------------------------------------
    def _accept_safely(self, room: str, claimed: Path, before: Snapshot | None) -> None:
        try:
            self._accept(room, claimed, before)
            self._unaccepted.pop(claimed, None)
        except (OSError, HotFolderError) as exc:
            if claimed not in self._unaccepted:
                self.log(f"batch {room}/{claimed.name}: claimed but cannot be read now ({exc}); retried later")
            self._unaccepted[claimed] = room

    def _accept(self, room: str, claimed: Path, before: Snapshot | None) -> None:
        """Fingerprint a claimed batch and decide: new, resumed, or duplicate."""
        batch = claimed.name
        fp = fingerprint(room, batch, claimed)
        if before is not None and snapshot(claimed) != before and self.hot.unclaim(claimed, room):
            # a writer still had a file open: the batch goes back and is looked at again once it holds still
            self.log(f"batch {room}/{batch}: changed while being claimed; put back until it holds still")
            return
        with self.ledger.locked():
            entry = self.ledger.get(fp)
            if entry is None:
                entry = self.ledger.put(LedgerEntry(
                    fingerprint=fp, room=room, batch=batch, hotfolder=str(self.hot.root), claim_path=str(claimed),
                    key=idempotency_key(fp), case_no=batch_case_no(claimed)), f"claimed at {claimed}")
                self.log(f"batch {room}/{batch}: fingerprint {fp[:16]}, new")
                self._next_try[fp] = 0.0
                return
        if entry.state in ("claimed", "submitted") and entry.claim_path == str(claimed):
            self.log(f"batch {room}/{batch}: resuming claim {fp[:16]} ({entry.state}, run {entry.run_id or '-'})")
            self._next_try[fp] = 0.0
            return
        if entry.state == "settling" and entry.claim_path == str(claimed):
            self._settle(entry, entry.target or QUARANTINE, entry.reason, "settle resumed")
            return
        target = quarantine_duplicate(self.hot, self.ledger, entry, claimed,
                                      "the same files were dropped again")
        self.log(f"batch {room}/{batch}: duplicate of {entry.room}/{entry.batch} ({entry.state}); quarantined at "
                 f"{target}")

    def _submit_pending(self, now: float) -> None:
        for fp, when in sorted(self._next_try.items()):
            if when > now:
                continue
            entry = self.ledger.get(fp)
            if entry is None or entry.state not in ("claimed", "submitted"):
                self._next_try.pop(fp, None)
                continue
            claimed = Path(entry.claim_path)
            if not claimed.is_dir():
                self._next_try.pop(fp, None)
                continue
            try:
                config = self.hot.room_config(entry.room)
            except HotFolderError as exc:
                self._next_try.pop(fp, None)
                self._settle(entry, QUARANTINE, str(exc), "room configuration invalid")
                continue
            try:
                sub = self.submitter.submit(entry, claimed, config)
            except SubmitUnavailable as exc:
                self._next_try[fp] = now + self.retry_seconds
                self.log(f"batch {entry.room}/{entry.batch}: cannot submit now ({exc}); retrying in "
                         f"{self.retry_seconds:g} s")
                continue
            except Exception as exc:  # noqa: BLE001 - e.g. a refused request: the claim stays, the others go on
                self._next_try[fp] = now + self.error_retry_seconds
                self.log(f"batch {entry.room}/{entry.batch}: ERROR starting its run: {type(exc).__name__}: {exc}; "
                         f"the claim stays in {PROCESSING}, retrying in {self.error_retry_seconds:g} s")
                continue
            self._next_try.pop(fp, None)
            if sub.batch_dir is not None and Path(sub.batch_dir) != claimed:
                # the orchestrator already knows this fingerprint from a batch claimed elsewhere (another watcher)
                first = entry.model_copy(update={"run_id": sub.run_id, "state": "submitted",
                                                 "claim_path": sub.batch_dir})
                with self.ledger.locked():
                    self.ledger.put(first, f"run {sub.run_id} already exists for {sub.batch_dir}")
                target = quarantine_duplicate(self.hot, self.ledger, first, claimed,
                                              f"run {sub.run_id} was already created for {sub.batch_dir}")
                self.log(f"batch {entry.room}/{entry.batch}: duplicate of run {sub.run_id}; quarantined at {target}")
                continue
            if entry.run_id != sub.run_id or entry.state != "submitted":
                self.ledger.update(fp, f"submitted: run {sub.run_id}", state="submitted", run_id=sub.run_id)
                self.log(f"batch {entry.room}/{entry.batch}: run {sub.run_id}")
            self._inflight.add(fp)

    def _follow_runs(self) -> None:
        for fp in sorted(self._inflight):
            entry = self.ledger.get(fp)
            if entry is None or entry.state != "submitted" or not entry.run_id or not Path(entry.claim_path).is_dir():
                self._inflight.discard(fp)
                continue
            try:
                status = self.submitter.status(entry.run_id)
            except Exception as exc:  # noqa: BLE001 - unreachable or refused: asked again on the next pass
                self.log(f"batch {entry.room}/{entry.batch}: cannot read run {entry.run_id} now "
                         f"({type(exc).__name__}: {exc})")
                return
            if status.run_id and status.run_id != entry.run_id:
                entry = self.ledger.update(fp, f"run id is {status.run_id}", run_id=status.run_id)
            if not status.final:
                continue
            self._inflight.discard(fp)
            if status.ok:
                self._settle(entry, DONE, "", f"run {entry.run_id} completed")
            else:
                self._settle(entry, QUARANTINE, status.message or "the run failed", f"run {entry.run_id} failed")

    def _reconcile_quarantined(self) -> None:
        """Batches quarantined by a failed run that was later retried to success (Prefect UI or
        `prefect flow-run retry`) move on to done."""
        for entry in self.ledger.entries():
            if entry.state != "quarantined" or not entry.run_id or not entry.outcome_path:
                continue
            if (utcnow() - entry.updated_at).total_seconds() > self.reconcile_days * 86400:
                continue
            if not Path(entry.outcome_path).is_dir():
                continue
            try:
                status = self.submitter.status(entry.run_id)
            except Exception:  # noqa: BLE001 - tried again on the next reconcile
                return
            if status.final and status.ok:
                self._settle(entry, DONE, "", f"run {entry.run_id} completed after a retry")

    def _settle(self, entry: LedgerEntry, outcome: str, reason: str, event: str) -> None:
        try:
            done = settle(self.hot, self.ledger, entry.fingerprint, outcome, reason, event)  # type: ignore[arg-type]
        except (HotFolderError, OSError) as exc:
            self.log(f"batch {entry.room}/{entry.batch}: cannot move it to {outcome}: {exc}")
            return
        self.log(f"batch {entry.room}/{entry.batch}: {done.state} at {done.outcome_path}"
                 + (f" — {reason}" if reason else ""))

    def busy(self) -> bool:
        """True while a claim waits to be submitted or read, or a run is not finished."""
        return bool(self._next_try or self._inflight or self._unaccepted)


def settle_after_rerun(state_dir: Path, case_no: str, batch_id: str, run_id: str) -> list[LedgerEntry]:
    """After a successful rerun of a case, move its quarantined batch(es) of that batch id on to done."""
    from pipeline.storage import normalise_case_no

    ledger = Ledger(state_dir)
    moved = []
    wanted = normalise_case_no(case_no)
    for entry in ledger.entries():
        if entry.state != "quarantined" or entry.batch != batch_id or not entry.outcome_path:
            continue
        try:
            same = normalise_case_no(entry.case_no) == wanted
        except DossierError:
            same = False
        if not same or not Path(entry.outcome_path).is_dir():
            continue
        moved.append(settle(HotFolder(Path(entry.hotfolder)), ledger, entry.fingerprint, DONE, "",
                            f"completed by rerun {run_id}"))
    return moved
