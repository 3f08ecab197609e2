"""Prefect's temporary API server for one CLI run, started at once in its own process while the CLI loads.

Without ``PREFECT_API_URL``, Prefect starts a temporary server when the first flow runs: it imports the whole server
into the CLI process (~5 s), then starts it in a subprocess and waits (~7 s more), all before the first task. Started
here instead — the same uvicorn command Prefect uses, on a free loopback port — the server boots on another core
while the CLI imports the pipeline, and the CLI never imports the server at all.

The server never outlives the CLI: it is stopped when the CLI ends (SIGINT and normal exits run :meth:`stop`), and it
is started under ``setpriv --pdeathsig KILL`` (:func:`pipeline.common.tied_to_parent`) so that the kernel kills it
when the CLI dies without cleaning up (SIGTERM's default action, SIGKILL, a crash). Start it from the main thread:
the signal is sent when the thread that started it ends. It runs in a session of its own: a SIGTERM to the CLI's
process group (``timeout``, systemd) reaches the CLI, which reports to the server before it stops it, instead of
killing the server first and leaving the CLI's last reports hanging.

It keeps the per-case locks' leases on disk, in its PREFECT_HOME (the state folder's), and runs the service that
frees expired leases (it is not started as Prefect's "ephemeral" server, which runs none): a run killed while it
held its case's lock frees the case within a lease's time, when the next server of the same state folder runs,
instead of locking it for ever.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from pipeline.common import tied_to_parent

LEASE_STORAGE = "prefect.server.concurrency.lease_storage.filesystem"
"""Where every Prefect server of ours (make up's, the CLI's temporary one) keeps the per-case locks' leases: on disk.
In memory (Prefect's default) a restarted server forgot them while the slots stayed taken: the case stayed locked."""

UNUSED_SERVICES = ("SCHEDULER", "LATE_RUNS", "FOREMAN", "DB_VACUUM", "CANCELLATION_CLEANUP")
"""Server services a CLI's runs never need (no deployments, schedules or workers here); the repossessor, which frees
expired case-lock leases, stays on."""


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TemporaryServer:
    """A Prefect API server in a child process, bound to 127.0.0.1, with its database in PREFECT_HOME."""

    def __init__(self, timeout: float = 120.0):
        self.timeout = timeout
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        self.process: subprocess.Popen | None = None
        self._ready = threading.Event()
        self._error: str | None = None

    def start(self) -> TemporaryServer:
        """Launch the server and point this process's Prefect client at it (PREFECT_API_URL)."""
        import importlib.util

        prefect_dir = Path(importlib.util.find_spec("prefect").origin).parent
        env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_FINAL": "1",
               "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": LEASE_STORAGE,
               **{f"PREFECT_SERVER_SERVICES_{name}_ENABLED": "false" for name in UNUSED_SERVICES}}
        command = [sys.executable, "-m", "uvicorn", "--app-dir", str(prefect_dir.parent), "--factory",
                   "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(self.port),
                   "--log-level", "error", "--lifespan", "on"]
        self.process = subprocess.Popen(tied_to_parent(command), env=env, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
        os.environ["PREFECT_API_URL"] = self.url
        threading.Thread(target=self._wait_healthy, name="prefect-server-health", daemon=True).start()
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = self.process.returncode if self.process else "?"
                self._error = f"the temporary Prefect server exited with code {code}"
                break
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        self._ready.set()
                        return
            except OSError:
                pass
            time.sleep(0.2)
        self._error = self._error or f"the temporary Prefect server did not answer within {self.timeout:.0f} s"
        self._ready.set()

    def wait(self) -> None:
        """Block until the server answers; raise if it failed to start."""
        self._ready.wait()
        if self._error:
            raise RuntimeError(self._error)

    def stop(self) -> None:
        """Send what Prefect still holds (logs, events) to the server, then terminate it (kill it after 5 s)."""
        if self.process is None:
            return
        if "prefect" in sys.modules:
            from prefect.events.worker import EventsWorker
            from prefect.logging.handlers import APILogWorker

            APILogWorker.drain_all(timeout=10, at_exit=False)
            EventsWorker.drain_all(timeout=10, at_exit=False)
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        os.environ.pop("PREFECT_API_URL", None)

    def __enter__(self) -> TemporaryServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
