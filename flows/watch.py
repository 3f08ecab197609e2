"""The hot-folder watcher: watchdog events (or polling, for network shares) drive :class:`pipeline.hotfolder.Intake`,
which claims complete batches and starts one flow run per batch.

Runs are created with ``run_deployment(..., idempotency_key=<batch fingerprint key>)`` when a Prefect server is
configured (the key is durable on the server: the same key returns the same run, even after a watcher crash), or
run in this process when none is. The watcher is a CLI command (``dossier watch``) and a flow (``watch-hotfolder``)
that a worker can keep running.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

from prefect import flow, get_run_logger

from flows.runstatus import status_of, unreachable
from flows.stuck import StuckRuns
from pipeline.operations import (
    HotFolder,
    Intake,
    Ledger,
    LedgerEntry,
    MachineCheck,
    RoomConfig,
    RoomsFile,
    RunStatus,
    Submission,
    SubmitUnavailable,
    watcher_state_path,
)
from pipeline.settings import Settings

DEFAULT_DEPLOYMENT = "process-batch/process-batch"
logger = logging.getLogger("dossier.watch")


def server_configured() -> bool:
    """True when Prefect talks to a server (PREFECT_API_URL from the environment, a profile or a test harness)."""
    from prefect.settings import PREFECT_API_URL

    return bool(PREFECT_API_URL.value())


class DeploymentSubmitter:
    """Creates flow runs of a deployment on the Prefect server, one per batch fingerprint."""

    def __init__(self, deployment: str, home: Path, stuck_seconds: float | None = None):
        self.deployment = deployment
        self.home = home
        self.stuck = StuckRuns(stuck_seconds if stuck_seconds is not None
                               else Settings.load().operations.stuck_seconds)
        self._pools: dict[str, str | None] = {}

    def _work_pool(self, name: str) -> str | None:
        """The deployment's work pool (None for a served deployment, which takes no work queue)."""
        if name not in self._pools:
            from prefect.client.orchestration import get_client

            with get_client(sync_client=True) as client:
                self._pools[name] = client.read_deployment_by_name(name).work_pool_name
        return self._pools[name]

    def submit(self, entry: LedgerEntry, batch_dir: Path, config: RoomConfig) -> Submission:
        """Create (or find, by idempotency key) the run for a claimed batch."""
        from prefect.deployments import run_deployment
        from prefect.exceptions import ObjectNotFound

        name = config.deployment or self.deployment
        params = {"batch_dir": str(batch_dir), "batch_id": entry.batch, "state": str(self.home),
                  "fingerprint": entry.fingerprint,
                  "room": config.policy.model_dump(mode="json") if config.policy else None}
        if config.profile:
            params["profile"] = config.profile
        if config.review:
            params["review"] = config.review
        try:
            queue = config.work_queue or entry.room if self._work_pool(name) else None
            run = run_deployment(name, parameters=params, idempotency_key=entry.key, timeout=0, as_subflow=False,
                                 work_queue_name=queue, flow_run_name=f"{entry.room}-{entry.batch}",
                                 tags=[f"room:{entry.room}"])
        except ObjectNotFound as exc:
            raise SubmitUnavailable(f"deployment {name} not found on the server (deploy it: prefect deploy --all)") \
                from exc
        except Exception as exc:
            if unreachable(exc):
                raise SubmitUnavailable(f"{type(exc).__name__}: {exc}") from exc
            raise
        return Submission(str(run.id), (run.parameters or {}).get("batch_dir"))

    def status(self, run_id: str) -> RunStatus:
        """The run's state on the server."""
        from prefect.client.orchestration import get_client

        try:
            with get_client(sync_client=True) as client:
                run = client.read_flow_run(UUID(run_id))
                state = self.stuck.check(client, run)  # a run the server's automations missed
        except Exception as exc:
            if unreachable(exc):
                raise SubmitUnavailable(f"{type(exc).__name__}: {exc}") from exc
            raise
        return status_of(run.model_copy(update={"state": state}) if state is not None else run)

    def retry(self, entry: LedgerEntry, batch_dir: Path, config: RoomConfig, delay_seconds: float) -> Submission:
        """Reschedule the same run (as `prefect flow-run retry` does) to start after the delay."""
        from datetime import UTC, datetime, timedelta

        from prefect.client.orchestration import get_client
        from prefect.states import Scheduled

        when = datetime.now(UTC) + timedelta(seconds=delay_seconds)
        try:
            with get_client(sync_client=True) as client:
                client.set_flow_run_state(UUID(entry.run_id), Scheduled(scheduled_time=when, message=(
                    f"retried by the hot-folder watcher (attempt {entry.attempts + 1})")), force=True)
        except Exception as exc:
            if unreachable(exc):
                raise SubmitUnavailable(f"{type(exc).__name__}: {exc}") from exc
            raise
        return Submission(str(entry.run_id), str(batch_dir))


class Watcher:
    """Watches a hot folder and feeds its intake: events mark batches to look at; a look every second re-checks
    batches that are still settling and follows runs; a full scan every ``rescan_seconds`` catches missed events."""

    def __init__(self, hotfolder: Path, home: Path, submitter, poll: bool = False, poll_interval: float = 2.0,
                 tick_seconds: float = 1.0, rescan_seconds: float = 30.0, log: Callable[[str], None] | None = None,
                 rooms: Path | RoomsFile | None = None, retry_delays: tuple[float, ...] | None = None,
                 machine: MachineCheck | None = None, machine_seconds: float = 10.0):
        settings = Settings.load()
        self.hot = HotFolder(hotfolder, rooms if rooms is not None else rooms_file(settings, home),
                             zone=settings.locale.zone())
        self.home = home
        self.log = log or logger.info
        delays = retry_delays or settings.operations.retry_delays  # DOSSIER_RUN_RETRY_DELAYS, else the intake's
        self.intake = Intake(self.hot, Ledger(home), submitter, log=self.log, check_machine=machine,
                             machine_seconds=machine_seconds, state_file=watcher_state_path(home),
                             **({"retry_delays": delays} if delays else {}))
        self.poll = poll
        self.poll_interval = poll_interval
        self.tick_seconds = tick_seconds
        self.rescan_seconds = rescan_seconds
        self._dirty: set[Path] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._watched_rooms: set[str] = set()
        self._rooms_changed = False
        self._handler = None

    def _event(self, event) -> None:
        for raw in (getattr(event, "src_path", None), getattr(event, "dest_path", None)):
            if not raw:
                continue
            path = Path(raw.decode() if isinstance(raw, bytes) else raw)
            if path.parent == self.hot.root:
                self._rooms_changed = True  # a room may have appeared: watch it
            where = self.hot.room_of(path)
            if where is not None:
                with self._lock:
                    self._dirty.add(self.hot.root / where[0] / where[1])
            self._wake.set()

    def _observer(self):
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event) -> None:
                watcher._event(event)

        observer = PollingObserver(timeout=self.poll_interval) if self.poll else Observer()
        self._handler = Handler()
        # the root only for new rooms; each room recursively: done/ and quarantine/ are never watched
        observer.schedule(self._handler, str(self.hot.root), recursive=False)
        return observer

    def _watch_rooms(self, observer) -> None:
        for room in self.hot.rooms():
            if room not in self._watched_rooms:
                observer.schedule(self._handler, str(self.hot.root / room), recursive=True)
                self._watched_rooms.add(room)

    def run(self, stop: threading.Event | None = None, until_idle: bool = False, min_seconds: float = 3.0) -> None:
        """Catch up, then watch until ``stop`` is set (or, with ``until_idle``, until nothing is left to do)."""
        stop = stop or threading.Event()
        observer = self._observer()
        self._watch_rooms(observer)
        observer.start()
        started = time.monotonic()
        mode = f"polling every {self.poll_interval:.1f} s" if self.poll else "inotify"
        self.log(f"watching {self.hot.root} ({mode}); state {self.home}")
        try:
            self.intake.recover()
            self.intake.tick(full_scan=True)
            last_scan = time.monotonic()
            while not stop.is_set():
                self._wake.wait(self.tick_seconds)
                self._wake.clear()
                full = time.monotonic() - last_scan >= self.rescan_seconds or self._rooms_changed
                if full:
                    self._rooms_changed = False
                    self._watch_rooms(observer)
                with self._lock:
                    dirty, self._dirty = self._dirty, set()
                self.intake.tick(dirty, full_scan=full)
                if full:
                    last_scan = time.monotonic()
                if until_idle and time.monotonic() - started >= min_seconds and not self.intake.busy() \
                        and not self._settling():
                    break
        finally:
            observer.stop()
            close = getattr(self.intake.submitter, "close", None)
            if close is not None:
                close()
            observer.join(timeout=10)

    def _settling(self) -> bool:
        """True while a seen batch is only waiting to hold still (it may be claimed within seconds)."""
        return any("changing" in why for why in self.intake.waiting().values())


def rooms_file(settings: Settings, home: Path) -> Path:
    """The administrator's rooms file: DOSSIER_ROOMS_FILE, else ``rooms.yaml`` in the state folder."""
    from flows.preflight import rooms_file_of

    return rooms_file_of(settings, settings.layout(home))


def make_submitter(home: Path, deployment: str = DEFAULT_DEPLOYMENT, in_process: bool | None = None,
                   flow_options: dict | None = None):
    """The submitter for this environment: the server's deployment when one is configured, else in-process."""
    if in_process is None:
        in_process = not server_configured()
    if in_process:
        from flows.inprocess import InProcessSubmitter

        return InProcessSubmitter(home, flow_options)
    return DeploymentSubmitter(deployment, home)


@flow(name="watch-hotfolder")
def watch_hotfolder(hotfolder: str, state: str | None = None, poll: bool = False,
                    deployment: str = DEFAULT_DEPLOYMENT) -> None:
    """Watch a hot folder for as long as this run lives, starting one process-batch run per complete batch."""
    from flows.preflight import watcher_check

    log = get_run_logger()
    settings = Settings.load()
    home = settings.layout(state).root
    rooms = rooms_file(settings, home)
    Watcher(Path(hotfolder), home, DeploymentSubmitter(deployment, home), poll=poll, log=log.info, rooms=rooms,
            machine=watcher_check(settings, home, rooms, Path(hotfolder))).run()
