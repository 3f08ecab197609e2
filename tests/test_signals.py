"""`dossier process` and `dossier watch` stop cleanly when told to (SIGTERM) in the middle of their work, and a batch
that would have blocked them is refused at once: real subprocesses, Prefect and the store."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from pipeline.operations import Ledger
from samples import hostile
from tests.ops_fixtures import DOSSIER, ROOT, make_batch, store_environment, subprocess_env, wait_for, write_rooms
from tests.store_fixtures import unique_case_no

STOP_SECONDS = 90  # a page chunk in flight is finished, not abandoned half-written


class Command:
    """A `dossier` subprocess in its own process group, its output collected line by line."""

    def __init__(self, args: list[str], env: dict[str, str]):
        self.lines: list[str] = []
        self.proc = subprocess.Popen([*DOSSIER, *args], cwd=ROOT, env={**env, "COLUMNS": "300"},
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def saw(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def output(self) -> str:
        return "\n".join(self.lines[-60:])

    def group_alive(self) -> bool:
        """Whether anything the command started (the temporary Prefect server, a tool) is still running."""
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


@pytest.fixture
def command():
    started: list[Command] = []

    def start(args: list[str], env: dict[str, str]) -> Command:
        started.append(Command(args, env))
        return started[-1]

    yield start
    for cmd in started:
        cmd.cleanup()


def without_server(env: dict[str, str]) -> dict[str, str]:
    """`dossier process` starting its own temporary Prefect server, as on an operator's machine."""
    return {k: v for k, v in env.items() if k != "PREFECT_API_URL"}


def test_dossier_process_stops_cleanly_on_sigterm_while_pages_are_processed(embedded_store, prefect_harness,
                                                                            tmp_path, command):
    make_batch(tmp_path / "b1", unique_case_no())
    env = without_server(subprocess_env({**store_environment(embedded_store), "PREFECT_HOME": str(tmp_path / "ph")}))
    cmd = command(["process", str(tmp_path / "b1"), "--state", str(tmp_path / "state"), "--no-progress"], env)
    wait_for(lambda: cmd.saw("case lock") or cmd.proc.poll() is not None, 240, "the run to reach its pages")
    assert cmd.proc.poll() is None, cmd.output()
    time.sleep(2.0)  # pages being imaged and OCRed
    os.killpg(cmd.proc.pid, 0)
    cmd.proc.send_signal(signal.SIGTERM)
    code = cmd.proc.wait(timeout=STOP_SECONDS)
    wait_for(lambda: not cmd.group_alive(), 15, "the temporary Prefect server to stop with the command")
    assert code == 128 + signal.SIGTERM, cmd.output()
    assert cmd.saw("stopped by SIGTERM"), cmd.output()


def test_dossier_process_refuses_a_named_pipe_page_at_once_instead_of_blocking(prefect_harness, tmp_path, command):
    folder = tmp_path / "b1"
    folder.mkdir()
    hostile.fifo("002.jpg")(folder, unique_case_no())
    env = subprocess_env({"PREFECT_HOME": str(tmp_path / "ph")})
    cmd = command(["process", str(folder), "--state", str(tmp_path / "state"), "--no-publish", "--no-progress"], env)
    code = cmd.proc.wait(timeout=240)
    assert code == 3, cmd.output()
    assert cmd.saw("002.jpg: a named pipe"), cmd.output()


def test_dossier_watch_stops_cleanly_on_sigterm_mid_run_and_the_batch_is_resumed(embedded_store, prefect_harness,
                                                                               tmp_path, command):
    hot, state = tmp_path / "hot", tmp_path / "state"
    (hot / "room-1").mkdir(parents=True)
    (hot / "room-1" / "room.yaml").write_text("settle_seconds: 0\nreview: never\n", encoding="utf-8")
    write_rooms(state / "rooms.yaml")
    make_batch(hot / "room-1" / "b1", unique_case_no(), marker=True)
    env = subprocess_env(store_environment(embedded_store))
    args = ["watch", str(hot), "--state", str(state), "--in-process"]
    cmd = command(args, env)
    wait_for(lambda: cmd.saw("case lock") or cmd.proc.poll() is not None, 240, "the batch's run to reach its pages")
    assert cmd.proc.poll() is None, cmd.output()
    time.sleep(2.0)
    cmd.proc.send_signal(signal.SIGTERM)
    code = cmd.proc.wait(timeout=STOP_SECONDS)
    assert code == 128 + signal.SIGTERM, cmd.output()
    assert cmd.saw("stopped by SIGTERM"), cmd.output()
    assert (hot / ".processing" / "room-1" / "b1").is_dir()  # still claimed, nothing lost
    again = command([*args, "--once"], env)
    assert again.proc.wait(timeout=600) == 0, again.output()
    [entry] = Ledger(state).entries()
    assert entry.state == "done" and (hot / "done" / "room-1" / "b1").is_dir(), entry.reason
    assert Path(entry.outcome_path).is_dir()
