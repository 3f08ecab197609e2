"""The soak run's case-lock holder fault (issue 30 H4): beside the stack, a watcher that runs its batches in its own
process (``dossier watch --in-process``, the CLI's temporary Prefect server in its state folder) is killed by SIGKILL
while its run holds the case lock — its process group at once, no clean-up of any kind. The next watcher on the same
state folder must take the batch over and publish the case exactly once (the dead run's lease expires: nothing waits
for ever), and nothing of either watcher may be left running.

It has a hot folder, room and state folder of its own (one watcher per state folder) and shares the stack's store,
access database (the installation's audit key) and agency; its processes carry the soak run's unit marker, so the
run's leftover check sees them too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.soak_checks import Verdict
from bench.soak_drops import AGENCY
from bench.soak_services import UNIT_ENV, kill_all, unit_processes
from pipeline.common import tied_to_parent

ROOT = Path(__file__).resolve().parent.parent
ROOM = "room-in-process"
BATCH = "held"


@dataclass
class LockHolder:
    """One batch, one in-process watcher killed while its run holds the case lock, and the watcher after it."""

    workdir: Path
    env: dict[str, str]  # the stack's; the Prefect server and home are left out (the watcher starts its own)
    unit: str  # this fault's unit marker (the soak run's prefix + "lock-holder")
    case_no: str
    log: Callable[[str], None] = print
    take_timeout: float = 600.0  # a temporary server starting and a run reaching its case lock on a loaded machine
    publish_timeout: float = 900.0  # the next watcher: its server, the lease running out, the batch processed
    problems: list[str] = field(default_factory=list)
    missed: bool = False

    @property
    def hot(self) -> Path:
        """The hot folder of the in-process watchers."""
        return self.workdir / "hot"

    @property
    def state(self) -> Path:
        """Their state folder (ledger, temporary Prefect server's database and leases)."""
        return self.workdir / "state"

    def prepare(self) -> None:
        """The rooms file and the batch, complete (READY) in the room: the first watcher claims it at once."""
        from tests.ops_fixtures import make_batch, write_rooms

        write_rooms(self.state / "rooms.yaml", rooms=(ROOM,), agencies=(AGENCY,))
        room = self.hot / ROOM
        room.mkdir(parents=True, exist_ok=True)
        (room / "room.yaml").write_text("settle_seconds: 0\nreview: never\n", encoding="utf-8")
        make_batch(room / BATCH, self.case_no, marker=True)

    def _watcher(self, name: str, once: bool) -> tuple[subprocess.Popen, Path]:
        log = self.workdir / f"{name}.log"
        env = {k: v for k, v in self.env.items() if k not in ("PREFECT_API_URL", "PREFECT_HOME")}
        command = [sys.executable, "-m", "flows.cli", "watch", str(self.hot), "--state", str(self.state),
                   "--in-process", *(["--once"] if once else [])]
        with open(log, "ab") as out:
            proc = subprocess.Popen(tied_to_parent(command), cwd=ROOT, env={**env, UNIT_ENV: self.unit},
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        return proc, log

    def strike(self, stop: Callable[[], bool]) -> str | None:
        """Start the first watcher, SIGKILL its process group once its run says it took the case lock; the fault's
        description, or None (``missed``) when no run held the lock in time. A watcher that ends before (its
        temporary server did not answer in time on a loaded machine) is followed by another, as a service manager
        would start it again."""
        self.prepare()
        deadline = time.monotonic() + self.take_timeout
        tries = 0
        while not stop() and time.monotonic() < deadline:
            tries += 1
            proc, log = self._watcher(f"first-watcher-{tries}", once=False)
            try:
                took = self._lock_taken(proc, log, deadline, stop)
                if took:
                    os.killpg(proc.pid, signal.SIGKILL)  # the lock's holder dies without a word
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            self._gone("the killed watcher's processes (its temporary Prefect server dies with it)")
            if took:
                break
            self.log(f"lock holder: watcher {tries} ended before its run took the case lock (exit "
                     f"{proc.returncode}, see {log}); starting another")
        else:
            self.missed = True
            self.problems.append(f"no in-process watcher's run took its case lock within {self.take_timeout:.0f} s "
                                 f"({tries} started)")
            return None
        if (self.hot / "done" / ROOM / BATCH).exists():
            self.missed = True
            self.problems.append("the in-process watcher's batch was done before its watcher was killed")
            return None
        return f"in-process watcher pid {proc.pid} (its run holding the lock of {self.case_no}; start #{tries})"

    @staticmethod
    def _lock_taken(proc: subprocess.Popen, log: Path, deadline: float, stop: Callable[[], bool]) -> bool:
        """Wait until the watcher's output says its run took the case lock; False when it ended or time ran out."""
        while "case lock" not in log.read_text(encoding="utf-8", errors="replace"):
            if proc.poll() is not None or stop() or time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def recover(self) -> None:
        """The next watcher (``--once``): it must end 0 with the batch published; nothing of it left running."""
        proc, log = self._watcher("next-watcher", once=True)
        try:
            code = proc.wait(timeout=self.publish_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            self.problems.append(f"the watcher after the killed lock holder was still running after "
                                 f"{self.publish_timeout:.0f} s (a case locked for ever?); see {log}")
            return
        if code != 0:
            self.problems.append(f"the watcher after the killed lock holder ended {code}; see {log}")
        self._gone("the next watcher's processes")

    def _gone(self, what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while left := unit_processes(self.unit, exact=True):
            if time.monotonic() > deadline:
                self.problems.append(f"{what} still running {timeout:.0f} s later: "
                                     f"{[' '.join(p.cmdline())[:120] for p in left]}")
                kill_all(left)
                return
            time.sleep(0.2)

    def check(self, store, verdict: Verdict) -> None:
        """After the drain: the batch done once (else lost), its ledger entry done, its case published exactly once
        (more is doubled); and what went wrong while it was struck and taken over."""
        from pipeline.operations import Ledger
        from pipeline.storage import manifest_versions

        label = f"{ROOM}/{BATCH} ({self.case_no}, its watcher killed holding the case lock)"
        verdict.problems.extend(self.problems)
        done = sorted(p.name for p in (self.hot / "done" / ROOM).glob(BATCH + "*"))
        quarantined = sorted(p.name for p in (self.hot / "quarantine" / ROOM).glob(BATCH + "*"))
        if not done:
            verdict.lost.append(f"{label}: not in done/ (quarantined: {quarantined})")
        elif done != [BATCH] or quarantined:
            verdict.duplicated.append(f"{label}: done {done}, quarantined {quarantined}")
        else:
            verdict.done += 1
        entries = [f"{e.room}/{e.batch}: {e.state}" for e in Ledger(self.state).entries()]
        if entries != [f"{ROOM}/{BATCH}: done"]:
            verdict.problems.append(f"{label}: ledger {entries}")
        versions = len(manifest_versions(store, self.case_no))
        if versions != 1:
            (verdict.duplicated if versions > 1 else verdict.problems).append(
                f"{label}: {versions} manifest version(s), expected 1")
