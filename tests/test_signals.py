"""`dossier process` and `dossier watch` stop cleanly when told to (SIGTERM) in the middle of their work, and a batch
that would have blocked them is refused at once: real subprocesses, Prefect and the store."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from pipeline.operations import Ledger
from samples import hostile
from tests.operator_fixtures import Command
from tests.ops_fixtures import (
    make_batch,
    store_environment,
    subprocess_env,
    wait_for,
    write_profile,
    write_rooms,
)
from tests.store_fixtures import unique_case_no

STOP_SECONDS = 90  # a page chunk in flight is finished, not abandoned half-written


@pytest.fixture
def command():
    started: list[Command] = []

    def start(args: list[str], env: dict[str, str]) -> Command:
        started.append(Command(args, env))
        return started[-1]

    yield start
    for cmd in started:
        cmd.cleanup()


def temporary_servers(prefect_home: Path) -> list:
    """The temporary Prefect servers still running with this PREFECT_HOME (they run in a session of their own)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any("create_app" in part for part in proc.info["cmdline"] or ()) and \
                    proc.environ().get("PREFECT_HOME") == str(prefect_home):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def one_room_with_a_batch(tmp_path: Path) -> tuple[Path, Path]:
    """A hot folder whose room-1 holds a complete batch b1, and a state folder binding the room; (hot, state)."""
    hot, state = tmp_path / "hot", tmp_path / "state"
    (hot / "room-1").mkdir(parents=True)
    (hot / "room-1" / "room.yaml").write_text("settle_seconds: 0\nreview: never\n", encoding="utf-8")
    write_rooms(state / "rooms.yaml")
    make_batch(hot / "room-1" / "b1", unique_case_no(), marker=True)
    return hot, state


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
    wait_for(lambda: not cmd.group_alive() and not temporary_servers(tmp_path / "ph"), 15,
             "the temporary Prefect server to stop with the command")
    assert code == 128 + signal.SIGTERM, cmd.output()
    assert cmd.saw("SIGTERM"), cmd.output()


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
    hot, state = one_room_with_a_batch(tmp_path)
    env = subprocess_env(store_environment(embedded_store))
    args = ["watch", str(hot), "--state", str(state), "--in-process"]
    cmd = command(args, env)
    wait_for(lambda: cmd.saw("case lock") or cmd.proc.poll() is not None, 240, "the batch's run to reach its pages")
    assert cmd.proc.poll() is None, cmd.output()
    time.sleep(2.0)
    cmd.proc.send_signal(signal.SIGTERM)
    code = cmd.proc.wait(timeout=STOP_SECONDS)
    assert code == 128 + signal.SIGTERM, cmd.output()
    assert cmd.saw("SIGTERM"), cmd.output()
    assert (hot / ".processing" / "room-1" / "b1").is_dir()  # still claimed, nothing lost
    again = command([*args, "--once"], env)
    assert again.proc.wait(timeout=600) == 0, again.output()
    [entry] = Ledger(state).entries()
    assert entry.state == "done" and (hot / "done" / "room-1" / "b1").is_dir(), entry.reason
    assert Path(entry.outcome_path).is_dir()


def test_sigterm_to_the_process_group_stops_dossier_process_paused_for_review(embedded_store, prefect_harness,
                                                                            tmp_path, command):
    make_batch(tmp_path / "b1", unique_case_no())
    env = without_server(subprocess_env({**store_environment(embedded_store), "PREFECT_HOME": str(tmp_path / "ph")}))
    cmd = command(["process", str(tmp_path / "b1"), "--state", str(tmp_path / "state"), "--no-progress",
                   "--review", "always", "--profile", str(write_profile(tmp_path))], env)
    wait_for(lambda: cmd.saw("waiting for a review") or cmd.proc.poll() is not None, 300, "the run to pause")
    assert cmd.proc.poll() is None, cmd.output()
    os.killpg(cmd.proc.pid, signal.SIGTERM)  # as `timeout` and systemd do: the whole group
    code = cmd.proc.wait(timeout=STOP_SECONDS)
    assert code == 128 + signal.SIGTERM, cmd.output()
    wait_for(lambda: not cmd.group_alive() and not temporary_servers(tmp_path / "ph"), 15,
             "everything the command started to stop")


def test_sigterm_to_the_process_group_stops_a_busy_dossier_watch(embedded_store, prefect_harness, tmp_path, command):
    hot, state = one_room_with_a_batch(tmp_path)
    env = without_server(subprocess_env(store_environment(embedded_store)))
    cmd = command(["watch", str(hot), "--state", str(state), "--in-process"], env)
    wait_for(lambda: cmd.saw("case lock") or cmd.proc.poll() is not None, 300, "the batch's run to reach its pages")
    assert cmd.proc.poll() is None, cmd.output()
    os.killpg(cmd.proc.pid, signal.SIGTERM)
    code = cmd.proc.wait(timeout=STOP_SECONDS)
    assert code == 128 + signal.SIGTERM, cmd.output()
    wait_for(lambda: not cmd.group_alive() and not temporary_servers(state / "prefect"), 15,
             "everything the watcher started to stop")
    assert (hot / ".processing" / "room-1" / "b1").is_dir()  # still claimed, nothing lost


def test_a_watcher_killed_while_its_run_holds_the_case_lock_frees_the_case_for_the_next_watcher(
        embedded_store, prefect_harness, tmp_path, command):
    hot, state = one_room_with_a_batch(tmp_path)
    env = without_server(subprocess_env(store_environment(embedded_store)))
    args = ["watch", str(hot), "--state", str(state), "--in-process"]
    first = command(args, env)
    wait_for(lambda: first.saw("case lock") or first.proc.poll() is not None, 300, "the run to take its case lock")
    assert first.proc.poll() is None, first.output()
    os.killpg(first.proc.pid, signal.SIGKILL)  # the lock's holder dies without a word
    first.proc.wait(timeout=30)
    wait_for(lambda: not temporary_servers(state / "prefect"), 30, "the first temporary server to die with it")
    again = command([*args, "--once"], env)  # a new temporary server on the same Prefect database
    assert again.proc.wait(timeout=600) == 0, again.output()
    [entry] = Ledger(state).entries()
    assert entry.state == "done", (entry.reason, again.output())
