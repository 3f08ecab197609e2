"""The soak run's service manager: every part of the stack is a child process that is restarted when it exits, the way
an operator's service manager (systemd with ``Restart=always``) keeps it running.

Each service is a *unit*: its processes, and every process they start, carry ``DOSSIER_SOAK_UNIT=<run>/<service>`` in
their environment (the role a cgroup plays for systemd). When a unit's main process exits, whatever it left behind in
the unit is killed before the service is started again after ``restart_delay`` seconds. Services are started from the
manager's own thread under ``setpriv --pdeathsig KILL``, so that nothing survives the soak run itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from pipeline.common import tied_to_parent

ROOT = Path(__file__).resolve().parent.parent
UNIT_ENV = "DOSSIER_SOAK_UNIT"


def unit_processes(prefix: str, exact: bool = False) -> list[psutil.Process]:
    """Living processes whose unit marker starts with ``prefix`` (is ``prefix``, when ``exact``); zombies have ended
    and are left out."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid == os.getpid() or proc.status() == psutil.STATUS_ZOMBIE:
                continue
            unit = proc.environ().get(UNIT_ENV, "")
            if unit == prefix or (not exact and unit.startswith(prefix)):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def kill_all(processes: list[psutil.Process], sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to each process still there."""
    for proc in processes:
        try:
            proc.send_signal(sig)
        except psutil.NoSuchProcess:
            pass


@dataclass
class Service:
    """One supervised program."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    unit: str
    restart_delay: float = 2.0
    stop_signal: int = signal.SIGTERM
    stop_timeout: float = 20.0
    proc: subprocess.Popen | None = None
    starts: int = 0
    exits: list[tuple[float, int]] = field(default_factory=list)
    restart_at: float = 0.0
    enabled: bool = True
    on_start: Callable[[Service], None] | None = None

    @property
    def pid(self) -> int | None:
        """The main process's pid while it runs."""
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def start(self) -> None:
        """Start the program (from the manager's thread: the pdeathsig is tied to the starting thread)."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            out.write(f"\n--- {time.strftime('%H:%M:%S')} start #{self.starts + 1}: {' '.join(self.command)}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(tied_to_parent(self.command), cwd=ROOT, env={**self.env, UNIT_ENV: self.unit},
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.starts += 1
        if self.on_start is not None:
            self.on_start(self)

    def reap(self) -> bool:
        """True when the main process has exited since the last look; what it left in the unit is killed."""
        if self.proc is None or self.proc.poll() is None:
            return False
        self.exits.append((time.time(), self.proc.returncode))
        self.proc = None
        kill_all(unit_processes(self.unit, exact=True))
        return True

    def stop(self) -> None:
        """Stop the unit: the stop signal to the main process, SIGKILL to the unit after ``stop_timeout``."""
        self.enabled = False
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.send_signal(self.stop_signal)
                self.proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        deadline = time.monotonic() + 10
        while (left := unit_processes(self.unit, exact=True)) and time.monotonic() < deadline:
            kill_all(left)
            time.sleep(0.2)


class Supervisor:
    """Starts services, restarts them when they exit, and stops them in order; one thread does all of it."""

    def __init__(self, log: Callable[[str], None] = print, tick: float = 0.3):
        self.services: dict[str, Service] = {}
        self.log = log
        self.tick = tick
        self._requests: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)

    def add(self, service: Service) -> Service:
        """Supervise a service (started on the next tick unless disabled)."""
        with self._lock:
            self.services[service.name] = service
        return service

    def start(self) -> None:
        """Start the manager's thread."""
        self._thread.start()

    def call(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the manager's thread (anything that starts a process must) and wait for it."""
        done = threading.Event()
        errors: list[BaseException] = []

        def wrapped() -> None:
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller
                errors.append(exc)
            finally:
                done.set()

        with self._lock:
            self._requests.append(wrapped)
        done.wait()
        if errors:
            raise errors[0]

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                requests, self._requests = self._requests, []
                services = list(self.services.values())
            for request in requests:
                request()
            now = time.monotonic()
            for svc in services:
                if svc.reap():
                    code = svc.exits[-1][1]
                    self.log(f"service {svc.name} exited with code {code}; restart in {svc.restart_delay:g} s")
                    svc.restart_at = now + svc.restart_delay
                if svc.enabled and svc.proc is None and now >= svc.restart_at:
                    svc.start()
                    if svc.starts > 1:
                        self.log(f"service {svc.name} restarted (start #{svc.starts}, pid {svc.pid})")
            time.sleep(self.tick)
        with self._lock:
            requests, self._requests = self._requests, []
        for request in requests:
            request()
        self._done.set()

    def stop_all(self, order: list[list[str]]) -> None:
        """Stop the services group by group in ``order`` (those of a group at once; then any others), from the
        manager's thread, and end it."""
        named = {n for group in order for n in group}
        groups = [[n for n in group if n in self.services] for group in order]
        groups.append([n for n in self.services if n not in named])

        def stop_group(names: list[str]) -> None:
            threads = [threading.Thread(target=self.services[n].stop, name=f"stop-{n}") for n in names]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        for group in groups:
            self.call(lambda group=group: stop_group(group))
        self._stop.set()
        self._done.wait(timeout=60)
