"""Nothing the CLI or the watcher starts outlives it: the temporary Prefect server, Tesseract, the JVM.

Each test starts the real command, waits until the child it is about exists, stops the command with a signal and
checks that every process it had started is gone. SIGINT and SIGTERM are the ways an operator or a service manager
stops it; SIGKILL leaves no chance to clean up, so the children must be killed by the kernel (pdeathsig).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from pipeline.operations import Ledger
from tests.ops_fixtures import (
    DOSSIER,
    ROOT,
    SAMPLE,
    make_batch,
    store_environment,
    wait_for,
    write_profile,
    write_rooms,
)
from tests.store_fixtures import unique_case_no


def descendants(pid: int) -> list[psutil.Process]:
    """Every living process below ``pid``."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def survivors(processes: list[psutil.Process]) -> list[str]:
    """Those of ``processes`` still running (a zombie has ended; the same pid reused by another process does not
    count: psutil compares creation times)."""
    left = []
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{proc.pid} {' '.join(proc.cmdline())[:160]}")
        except psutil.NoSuchProcess:
            continue
    return left


def child_named(pid: int, *words: str) -> list[psutil.Process] | None:
    """The descendants of ``pid`` once one of them has all ``words`` in its command line, else None."""
    found = descendants(pid)
    for proc in found:
        try:
            line = " ".join(proc.cmdline())
        except psutil.NoSuchProcess:
            continue
        if all(w in line for w in words):
            return found
    return None


def stop_and_check(proc: subprocess.Popen, children: list[psutil.Process], sig: signal.Signals) -> None:
    """Send ``sig`` to the command, wait for it to end, and require every child it had to be gone."""
    proc.send_signal(sig)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"the command did not end within 60 s of {sig.name}") from None
    left: list[str] = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        left = survivors(children)
        if not left:
            return
        time.sleep(0.2)
    for child in children:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    raise AssertionError(f"still running 15 s after {sig.name} of their parent: {left}")


def local_env(tmp_path: Path, development_key: bool = True) -> dict[str, str]:
    """The CLI's environment with no Prefect server configured, so that it starts its own (without the development
    key, a batch fails at once on the missing key, rather than being retried as the absent store is)."""
    unset = ("PREFECT_API_URL",) if development_key else ("PREFECT_API_URL", "DOSSIER_DEVELOPMENT_KEY")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update({"PYTHONPATH": str(ROOT), "DOSSIER_HOME": str(tmp_path / "state"), "COLUMNS": "200"})
    return env


@pytest.mark.slow  # a temporary Prefect server each
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name)
def test_dossier_watch_in_process_leaves_no_prefect_server_behind_when_stopped(embedded_store, tmp_path, sig):
    hot = tmp_path / "hot"
    room = hot / "room-1"
    room.mkdir(parents=True)
    write_rooms(tmp_path / "state" / "rooms.yaml", rooms=("room-1",), profile=write_profile(tmp_path))
    (room / "room.yaml").write_text("settle_seconds: 1\n", encoding="utf-8")
    make_batch(room / ".a.incoming", unique_case_no(), marker=True).rename(room / "a")
    proc = subprocess.Popen([*DOSSIER, "watch", str(hot), "--in-process"], cwd=ROOT,
                            env={**local_env(tmp_path), **store_environment(embedded_store)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # once a batch has run here (a watcher takes work only from a ready machine: the store, the key)
        wait_for(lambda: any(Ledger(tmp_path / "state").entries()) and Ledger(tmp_path / "state").entries()[0].state
                 in ("done", "quarantined"), 240, "the batch to be settled")
        children = child_named(proc.pid, "uvicorn", "prefect.server")
        assert children, "no Prefect server below the watcher"
        stop_and_check(proc, children, sig)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.slow  # a temporary Prefect server and a run reading pages each
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_dossier_process_stopped_during_ocr_leaves_no_tesseract_and_no_server_behind(tmp_path, sig):
    profile = tmp_path / "tesseract.yaml"  # PP-OCR reads in-process: Tesseract is the engine with a child to leak
    profile.write_text('id: "DA/T 31-2017"\nversion: "1.0.0-test-tesseract"\nocr:\n  engine: tesseract\n'
                       'review: never\n', encoding="utf-8")
    proc = subprocess.Popen([*DOSSIER, "process", str(SAMPLE), "--no-publish", "--no-progress", "--profile",
                             str(profile)], cwd=ROOT,
                            env=local_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        children = wait_for(lambda: child_named(proc.pid, "tesseract"), 240, "a tesseract run", interval=0.1)
        assert any("prefect.server" in " ".join(c.cmdline()) for c in children if c.is_running())
        stop_and_check(proc, children, sig)
    finally:
        if proc.poll() is None:
            proc.kill()


CALLER = textwrap.dedent("""
    import sys, threading, time
    from pipeline.common import run_tool

    def run():
        run_tool(["sleep", "300"], what="a long tool run", timeout=600)

    threading.Thread(target=run, name="task-thread").start()  # like a page task on the task runner's thread
    print("started", flush=True)
    time.sleep(600)
""")


def test_a_program_run_through_run_tool_is_killed_when_its_caller_is_sigkilled():
    proc = subprocess.Popen([sys.executable, "-c", CALLER], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "started"
        children = wait_for(lambda: child_named(proc.pid, "sleep", "300"), 30, "the tool to start", interval=0.1)
        stop_and_check(proc, children, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()


ORPHANED_TOOL = textwrap.dedent("""
    import os, time
    from pipeline.common import tied_to_parent

    command = tied_to_parent(["sleep", "300"])
    caller = os.getpid()
    if os.fork():
        os._exit(0)  # the caller dies before the child it started has set its death signal
    while os.getppid() == caller:  # the window a loaded machine opens between fork and setpriv, held open
        time.sleep(0.01)
    print(os.getpid(), flush=True)
    os.execvp(command[0], command)
""")


def test_a_program_whose_caller_died_before_it_was_tied_to_it_does_not_start():
    done = subprocess.run([sys.executable, "-c", ORPHANED_TOOL], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          stdout=subprocess.PIPE, text=True, timeout=120)
    child = psutil.Process(int(done.stdout.split()[0])) if done.stdout.strip() else None
    assert child is not None, "the orphaned child did not report itself"
    try:
        child.wait(timeout=30)
    except psutil.TimeoutExpired:
        raise AssertionError(f"the program runs without its caller: {' '.join(child.cmdline())}") from None
    except psutil.NoSuchProcess:
        pass
    finally:
        if child.is_running():
            child.kill()
