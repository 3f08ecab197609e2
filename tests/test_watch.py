"""The hot-folder watcher against a real Prefect server, a real worker running the deployed flows, and the real store.

One watcher (a thread of this process, as ``dossier watch`` runs it) watches the module's hot folder; the restart test
runs ``dossier watch`` as a subprocess so that it can be killed mid-way.
"""

from __future__ import annotations

import contextvars
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from pipeline.operations import Ledger, LedgerEntry
from tests.ops_fixtures import (
    DOSSIER,
    ROOT,
    file_digests,
    make_batch,
    prefect_stack,
    store_environment,
    subprocess_env,
    wait_for,
    write_profile,
    write_rooms,
)
from tests.store_fixtures import unique_case_no

RUN_TIMEOUT = 900  # a wait on a condition, long for a loaded machine; the waits fail at once on a quarantine
# inotify keeps watching a claimed folder under its new name and warns when it sees it again: harmless
pytestmark = pytest.mark.filterwarnings("ignore:Callback with id:RuntimeWarning")


@pytest.fixture(scope="module")
def stack(embedded_store, prefect_harness, tmp_path_factory):
    env = store_environment(embedded_store)
    mp = pytest.MonkeyPatch()
    for k, v in env.items():
        mp.setenv(k, v)
    yield prefect_stack(env, tmp_path_factory.mktemp("stack"))
    mp.undo()


def make_room(hot: Path, room: str, profile: Path, state: Path) -> Path:
    """A room whose batches settle after 1 s, bound by the rooms file in the state folder (with the test profile)."""
    folder = hot / room
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "room.yaml").write_text("settle_seconds: 1\n", encoding="utf-8")
    write_rooms(state / "rooms.yaml", profile=profile)
    return folder


@pytest.fixture(scope="module")
def watched(stack, tmp_path_factory):
    """A hot folder with room-1, watched by a watcher thread that submits to the process-batch deployment."""
    from flows.watch import DeploymentSubmitter, Watcher

    base = tmp_path_factory.mktemp("watched")
    hot, state = base / "hot", base / "state"
    hot.mkdir()
    state.mkdir()
    make_room(hot, "room-1", write_profile(base), state)
    stop = threading.Event()
    lines: list[str] = []
    watcher = Watcher(hot, state, DeploymentSubmitter("process-batch/process-batch", state), tick_seconds=0.5,
                      log=lines.append)
    # the thread needs this context: the test server's URL lives in a context variable, not in os.environ
    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(watcher.run, stop), name="test-watcher", daemon=True)
    thread.start()
    yield hot, state, base, lines
    stop.set()
    thread.join(timeout=30)


def entry_for(state: Path, batch: str) -> LedgerEntry | None:
    found = [e for e in Ledger(state).entries() if e.batch == batch]
    return found[0] if found else None


def settled(state: Path, batch: str) -> LedgerEntry | None:
    entry = entry_for(state, batch)
    return entry if entry is not None and entry.state in ("done", "quarantined") else None


def runs_of(stack, batch_id: str) -> list:
    return [r for r in stack.flow_runs() if (r.parameters or {}).get("batch_id") == batch_id]


def drop_at_once(source: Path, room: Path, name: str) -> Path:
    """Drop a finished batch the way copy tools should: into a hidden folder, then one rename into the room."""
    from tests.operator_fixtures import drop

    return drop(source, room, name)


@pytest.fixture(scope="module")
def slow_batch(watched):
    """A batch copied file by file over several seconds (batch.json first, READY last) and its ledger entry."""
    hot, state, base, _ = watched
    source = make_batch(base / "sources" / "slow", unique_case_no())
    target = hot / "room-1" / "slow"
    target.mkdir()
    for name in ["batch.json", "001.jpg", "007.tif", "009.jpg"]:
        shutil.copy(source / name, target / name)
        time.sleep(1.2)
    entry_before_marker = entry_for(state, "slow")
    marker_time = time.time()
    (target / "READY").write_bytes(b"")
    entry = wait_for(lambda: settled(state, "slow"), RUN_TIMEOUT, "the slow batch to be settled")
    return source, entry, entry_before_marker, marker_time


def test_a_slowly_copied_batch_is_processed_once_after_its_marker(stack, watched, slow_batch):
    from pipeline.settings import StoreSettings
    from pipeline.storage import ObjectStore, StoreConfig, read_dossier_manifest

    hot, state, _, _ = watched
    source, entry, before_marker, marker_time = slow_batch
    assert before_marker is None, "claimed before its READY marker was written"
    assert entry.claimed_at.timestamp() >= marker_time - 0.5
    assert entry.state == "done", entry.reason
    assert len(runs_of(stack, "slow")) == 1
    done = hot / "done" / "room-1" / "slow"
    originals = file_digests(done)
    assert originals.pop("READY") == b"" and originals == file_digests(source)
    manifest = read_dossier_manifest(ObjectStore(StoreConfig.from_settings(StoreSettings.from_environ(), state)), entry.case_no)
    assert manifest.batches == ["slow"] and len(manifest.volumes) == 2


def test_the_same_batch_dropped_twice_starts_one_run(stack, watched, slow_batch):
    hot, state, _, _ = watched
    source, first, _, _ = slow_batch
    drop_at_once(source, hot / "room-1", "slow")
    reason_file = hot / "quarantine" / "room-1" / "slow" / "reason.txt"
    wait_for(reason_file.exists, 60, "the duplicate to be quarantined")
    assert "duplicate of batch room-1/slow" in reason_file.read_text(encoding="utf-8")
    assert len(runs_of(stack, "slow")) == 1
    assert Ledger(state).get(first.fingerprint).duplicates


def test_a_corrupt_page_sends_the_batch_to_quarantine_with_a_reason_naming_the_file(stack, watched):
    hot, state, base, _ = watched
    source = make_batch(base / "sources" / "corrupt", unique_case_no())
    data = (source / "009.jpg").read_bytes()
    (source / "009.jpg").write_bytes(data[: len(data) // 3])
    drop_at_once(source, hot / "room-1", "corrupt")
    entry = wait_for(lambda: settled(state, "corrupt"), RUN_TIMEOUT, "the corrupt batch to be settled")
    assert entry.state == "quarantined"
    folder = hot / "quarantine" / "room-1" / "corrupt"
    assert "009.jpg" in (folder / "reason.txt").read_text(encoding="utf-8")
    got = file_digests(folder)
    got.pop("reason.txt")
    assert got.pop("READY") == b"" and got == file_digests(source)


class WatcherProcess:
    """`dossier watch` as a subprocess whose log lines are collected as they come."""

    def __init__(self, hot: Path, state: Path, env: dict[str, str]):
        self.lines: list[str] = []
        self.proc = subprocess.Popen([*DOSSIER, "watch", str(hot), "--state", str(state), "--server"], cwd=ROOT,
                                     env={**env, "COLUMNS": "400"}, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def saw(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def test_a_watcher_killed_midway_and_restarted_loses_no_batch_and_doubles_none(stack, tmp_path):
    hot, state = tmp_path / "hot", tmp_path / "state"
    room = make_room(hot, "room-2", write_profile(tmp_path), state)
    env = subprocess_env(store_environment_from(stack))
    first = WatcherProcess(hot, state, env)
    try:
        a = drop_at_once(make_batch(tmp_path / "src" / "a", unique_case_no()), room, "a")
        wait_for(lambda: first.saw("room-2/a: claimed"), 120, "the first watcher to claim batch a")
        first.kill()  # no clean-up of any kind: the claim is in .processing, maybe submitted, maybe not
        assert not a.exists()
        drop_at_once(make_batch(tmp_path / "src" / "b", unique_case_no()), room, "b")  # dropped while it is down
        time.sleep(1.0)
        second = WatcherProcess(hot, state, env)
        try:
            wait_for(lambda: settled(state, "a") and settled(state, "b"), RUN_TIMEOUT, "both batches to be settled")
        finally:
            second.stop()
    finally:
        first.stop()
    for name in ("a", "b"):
        entry = settled(state, name)
        assert entry.state == "done", (name, entry.reason, second.lines[-20:])
        assert (hot / "done" / "room-2" / name).is_dir()
        assert len(runs_of(stack, name)) == 1, name
    assert not any((hot / ".processing" / "room-2").iterdir())


def store_environment_from(stack) -> dict[str, str]:
    return {k: v for k, v in stack.env.items() if k.startswith("DOSSIER_S3_")}


def test_without_a_deployment_dossier_watch_once_runs_the_batch_in_process_and_status_lists_it(stack, tmp_path):
    hot, state = tmp_path / "hot", tmp_path / "state"
    room = make_room(hot, "room-1", write_profile(tmp_path), state)
    drop_at_once(make_batch(tmp_path / "src" / "solo", unique_case_no()), room, "solo")
    env = {**subprocess_env(store_environment_from(stack)), "COLUMNS": "300"}
    done = subprocess.run([*DOSSIER, "watch", str(hot), "--state", str(state), "--in-process", "--once"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert settled(state, "solo").state == "done" and (hot / "done" / "room-1" / "solo").is_dir()
    assert not runs_of(stack, "solo")  # ran here, not as a deployment run
    status = subprocess.run([*DOSSIER, "status", "--home", str(state)], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert "solo" in status.stdout and "已发布" in status.stdout


@pytest.mark.parametrize("error", [
    "BadInputError('009.jpg: page 1 cannot be decoded', '009.jpg')",
    "CaseNumberError('case number is empty')",
    "ReviewNeeded('page 4 looks like a separator sheet')",
    "VerificationError('volume 1 failed its checks')",
    "VolumeError('volume 2 of 2 failed', 2, causes=(VolumeError('PDF/A conversion refused the page', 2),))",
    "RecursionError('maximum recursion depth exceeded')",
    "ValueError(\"invalid literal for int() with base 10: '①'\")",
    "RefusedError('case X is published by another agency')",
])
def test_an_error_about_the_batch_is_the_batchs_fault(error):
    from pipeline.errors import (  # noqa: F401  (named by the parameters)
        BadInputError,
        CaseNumberError,
        RefusedError,
        ReviewNeeded,
        VerificationError,
        VolumeError,
        machine_fault,
    )

    assert machine_fault(eval(error)) is None


@pytest.mark.parametrize("error, part", [
    ("StoreError('the object store at 127.0.0.1:8333 did not answer')", "store"),
    ("OSError(28, 'No space left on device')", "disk"),
    ("ConnectionRefusedError(111, 'Connection refused')", "network"),
    ("VolumeError('volume 1 failed', 1, causes=(OSError(28, 'No space left on device'),))", "disk"),
    ("VolumeError('volumes 1 of 2 failed', 1, causes=(StoreError('the object store did not answer'),))", "store"),
    ("VolumeError('volume 1 failed', 1, causes=(TimeoutError('signing timed out after 120 s'),))", "timeout"),
    ("SigningKeyError('PKCS#12 file /k.p12 not found')", "key"),
    ("SettingsError('DOSSIER_WORKERS: not a number')", "settings"),
])
def test_an_error_of_the_machine_names_the_part_at_fault(error, part):
    from pipeline.errors import SettingsError, SigningKeyError, StoreError, VolumeError, machine_fault  # noqa: F401

    assert machine_fault(eval(error)) == part


def test_the_automations_file_declares_valid_prefect_automations():
    import yaml
    from prefect.events.schemas.automations import AutomationCore

    data = yaml.safe_load((ROOT / "automations.yaml").read_text(encoding="utf-8"))
    automations = [AutomationCore.model_validate(a) for a in data["automations"]]
    crash = next(a for a in automations if a.name == "dossier-crash-silent-flow-runs")
    assert crash.trigger.within.total_seconds() >= 3 * 30  # three missed heartbeats of PREFECT_FLOWS_HEARTBEAT_FREQUENCY
    assert {"prefect.flow-run.Scheduled", "prefect.flow-run.Paused"} <= crash.trigger.expect  # a retry, a review
    never = next(a for a in automations if a.name == "dossier-crash-flow-runs-that-never-start")
    assert never.trigger.after == {"prefect.flow-run.Pending"} and "prefect.flow-run.Running" in never.trigger.expect
    assert all(a.actions[0].state.value == "CRASHED" for a in (crash, never))


def test_the_automations_file_declares_a_wait_for_the_first_heartbeat_after_running():
    import yaml
    from prefect.events.schemas.automations import AutomationCore

    data = yaml.safe_load((ROOT / "automations.yaml").read_text(encoding="utf-8"))
    automations = [AutomationCore.model_validate(a) for a in data["automations"]]
    silent = [a for a in automations if a.trigger.after == {"prefect.flow-run.Running"}]
    assert silent, "no automation waits for the first heartbeat after Running"
    trigger = silent[0].trigger
    assert "prefect.flow-run.heartbeat" in trigger.expect and trigger.within.total_seconds() > 30
    assert {"prefect.flow-run.Paused", "prefect.flow-run.Completed"} <= trigger.expect
    assert silent[0].actions[0].state.value == "CRASHED"


def test_dossier_watch_server_without_a_prefect_server_is_refused_instead_of_starting_one(tmp_path):
    (tmp_path / "hot").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    done = subprocess.run([*DOSSIER, "watch", str(tmp_path / "hot"), "--server", "--state", str(tmp_path / "state")],
                          cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 8 and "PREFECT_API_URL" in done.stderr


def test_with_make_ups_workers_a_run_paused_for_review_blocks_no_other_batch(stack, tmp_path):
    from pipeline.dossier import find_runs
    from tests.operator_fixtures import binding, review_profile, settled_as, write_bindings

    hot, state = tmp_path / "hot", tmp_path / "state"
    for room in ("room-1", "room-2"):
        (hot / room).mkdir(parents=True)
        (hot / room / "room.yaml").write_text("settle_seconds: 1\n", encoding="utf-8")
    write_bindings(state / "rooms.yaml", {"room-1": binding(review_profile(tmp_path)),
                                          "room-2": binding(write_profile(tmp_path))})
    watcher = WatcherProcess(hot, state, subprocess_env(store_environment_from(stack)))
    try:
        drop_at_once(make_batch(tmp_path / "src" / "doubtful", unique_case_no()), hot / "room-1", "doubtful")
        wait_for(lambda: any(r.status == "review" for _, r in find_runs(state)), RUN_TIMEOUT,
                 "the doubtful batch's run to pause for its review", failed=lambda: settled_as(state, "doubtful"))
        drop_at_once(make_batch(tmp_path / "src" / "next", unique_case_no()), hot / "room-2", "next")
        entry = wait_for(lambda: settled(state, "next"), RUN_TIMEOUT, "the other room's batch to be settled")
        assert entry.state == "done", (entry.reason, watcher.lines[-20:])
        assert not settled(state, "doubtful")
    finally:
        watcher.stop()
