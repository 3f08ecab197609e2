"""The soak run's fault injector: at random moments it kills or starves one part of the stack.

=====================  =============================================================================================
``worker-mid-page``    SIGKILL a room's worker while one of its runs has a Tesseract running;
                       its service manager then kills what the worker left (the run, Tesseract) and restarts it;
                       the short run kills only the run's process (the worker reports the crash at once, where
                       a dead worker's run is found by its missing heartbeats, after 90 s)
``worker-mid-publish`` the same while the run publishes (its run.json says built: checked, objects being written;
                       or published: dossier.json written, the run not yet reported)
``watcher``            SIGKILL the hot-folder watcher
``fetch-service``      SIGKILL ``dossier serve`` (the requester thread keeps asking it)
``prefect-server``     SIGKILL the Prefect server
``store-stop``         SIGTERM the object store (it takes up to ~30 s to go), restarted when it has exited
``store-freeze``       SIGSTOP the object store for longer than the clients' timeout, then SIGCONT
``disk-full``          fill the state folder's filesystem for a while, then free it
``case-lock-holder``   SIGKILL a watcher running its batch in-process while the run holds the case lock; the next
                       watcher must publish the case (``bench/soak_lockholder.py``; beside the timed faults)
=====================  =============================================================================================
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx
import psutil

from bench.soak_lockholder import LockHolder
from bench.soak_services import UNIT_ENV, Supervisor, kill_all, unit_processes

PHASE_TASKS = {"worker-mid-page": "pages", "worker-mid-publish": "publish"}  # fault -> phase of the run
LOCK_HOLDER = "case-lock-holder"  # struck in a thread of its own: its watchers take minutes, not seconds


@dataclass
class Fault:
    """One fault as injected."""

    kind: str
    at: float
    detail: str


@dataclass
class FaultPlan:
    """How many of each fault, the pause between them, and how long the slow ones last."""

    counts: dict[str, int]
    gap: tuple[float, float] = (10.0, 40.0)  # seconds between timed faults
    phase_gap: float = 60.0  # at least this long between two phase faults
    freeze_seconds: float = 25.0
    disk_full_seconds: float = 20.0
    phase_wait: float = 60.0  # seconds with nothing in flight before phase faults are given up
    whole_worker: bool = True  # kill the worker (and with it its run); False: only the run's process


@dataclass
class DiskFiller:
    """Fills a filesystem (a file as large as the free space) or, where no filesystem of our own could be mounted,
    creates the flag file on which the tests' write hook raises ENOSPC."""

    mount: Path | None
    flag: Path | None = None

    def fill(self) -> str:
        """Take every free byte; returns what was done."""
        if self.mount is None:
            assert self.flag is not None
            self.flag.write_text("full")
            return f"ENOSPC injected at pipeline.common.write_atomic (flag {self.flag})"
        filler = self.mount / ".soak-filler"
        free = os.statvfs(self.mount).f_bavail * os.statvfs(self.mount).f_frsize
        with open(filler, "wb") as out:
            try:
                os.posix_fallocate(out.fileno(), 0, max(1, free))
            except OSError:
                pass
            chunk = b"\0" * (1 << 20)
            try:
                while True:
                    out.write(chunk)
                    out.flush()
            except OSError:
                pass
        return f"filled {self.mount} ({free / 2**20:.0f} MiB were free)"

    def free(self) -> None:
        """Give the space back."""
        if self.mount is None:
            assert self.flag is not None
            self.flag.unlink(missing_ok=True)
        else:
            (self.mount / ".soak-filler").unlink(missing_ok=True)


class Injector:
    """Injects the planned faults: the phase faults (a worker killed mid-page or mid-publish) as soon as a run is seen
    in that phase, each run at most once (a batch gets three retries); the others in a random order at random
    moments. Gives up on phase faults once nothing has been in flight for a while (reported as missed)."""

    def __init__(self, plan: FaultPlan, rng: random.Random, supervisor: Supervisor, work: Path, unit_prefix: str,
                 filler: DiskFiller, idle: Callable[[], bool], log: Callable[[str], None] = print,
                 lock_holder: LockHolder | None = None):
        self.plan, self.rng, self.sup, self.work, self.unit_prefix = plan, rng, supervisor, work, unit_prefix
        self.filler, self.idle, self.log, self.lock_holder = filler, idle, log, lock_holder
        self.done: list[Fault] = []
        self.missed: Counter = Counter()
        self.stop = threading.Event()
        self.finished = threading.Event()
        self._killed_runs: set[str] = set()
        self._lock = threading.Lock()

    def counts(self) -> Counter:
        """Faults injected, by kind."""
        return Counter(f.kind for f in self.done)

    def _record(self, kind: str, detail: str) -> None:
        with self._lock:
            self.done.append(Fault(kind, time.time(), detail))
        self.log(f"FAULT {kind}: {detail}")

    def run(self) -> None:
        """Both kinds of faults, until every planned one was injected (or phase faults had no more chance)."""
        others = [threading.Thread(target=self._phase_faults, name="phase-faults")]
        if self.plan.counts.get(LOCK_HOLDER) and self.lock_holder is not None:
            others.append(threading.Thread(target=self._lock_holder_fault, name="lock-holder"))
        for thread in others:
            thread.start()
        try:
            self._timed_faults()
            self.log("every timed fault injected")
            for thread in others:
                thread.join()
        finally:
            self.finished.set()

    def _lock_holder_fault(self) -> None:
        detail = self.lock_holder.strike(self.stop.is_set)
        if detail is None:
            self.missed[LOCK_HOLDER] += 1
            self.log(f"{LOCK_HOLDER} not injected: {self.lock_holder.problems[-1:]}")
            return
        self._record(LOCK_HOLDER, detail)
        self.lock_holder.recover()
        self.log(f"{LOCK_HOLDER}: the next watcher is through ({self.lock_holder.problems or 'no problem'})")

    def _timed_faults(self) -> None:
        pending = [k for k, n in self.plan.counts.items() if k not in (*PHASE_TASKS, LOCK_HOLDER) for _ in range(n)]
        self.rng.shuffle(pending)
        while pending and not self.stop.wait(self.rng.uniform(*self.plan.gap)):
            kind = pending.pop(0)
            detail = self.inject(kind)
            if detail is None:  # the service was down (restarting): try this one again later
                pending.insert(min(len(pending), 1), kind)
                continue
            self._record(kind, detail)

    def _phase_faults(self) -> None:
        wanted = Counter({k: n for k, n in self.plan.counts.items() if k in PHASE_TASKS})
        idle_since: float | None = None
        last_kill = last_page_look = 0.0
        while +wanted and not self.stop.wait(0.1):
            now = time.monotonic()
            if self.idle():
                idle_since = idle_since or now
                if now - idle_since > self.plan.phase_wait:
                    self.missed.update(+wanted)
                    self.log(f"no run left to kill in its phase: {dict(+wanted)} not injected")
                    return
                continue
            idle_since = None
            if now - last_kill < self.plan.phase_gap:
                continue
            kinds = [k for k in PHASE_TASKS if wanted[k] > 0]
            if now - last_page_look < 1.0:  # a page phase lasts seconds: looked for once a second (it costs more)
                kinds = [k for k in kinds if k != "worker-mid-page"]
            for kind in kinds:
                if kind == "worker-mid-page":
                    last_page_look = now
                detail = self._kill_worker_in_phase(PHASE_TASKS[kind])
                if detail is not None:
                    wanted[kind] -= 1
                    last_kill = time.monotonic()
                    self._record(kind, detail)
                    break

    def inject(self, kind: str) -> str | None:
        """Inject one timed fault; None when the service is not running right now."""
        if kind in ("watcher", "fetch-service", "prefect-server"):
            name = {"fetch-service": "serve", "prefect-server": "server"}.get(kind, kind)
            return self._signal(name, signal.SIGKILL, "SIGKILL")
        if kind == "store-stop":
            return self._signal("store", signal.SIGTERM, "stopped (SIGTERM); restarted once it has exited")
        if kind == "store-freeze":
            return self._freeze_store()
        if kind == "disk-full":
            what = self.filler.fill()
            time.sleep(self.plan.disk_full_seconds)
            self.filler.free()
            return f"{what} for {self.plan.disk_full_seconds:g} s"
        raise ValueError(f"unknown fault {kind}")

    def _signal(self, service: str, sig: int, what: str) -> str | None:
        pid = self.sup.services[service].pid
        if pid is None:
            return None
        os.kill(pid, sig)
        return f"{service} pid {pid}: {what}"

    def _freeze_store(self) -> str | None:
        pid = self.sup.services["store"].pid
        if pid is None:
            return None
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(self.plan.freeze_seconds)
        finally:
            os.kill(pid, signal.SIGCONT)
        return f"store pid {pid} frozen (SIGSTOP) for {self.plan.freeze_seconds:g} s, then SIGCONT"

    def _kill_worker_in_phase(self, phase: str) -> str | None:
        """Kill a run's worker (or only the run) while the run is in ``phase``: "pages" (the run is reading
        its pages) or "publish": its run.json says built (checked, objects being written) or, half of the time,
        published (dossier.json written, the run not yet reported). The run is frozen first (SIGSTOP) and its phase
        looked at again, so that the kill lands in the phase however short it is."""
        for run_id, status, record in self._runs_by_status():
            if run_id in self._killed_runs or status != ("built" if phase == "publish" else "running"):
                continue
            procs = self._run_processes(run_id)
            if not procs or (phase == "pages" and not _reading_pages(record, procs)):
                continue
            if phase == "publish" and self.rng.random() < 0.5 and not _wait_status(record, "published", 60.0):
                continue
            run_proc, unit = procs[0], _environ(procs[0]).get(UNIT_ENV, "")
            kill_all(procs, signal.SIGSTOP)
            now = _status(record)
            if (phase == "publish" and now not in ("built", "published")) or (
                    phase == "pages" and not _reading_pages(record, procs)):
                kill_all(procs, signal.SIGCONT)
                continue
            self._killed_runs.add(run_id)
            service = next((s for s in self.sup.services.values() if s.unit == unit), None)
            if self.plan.whole_worker and service is not None and service.pid is not None:
                os.kill(service.pid, signal.SIGKILL)  # its service manager kills the rest of it: the run, Tesseract
                kill_all(procs)
                return f"{service.name} pid {service.pid} (and with it run {run_id}) in phase {phase} ({now})"
            kill_all(procs)
            return f"run {run_id}'s process pid {run_proc.pid} ({unit.rsplit('/', 1)[-1]}) in phase {phase} ({now})"
        return None

    def _runs_by_status(self) -> list[tuple[str, str, Path]]:
        """(flow run id, status, run.json) of every run record in the state folder's work folders."""
        found = []
        for path in self.work.glob("*/*/run.json"):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if data.get("flow_run_id"):
                found.append((data["flow_run_id"], data.get("status", ""), path))
        self.rng.shuffle(found)
        return found

    def _run_processes(self, run_id: str) -> list[psutil.Process]:
        """The process running a flow run (first) and its children, e.g. Tesseract; empty when there is none."""
        for proc in unit_processes(self.unit_prefix):
            if _environ(proc).get("PREFECT__FLOW_RUN_ID") == run_id and proc.name() != "tesseract":
                try:
                    return [proc, *proc.children(recursive=True)]
                except psutil.NoSuchProcess:
                    return []
        return []


def _reading_pages(record: Path, procs: list[psutil.Process]) -> bool:
    """Whether a run is in its page stage: a Tesseract of it runs, or (PP-OCR reads in the run's own process) its
    record says running with no volume planned yet."""
    if any(p.name() == "tesseract" for p in procs[1:]):
        return True
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return data.get("status") == "running" and not data.get("volumes")


def _status(record: Path) -> str:
    try:
        return json.loads(record.read_text(encoding="utf-8")).get("status", "")
    except (OSError, ValueError):
        return ""


def _wait_status(record: Path, status: str, timeout: float) -> bool:
    """Poll a run record every 10 ms until it says ``status``; False when it did not within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _status(record) == status:
            return True
        time.sleep(0.01)
    return False


def _environ(proc) -> dict[str, str]:
    try:
        return proc.environ()
    except Exception:  # noqa: BLE001 - gone or a zombie
        return {}


@dataclass
class Requester:
    """A clerk of the owning agency: keeps fetching published dossiers through the fetch service while faults happen."""

    url: str
    token: str
    cases: Callable[[], list[str]]
    rng: random.Random
    ok: int = 0
    errors: Counter = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        """One request every second or so: a manifest, now and then a volume."""
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(timeout=15, headers=headers, follow_redirects=True) as client:
            while not self.stop.wait(self.rng.uniform(0.5, 1.5)):
                cases = self.cases()
                if not cases:
                    continue
                case = self.rng.choice(cases)
                path = f"/dossiers/{quote(case, safe='')}" + ("/volumes/1" if self.rng.random() < 0.2 else "")
                try:
                    resp = client.get(self.url + path)
                    if resp.status_code == 200:
                        self.ok += 1
                    else:
                        self.errors[f"HTTP {resp.status_code}"] += 1
                except httpx.HTTPError as exc:
                    self.errors[type(exc).__name__] += 1
