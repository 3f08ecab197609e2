"""The hot-folder library: completeness, fingerprints, claims, the ledger, outcome folders and crash recovery.

These tests drive :class:`pipeline.hotfolder.Intake` with a small in-test submitter that behaves like the Prefect
server where it matters here (a run per idempotency key, durable across watcher restarts), so that a crash can be
placed exactly between two steps. The same intake against a real server and worker is tested in test_watch.py.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pipeline.errors import BadInputError
from pipeline.operations import (
    HotFolder,
    HotFolderError,
    Intake,
    Ledger,
    RoomConfig,
    RunStatus,
    Submission,
    SubmitUnavailable,
)
from pipeline.operations._events import EventCode, event
from pipeline.operations._fingerprint import fingerprint, idempotency_key
from pipeline.operations._readiness import StabilityTracker, readiness, snapshot
from pipeline.operations._rooms import load_room_file
from pipeline.operations._settle import settle
from tests.ops_fixtures import file_digests, make_batch, write_rooms

CASE = "（2024）豫0727刑初7001号"
FAST = RoomConfig(settle_seconds=0.0)


class ServerLike:
    """Creates one run per idempotency key (and keeps it, like the server); runs end as told by ``outcomes``."""

    def __init__(self, ok: bool = True, message: str = "", retryable: bool = False):
        self.runs: dict[str, str] = {}
        self.params: dict[str, str] = {}
        self.submits = 0
        self.ok, self.message, self.retryable = ok, message, retryable
        self.down = False
        self.finished: set[str] = set()
        self.retries: list[tuple[str, float]] = []
        self.starts: dict[str, int] = {}

    def submit(self, entry, batch_dir, config):
        if self.down:
            raise SubmitUnavailable("connection refused")
        self.submits += 1
        if entry.key not in self.runs:
            self.runs[entry.key] = f"run-{len(self.runs) + 1}"
            self.params[entry.key] = str(batch_dir)
        return Submission(self.runs[entry.key], self.params[entry.key])

    def status(self, run_id):
        if self.down:
            raise SubmitUnavailable("connection refused")
        if run_id in self.finished:
            return RunStatus(final=True, ok=self.ok, message=self.message, retryable=self.retryable,
                             starts=self.starts.get(run_id, 0))
        return RunStatus(final=False)

    def finish_all(self) -> None:
        """Every run not finished starts and ends (as told by ok/message)."""
        for run_id in set(self.runs.values()) - self.finished:
            self.starts[run_id] = self.starts.get(run_id, 0) + 1
            self.finished.add(run_id)

    def retry(self, entry, batch_dir, config, delay_seconds):
        """Reschedule the same run, like the server does."""
        if self.down:
            raise SubmitUnavailable("connection refused")
        self.retries.append((entry.run_id, delay_seconds))
        self.finished.discard(entry.run_id)
        return Submission(entry.run_id, str(batch_dir))


def rooms_file(tmp_path: Path) -> Path:
    """The administrator's rooms file of these tests (outside the hot folder), written once."""
    path = tmp_path / "admin" / "rooms.yaml"
    return path if path.exists() else write_rooms(path)


def hot_folder(hot: Path) -> HotFolder:
    return HotFolder(hot, rooms_file(hot.parent))


def new_intake(tmp_path: Path, server: ServerLike) -> Intake:
    return Intake(hot_folder(tmp_path / "hot"), Ledger(tmp_path / "state"), server, log=lambda m: None,
                  retry_seconds=0.0, status_seconds=0.0)


@pytest.fixture
def hot(tmp_path) -> Path:
    """A hot folder with one room whose batches need not hold still (the stability clock is tested on its own)."""
    (tmp_path / "hot" / "room-1").mkdir(parents=True)
    (tmp_path / "hot" / "room-1" / "room.yaml").write_text("settle_seconds: 0\n", encoding="utf-8")
    return tmp_path / "hot"


class StateDisk:
    """The state disk under the ledger: full (its writes fail with ENOSPC) once ``after`` more writes went through."""

    def __init__(self, real):
        self._real = real
        self._writes_left: int | None = None  # None: not full

    def fill(self, after: int = 0) -> None:
        """The disk is full after ``after`` more writes."""
        self._writes_left = after

    def free(self) -> None:
        """Space again."""
        self._writes_left = None

    def write_atomic(self, path, data, **kwargs):
        """The ledger's write_atomic, through this disk."""
        import errno

        if self._writes_left is not None:
            if self._writes_left <= 0:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
            self._writes_left -= 1
        return self._real(path, data, **kwargs)


@pytest.fixture
def state_disk(monkeypatch) -> StateDisk:
    import pipeline.operations._ledger as ledger_module

    disk = StateDisk(ledger_module.write_atomic)
    monkeypatch.setattr(ledger_module, "write_atomic", disk.write_atomic)
    return disk


def drive(intake: Intake, server: ServerLike, rounds: int = 3) -> None:
    """Let every submitted run finish, ticking around it."""
    for _ in range(rounds):
        intake.tick(full_scan=True)
        server.finish_all()
        intake.tick(full_scan=True)


# --------------------------------------------------------------------------------------------------------------------
# completeness


def test_a_batch_without_a_marker_waits_in_marker_mode(tmp_path):
    batch = make_batch(tmp_path / "b", CASE)
    (batch / "batch.json").unlink()
    verdict = readiness(snapshot(batch), FAST, stable_for=60)
    assert not verdict.ready and "READY" in verdict.reason


def test_a_batch_json_copied_before_any_page_does_not_complete_the_batch(tmp_path):
    batch = tmp_path / "b"
    batch.mkdir()
    (batch / "batch.json").write_text('{"case_no": "x"}', encoding="utf-8")
    verdict = readiness(snapshot(batch), FAST, stable_for=60)
    assert not verdict.ready and "no page files" in verdict.reason


def test_a_marker_written_last_makes_the_batch_ready_once_it_has_held_still(tmp_path):
    batch = make_batch(tmp_path / "b", CASE)
    time.sleep(0.02)
    (batch / "READY").write_bytes(b"")
    config = RoomConfig(settle_seconds=2.0)
    assert not readiness(snapshot(batch), config, stable_for=0.5).ready
    verdict = readiness(snapshot(batch), config, stable_for=2.5)
    assert verdict.ready and "READY written last" in verdict.reason


def test_a_page_written_after_the_marker_keeps_the_batch_waiting(tmp_path):
    batch = make_batch(tmp_path / "b", CASE, pages=("001.jpg",))
    (batch / "READY").write_bytes(b"")
    time.sleep(0.05)
    (batch / "late.jpg").write_bytes((batch / "001.jpg").read_bytes())
    verdict = readiness(snapshot(batch), FAST, stable_for=10)
    assert not verdict.ready and "late.jpg written after READY" in verdict.reason


def test_a_marker_not_written_last_is_accepted_after_the_quiet_period(tmp_path):
    batch = make_batch(tmp_path / "b", CASE, pages=("001.jpg",))
    (batch / "READY").write_bytes(b"")
    time.sleep(0.05)
    (batch / "late.jpg").write_bytes(b"x")
    config = RoomConfig(settle_seconds=0, quiet_seconds=30)
    assert readiness(snapshot(batch), config, stable_for=31).ready


def test_a_quiet_room_takes_a_batch_without_a_marker_once_nothing_changed_for_the_quiet_period(tmp_path):
    batch = make_batch(tmp_path / "b", CASE)
    (batch / "batch.json").unlink()
    config = RoomConfig(completion="quiet", quiet_seconds=5, settle_seconds=1)
    newest = max(s.arrived_ns for s in snapshot(batch).values()) / 1e9
    assert not readiness(snapshot(batch), config, stable_for=1.5, now=newest + 2).ready
    assert readiness(snapshot(batch), config, stable_for=1.5, now=newest + 6).ready


@pytest.mark.parametrize("name", ["002.jpg.part", ".002.jpg.Ab3xYz", "002.jpg.crdownload"])
def test_a_file_still_being_copied_keeps_the_batch_waiting(tmp_path, name):
    batch = make_batch(tmp_path / "b", CASE, pages=("001.jpg",))
    (batch / name).write_bytes(b"partial")
    (batch / "READY").write_bytes(b"")
    verdict = readiness(snapshot(batch), FAST, stable_for=60)
    assert not verdict.ready and "still being written" in verdict.reason


def test_the_stability_clock_restarts_whenever_a_size_or_mtime_changes(tmp_path):
    batch = make_batch(tmp_path / "b", CASE, pages=("001.jpg",))
    tracker = StabilityTracker()
    assert tracker.observe(batch, snapshot(batch), now=100.0) == 0.0
    assert tracker.observe(batch, snapshot(batch), now=103.0) == 3.0
    with (batch / "001.jpg").open("ab") as fh:
        fh.write(b"\0")
    assert tracker.observe(batch, snapshot(batch), now=104.0) == 0.0


def test_room_settings_come_from_room_yaml_and_a_bad_file_is_named(tmp_path):
    room = tmp_path / "room-2"
    room.mkdir()
    (room / "room.yaml").write_text("completion: quiet\nquiet_seconds: 60\nprofile: dat31-2017\n", encoding="utf-8")
    config = load_room_file(room)
    assert (config.completion, config.quiet_seconds, config.profile) == ("quiet", 60, "dat31-2017")
    (room / "room.yaml").write_text("completion: sometimes\n", encoding="utf-8")
    with pytest.raises(HotFolderError, match="room.yaml"):
        load_room_file(room)


# --------------------------------------------------------------------------------------------------------------------
# fingerprints and claims


def test_the_fingerprint_follows_content_room_and_name_but_not_the_ready_marker(tmp_path):
    a = make_batch(tmp_path / "a" / "b1", CASE)
    b = make_batch(tmp_path / "b" / "b1", CASE)
    (b / "READY").write_text("2024-05-20 09:30", encoding="utf-8")
    assert fingerprint("room-1", "b1", a) == fingerprint("room-1", "b1", b)
    assert fingerprint("room-1", "b1", a) != fingerprint("room-2", "b1", a)
    assert fingerprint("room-1", "b1", a) != fingerprint("room-1", "b2", a)
    with (b / "009.jpg").open("r+b") as fh:
        fh.seek(5000)
        fh.write(b"\x01")
    assert fingerprint("room-1", "b1", a) != fingerprint("room-1", "b1", b)


def test_a_claim_is_an_atomic_rename_and_a_name_still_in_flight_is_not_claimed_twice(hot):
    folder = hot_folder(hot)
    first = make_batch(hot / "room-1" / "b1", CASE, marker=True)
    claimed = folder.claim(first)
    assert claimed == hot / ".processing" / "room-1" / "b1" and claimed.is_dir() and not first.exists()
    again = make_batch(hot / "room-1" / "b1", CASE, marker=True)
    assert folder.claim(again) is None and again.is_dir()
    assert folder.rooms() == ["room-1"]


# --------------------------------------------------------------------------------------------------------------------
# the intake: once, complete, every outcome accounted for


def test_a_complete_batch_is_submitted_once_and_moved_to_done(hot, tmp_path):
    server = ServerLike()
    intake = new_intake(tmp_path, server)
    batch = make_batch(hot / "room-1" / "b1", CASE, marker=True)
    originals = file_digests(batch)
    drive(intake, server)
    assert len(server.runs) == 1
    done = hot / "done" / "room-1" / "b1"
    assert file_digests(done) == originals
    [entry] = Ledger(tmp_path / "state").entries()
    assert (entry.state, entry.run_id, entry.case_no) == ("done", "run-1", CASE)
    assert entry.key == idempotency_key(entry.fingerprint)


def test_a_failed_run_quarantines_the_batch_with_its_reason_and_leaves_the_originals_intact(hot, tmp_path):
    server = ServerLike(ok=False, message="Failed: BadInputError: 009.jpg: page 1 cannot be decoded")
    intake = new_intake(tmp_path, server)
    batch = make_batch(hot / "room-1" / "b1", CASE, marker=True)
    originals = file_digests(batch)
    drive(intake, server)
    target = hot / "quarantine" / "room-1" / "b1"
    reason = (target / "reason.txt").read_text(encoding="utf-8")
    assert "009.jpg" in reason and "run-1" in reason
    after = file_digests(target)
    assert after.pop("reason.txt") and after == originals


def test_the_same_batch_dropped_twice_starts_no_second_run_and_is_quarantined_as_a_duplicate(hot, tmp_path):
    server = ServerLike()
    intake = new_intake(tmp_path, server)
    make_batch(hot / "room-1" / "b1", CASE, marker=True)
    drive(intake, server)
    make_batch(hot / "room-1" / "b1", CASE, marker=True)
    drive(intake, server)
    assert len(server.runs) == 1
    reason = (hot / "quarantine" / "room-1" / "b1" / "reason.txt").read_text(encoding="utf-8")
    assert "duplicate of batch room-1/b1" in reason
    [entry] = Ledger(tmp_path / "state").entries()
    assert entry.state == "done" and len(entry.duplicates) == 1


def test_a_claim_is_resumed_with_the_same_key_after_a_crash_before_the_ledger_was_written(hot, tmp_path):
    server = ServerLike()
    make_batch(hot / "room-1" / "b1", CASE, marker=True)
    hot_folder(hot).claim(hot / "room-1" / "b1")  # the watcher died right after its rename
    intake = new_intake(tmp_path, server)
    intake.recover()
    drive(intake, server)
    assert len(server.runs) == 1 and (hot / "done" / "room-1" / "b1").is_dir()


def test_a_watcher_that_crashed_after_submitting_gets_the_same_run_back(hot, tmp_path):
    server = ServerLike()
    make_batch(hot / "room-1" / "b1", CASE, marker=True)
    first = new_intake(tmp_path, server)
    first.tick(full_scan=True)  # claimed and submitted; the run is going on; then the watcher dies
    assert server.submits == 1 and (hot / ".processing" / "room-1" / "b1").is_dir()
    second = new_intake(tmp_path, server)
    second.recover()
    drive(second, server)
    assert server.submits == 2 and len(server.runs) == 1
    assert (hot / "done" / "room-1" / "b1").is_dir()


def test_a_move_interrupted_by_a_crash_is_completed_on_restart(hot, tmp_path):
    server = ServerLike()
    make_batch(hot / "room-1" / "b1", CASE, marker=True)
    intake = new_intake(tmp_path, server)
    intake.tick(full_scan=True)
    ledger = Ledger(tmp_path / "state")
    [entry] = ledger.entries()
    # the crash: the target was recorded, the rename never happened
    target = hot / "done" / "room-1" / "b1"
    ledger.update(entry.fingerprint, event(EventCode.SETTLING, outcome="done", path=str(target)), state="settling", target="done", outcome_path=str(target),
                  settle_from=entry.claim_path)
    new_intake(tmp_path, server).recover()
    assert target.is_dir() and ledger.get(entry.fingerprint).state == "done"


def test_claims_wait_while_the_server_is_unreachable_and_go_through_when_it_is_back(hot, tmp_path):
    server = ServerLike()
    server.down = True
    intake = new_intake(tmp_path, server)
    make_batch(hot / "room-1" / "b1", CASE, marker=True)
    intake.tick(full_scan=True)
    intake.tick(full_scan=True)
    assert not server.runs and (hot / ".processing" / "room-1" / "b1").is_dir()
    server.down = False
    drive(intake, server)
    assert len(server.runs) == 1 and (hot / "done" / "room-1" / "b1").is_dir()


def test_a_run_known_for_another_claim_of_the_same_files_makes_this_one_a_duplicate(hot, tmp_path):
    server = ServerLike()
    make_batch(hot / "room-1" / "b1", CASE, marker=True)
    fp = fingerprint("room-1", "b1", hot / "room-1" / "b1")
    server.runs[idempotency_key(fp)] = "run-elsewhere"  # another watcher (another state folder) got it first
    server.params[idempotency_key(fp)] = "/elsewhere/.processing/room-1/b1"
    intake = new_intake(tmp_path, server)
    drive(intake, server)
    assert len(server.runs) == 1
    assert "run-elsewhere" in (hot / "quarantine" / "room-1" / "b1" / "reason.txt").read_text(encoding="utf-8")


def test_the_ledger_knows_where_a_claimed_batch_went(hot, tmp_path):
    server = ServerLike(ok=False, message="Failed")
    intake = new_intake(tmp_path, server)
    make_batch(hot / "room-1" / "b1", CASE, marker=True)
    drive(intake, server)
    ledger = Ledger(tmp_path / "state")
    assert ledger.locate(hot / ".processing" / "room-1" / "b1") == hot / "quarantine" / "room-1" / "b1"


def test_a_quarantined_batch_moves_on_to_done_and_keeps_its_history(hot, tmp_path):
    server = ServerLike(ok=False, message="Failed: volume 2")
    intake = new_intake(tmp_path, server)
    make_batch(hot / "room-1" / "b1", CASE, marker=True)
    drive(intake, server)
    ledger = Ledger(tmp_path / "state")
    [entry] = ledger.entries()
    done = settle(hot_folder(hot), ledger, entry.fingerprint, "done",
                  happened=event(EventCode.COMPLETED_BY_RERUN, run="r-9"))
    assert done.state == "done" and Path(done.outcome_path) == hot / "done" / "room-1" / "b1"
    text = (hot / "done" / "room-1" / "b1" / "reason.txt").read_text(encoding="utf-8")
    assert "volume 2" in text and "由重做运行 r-9 完成" in text


def test_outcome_folders_never_overwrite_an_earlier_batch_of_the_same_name(hot):
    folder = hot_folder(hot)
    (hot / "done" / "room-1" / "b1").mkdir(parents=True)
    assert folder.outcome_path("done", "room-1", "b1") == hot / "done" / "room-1" / "b1~2"


def test_reason_txt_is_never_written_outside_a_quarantine_folder(hot):
    from pipeline.operations._folders import write_reason

    batch = make_batch(hot / "room-1" / "b1", CASE)
    with pytest.raises(HotFolderError):
        write_reason(batch, "no")
    assert not (batch / "reason.txt").exists()


def test_a_batch_that_changes_while_it_is_claimed_is_put_back(hot, tmp_path):
    server = ServerLike()
    intake = new_intake(tmp_path, server)
    batch = make_batch(hot / "room-1" / "b1", CASE, marker=True)
    before = snapshot(batch)
    claimed = hot_folder(hot).claim(batch)
    with (claimed / "009.jpg").open("ab") as fh:  # a writer that still had the file open
        fh.write(b"\0" * 10)
    os.utime(claimed / "009.jpg")
    intake._accept("room-1", claimed, before)
    assert batch.is_dir() and not claimed.exists() and not Ledger(tmp_path / "state").entries()


def test_a_quarantined_batch_whose_run_is_retried_to_success_moves_on_to_done(hot, tmp_path):
    server = ServerLike(ok=False, message="Failed: volume 2")
    intake = new_intake(tmp_path, server)
    intake.reconcile_seconds = 0.0
    make_batch(hot / "room-1" / "b1", CASE, marker=True)
    drive(intake, server)
    assert (hot / "quarantine" / "room-1" / "b1").is_dir()
    server.ok = True  # an admin retried the run in the Prefect UI and it completed
    intake.tick(full_scan=True)
    assert (hot / "done" / "room-1" / "b1").is_dir() and len(server.runs) == 1


def test_a_named_pipe_in_a_batch_is_never_opened(tmp_path):
    batch = make_batch(tmp_path / "b", CASE, pages=("001.jpg",))
    os.mkfifo(batch / "pipe.jpg")
    assert "pipe.jpg" in snapshot(batch)  # seen (lstat), so the batch is refused by name when claimed
    with pytest.raises(BadInputError, match="pipe.jpg: a named pipe"):
        fingerprint("room-1", "b", batch)  # would block forever if it opened the pipe


def test_a_refused_submission_keeps_the_claim_and_does_not_stop_the_watcher(hot, tmp_path):
    server = ServerLike()
    refused = [True]
    submit = server.submit

    def flaky(entry, batch_dir, config):
        if refused[0]:
            raise ValueError("400 Bad Request: no such work queue")
        return submit(entry, batch_dir, config)

    server.submit = flaky
    intake = new_intake(tmp_path, server)
    intake.runs.error_retry_seconds = 0.0
    make_batch(hot / "room-1" / "b1", CASE, marker=True)
    intake.tick(full_scan=True)
    assert (hot / ".processing" / "room-1" / "b1").is_dir() and not server.runs
    refused[0] = False
    drive(intake, server)
    assert (hot / "done" / "room-1" / "b1").is_dir() and len(server.runs) == 1


# --------------------------------------------------------------------------------------------------------------------
# runs that die: run again, up to a limit


def test_a_run_whose_process_died_is_run_again_and_its_batch_ends_in_done(hot, tmp_path):
    server = ServerLike(ok=False, message="Crashed: no heartbeat for 90 s", retryable=True)
    intake = new_intake(tmp_path, server)
    make_batch(hot / "room-1" / "b1", CASE, marker=True)
    drive(intake, server, rounds=1)
    assert server.retries == [("run-1", 30.0)] and (hot / ".processing" / "room-1" / "b1").is_dir()
    server.ok = True
    drive(intake, server)
    [entry] = Ledger(tmp_path / "state").entries()
    assert entry.state == "done" and entry.attempts == 1 and len(server.runs) == 1
    assert any(e.code == "retried" and e.params["attempt"] == 1 and e.params["of"] == 5 for e in entry.events())


def test_a_batch_whose_move_to_done_failed_on_a_full_disk_is_moved_once_there_is_space(hot, tmp_path, state_disk):
    server = ServerLike()
    intake = new_intake(tmp_path, server)
    make_batch(hot / "room-1" / "b1", CASE, marker=True)
    intake.tick(full_scan=True)
    server.finish_all()
    state_disk.fill()  # the state disk fills as the run ends: its end cannot be recorded
    intake.tick(full_scan=True)
    assert (hot / ".processing" / "room-1" / "b1").is_dir()
    state_disk.free()
    intake.tick(full_scan=True)
    assert (hot / "done" / "room-1" / "b1").is_dir() and not intake.busy()
    [entry] = Ledger(tmp_path / "state").entries()
    assert entry.state == "done"


def test_a_move_to_done_cut_short_by_a_full_disk_after_the_rename_is_finished_later(hot, tmp_path, state_disk):
    server = ServerLike()
    intake = new_intake(tmp_path, server)
    make_batch(hot / "room-1" / "b1", CASE, marker=True)
    intake.tick(full_scan=True)
    server.finish_all()
    state_disk.fill(after=1)  # "settling" is recorded and the folder renamed; the final record fails
    intake.tick(full_scan=True)
    assert (hot / "done" / "room-1" / "b1").is_dir()
    assert Ledger(tmp_path / "state").entries()[0].state == "settling"
    state_disk.free()
    intake.tick(full_scan=True)
    assert Ledger(tmp_path / "state").entries()[0].state == "done" and not intake.busy()


def test_the_watcher_retries_a_dead_run_after_the_delays_dossier_run_retry_delays_names(hot, tmp_path, monkeypatch):
    from flows.watch import Watcher

    monkeypatch.setenv("DOSSIER_RUN_RETRY_DELAYS", "5, 7.5,12")
    server = ServerLike(ok=False, message="Crashed: no heartbeat for 90 s", retryable=True)
    intake = Watcher(hot, tmp_path / "state", server, rooms=rooms_file(tmp_path), log=lambda m: None).intake
    intake.retry_seconds = intake.status_seconds = 0.0
    make_batch(hot / "room-1" / "b1", CASE, marker=True)
    drive(intake, server, rounds=8)
    assert [delay for _, delay in server.retries] == [5.0, 7.5, 12.0, 12.0, 12.0]


def test_retry_delays_that_are_not_numbers_are_refused_naming_the_setting():
    from pipeline.errors import SettingsError
    from pipeline.settings import OperationsSettings

    with pytest.raises(SettingsError, match="DOSSIER_RUN_RETRY_DELAYS"):
        OperationsSettings.from_environ({"DOSSIER_RUN_RETRY_DELAYS": "30, soon"})


def test_a_run_that_keeps_dying_is_quarantined_after_five_retries_with_a_reason_saying_so(hot, tmp_path):
    server = ServerLike(ok=False, message="Crashed: no heartbeat for 90 s", retryable=True)
    intake = new_intake(tmp_path, server)
    make_batch(hot / "room-1" / "b1", CASE, marker=True)
    drive(intake, server, rounds=8)
    assert [delay for _, delay in server.retries] == [30.0, 90.0, 180.0, 300.0, 600.0]
    reason = (hot / "quarantine" / "room-1" / "b1" / "reason.txt").read_text(encoding="utf-8")
    assert "Crashed: no heartbeat" in reason and "after 5 retries" in reason


def test_a_death_reported_twice_counts_as_one_retry(hot, tmp_path):
    server = ServerLike(ok=False, message="Crashed: Process exited with status code -9", retryable=True)
    intake = new_intake(tmp_path, server)
    make_batch(hot / "room-1" / "b1", CASE, marker=True)
    drive(intake, server, rounds=1)  # ran, killed: retried
    server.message = "Crashed: Flow run infrastructure exited with non-zero status code -9"
    server.finished.add("run-1")  # the worker reports the same death after the retry: no new start
    intake.tick(full_scan=True)
    server.ok = True
    drive(intake, server)
    [entry] = Ledger(tmp_path / "state").entries()
    assert entry.state == "done" and entry.attempts == 1 and len(server.retries) == 2
    assert [delay for _, delay in server.retries] == [30.0, 30.0]  # rescheduled with the same delay, not counted


class FaultRecordingServer(ServerLike):
    """Runs that fail as a flow run does: recording their error's class in the ledger before they end."""

    def __init__(self, state: Path, error: BaseException):
        super().__init__(ok=False, message=f"Failed: {type(error).__name__}: {error}", retryable=True)
        self.state, self.error = state, error

    def finish_all(self) -> None:
        from pipeline.operations import record_run_fault

        for entry in Ledger(self.state).entries():
            if entry.run_id and entry.run_id not in self.finished:
                record_run_fault(self.state, entry.fingerprint, entry.run_id, self.error)
        super().finish_all()


def test_a_run_failed_by_its_batch_is_quarantined_without_a_retry(hot, tmp_path):
    server = FaultRecordingServer(tmp_path / "state", BadInputError("009.jpg: page 1 cannot be decoded", "009.jpg"))
    intake = new_intake(tmp_path, server)
    make_batch(hot / "room-1" / "b1", CASE, marker=True)
    drive(intake, server)
    assert not server.retries and (hot / "quarantine" / "room-1" / "b1").is_dir()
    [entry] = Ledger(tmp_path / "state").entries()
    assert entry.reason_kind == "bad-input" and "009.jpg" in entry.advice


@pytest.mark.parametrize("error", [RecursionError("maximum recursion depth exceeded"),
                                   ValueError("invalid literal for int() with base 10: '①'")])
def test_a_run_that_crashed_on_an_unexpected_error_of_its_batch_is_quarantined_at_once(hot, tmp_path, error):
    server = FaultRecordingServer(tmp_path / "state", error)
    intake = new_intake(tmp_path, server)
    make_batch(hot / "room-1" / "b1", CASE, marker=True)
    drive(intake, server)
    assert not server.retries
    [entry] = Ledger(tmp_path / "state").entries()
    assert entry.state == "quarantined" and entry.reason_kind == "unexpected" and "dossier requeue" in entry.advice


def test_a_run_the_machine_failed_is_held_while_the_machine_is_down_and_goes_on_when_it_is_back(hot, tmp_path):
    from pipeline.errors import StoreError
    from pipeline.operations import MachineProblem

    server = FaultRecordingServer(tmp_path / "state", StoreError("the object store at 127.0.0.1:1 did not answer"))
    intake = new_intake(tmp_path, server)
    down = [False]
    intake.check_machine = lambda: MachineProblem("store", "the store is down") if down[0] else None
    intake.machine_seconds = 0.0
    make_batch(hot / "room-1" / "b1", CASE, marker=True)
    intake.tick(full_scan=True)
    down[0] = True
    server.finish_all()
    intake.tick(full_scan=True)
    [entry] = Ledger(tmp_path / "state").entries()
    assert entry.state == "held" and entry.held == "store" and not server.retries
    make_batch(hot / "room-1" / "b2", "（2024）豫0727刑初7002号", marker=True)
    intake.tick(full_scan=True)
    assert (hot / "room-1" / "b2").is_dir()  # not claimed while the machine is down: it waits in its room
    down[0] = False
    server.ok = True
    drive(intake, server)
    assert (hot / "done" / "room-1" / "b1").is_dir() and (hot / "done" / "room-1" / "b2").is_dir()
    assert all(e.attempts == 0 for e in Ledger(tmp_path / "state").entries())  # a hold is not a try


def test_a_full_state_disk_while_runs_end_stops_nothing_and_loses_no_batch(hot, tmp_path, state_disk):
    server = ServerLike(ok=False, message="Crashed: the worker died", retryable=True)
    intake = new_intake(tmp_path, server)
    make_batch(hot / "room-1" / "b1", CASE, marker=True)
    make_batch(hot / "room-1" / "b2", "（2024）豫0727刑初7002号", marker=True)
    intake.tick(full_scan=True)  # both claimed and submitted
    state_disk.fill()
    server.finish_all()
    intake.tick(full_scan=True)  # both crashed: retried, but the ledger cannot record it
    intake.tick(full_scan=True)
    assert server.retries and (hot / ".processing" / "room-1" / "b1").is_dir()
    state_disk.free()
    server.ok = True
    drive(intake, server)
    assert sorted(p.name for p in (hot / "done" / "room-1").iterdir()) == ["b1", "b2"]


def test_an_unexpected_error_about_one_claimed_batch_quarantines_it_and_the_others_go_on(hot, tmp_path, monkeypatch):
    import pipeline.operations._intake as intake_module

    real = intake_module.fingerprint

    def crashing(room, batch, folder, *args, **kwargs):  # a crash no check foresaw, as ①1.jpg once made in sorting
        if batch == "b1":
            raise RecursionError("maximum recursion depth exceeded while decoding a JSON object")
        return real(room, batch, folder, *args, **kwargs)

    monkeypatch.setattr(intake_module, "fingerprint", crashing)
    server = ServerLike()
    intake = new_intake(tmp_path, server)
    make_batch(hot / "room-1" / "b1", CASE, marker=True)
    make_batch(hot / "room-1" / "b2", "（2024）豫0727刑初7002号", marker=True)
    drive(intake, server)
    reason = (hot / "quarantine" / "room-1" / "b1" / "reason.txt").read_text(encoding="utf-8")
    assert "RecursionError" in reason and "dossier requeue room-1/b1" in reason
    assert (hot / "done" / "room-1" / "b2").is_dir() and not (hot / ".processing" / "room-1" / "b1").exists()
    intake.recover()  # a restart does not meet it again
    intake.tick(full_scan=True)
