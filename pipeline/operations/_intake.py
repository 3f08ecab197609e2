"""The intake loop (the watcher without the watching): claim, submit, follow, settle."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pipeline.capture import MANIFEST_NAME, inspect_batch, read_batch_manifest, shown
from pipeline.common import utcnow
from pipeline.errors import BadInputError, CaseNumberError, ProfileError, RefusedError
from pipeline.models import InputPolicy
from pipeline.operations._fingerprint import fingerprint, idempotency_key
from pipeline.operations._folders import HotFolder
from pipeline.operations._ledger import Ledger, LedgerEntry
from pipeline.operations._names import DONE, PROCESSING, QUARANTINE, HotFolderError
from pipeline.operations._readiness import Snapshot, StabilityTracker, readiness, snapshot
from pipeline.operations._rooms import RoomConfig
from pipeline.operations._settle import batch_case_no, quarantine_duplicate, quarantine_refused, settle
from pipeline.standard import load_profile


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


@dataclass(frozen=True)
class RunStatus:
    """What became of a submitted run."""

    final: bool
    ok: bool = False
    message: str = ""
    run_id: str | None = None  # set when the submitter learns a better id (in-process runs)
    retryable: bool = False  # it failed for a reason not about the batch: its process died, the store did not answer
    starts: int | None = None  # how often the run has started (None: not known); tells a new death from a report


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

    def retry(self, entry: LedgerEntry, batch_dir: Path, config: RoomConfig, delay_seconds: float) -> Submission:
        """Run the batch's run again (the same run where the orchestrator can reschedule it) after a delay."""
        ...


@dataclass
class Intake:
    """One pass at a time over a hot folder: catch up on claims, claim complete batches, submit, follow, settle.

    The watcher calls :meth:`recover` once at start, then :meth:`tick` whenever something changed or a second passed.
    A problem with one batch (an unreadable file, a move that fails) is logged and retried; it never stops the others.
    A run that ends for a reason not about its batch (its process was killed, the store or the disk failed it) is
    run again, at most ``run_retries`` times, after the delays of ``retry_delays``; then the batch is quarantined.
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
        try:
            self._accept(room, claimed, before)
            self._unaccepted.pop(claimed, None)
        except (OSError, HotFolderError) as exc:
            if claimed not in self._unaccepted:
                self.log(f"batch {shown(room)}/{shown(claimed.name)}: claimed but cannot be read now ({exc}); "
                         f"retried later")
            self._unaccepted[claimed] = room

    def _accept(self, room: str, claimed: Path, before: Snapshot | None) -> None:
        """Admit a claimed batch (or refuse it at the door), fingerprint it and decide: new, resumed, or duplicate."""
        batch = claimed.name
        if claimed.is_symlink() or not claimed.is_dir():
            self._refuse(room, claimed, "the claimed batch is a symbolic link (or not a folder), not a batch folder")
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
            self._refuse(room, claimed, str(exc))
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

    def _refuse(self, room: str, claimed: Path, reason: str) -> None:
        entry = quarantine_refused(self.hot, self.ledger, room, claimed, reason)
        self.log(f"batch {entry.room}/{entry.batch}: REFUSED at the claim ({reason}); quarantined at "
                 f"{entry.outcome_path}")

    def _submit_pending(self, now: float) -> None:
        for fp, when in sorted(self._next_try.items()):
            if when > now:
                continue
            try:
                self._submit(fp, now)
            except (OSError, HotFolderError) as exc:  # e.g. a full state disk: submitted again (same key) later
                self._next_try[fp] = now + self.retry_seconds
                self.log(f"batch {fp[:16]}: cannot record its run now ({type(exc).__name__}: {exc}); retrying in "
                         f"{self.retry_seconds:g} s")

    def _submit(self, fp: str, now: float) -> None:
        entry = self.ledger.get(fp)
        if entry is None or entry.state not in ("claimed", "submitted") or not Path(entry.claim_path).is_dir():
            self._next_try.pop(fp, None)
            return
        claimed = Path(entry.claim_path)
        try:
            config = self.hot.room_config(entry.room)
        except HotFolderError as exc:
            self._next_try.pop(fp, None)
            self._settle(entry, QUARANTINE, str(exc), "room configuration invalid")
            return
        try:
            sub = self.submitter.submit(entry, claimed, config)
        except SubmitUnavailable as exc:
            self._next_try[fp] = now + self.retry_seconds
            self.log(f"batch {entry.room}/{entry.batch}: cannot submit now ({exc}); retrying in "
                     f"{self.retry_seconds:g} s")
            return
        except Exception as exc:  # noqa: BLE001 - e.g. a refused request: the claim stays, the others go on
            self._next_try[fp] = now + self.error_retry_seconds
            self.log(f"batch {entry.room}/{entry.batch}: ERROR starting its run: {type(exc).__name__}: {exc}; "
                     f"the claim stays in {PROCESSING}, retrying in {self.error_retry_seconds:g} s")
            return
        self._next_try.pop(fp, None)
        if sub.batch_dir is not None and Path(sub.batch_dir) != claimed:
            # the orchestrator already knows this fingerprint from a batch claimed elsewhere (another watcher)
            first = entry.model_copy(update={"run_id": sub.run_id, "state": "submitted", "claim_path": sub.batch_dir})
            with self.ledger.locked():
                self.ledger.put(first, f"run {sub.run_id} already exists for {sub.batch_dir}")
            target = quarantine_duplicate(self.hot, self.ledger, first, claimed,
                                          f"run {sub.run_id} was already created for {sub.batch_dir}")
            self.log(f"batch {entry.room}/{entry.batch}: duplicate of run {sub.run_id}; quarantined at {target}")
            return
        if entry.run_id != sub.run_id or entry.state != "submitted":
            self.ledger.update(fp, f"submitted: run {sub.run_id}", state="submitted", run_id=sub.run_id)
            self.log(f"batch {entry.room}/{entry.batch}: run {sub.run_id}")
        self._inflight.add(fp)

    def _follow_runs(self) -> None:
        for fp in sorted(self._inflight):
            try:
                if not self._follow(fp):
                    return
            except (OSError, HotFolderError) as exc:  # e.g. a full state disk: the run is looked at again
                self._inflight.add(fp)
                self.log(f"batch {fp[:16]}: cannot record what became of its run now ({type(exc).__name__}: {exc})")

    def _follow(self, fp: str) -> bool:
        """Look at one run and act on its end; False when the orchestrator cannot be asked now."""
        entry = self.ledger.get(fp)
        if entry is not None and entry.state == "settling" and entry.target:  # a move that failed half-way
            self._inflight.discard(fp)
            self._settle(entry, entry.target, entry.reason, "settle resumed")
            return True
        if entry is None or entry.state != "submitted" or not entry.run_id or not Path(entry.claim_path).is_dir():
            self._inflight.discard(fp)
            return True
        try:
            status = self.submitter.status(entry.run_id)
        except Exception as exc:  # noqa: BLE001 - unreachable or refused: asked again on the next pass
            self.log(f"batch {entry.room}/{entry.batch}: cannot read run {entry.run_id} now "
                     f"({type(exc).__name__}: {exc})")
            return False
        if status.run_id and status.run_id != entry.run_id:
            entry = self.ledger.update(fp, f"run id is {status.run_id}", run_id=status.run_id)
        if status.final:
            self._inflight.discard(fp)
            self._end(entry, status)
        return True

    def _end(self, entry: LedgerEntry, status: RunStatus) -> None:
        """A run ended: its batch goes to done/, is run again, or goes to quarantine/."""
        if status.ok:
            self._settle(entry, DONE, "", f"run {entry.run_id} completed")
        elif status.retryable and self._reported_again(entry, status):
            self._retry(entry, status, counted=False)
        elif status.retryable and entry.attempts < self.run_retries:
            self._retry(entry, status)
        else:
            after = f" (after {entry.attempts} retries)" if entry.attempts else ""
            self._settle(entry, QUARANTINE, (status.message or "the run failed") + after, f"run {entry.run_id} failed")

    @staticmethod
    def _reported_again(entry: LedgerEntry, status: RunStatus) -> bool:
        """An end of a run that has not started since it was retried: the death already counted, reported once more
        (a worker and its runner both report a killed run; the heartbeat automation can mark it too)."""
        return (status.starts is not None and entry.retry_starts is not None and status.starts <= entry.retry_starts
                and entry.retry_repeats < 3)

    def _retry(self, entry: LedgerEntry, status: RunStatus, counted: bool = True) -> None:
        """Run a batch again whose run died or failed for a reason not about the batch."""
        attempt = entry.attempts + (1 if counted else 0)
        delay = self.retry_delays[min(max(attempt, 1), len(self.retry_delays)) - 1] if self.retry_delays else 0.0
        try:
            config = self.hot.room_config(entry.room)
            sub = self.submitter.retry(entry, Path(entry.claim_path), config, delay)
        except Exception as exc:  # noqa: BLE001 - unreachable or refused: the run is looked at (and retried) again
            self._inflight.add(entry.fingerprint)
            self.log(f"batch {entry.room}/{entry.batch}: cannot retry run {entry.run_id} now "
                     f"({type(exc).__name__}: {exc})")
            return
        what = f"retry {attempt} of {self.run_retries}" if counted else f"reported again, retry {attempt} repeated"
        self.ledger.update(entry.fingerprint, f"run {entry.run_id} ended '{status.message}': {what} in {delay:g} s as "
                                              f"run {sub.run_id}", attempts=attempt, run_id=sub.run_id,
                           retry_starts=status.starts, retry_repeats=0 if counted else entry.retry_repeats + 1)
        self._inflight.add(entry.fingerprint)
        self.log(f"batch {entry.room}/{entry.batch}: run {entry.run_id} ended ({status.message}); {what} in "
                 f"{delay:g} s")

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
            if isinstance(exc, OSError):  # e.g. a full state disk: tried again on the next look at the runs
                self._inflight.add(entry.fingerprint)
            self.log(f"batch {entry.room}/{entry.batch}: cannot move it to {outcome}: {exc}")
            return
        self.log(f"batch {entry.room}/{entry.batch}: {done.state} at {done.outcome_path}"
                 + (f" — {reason}" if reason else ""))

    def busy(self) -> bool:
        """True while a claim waits to be submitted or read, or a run is not finished."""
        return bool(self._next_try or self._inflight or self._unaccepted)
