"""Soak run: the whole stack on this machine, three scanning rooms dropping batches, and every part killed at random.

    python bench/soak.py [--seed N] [--short] [--batches N] [--workdir DIR] [--keep] [--cache DIR] [--no-mount]

The stack, each part a child process that a service manager (``bench/soak_services.py``) restarts when it exits: the
embedded object store, the Prefect server, the ``dossier`` work pool with a worker per room (``flows/stack.py``'s
pieces: the deployments of prefect.yaml and the automations of automations.yaml), the hot-folder watcher against
the server, and the fetch service ``dossier serve``. Three rooms drop realistic batches at random moments in the
ways rooms do (``bench/soak_drops.py``) while the fault injector (``bench/soak_faults.py``) kills workers mid-page
and mid-publish, the watcher, the fetch service and the Prefect server, stops and freezes the store, kills a watcher
running its batch in-process while the run holds the case lock (``bench/soak_lockholder.py``), and fills the
state folder's filesystem once (a tmpfs mounted for it when ``mount`` works here, else ENOSPC injected at
``pipeline.common.write_atomic`` by the tests' site hook). Then, with no more faults, it waits for the stack to
drain and checks (``bench/soak_checks.py``): nothing lost (the lock holder's batch published by the next watcher),
nothing done twice, no double publish, no partial dossier, no orphaned claim, every dossier fetched and verified, the
audit chain intact, no process left over.

It prints batches, pages, faults by kind, lost, duplicated, the time to drain after the last fault, the stack's peak
memory and the seed; ``--seed`` replays a run's choices (timings still depend on the machine). Exit code 0 when every
check passed. ``--short`` is the quick version ``tests/test_soak.py`` runs in ``make test``.
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.soak_stack import Stack, StackConfig  # noqa: E402

DEFAULT_FAULTS = {"worker-mid-page": 3, "worker-mid-publish": 3, "watcher": 3, "fetch-service": 3,
                  "prefect-server": 3, "store-stop": 3, "store-freeze": 3, "disk-full": 1, "case-lock-holder": 1}
SHORT_FAULTS = {"worker-mid-page": 1, "worker-mid-publish": 1, "watcher": 1, "fetch-service": 1,
                "prefect-server": 1, "store-stop": 1, "store-freeze": 1, "disk-full": 1, "case-lock-holder": 1}


@dataclass
class SoakConfig:
    """A run's size; ``short()`` is the quick one."""

    seed: int
    batches: int = 42
    pages: tuple[int, int] = (5, 20)
    min_pages: int = 400
    rooms: int = 3
    window: float = 900.0
    duplicates: int = 3
    corrupt: int = 3
    faults: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_FAULTS))
    gap: tuple[float, float] = (20.0, 60.0)
    phase_gap: float = 60.0
    drain_timeout: float = 2400.0
    whole_worker: bool = True
    freeze_seconds: float = 25.0  # the store frozen this long: longer than the clients' 8 s timeout
    disk_full_seconds: float = 20.0
    retry_delays: str = ""  # the watcher's DOSSIER_RUN_RETRY_DELAYS ("": its own, 30 s then 90 s, ...)
    quiet_seconds: float = 15.0  # a room's wait for a batch whose marker came first to hold still
    again: tuple[float, float] = (20.0, 60.0)  # a duplicate dropped again this long after its first copy

    @classmethod
    def short(cls, seed: int) -> SoakConfig:
        """Five small batches, one fault of each kind; the slow faults shorter (the store still frozen past the
        clients' timeout) and the watcher's retries sooner (a batch failed by two faults in a row waited 30 + 90 s)."""
        return cls(seed=seed, batches=5, pages=(2, 3), min_pages=10, window=30.0, duplicates=1, corrupt=1,
                   faults=dict(SHORT_FAULTS), gap=(2.0, 5.0), phase_gap=5.0, drain_timeout=600.0,
                   whole_worker=False, freeze_seconds=12.0, disk_full_seconds=10.0, retry_delays="15,20,30,45,60",
                   quiet_seconds=8.0, again=(10.0, 30.0))


@dataclass
class Result:
    """What a soak run measured and found."""

    config: SoakConfig
    batches: int = 0
    pages: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    missed: dict[str, int] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    done: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    fetched: int = 0
    requests: tuple[int, dict] = (0, {})
    drain_seconds: float | None = None
    drain_after_drop: float | None = None
    wall_seconds: float = 0.0
    peak_rss: int = 0
    restarts: dict[str, int] = field(default_factory=dict)
    disk: str = ""
    audit: str = ""

    @property
    def ok(self) -> bool:
        """Every check passed and every planned fault was injected."""
        planned = self.config.faults
        return not (self.lost or self.duplicated or self.partial or self.problems or self.leftovers) and all(
            self.faults.get(k, 0) >= n for k, n in planned.items())


def report(r: Result) -> str:
    """The closing report."""
    ok_requests, errors = r.requests
    drain = (f"{r.drain_seconds:.0f} s (after the last drop: {r.drain_after_drop:.0f} s)"
             if r.drain_seconds is not None and r.drain_after_drop is not None else "did not drain")
    lines = [
        f"soak run, seed {r.config.seed}{' (short)' if r.config.batches < 40 else ''}: "
        f"{'PASSED' if r.ok else 'FAILED'} in {r.wall_seconds / 60:.1f} min",
        f"  batches           {r.batches} dropped ({r.config.duplicates} of them twice, {r.config.corrupt} with a "
        f"cut page) in {r.config.rooms} rooms; {r.pages} pages",
        f"  outcomes          {r.done} in done/, quarantined {dict(r.quarantined)}; {r.fetched} dossiers fetched "
        f"through the fetch service and verified",
        "  faults            " + ", ".join(f"{k} {v}" for k, v in sorted(r.faults.items()))
        + (f" (phase not seen in time: {dict(r.missed)})" if r.missed else ""),
        f"  state disk full   {r.disk}",
        "  restarts          " + ", ".join(f"{k} {v}" for k, v in sorted(r.restarts.items())),
        f"  lost              {len(r.lost)}",
        f"  duplicated        {len(r.duplicated)}",
        f"  partial dossiers  {len(r.partial)}",
        f"  leftover procs    {len(r.leftovers)}",
        f"  other problems    {len(r.problems)}",
        f"  drain after the last fault  {drain}",
        f"  peak memory (RSS of the whole stack)  {r.peak_rss / 2**20:.0f} MiB",
        f"  fetch requests during the run  {ok_requests} answered, failed {dict(errors)}",
        f"  audit             {r.audit}",
        f"  replay with       python bench/soak.py --seed {r.config.seed}"
        + (" --short" if r.config.batches < 40 else ""),
    ]
    for title, items in (("LOST", r.lost), ("DUPLICATED", r.duplicated), ("PARTIAL", r.partial),
                         ("LEFTOVER", r.leftovers), ("PROBLEM", r.problems)):
        lines += [f"  {title}: {item}" for item in items]
    return "\n".join(lines)


def run_soak(config: SoakConfig, workdir: Path, cache: Path, log=print, keep: bool = False,
             mount: bool = True) -> Result:
    """One soak run in ``workdir``; the stack is always torn down, whatever happens."""
    started = time.monotonic()
    result = Result(config)
    stack = Stack(StackConfig(workdir=workdir, cache=cache, rooms=[f"room-{i + 1}" for i in range(config.rooms)],
                              keep=keep, mount=mount, retry_delays=config.retry_delays,
                              quiet_seconds=config.quiet_seconds), log=log)
    try:
        drops = stack.plan(random.Random(config.seed), config)
        stack.start()
        result.batches = len(drops) + sum(1 for d in drops if d.again_at is not None)
        result.pages = sum(len(d.pages) for d in drops)
        stack.flow(drops, random.Random(config.seed + 1), config)
        result.drain_seconds = stack.drain(drops, config.drain_timeout)
        if stack.drained_at is not None:
            result.drain_after_drop = stack.drained_at - stack.last_drop
        log("drained; checking")
        stack.check(drops, result)
        log("checked; stopping the stack")
    finally:
        stack.stop(result)
        result.wall_seconds = time.monotonic() - started
        log("stack stopped")
    return result


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run, print the report; exit 0 when every check passed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=None, help="replay the choices of an earlier run")
    parser.add_argument("--short", action="store_true", help="the quick version (make test)")
    parser.add_argument("--batches", type=int, default=None, help="batches to drop (default 42; short 5)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the run lives (default: a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, hot folder, state)")
    parser.add_argument("--no-mount", action="store_true",
                        help="fill the disk by ENOSPC injected at write_atomic, even where a tmpfs can be mounted")
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                        / "scan-to-dossier" / "soak-pages", help="generated pages, kept between runs")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    config = SoakConfig.short(seed) if args.short else SoakConfig(seed)
    if args.batches:
        config.batches = args.batches
    workdir = args.workdir or Path(f"/tmp/dossier-soak-{seed}-{os.getpid()}")
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    started = time.strftime("%H:%M:%S")
    log_lock = threading.Lock()

    def log(message: str) -> None:
        with log_lock:
            print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 <pid>` prints where every thread is
    log(f"soak run, seed {seed}, started {started}, work folder {workdir}")
    result = run_soak(config, workdir, args.cache, log, keep=args.keep, mount=not args.no_mount)
    print(report(result), flush=True)
    if result.ok and not args.keep:
        subprocess.run(["rm", "-rf", str(workdir)], check=False)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
