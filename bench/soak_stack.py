"""The soak run's stack: start it under the service manager, let the rooms drop and the injector strike, drain it,
check it, and stop it, making sure no process is left over."""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from bench.soak_checks import (
    Verdict,
    check_audit,
    check_dossiers,
    check_ledger,
    check_leftovers,
    check_outcomes,
    check_store,
)
from bench.soak_drops import AGENCY, Drop, PagePool, deliver, plan_drops, stage
from bench.soak_faults import LOCK_HOLDER, DiskFiller, FaultPlan, Injector, Requester
from bench.soak_lockholder import LockHolder
from bench.soak_services import Service, Supervisor, kill_all, unit_processes
from flows import stack as ops
from flows.tempserver import free_port
from pipeline.common import write_private
from pipeline.settings import child_env
from pipeline.storage import EmbeddedStore, free_base_port, port_plan

if TYPE_CHECKING:
    from bench.soak import Result, SoakConfig

ROOT = Path(__file__).resolve().parent.parent
DOSSIER = [sys.executable, "-m", "flows.cli"]


@dataclass
class StackConfig:
    """Where the run lives and how its clients are set."""

    workdir: Path
    cache: Path
    rooms: list[str]
    state_mb: int = 1024
    keep: bool = False
    mount: bool = True  # False: inject ENOSPC at write_atomic even where a tmpfs could be mounted
    s3_timeout: float = 8.0
    s3_retries: int = 2
    retry_delays: str = ""  # DOSSIER_RUN_RETRY_DELAYS of the watcher ("": the product's)
    quiet_seconds: float = 15.0  # the rooms' quiet_seconds


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.status == 200
    except OSError:
        return False


def _wait(predicate, timeout: float, what: str, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class Stack:
    """The whole stack of one soak run, in ``config.workdir``."""

    def __init__(self, config: StackConfig, log=print):
        self.cfg, self.log = config, log
        w = config.workdir
        self.hot, self.state, self.sources, self.out = w / "hot", w / "state", w / "sources", w / "fetched"
        self.logs = w / "logs"
        self.unit = f"soak-{os.getpid()}-{secrets.token_hex(3)}/"
        self.sup = Supervisor(log)
        self.mounted = False
        self.peak_rss = 0
        self._foreign: set[int] = set()  # the caller's own processes (a test session's Prefect server): not the run's
        self._sampling = threading.Event()
        self._lock = threading.Lock()
        self._dropping = 0
        self._last_drop = 0.0
        self.drained_at: float | None = None
        self.injector: Injector | None = None
        self.requester: Requester | None = None
        self.lock_holder: LockHolder | None = None

    # -- start -------------------------------------------------------------------------------------------------------
    def _mount_state(self) -> Path | None:
        """A tmpfs of its own for the state folder (so that it can be filled); None when mounting is not allowed."""
        self.state.mkdir(parents=True, exist_ok=True)
        if not self.cfg.mount:
            self.log("no filesystem of its own for the state folder: ENOSPC will be injected at write_atomic")
            return None
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.cfg.state_mb}m,mode=0700", "dossier-soak",
                               str(self.state)], capture_output=True, text=True)
        self.mounted = done.returncode == 0
        if not self.mounted:
            self.log(f"cannot mount a tmpfs for the state folder ({done.stderr.strip()}): ENOSPC will be injected at "
                     f"pipeline.common.write_atomic instead")
        return self.state if self.mounted else None

    def _env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DOSSIER_"))}
        env = ops.service_env(self.state, self.api, base)
        creds = self.store.credentials(create=True)
        env.update({"PREFECT_HOME": str(self.cfg.workdir / "prefect"), "DOSSIER_SLOTS_DIR": str(self.cfg.workdir /
                                                                                             "slots"),
                    "DOSSIER_S3_ENDPOINT": self.store.endpoint, "DOSSIER_S3_ACCESS_KEY": creds.access_key,
                    "DOSSIER_S3_SECRET_KEY": creds.secret_key, "DOSSIER_S3_BUCKET": self.store.bucket,
                    "DOSSIER_S3_TIMEOUT": str(self.cfg.s3_timeout), "DOSSIER_S3_RETRIES": str(self.cfg.s3_retries),
                    "PREFECT_LOGGING_LEVEL": "INFO", "COLUMNS": "200",
                    "DOSSIER_DEVELOPMENT_KEY": "1"})  # a bench: no production key to configure
        if self.cfg.retry_delays:
            env["DOSSIER_RUN_RETRY_DELAYS"] = self.cfg.retry_delays
        if not self.mounted:
            from tests.faults import ENOSPC_ENV, SITE

            env[ENOSPC_ENV] = str(self.cfg.workdir / "disk-full.flag")
            env["PYTHONPATH"] = os.pathsep.join([str(SITE), str(ROOT)])
        return env

    def _service(self, name: str, command: list[str], env: dict[str, str], **kw) -> Service:
        return self.sup.add(Service(name, command, env, self.logs / f"{name}.log", self.unit + name, **kw))

    def start(self) -> None:
        """Store, server, pool and deployments, workers, watcher, fetch service; then a requester's token."""
        self._foreign = {p.pid for p in psutil.Process().children(recursive=True)}
        mount = self._mount_state()
        self.filler = DiskFiller(mount, None if mount else self.cfg.workdir / "disk-full.flag")
        self.store = EmbeddedStore(self.cfg.workdir / "store-state", base_port=free_base_port())
        self.port, self.serve_port = free_port(), free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.serve_url = f"http://127.0.0.1:{self.serve_port}"
        self.env = self._env()
        creds = self.store.credentials(create=True)
        store_env = child_env({"AWS_ACCESS_KEY_ID": creds.access_key, "AWS_SECRET_ACCESS_KEY": creds.secret_key},
                              drop_prefixes=("AWS_",))
        for sub in ("data", "logs", "run"):
            (self.store.root / sub).mkdir(parents=True, exist_ok=True)
        self.sup.start()
        self._service("store", self.store.command(), store_env, restart_delay=3.0, stop_timeout=60.0,
                      on_start=self._store_started)
        _wait(self.store.pid_file.exists, 30, "the store's pid file")
        self.store.start(timeout=300)  # finds the running instance, waits for S3, makes the bucket
        self._service("server", ops.server_command(self.port), self.env, restart_delay=3.0)
        _wait(lambda: _answers(self.api + "/health"), 240, "the Prefect server")
        self.log(f"store {self.store.endpoint} and Prefect server {self.api} up; deploying")
        ops.prepare_server(self.cfg.rooms, self.env)
        self._rooms_file()
        for room in self.cfg.rooms:
            self._room(room)
            self._service(f"worker-{room}", ops.worker_command(room), self.env, stop_timeout=30.0)
        self._service("watcher", ops.watcher_command(self.hot, self.state), self.env)
        self._service("serve", [*DOSSIER, "serve", "--state", str(self.state), "--port", str(self.serve_port)],
                      self.env)
        _wait(lambda: _answers(self.serve_url + "/health"), 300, "the fetch service")
        token = subprocess.run([*DOSSIER, "token", "create", "--agency", AGENCY, "--state", str(self.state)],
                               cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=600, check=True)
        self.token = token.stdout.strip().splitlines()[-1]
        threading.Thread(target=self._sample_memory, name="memory", daemon=True).start()
        self.log(f"stack up: rooms {', '.join(self.cfg.rooms)}; fetch service {self.serve_url}")

    def _store_started(self, service: Service) -> None:
        """What `dossier store start` leaves for clients and for `EmbeddedStore.pid()`: pid and server files."""
        self.store.pid_file.write_text(f"{service.proc.pid}\n")
        write_private(self.store.server_file, json.dumps({"base_port": self.store.base_port, "endpoint":
                                                          self.store.endpoint, "bucket": self.store.bucket,
                                                          "ports": port_plan(self.store.base_port)}))

    def _rooms_file(self) -> None:
        """The administrator's rooms file: every room bound to the one agency, any case number."""
        from tests.ops_fixtures import write_rooms

        write_rooms(self.state / "rooms.yaml", rooms=tuple(self.cfg.rooms), agencies=(AGENCY,))

    def _room(self, room: str) -> None:
        from pipeline.operations import RoomConfig

        folder = self.hot / room
        folder.mkdir(parents=True, exist_ok=True)
        lines = ["settle_seconds: 2", f"quiet_seconds: {self.cfg.quiet_seconds:g}"]
        if "review" in RoomConfig.model_fields:  # unattended rooms: never pause a run for an operator
            lines.append("review: never")
        (folder / "room.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def _sample_memory(self) -> None:
        me = psutil.Process()
        while not self._sampling.wait(1.0):
            total = 0
            for proc in [me, *(p for p in me.children(recursive=True) if p.pid not in self._foreign)]:
                try:
                    total += proc.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            self.peak_rss = max(self.peak_rss, total)

    # -- the run -----------------------------------------------------------------------------------------------------
    def plan(self, rng: random.Random, config: SoakConfig) -> list[Drop]:
        """The batches, staged on the rooms' "scanner PCs" (pages from the cached pool)."""
        drops = plan_drops(rng, self.cfg.rooms, config.batches, config.pages, config.min_pages, config.window,
                           config.duplicates, config.corrupt, tag=f"{config.seed % 10**5:05d}", again=config.again)
        pool = PagePool(self.cfg.cache)
        pool.ensure(max(i for d in drops for i in d.pages) + 1, log=self.log)
        self.staged = {d.label: stage(d, pool, self.sources / d.room / d.name) for d in drops}
        return drops

    def flow(self, drops: list[Drop], rng: random.Random, config: SoakConfig) -> None:
        """Rooms drop their batches while the injector strikes; returns when both are through."""
        plan = FaultPlan(config.faults, gap=config.gap, phase_gap=config.phase_gap, whole_worker=config.whole_worker,
                         freeze_seconds=config.freeze_seconds, disk_full_seconds=config.disk_full_seconds)
        self._dropping = len(self.cfg.rooms)
        if config.faults.get(LOCK_HOLDER):
            # the same installation as the stack, as a second watcher machine is: its access database (the audit key
            # its entries are authenticated with, the owners), its store
            env = {**self.env, "DOSSIER_DB_URL": f"sqlite:///{self.state / 'access.db'}"}
            self.lock_holder = LockHolder(self.cfg.workdir / "lock-holder", env, self.unit + "lock-holder",
                                          f"（2025）豫0727刑初{config.seed % 10**5:05d}900号", self.log)
        self.injector = Injector(plan, random.Random(rng.random()), self.sup, self.state / "work", self.unit,
                                 self.filler, self._idle, self.log, self.lock_holder)
        self.requester = Requester(self.serve_url, self.token, self._done_cases, random.Random(rng.random()))
        started = time.monotonic()
        threads = [threading.Thread(target=self._drop_room, args=(room, [d for d in drops if d.room == room],
                                                                 started, random.Random(rng.random())),
                                    name=f"drops-{room}") for room in self.cfg.rooms]
        threads.append(threading.Thread(target=self.injector.run, name="faults"))
        threads.append(threading.Thread(target=self.requester.run, name="requester", daemon=True))
        for t in threads:
            t.start()
        for t in threads[:-1]:
            t.join()
        self.last_fault = max([f.at for f in self.injector.done], default=time.time())
        self.last_drop = self._last_drop
        self.log(f"every batch dropped and every fault injected ({dict(self.injector.counts())}); draining")

    def _idle(self) -> bool:
        """Every batch dropped, none waiting in a room or claimed: nothing left to process."""
        if self._dropping:
            return False
        rooms = [self.hot / room for room in self.cfg.rooms]
        waiting = [p for room in rooms for p in room.iterdir() if p.is_dir()]
        return not waiting and not list((self.hot / ".processing").glob("*/*"))

    def _drop_room(self, room: str, drops: list[Drop], started: float, rng: random.Random) -> None:
        try:
            self._drops_of(room, drops, started, rng)
        finally:
            with self._lock:
                self._dropping -= 1

    def _drops_of(self, room: str, drops: list[Drop], started: float, rng: random.Random) -> None:
        again = []
        for drop in drops:
            time.sleep(max(0.0, started + drop.at - time.monotonic()))
            deliver(self.staged[drop.label], self.hot / room, drop.name, drop.style, rng)
            self.log(f"dropped {drop.label} ({len(drop.pages)} pages, {drop.style}"
                     f"{', a page cut short' if drop.corrupt else ''})")
            self._last_drop = time.time()
            if drop.again_at is not None:
                again.append((time.monotonic() + drop.again_at, drop))
        for when, drop in sorted(again, key=lambda a: a[0]):
            time.sleep(max(0.0, when - time.monotonic()))
            first = self.hot / room / drop.name
            _wait(lambda first=first: not first.exists(), 3600, f"{drop.label} to be taken", 1.0)
            deliver(self.staged[drop.label], self.hot / room, drop.name, "rename", rng)
            self.log(f"dropped {drop.label} again (the same files)")
            self._last_drop = time.time()

    def _done_cases(self) -> list[str]:
        import json

        found = []
        for batch in (self.hot / "done").glob("*/*/batch.json"):
            try:
                found.append(json.loads(batch.read_text(encoding="utf-8"))["case_no"])
            except (OSError, ValueError, KeyError):
                continue
        return found

    def drain(self, drops: list[Drop], timeout: float) -> float | None:
        """Wait until every copy dropped has an outcome and nothing is in flight; seconds after the last fault."""
        from pipeline.operations import Ledger

        def drained() -> bool:
            for drop in drops:
                copies = 2 if drop.again_at is not None else 1
                found = sum(len(list((self.hot / o / drop.room).glob(drop.name + "*"))) for o in ("done", "quarantine"))
                if found < copies:
                    return False
            claims = list((self.hot / ".processing").glob("*/*"))
            return not claims and all(e.state in ("done", "quarantined") for e in Ledger(self.state).entries())

        try:
            _wait(drained, timeout, "the stack to drain", interval=2.0)
        except RuntimeError as exc:
            self.log(str(exc))
            return None
        self.drained_at = time.time()
        return self.drained_at - self.last_fault

    def check(self, drops: list[Drop], result: Result) -> None:
        """The closing checks, with the stack still up (the fetch service answers the fetches)."""
        from pipeline.settings import StoreSettings
        from pipeline.storage import ObjectStore, StoreConfig

        verdict = Verdict()
        check_outcomes(self.hot, drops, self.staged, verdict)
        check_leftovers(self.hot, self.state, verdict)
        store = ObjectStore(StoreConfig.from_settings(StoreSettings.from_environ(self.env), self.state))
        check_store(store, self.hot, drops, verdict)
        check_ledger(self.state, store, drops, verdict)
        check_dossiers(drops, self.serve_url, self.token, self.state, self.out, verdict)
        if self.lock_holder is not None:
            self.lock_holder.check(store, verdict)
        result.audit = check_audit(self.state, self.env, verdict)
        result.done, result.quarantined, result.fetched = verdict.done, dict(verdict.quarantined), verdict.fetched
        result.lost, result.duplicated, result.partial = verdict.lost, verdict.duplicated, verdict.partial
        result.problems += verdict.problems

    # -- stop --------------------------------------------------------------------------------------------------------
    def stop(self, result: Result) -> None:
        """Stop everything (watcher first, store last), then look for any process left over."""
        if self.injector is not None:
            self.injector.stop.set()
            self.injector.finished.wait(timeout=120)
            result.faults, result.missed = dict(self.injector.counts()), dict(self.injector.missed)
        if self.requester is not None:
            self.requester.stop.set()
            result.requests = (self.requester.ok, dict(self.requester.errors))
        self._sampling.set()
        result.peak_rss = self.peak_rss
        result.restarts = {n: s.starts - 1 for n, s in self.sup.services.items()}
        result.disk = "a tmpfs of its own, filled" if self.mounted else "ENOSPC injected at write_atomic"
        if "store" in self.sup.services:
            self.sup.services["store"].stop_timeout = 2.0  # the end, checks done: no need to wait ~30 s for a clean stop
        try:  # the watcher first (no new run), the store last (the others may still write to it as they go)
            self.sup.stop_all([["watcher"], [f"worker-{r}" for r in self.cfg.rooms] + ["serve", "server"], ["store"]])
        finally:
            time.sleep(1.0)
            self._leftovers(result)
            if self.mounted:
                if self.cfg.keep:  # the tmpfs goes with the mount: keep its ledger, run records and logs
                    shutil.copytree(self.state, self.cfg.workdir / "state-kept", symlinks=True,
                                    ignore=shutil.ignore_patterns("page-cache", "ocr-cache", ".soak-filler"))
                subprocess.run(["umount", "-l", str(self.state)], check=False)
            shutil.rmtree(self.cfg.workdir / "slots", ignore_errors=True)

    def _leftovers(self, result: Result) -> None:
        """Any process of the run still alive is a leftover (and is killed)."""
        left = unit_processes(self.unit) + [p for p in psutil.Process().children(recursive=True)
                                            if p.status() != psutil.STATUS_ZOMBIE and p.pid not in self._foreign]
        for proc in left:
            try:
                result.leftovers.append(f"{proc.pid} {' '.join(proc.cmdline())[:160]}")
            except psutil.NoSuchProcess:
                continue
        kill_all(left)
