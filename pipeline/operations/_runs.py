"""The runs of claimed batches: submit, follow, and act on their end — done, quarantined at once for a fault of the
batch, held while a part of the machine is down (resumed by itself when it is back), or run again after the
machinery failed it.

Whose fault it was is decided by the run itself from its error's class (:func:`pipeline.errors.machine_fault`) and
recorded in the ledger before the run ends (:func:`record_run_fault`); a run that ended without a record (it crashed,
or its disk was full) is the machine's when the machine check finds a part down, else it is run again, at most
``run_retries`` times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pipeline.errors import machine_fault
from pipeline.messages import N_, say
from pipeline.operations._events import EventCode, LedgerEvent, event
from pipeline.operations._folders import HotFolder
from pipeline.operations._ledger import Ledger, LedgerEntry, RunFault
from pipeline.operations._names import DONE, PROCESSING, QUARANTINE, HotFolderError
from pipeline.operations._reasons import Reason, ReasonKind, kind_of_error, reason
from pipeline.operations._rooms import RoomConfig
from pipeline.operations._settle import quarantine_duplicate, settle


@dataclass(frozen=True)
class RunStatus:
    """What became of a submitted run."""

    final: bool
    ok: bool = False
    message: str = ""
    run_id: str | None = None  # set when the submitter learns a better id (in-process runs)
    retryable: bool = False  # it died or failed: its recorded fault (if any) says whose fault it was
    starts: int | None = None  # how often the run has started (None: not known); tells a new death from a report
    paused: bool = False  # waiting for a person (a 卷内目录 review)


@dataclass(frozen=True)
class Submission:
    """A run created for a claimed batch: its id and the batch folder the run was created for."""

    run_id: str
    batch_dir: str | None = None


class SubmitUnavailable(HotFolderError):
    """The orchestrator cannot be reached now; the claim stays and submission is retried."""


@dataclass(frozen=True)
class MachineProblem:
    """A part of the machine that cannot be used now (``store``, ``key``, ``disk``, …): work waits for it."""

    part: str
    message: str


MachineCheck = Callable[[], "MachineProblem | None"]


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


def run_fault(exc: BaseException, run_id: str | None) -> RunFault:
    """How a run failed, judged from its error's class: the part of the machine at fault, or the batch's kind."""
    part = machine_fault(exc)
    return RunFault(run_id=run_id, machine=part, kind="" if part else kind_of_error(exc).value,
                    error=type(exc).__name__, detail=str(exc)[:2000], file=getattr(exc, "file", None))


def record_run_fault(home: Path, fingerprint: str, run_id: str | None, exc: BaseException) -> RunFault | None:
    """Record in the ledger how a hot-folder batch's run failed, before the run ends, so that the watcher acts on
    the error's class (not on its message). None when it cannot be recorded (the watcher then asks the machine)."""
    fault = run_fault(exc, run_id)
    try:
        Ledger(home).update(fingerprint, event(EventCode.RUN_FAILED, run=run_id, error=fault.error,
                                               machine=fault.machine), fault=fault)
    except (OSError, HotFolderError):
        return None
    return fault


def unavailable_words(part: str) -> str:
    """"Waiting: the object store is unavailable" and its kin, as operators read a held batch's state."""
    words = {
        "store": N_("waiting: object store unavailable"), "key": N_("waiting: signing key unavailable"),
        "disk": N_("waiting: disk full"), "settings": N_("waiting: settings invalid"),
        "profile": N_("waiting: standard profile unusable"), "rooms": N_("waiting: rooms file invalid"),
        "database": N_("waiting: database unavailable"), "orchestrator": N_("waiting: Prefect server unavailable"),
    }
    return say(words.get(part, N_("waiting: the machine is not ready")))


@dataclass
class Runs:
    """The claimed batches' runs: one pass at a time, driven by :class:`pipeline.operations.Intake`."""

    hot: HotFolder
    ledger: Ledger
    submitter: Submitter
    problem: Callable[[bool], MachineProblem | None]  # the machine's problem now (True: look again now)
    log: Callable[[str], None] = print
    retry_seconds: float = 5.0
    error_retry_seconds: float = 60.0
    reconcile_days: float = 3.0
    run_retries: int = 5
    retry_delays: tuple[float, ...] = (30.0, 90.0, 180.0, 300.0, 600.0)
    next_try: dict[str, float] = field(default_factory=dict)  # claims to submit: fingerprint -> when
    inflight: set[str] = field(default_factory=set)  # submitted runs to follow
    held: set[str] = field(default_factory=set)  # runs held while a part of the machine is down

    def expect(self, entry: LedgerEntry) -> None:
        """A claim to carry on with: submit it, follow its run, or keep holding it."""
        if entry.state == "held":
            self.held.add(entry.fingerprint)
        else:
            self.next_try[entry.fingerprint] = 0.0

    def busy(self) -> bool:
        """True while a claim waits to be submitted, a run is not finished or a held run waits for the machine."""
        return bool(self.next_try or self.inflight or self.held)

    # -- submitting ----------------------------------------------------------------------------------------------------
    def submit_pending(self, now: float) -> None:
        """Submit the claims whose time has come (none while the machine is not ready: they wait, claimed)."""
        if not any(when <= now for when in self.next_try.values()) or self.problem(False) is not None:
            return
        for fp, when in sorted(self.next_try.items()):
            if when > now:
                continue
            try:
                self._submit(fp, now)
            except (OSError, HotFolderError) as exc:  # e.g. a full state disk: submitted again (same key) later
                self.next_try[fp] = now + self.retry_seconds
                self.log(f"batch {fp[:16]}: cannot record its run now ({type(exc).__name__}: {exc}); retrying in "
                         f"{self.retry_seconds:g} s")

    def _submit(self, fp: str, now: float) -> None:
        entry = self.ledger.get(fp)
        if entry is None or entry.state not in ("claimed", "submitted") or not Path(entry.claim_path).is_dir():
            self.next_try.pop(fp, None)
            return
        claimed = Path(entry.claim_path)
        try:
            config = self.hot.room_config(entry.room)
        except HotFolderError as exc:
            self.next_try.pop(fp, None)
            self.settle(entry, QUARANTINE, reason(ReasonKind.ROOM, str(exc), entry.room, entry.batch, entry.case_no),
                        event(EventCode.ROOM_INVALID))
            return
        try:
            sub = self.submitter.submit(entry, claimed, config)
        except SubmitUnavailable as exc:
            self.next_try[fp] = now + self.retry_seconds
            self.log(f"batch {entry.room}/{entry.batch}: cannot submit now ({exc}); retrying in "
                     f"{self.retry_seconds:g} s")
            return
        except Exception as exc:  # noqa: BLE001 - e.g. a refused request: the claim stays, the others go on
            self.next_try[fp] = now + self.error_retry_seconds
            self.log(f"batch {entry.room}/{entry.batch}: ERROR starting its run: {type(exc).__name__}: {exc}; "
                     f"the claim stays in {PROCESSING}, retrying in {self.error_retry_seconds:g} s")
            return
        self.next_try.pop(fp, None)
        if sub.batch_dir is not None and Path(sub.batch_dir) != claimed:
            # the orchestrator already knows this fingerprint from a batch claimed elsewhere (another watcher)
            first = entry.model_copy(update={"run_id": sub.run_id, "state": "submitted", "claim_path": sub.batch_dir})
            with self.ledger.locked():
                self.ledger.put(first, event(EventCode.RUN_EXISTS, run=sub.run_id, path=str(sub.batch_dir)))
            target = quarantine_duplicate(self.hot, self.ledger, first, claimed,
                                          f"run {sub.run_id} was already created for {sub.batch_dir}")
            self.log(f"batch {entry.room}/{entry.batch}: duplicate of run {sub.run_id}; quarantined at {target}")
            return
        if entry.run_id != sub.run_id or entry.state != "submitted":
            self.ledger.update(fp, event(EventCode.SUBMITTED, run=sub.run_id), state="submitted", run_id=sub.run_id)
            self.log(f"batch {entry.room}/{entry.batch}: run {sub.run_id}")
        self.inflight.add(fp)

    # -- following -----------------------------------------------------------------------------------------------------
    def follow(self) -> None:
        """Look at every run in flight and act on those that ended."""
        for fp in sorted(self.inflight):
            try:
                if not self._follow(fp):
                    return
            except (OSError, HotFolderError) as exc:  # e.g. a full state disk: the run is looked at again
                self.inflight.add(fp)
                self.log(f"batch {fp[:16]}: cannot record what became of its run now ({type(exc).__name__}: {exc})")

    def _follow(self, fp: str) -> bool:
        """Look at one run and act on its end; False when the orchestrator cannot be asked now."""
        entry = self.ledger.get(fp)
        if entry is not None and entry.state == "settling" and entry.target:  # a move that failed half-way
            self.inflight.discard(fp)
            self.settle(entry, entry.target, None, event(EventCode.SETTLE_RESUMED))
            return True
        if entry is None or entry.state != "submitted" or not entry.run_id or not Path(entry.claim_path).is_dir():
            self.inflight.discard(fp)
            return True
        try:
            status = self.submitter.status(entry.run_id)
        except Exception as exc:  # noqa: BLE001 - unreachable or refused: asked again on the next pass
            self.log(f"batch {entry.room}/{entry.batch}: cannot read run {entry.run_id} now "
                     f"({type(exc).__name__}: {exc})")
            return False
        if status.run_id and status.run_id != entry.run_id:
            entry = self.ledger.update(fp, event(EventCode.RUN_ID, run=status.run_id), run_id=status.run_id)
        if status.final:
            self.inflight.discard(fp)
            self._end(self.ledger.get(fp) or entry, status)
        return True

    def _end(self, entry: LedgerEntry, status: RunStatus) -> None:
        """A run ended: done, quarantined (the batch's fault), held (a part of the machine is down) or run again."""
        if status.ok:
            self.settle(entry, DONE, None, event(EventCode.COMPLETED, run=entry.run_id))
            return
        fault = entry.fault if entry.fault is not None and entry.fault.run_id in (None, entry.run_id) else None
        if fault is not None and fault.machine is None and status.retryable:
            kind = ReasonKind(fault.kind) if fault.kind in set(ReasonKind) else ReasonKind.UNEXPECTED
            detail = f"{fault.error}: {fault.detail}"
            self.settle(entry, QUARANTINE, reason(kind, detail, entry.room, entry.batch, entry.case_no, fault.file),
                        event(EventCode.BATCH_FAULT, run=entry.run_id, error=fault.error))
            return
        if not status.retryable:  # cancelled by a person
            self.settle(entry, QUARANTINE, reason(ReasonKind.CANCELLED, status.message or "cancelled", entry.room,
                                                  entry.batch, entry.case_no),
                        event(EventCode.CANCELLED, run=entry.run_id))
            return
        problem = self.problem(True)
        if problem is not None:
            self._hold(entry, problem, status)
        elif self._reported_again(entry, status):
            self._retry(entry, status, counted=False)
        elif entry.attempts < self.run_retries:
            self._retry(entry, status)
        else:
            detail = (f"{fault.error}: {fault.detail}" if fault else status.message or "the run failed") + \
                     f" (after {entry.attempts} retries)"
            self.settle(entry, QUARANTINE, reason(ReasonKind.RETRIES, detail, entry.room, entry.batch,
                                                  entry.case_no), event(EventCode.FAILED, run=entry.run_id))

    @staticmethod
    def _reported_again(entry: LedgerEntry, status: RunStatus) -> bool:
        """An end of a run that has not started since it was retried: the death already counted, reported once more
        (a worker and its runner both report a killed run; the heartbeat automation can mark it too)."""
        return (status.starts is not None and entry.retry_starts is not None and status.starts <= entry.retry_starts
                and entry.retry_repeats < 3)

    def _hold(self, entry: LedgerEntry, problem: MachineProblem, status: RunStatus) -> None:
        """Hold a batch whose run the machine failed: claimed, not fingerprinted as done, resumed when it is back."""
        self.ledger.update(entry.fingerprint, event(EventCode.HELD, run=entry.run_id, message=status.message,
                                                    part=problem.part, problem=problem.message),
                           state="held", held=problem.part,
                           retry_starts=status.starts)
        self.held.add(entry.fingerprint)
        self.log(f"batch {entry.room}/{entry.batch}: held, {unavailable_words(problem.part)} ({problem.message}); "
                 f"it goes on by itself once that is fixed")

    def resume_held(self) -> None:
        """Run the held batches again once the machine is ready (their pages come from the cache)."""
        if not self.held or self.problem(False) is not None:
            return
        for fp in sorted(self.held):
            entry = self.ledger.get(fp)
            self.held.discard(fp)
            if entry is None or entry.state != "held":
                continue
            if not entry.run_id:
                self.ledger.update(fp, event(EventCode.RESUMED), state="claimed", held="")
                self.next_try[fp] = 0.0
                continue
            self._retry(entry, None, counted=False)

    def _retry(self, entry: LedgerEntry, status: RunStatus | None, counted: bool = True) -> None:
        """Run a batch again whose run died or failed for a reason not about the batch."""
        attempt = entry.attempts + (1 if counted else 0)
        delay = self.retry_delays[min(max(attempt, 1), len(self.retry_delays)) - 1] \
            if self.retry_delays and status is not None else 0.0  # a held batch goes on at once
        try:
            config = self.hot.room_config(entry.room)
            sub = self.submitter.retry(entry, Path(entry.claim_path), config, delay)
        except Exception as exc:  # noqa: BLE001 - unreachable or refused: the run is looked at (and retried) again
            (self.held if entry.state == "held" else self.inflight).add(entry.fingerprint)
            self.log(f"batch {entry.room}/{entry.batch}: cannot retry run {entry.run_id} now "
                     f"({type(exc).__name__}: {exc})")
            return
        if status is None:
            ended, code, what = "held", EventCode.RETRIED_READY, "the machine is ready again"
        elif counted:
            ended, code, what = f"ended '{status.message}'", EventCode.RETRIED, f"retry {attempt} of {self.run_retries}"
        else:
            ended, code, what = (f"ended '{status.message}'", EventCode.RETRY_REPEATED,
                                 f"reported again, retry {attempt} repeated")
        starts = status.starts if status else entry.retry_starts
        self.ledger.update(entry.fingerprint, event(code, run=entry.run_id, message=status.message if status else "",
                                                    attempt=attempt, of=self.run_retries, delay=f"{delay:g}",
                                                    new=sub.run_id),
                           state="submitted", held="", fault=None, attempts=attempt, run_id=sub.run_id,
                           retry_starts=starts, retry_repeats=entry.retry_repeats + 1 if status and not counted
                           else 0)
        self.inflight.add(entry.fingerprint)
        self.log(f"batch {entry.room}/{entry.batch}: run {entry.run_id} {ended}; {what} in {delay:g} s")

    def reconcile_quarantined(self) -> None:
        """Batches quarantined by a failed run that was later retried to success (Prefect UI or
        `prefect flow-run retry`) move on to done."""
        from pipeline.common import utcnow

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
                self.settle(entry, DONE, None, event(EventCode.COMPLETED_AFTER_RETRY, run=entry.run_id))

    def settle(self, entry: LedgerEntry, outcome: str, why: Reason | None, happened: LedgerEvent) -> None:
        """Move a batch to done/ or quarantine/ (tried again on the next look when the move fails)."""
        try:
            done = settle(self.hot, self.ledger, entry.fingerprint, outcome, why, happened)  # type: ignore[arg-type]
        except (HotFolderError, OSError) as exc:
            if isinstance(exc, OSError):  # e.g. a full state disk: tried again on the next look at the runs
                self.inflight.add(entry.fingerprint)
            self.log(f"batch {entry.room}/{entry.batch}: cannot move it to {outcome}: {exc}")
            return
        self.log(f"batch {entry.room}/{entry.batch}: {done.state} at {done.outcome_path}"
                 + (f" — {why.line}" if why else ""))


def unexpected(exc: BaseException, room: str, batch: str) -> Reason:
    """The reason of a batch that raised an error nobody foresaw while it was claimed."""
    return reason(ReasonKind.UNEXPECTED, f"{type(exc).__name__}: {exc}"[:2000], room, batch)

