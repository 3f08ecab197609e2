"""The watcher's runs in its own process (no Prefect server of its own: the CLI's temporary one): each run in a thread
of its own, one working at a time — a run paused for a 卷内目录 review does not count, so a review never stops the
other batches of any room."""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from pathlib import Path
from uuid import UUID

from flows.runstatus import status_of, unreachable
from pipeline.operations import LedgerEntry, RoomConfig, RunStatus, Submission, SubmitUnavailable

logger = logging.getLogger("dossier.watch")


class InProcessSubmitter:
    """Runs the process-batch flow in this process, against its Prefect server (the CLI's temporary one): each run
    in a thread of its own, one working at a time — a run paused for a 卷内目录 review does not count, so a review
    never stops the other batches. Nothing deduplicates runs but the ledger, which is enough on one machine."""

    def __init__(self, home: Path, flow_options: dict | None = None, at_once: int = 1, poll_seconds: float = 1.0):
        self.home = home
        self.flow_options = flow_options or {}
        self.at_once = at_once
        self.poll_seconds = poll_seconds
        self._queue: list[tuple[float, object, dict]] = []  # (not before, flow run, parameters)
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._dispatcher: threading.Thread | None = None

    def _flow(self):
        from flows.process import process_batch

        return process_batch.with_options(**self.flow_options) if self.flow_options else process_batch

    def submit(self, entry: LedgerEntry, batch_dir: Path, config: RoomConfig, delay_seconds: float = 0.0
               ) -> Submission:
        """Create the run on the server now; it starts here as soon as no other run is working."""
        from prefect.client.orchestration import get_client

        params = {"batch_dir": str(batch_dir), "batch_id": entry.batch, "profile": config.profile,
                  "state": str(self.home), "room": config.policy, "fingerprint": entry.fingerprint,
                  "review": config.review}
        flow = self._flow()
        try:
            with get_client(sync_client=True) as client:
                run = client.create_flow_run(flow, name=f"{entry.room}-{entry.batch}", parameters=params,
                                             tags=[f"room:{entry.room}"])
        except Exception as exc:
            if unreachable(exc):
                raise SubmitUnavailable(f"{type(exc).__name__}: {exc}") from exc
            raise
        with self._lock:
            self._queue.append((time.monotonic() + delay_seconds, run, params))
            if self._dispatcher is None or not self._dispatcher.is_alive():
                context = contextvars.copy_context()  # the test harness keeps its server's URL in a context var
                self._dispatcher = threading.Thread(target=context.run, args=(self._dispatch,),
                                                    name="in-process-runs", daemon=True)
                self._dispatcher.start()
        return Submission(str(run.id), None)

    def _working(self) -> int:
        """Runs of this process that work now (started, alive, not paused for a review)."""
        from prefect.client.orchestration import get_client

        alive = [run_id for run_id, t in self._threads.items() if t.is_alive()]
        if not alive:
            return 0
        with get_client(sync_client=True) as client:
            return sum(1 for run_id in alive
                       if not status_of(client.read_flow_run(UUID(run_id))).paused)

    def _dispatch(self) -> None:
        while True:
            try:
                with self._lock:
                    due = [q for q in self._queue if q[0] <= time.monotonic()]
                if due and self._working() < self.at_once:
                    with self._lock:
                        self._queue.remove(due[0])
                    _, run, params = due[0]
                    self._start(run, params)
            except Exception as exc:  # noqa: BLE001 - the server did not answer: asked again
                logger.warning("in-process runs: %s: %s", type(exc).__name__, exc)
            time.sleep(self.poll_seconds)

    def _start(self, run, params: dict) -> None:
        from prefect.flow_engine import run_flow

        context = contextvars.copy_context()
        flow = self._flow()
        thread = threading.Thread(target=context.run, name=f"run-{run.name}", daemon=True,
                                  args=(run_flow, flow, run, params), kwargs={"return_type": "state"})
        self._threads[str(run.id)] = thread
        thread.start()

    def status(self, run_id: str) -> RunStatus:
        """The run's state on the server (queued here: not final)."""
        from prefect.client.orchestration import get_client

        try:
            with get_client(sync_client=True) as client:
                return status_of(client.read_flow_run(UUID(run_id)))
        except Exception as exc:
            if unreachable(exc):
                raise SubmitUnavailable(f"{type(exc).__name__}: {exc}") from exc
            raise

    def run_seconds(self, run_id: str) -> float:
        """How long a run of this process took, from its start to its end (its wait behind others left out)."""
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            run = client.read_flow_run(UUID(run_id))
        return float(run.total_run_time.total_seconds()) if run.total_run_time else 0.0

    def retry(self, entry: LedgerEntry, batch_dir: Path, config: RoomConfig, delay_seconds: float) -> Submission:
        """A new run of the batch, started here after the delay (the watcher goes on meanwhile)."""
        return self.submit(entry, batch_dir, config, delay_seconds)

    def close(self, timeout: float = 15.0) -> None:
        """The watcher stops: each run of this process is stopped as a signal stops the main thread's — the
        exception raised in its thread unwinds it, so that it gives its case lock back and reports itself crashed
        (its batch stays claimed and goes on at the next start). A run paused for a review, waiting on the server,
        is left to its case lock's lease."""
        import ctypes

        with self._lock:
            self._queue.clear()
        alive = [t for t in self._threads.values() if t.is_alive() and t.ident is not None]
        for thread in alive:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(RunStopped))
        deadline = time.monotonic() + timeout
        for thread in alive:
            thread.join(max(0.0, deadline - time.monotonic()))


class RunStopped(KeyboardInterrupt):
    """Raised in an in-process run's thread when its watcher stops."""
