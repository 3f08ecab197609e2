"""`dossier watch` as scanning rooms and administrators meet it: a real watcher subprocess (in-process runs, against
the session's Prefect server or its own temporary one), the real store, and the commands an operator types."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
from pathlib import Path

import yaml

from pipeline.operations import Ledger, LedgerEntry
from tests.ops_fixtures import AGENCY, DOSSIER, ROOT, wait_for

RUN_TIMEOUT = 900  # a wait on a condition, long for a loaded machine; the waits fail at once on a quarantine


def write_bindings(path: Path, rooms: dict[str, dict]) -> Path:
    """The administrator's rooms file with one binding per room."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"rooms": rooms}, allow_unicode=True), encoding="utf-8")
    return path


def binding(profile: Path, agencies: tuple[str, ...] = (AGENCY,), case_numbers: tuple[str, ...] = (".*",)) -> dict:
    """One room's binding."""
    return {"agencies": list(agencies), "case_numbers": list(case_numbers), "profile": str(profile)}


def review_profile(folder: Path, version: str = "1.0.0-test-review") -> Path:
    """A test profile without OCR that pauses for a 卷内目录 review when a field is in doubt."""
    path = folder / f"profile-{version}.yaml"
    path.write_text(f'id: "DA/T 31-2017"\nversion: "{version}"\nocr:\n  enabled: false\nvolumes:\n  max_pages: 2\n'
                    f'review: flagged\n', encoding="utf-8")
    return path


def make_room(hot: Path, room: str, extra: str = "") -> Path:
    """A room whose batches count as complete 0.5 s after their READY marker."""
    folder = hot / room
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "room.yaml").write_text("settle_seconds: 0.5\n" + extra, encoding="utf-8")
    return folder


def drop(source: Path, room: Path, name: str) -> Path:
    """Drop a finished batch as copy tools should: a hidden folder renamed into place, READY inside."""
    hidden = room / f".{name}.incoming"
    shutil.copytree(source, hidden)
    (hidden / "READY").write_bytes(b"")
    os.rename(hidden, room / name)
    return room / name


def entries(state: Path, batch: str) -> list[LedgerEntry]:
    """The ledger's entries of a batch name, newest first."""
    return [e for e in Ledger(state).entries() if e.batch == batch]


def settled(state: Path, batch: str, state_name: str | None = None) -> LedgerEntry | None:
    """The newest entry of a batch once it is done or quarantined (or in ``state_name``)."""
    found = entries(state, batch)
    wanted = (state_name,) if state_name else ("done", "quarantined")
    return found[0] if found and found[0].state in wanted else None


class Command:
    """A `dossier` subprocess in a session (process group) of its own, its output collected line by line."""

    def __init__(self, args: list[str], env: dict[str, str], columns: int = 300):
        self.lines: list[str] = []
        self.proc = subprocess.Popen([*DOSSIER, *args], cwd=ROOT, env={**env, "COLUMNS": str(columns)},
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def saw(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def output(self, n: int = 60) -> str:
        return "\n".join(self.lines[-n:])

    def group_alive(self) -> bool:
        """Whether anything the command started in its group (a tool, a watcher's runs) is still running."""
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def cleanup(self) -> None:
        if self.group_alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.wait(timeout=30)


class Watch(Command):
    """`dossier watch HOT --in-process` (runs in its process, one working at a time)."""

    def __init__(self, hot: Path, state: Path, env: dict[str, str], *extra: str):
        super().__init__(["watch", str(hot), "--state", str(state), "--in-process", *extra], env, columns=400)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int | None:
        """Stop it (SIGTERM to its group; SIGKILL when it does not end in time)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        self.cleanup()
        return self.proc.returncode


def dossier(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """A `dossier` command as an operator types it."""
    return subprocess.run([*DOSSIER, *args], cwd=ROOT, env={**env, "COLUMNS": "200"}, capture_output=True, text=True,
                          timeout=timeout)


def audit_entries(env: dict[str, str], action: str) -> list[dict]:
    """Every audit entry of an action in the store (read straight from its segments)."""
    from pipeline.settings import StoreSettings
    from pipeline.storage import ObjectStore, StoreConfig

    store = ObjectStore(StoreConfig.from_settings(StoreSettings.from_environ(env), Path(".")))
    found = []
    for info in store.list_keys("system/audit/"):
        if "-cli-" not in info.key or not info.key.endswith(".jsonl"):
            continue
        for line in store.get_bytes(info.key).decode("utf-8", errors="replace").splitlines():
            if f'"{action}"' in line:
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
    return found


def settled_as(state: Path, batch: str, watch: Watch | None = None) -> str:
    """What became of a batch that was to wait (e.g. paused for review), once it is settled instead: "" until then."""
    entry = settled(state, batch)
    return f"batch {batch} is {entry.state}: {entry.reason}" + (f"\n{watch.output()}" if watch else "") if entry else ""


def wait_settled(state: Path, batch: str, watch: Watch | None = None, state_name: str | None = None,
                 timeout: float = RUN_TIMEOUT) -> LedgerEntry:
    """Wait until a batch is settled (or in ``state_name``)."""
    return wait_for(lambda: settled(state, batch, state_name), timeout,
                    f"batch {batch} to be {state_name or 'settled'}" + (f"\n{watch.output()}" if watch else ""))
