"""The intake loop (the watcher without the watching): claim, submit, follow, settle — and wait while the machine is
not ready.

A machine check (given by the edge: signing key, store, disk, rooms file, …) runs every ``machine_seconds``: while
it finds a part down, no batch is claimed or submitted (they wait, as ``dossier status`` shows: 等待：对象存储不可用)
and a run the machine failed is held; everything goes on by itself once it is back.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.capture import MANIFEST_NAME, inspect_batch, read_batch_manifest, shown
from pipeline.errors import BadInputError, CaseNumberError, ProfileError, RefusedError
from pipeline.models import InputPolicy
from pipeline.operations._events import EventCode, event
from pipeline.operations._fingerprint import fingerprint, idempotency_key
from pipeline.operations._folders import HotFolder
from pipeline.operations._ledger import Ledger, LedgerEntry
from pipeline.operations._names import QUARANTINE, HotFolderError
from pipeline.operations._readiness import Snapshot, StabilityTracker, readiness, snapshot
from pipeline.operations._reasons import ReasonKind, reason
from pipeline.operations._rooms import RoomConfig
from pipeline.operations._runs import MachineCheck, MachineProblem, Runs, Submitter, unavailable_words
from pipeline.operations._settle import batch_case_no, quarantine_duplicate, quarantine_refused
from pipeline.operations._watcher_state import WatcherState, write_watcher_state
from pipeline.standard import load_profile

trace = logging.getLogger("dossier.watch")


def check_claim(batch_dir: Path, config: RoomConfig, limits: InputPolicy) -> None:
    """What is checked when a batch is claimed, before a byte of it is hashed: every file (kind, links, name, size,
    count: :func:`pipeline.capture.inspect_batch`), and that its batch.json names a case (and an agency) the room may
    publish. Raises BadInputError, RefusedError or CaseNumberError naming the file or field."""
    inspect_batch(batch_dir, limits)
    manifest = read_batch_manifest(batch_dir)
    if manifest is None:
        raise BadInputError(f"no {MANIFEST_NAME}: a hot-folder batch must name its case", MANIFEST_NAME)
    if config.policy is not None:
        config.policy.owner_of(manifest)


@dataclass
class Intake:
    """One pass at a time over a hot folder: catch up on claims, claim complete batches, submit, follow, settle.

    The watcher calls :meth:`recover` once at start, then :meth:`tick` whenever something changed or a second passed.
    A problem with one batch (an unreadable file, a move that fails, an error nobody foresaw) is logged and retried
    or quarantines that batch; it never stops the others. A run that ends for a reason not about its batch is held
    while the machine check finds a part down, else run again, at most ``run_retries`` times, after the delays of
    ``retry_delays``; then the batch is quarantined.
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
    run_retries: int = 5
    # not sooner than 30 s: a worker reports a crash twice, ~10 s apart; about 20 minutes in all for the machinery
    # around a run to come back (in the soak run one batch met a killed worker, a stopped store and a killed server)
    retry_delays: tuple[float, ...] = (30.0, 90.0, 180.0, 300.0, 600.0)
    check_machine: MachineCheck | None = None
    machine_seconds: float = 10.0
    state_file: Path | None = None  # where the watcher's state is written for `dossier status`
    tracker: StabilityTracker = field(default_factory=StabilityTracker)
    _waiting: dict[Path, str] = field(default_factory=dict)
    _unaccepted: dict[Path, str] = field(default_factory=dict)  # claims that could not be fingerprinted yet
    _last_status: float = 0.0
    _last_reconcile: float = 0.0
    _last_machine: float | None = None
    _problem: MachineProblem | None = None
    _last_state: float = 0.0

    def __post_init__(self) -> None:
        self.runs = Runs(self.hot, self.ledger, self.submitter, self.machine_problem, log=self.log,
                         retry_seconds=self.retry_seconds, error_retry_seconds=self.error_retry_seconds,
                         reconcile_days=self.reconcile_days, run_retries=self.run_retries,
                         retry_delays=self.retry_delays)

    # -- the machine ---------------------------------------------------------------------------------------------------
    def machine_problem(self, fresh: bool = False) -> MachineProblem | None:
        """What of the machine is down now (None: ready), looked at again every ``machine_seconds`` or when asked."""
        now = time.monotonic()
        if self.check_machine is None:
            return None
        if fresh or self._last_machine is None or now - self._last_machine >= self.machine_seconds:
            self._last_machine = now
            try:
                found = self.check_machine()
            except Exception as exc:  # noqa: BLE001 - a check that breaks is a machine that is not ready
                found = MachineProblem("settings", f"the machine check failed: {type(exc).__name__}: {exc}")
            if (found is None) != (self._problem is None) or (found and self._problem and
                                                               found.part != self._problem.part):
                self.log(f"machine: {unavailable_words(found.part)} ({found.message})" if found else
                         "machine: ready again; held and waiting batches go on")
            self._problem = found
        return self._problem

    # -- start-up ----------------------------------------------------------------------------------------------------
    def recover(self) -> None:
        """Catch up after a stop or crash: finish interrupted settles, resume every claim in ``.processing``."""
        for entry in self.ledger.entries():
            if entry.state == "settling" and entry.target:
                self.runs.settle(entry, entry.target, None, event(EventCode.SETTLE_RESUMED))
        for room, claimed in self.hot.processing():
            self._accept_safely(room, claimed, None)

    # -- one pass ----------------------------------------------------------------------------------------------------
    def tick(self, dirty: set[Path] | None = None, full_scan: bool = False) -> None:
        """Look at changed (or all) batches, claim the complete ones, submit pending claims, follow their runs."""
        problem = self.machine_problem()
        candidates = set(self.tracker.tracked())
        if full_scan or dirty is None:
            for room in self.hot.rooms():
                candidates.update(self.hot.incoming(room))
            if problem is None:
                for claimed, room in list(self._unaccepted.items()):
                    self._accept_safely(room, claimed, None)
        else:
            candidates.update(dirty)
        for batch_dir in sorted(candidates):
            if problem is not None:
                self._note(batch_dir, f"batch {shown(batch_dir.parent.name)}/{shown(batch_dir.name)}: "
                                      f"{unavailable_words(problem.part)} ({problem.message})")
                continue
            try:
                self._look(batch_dir)
            except (OSError, HotFolderError) as exc:
                self._note(batch_dir, f"batch {batch_dir.parent.name}/{batch_dir.name}: cannot look at it now: {exc}")
            except Exception as exc:  # noqa: BLE001 - one batch never stops the others
                trace.debug("looking at %s failed", batch_dir, exc_info=True)
                self._note(batch_dir, f"batch {shown(batch_dir.parent.name)}/{shown(batch_dir.name)}: cannot look "
                                      f"at it ({type(exc).__name__}: {exc}); tried again later")
        now = time.monotonic()
        self.runs.submit_pending(now)
        if now - self._last_status >= self.status_seconds:
            self._last_status = now
            self.runs.follow()
            self.runs.resume_held()
        if now - self._last_reconcile >= self.reconcile_seconds:
            self._last_reconcile = now
            self.runs.reconcile_quarantined()
        self._write_state(now)

    def _write_state(self, now: float, every: float = 2.0) -> None:
        if self.state_file is None or now - self._last_state < every:
            return
        self._last_state = now
        waiting = {f"{p.parent.name}/{p.name}": why for p, why in self._waiting.items()}
        state = WatcherState(hotfolder=str(self.hot.root), waiting=waiting,
                             machine=self._problem.part if self._problem else None,
                             machine_message=self._problem.message if self._problem else "")
        try:
            write_watcher_state(self.state_file, state)
        except OSError:  # a full state disk: the state is written again on a later pass
            pass

    def _look(self, batch_dir: Path) -> None:
        where = self.hot.room_of(batch_dir)
        link = batch_dir.is_symlink()
        if where is None or not (link or batch_dir.is_dir()):
            self.tracker.forget(batch_dir)
            self._waiting.pop(batch_dir, None)
            return
        room, _ = where
        name = f"{shown(room)}/{shown(batch_dir.name)}"
        try:
            config = self.hot.room_config(room)
        except HotFolderError as exc:
            self._note(batch_dir, f"room {shown(room)} skipped: {exc}")
            return
        snap: Snapshot | None = None
        why = "a link, refused as soon as it is seen"
        if not link:  # a link is taken at once, to be refused: nothing behind it is ever read
            snap = snapshot(batch_dir)
            stable = self.tracker.observe(batch_dir, snap)
            verdict = readiness(snap, config, stable)
            if not verdict.ready:
                self._note(batch_dir, f"batch {name}: not yet complete ({verdict.reason})")
                return
            why = verdict.reason
        claimed = self.hot.claim(batch_dir)
        if claimed is None:
            self._note(batch_dir, f"batch {name}: complete, but a batch of that name is still in flight; claim "
                                  f"retried later")
            return
        self.tracker.forget(batch_dir)
        self._waiting.pop(batch_dir, None)
        self.log(f"batch {name}: claimed ({why})")
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
        """Accept a claim; an error nobody foresaw about this batch quarantines it and the others go on."""
        try:
            self._accept(room, claimed, before)
            self._unaccepted.pop(claimed, None)
        except (OSError, HotFolderError) as exc:
            if claimed not in self._unaccepted:
                self.log(f"batch {shown(room)}/{shown(claimed.name)}: claimed but cannot be read now ({exc}); "
                         f"retried later")
            self._unaccepted[claimed] = room
        except Exception as exc:  # noqa: BLE001 - e.g. a crash in reading a hostile batch: it alone is stopped
            trace.warning("batch %s/%s: unexpected error", shown(room), shown(claimed.name), exc_info=True)
            try:
                self._refuse(room, claimed, reason(ReasonKind.UNEXPECTED, f"{type(exc).__name__}: {exc}"[:2000],
                                                   shown(room), shown(claimed.name)))
                self._unaccepted.pop(claimed, None)
            except (OSError, HotFolderError) as again:
                self.log(f"batch {shown(room)}/{shown(claimed.name)}: cannot be quarantined now ({again}); retried "
                         f"later")
                self._unaccepted[claimed] = room

    def _accept(self, room: str, claimed: Path, before: Snapshot | None) -> None:
        """Admit a claimed batch (or refuse it at the door), fingerprint it and decide: new, resumed, requeued or
        duplicate."""
        batch = claimed.name
        if claimed.is_symlink() or not claimed.is_dir():
            self._refuse(room, claimed, reason(ReasonKind.BAD_INPUT, "the claimed batch is a symbolic link (or not a "
                                               "folder), not a batch folder", shown(room), shown(batch)))
            return
        if before is not None and snapshot(claimed) != before and self.hot.unclaim(claimed, room):
            # a writer still had a file open: the batch goes back and is looked at again once it holds still
            self.log(f"batch {shown(room)}/{shown(batch)}: changed while being claimed; put back until it holds still")
            return
        config = self.hot.room_config(room)  # HotFolderError: the claim stays and is tried again later
        try:
            limits = load_profile(config.profile).input
        except ProfileError as exc:
            raise HotFolderError(f"room {room}: {exc}") from None
        try:
            check_claim(claimed, config, limits)
            fp = fingerprint(room, batch, claimed, limits.max_file_bytes)
        except (BadInputError, RefusedError, CaseNumberError) as exc:
            kind = ReasonKind.NOT_ALLOWED if isinstance(exc, RefusedError) else ReasonKind.BAD_INPUT
            self._refuse(room, claimed, reason(kind, str(exc), shown(room), shown(batch), batch_case_no(claimed),
                                               getattr(exc, "file", None)))
            return
        with self.ledger.locked():
            entry = self.ledger.get(fp)
            if entry is None or entry.state == "requeued":
                again = entry.requeued if entry else 0
                entry = self.ledger.put(LedgerEntry(
                    fingerprint=fp, room=room, batch=batch, hotfolder=str(self.hot.root), claim_path=str(claimed),
                    key=idempotency_key(fp, again), case_no=batch_case_no(claimed), requeued=again,
                    history=entry.history if entry else [], duplicates=entry.duplicates if entry else []),
                    event(EventCode.CLAIMED, path=str(claimed), requeued=again))
                self.log(f"batch {room}/{batch}: fingerprint {fp[:16]}, {'requeued' if again else 'new'}")
                self.runs.expect(entry)
                return
        if entry.state in ("claimed", "submitted", "held") and entry.claim_path == str(claimed):
            self.log(f"batch {room}/{batch}: resuming claim {fp[:16]} ({entry.state}, run {entry.run_id or '-'})")
            self.runs.expect(entry)
            return
        if entry.state == "settling" and entry.claim_path == str(claimed):
            self.runs.settle(entry, entry.target or QUARANTINE, None, event(EventCode.SETTLE_RESUMED))
            return
        target = quarantine_duplicate(self.hot, self.ledger, entry, claimed,
                                      "the same files were dropped again")
        self.log(f"batch {room}/{batch}: duplicate of {entry.room}/{entry.batch} ({entry.state}); quarantined at "
                 f"{target}")

    def _refuse(self, room: str, claimed: Path, why) -> None:
        entry = quarantine_refused(self.hot, self.ledger, room, claimed, why)
        self.log(f"batch {entry.room}/{entry.batch}: REFUSED at the claim ({why.detail}); quarantined at "
                 f"{entry.outcome_path}")

    def busy(self) -> bool:
        """True while a claim waits to be submitted or read, a run is not finished or a held one waits."""
        return bool(self.runs.busy() or self._unaccepted)
