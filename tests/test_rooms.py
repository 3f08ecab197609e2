"""Rooms bound to their agencies by an administrator, and batches refused at the door: the real hot folder and intake
(a claim refused at the door starts no run, so a submitter that records runs stands in for the server here; what
happens in a run is tested against Prefect and the store in test_admission.py)."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

import pytest

from pipeline.capture import read_batch_manifest
from pipeline.errors import BadInputError
from pipeline.models import BatchManifest
from pipeline.operations import HotFolder, HotFolderError, Intake, Ledger, RunStatus, Submission
from pipeline.operations._rooms import RoomPolicy, load_room_file, load_rooms_file
from samples import hostile
from tests.ops_fixtures import AGENCY, make_batch, write_rooms

CASE = "（2024）豫0727刑初7201号"
SECRET = "SECRET-4f1c9e"


class Recorder:
    """Records the runs it is asked for; every run completes at once."""

    def __init__(self):
        self.runs: list[tuple[str, str]] = []

    def submit(self, entry, batch_dir, config):
        self.runs.append((entry.room, entry.batch))
        return Submission(f"run-{len(self.runs)}", str(batch_dir))

    def status(self, run_id):
        return RunStatus(final=True, ok=True)


@pytest.fixture
def hot(tmp_path) -> Path:
    """room-1 and room-2 bound to the court, their case numbers (豫0727) only; batches need not hold still."""
    for room in ("room-1", "room-2"):
        (tmp_path / "hot" / room).mkdir(parents=True)
        (tmp_path / "hot" / room / "room.yaml").write_text("settle_seconds: 0\n", encoding="utf-8")
    write_rooms(tmp_path / "admin" / "rooms.yaml", case_numbers=(r"\(\d{4}\)豫0727刑初\d+号",))
    return tmp_path / "hot"


def intake(hot: Path, recorder: Recorder, lines: list[str] | None = None) -> Intake:
    log = lines.append if lines is not None else (lambda m: None)
    return Intake(HotFolder(hot, hot.parent / "admin" / "rooms.yaml"), Ledger(hot.parent / "state"), recorder,
                  log=log, retry_seconds=0.0, status_seconds=0.0)


def drop(hot: Path, name: str, build=None, room: str = "room-1") -> Path:
    folder = hot / room / name
    folder.mkdir()
    (build or hostile.good)(folder, CASE)
    (folder / "READY").write_bytes(b"")
    return folder


def reason(hot: Path, name: str, room: str = "room-1") -> str:
    return (hot / "quarantine" / room / name / "reason.txt").read_text(encoding="utf-8")


def test_a_batch_naming_another_agency_is_refused_at_the_claim_with_the_reason(hot):
    recorder = Recorder()
    drop(hot, "b1", hostile.batch_json(agency=hostile.OTHER_AGENCY))
    intake(hot, recorder).tick(full_scan=True)
    assert not recorder.runs
    text = reason(hot, "b1")
    assert hostile.OTHER_AGENCY in text and AGENCY in text and "refused" in text


def test_a_case_number_the_room_may_not_publish_is_refused_at_the_claim(hot):
    recorder = Recorder()
    drop(hot, "b1", hostile.batch_json_case("（2024）京0105刑初9号"))
    intake(hot, recorder).tick(full_scan=True)
    assert not recorder.runs and "京0105刑初9号" in reason(hot, "b1")


@pytest.mark.parametrize("case_no, said", [
    ("（2024）豫0727刑初7201号\u3164", "U+3164 HANGUL FILLER"),
    ("（2024）豫0727刑初\u115f7201号", "U+115F HANGUL CHOSEONG FILLER"),
    ("（२०२४）豫0727刑初7201号", "digit other than 0-9"),
])
def test_a_case_number_that_looks_like_another_is_refused_at_the_claim(hot, case_no, said):
    recorder = Recorder()
    drop(hot, "b1", hostile.batch_json_case(case_no))
    intake(hot, recorder).tick(full_scan=True)
    assert not recorder.runs and said in reason(hot, "b1")


def test_case_number_patterns_read_backslash_d_as_ascii_digits_only():
    from pipeline.operations._rooms import CASE_PATTERN_FLAGS

    policy = RoomPolicy(room="room-1", agencies=[AGENCY], case_numbers=[r"\(\d{4}\)豫0727刑初\d+号"])
    assert re.fullmatch(policy.case_numbers[0], "(२०२४)豫0727刑初7201号")  # what Python's \d alone would allow
    assert not re.fullmatch(policy.case_numbers[0], "(२०२४)豫0727刑初7201号", CASE_PATTERN_FLAGS)
    assert policy.owner_of(BatchManifest(case_no="（2024）豫0727刑初7201号", agency=AGENCY)) == AGENCY


def test_a_rooms_file_binding_an_agency_with_a_filler_is_refused(tmp_path):
    path = write_rooms(tmp_path / "rooms.yaml", agencies=(AGENCY + "\u3164",))
    with pytest.raises(HotFolderError, match="draws nothing"):
        load_rooms_file(path)


def test_a_batch_of_the_rooms_own_agency_and_cases_is_taken(hot):
    recorder = Recorder()
    drop(hot, "b1")
    intake(hot, recorder).tick(full_scan=True)
    assert recorder.runs == [("room-1", "b1")]


def test_a_room_the_administrator_did_not_bind_is_not_served(hot):
    (hot / "room-9").mkdir()
    recorder, lines = Recorder(), []
    batch = drop(hot, "b1", room="room-9")
    intake(hot, recorder, lines).tick(full_scan=True)
    assert batch.is_dir() and not recorder.runs
    assert any("room-9" in line and "not in the administrator's rooms file" in line for line in lines)


def test_room_yaml_cannot_point_the_profile_at_a_file_and_no_error_quotes_it(hot, tmp_path):
    secret = tmp_path / "credentials.yaml"
    secret.write_text(f"id: x\nversion: y\naccess_key: {SECRET}\n", encoding="utf-8")
    (hot / "room-1" / "room.yaml").write_text(f"profile: {secret}\nsettle_seconds: 0\n", encoding="utf-8")
    with pytest.raises(HotFolderError, match="profile") as err:
        load_room_file(hot / "room-1")
    assert SECRET not in str(err.value)
    recorder, lines = Recorder(), []
    batch = drop(hot, "b1")
    intake(hot, recorder, lines).tick(full_scan=True)
    assert batch.is_dir() and not recorder.runs
    assert lines and not any(SECRET in line for line in lines)


def test_a_room_yaml_that_is_not_yaml_is_named_without_its_content(hot):
    (hot / "room-1" / "room.yaml").write_text(f"completion: [marker\n{SECRET}: 1\n", encoding="utf-8")
    with pytest.raises(HotFolderError, match="room.yaml: not valid YAML at line 2") as err:
        load_room_file(hot / "room-1")
    assert SECRET not in str(err.value)


def test_a_room_yaml_nested_100000_deep_is_named_and_the_other_rooms_are_served(hot):
    (hot / "room-1" / "room.yaml").write_text("a: " + "[" * 100_000, encoding="utf-8")
    with pytest.raises(HotFolderError, match="room.yaml: .*nested too deeply"):
        load_room_file(hot / "room-1")
    recorder, lines = Recorder(), []
    drop(hot, "b1")
    drop(hot, "b2", room="room-2")
    intake(hot, recorder, lines).tick(full_scan=True)
    assert recorder.runs == [("room-2", "b2")]
    assert any("room.yaml" in line and "nested too deeply" in line for line in lines)


def test_a_batch_json_nested_100000_deep_is_quarantined_and_the_next_batch_taken(hot):
    def deep(folder: Path, case_no: str) -> None:
        hostile.good(folder, case_no)
        (folder / "batch.json").write_text('{"case_no": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")

    recorder = Recorder()
    drop(hot, "b1", deep)
    drop(hot, "b2")
    intake(hot, recorder).tick(full_scan=True)
    assert recorder.runs == [("room-1", "b2")]
    assert "batch.json" in reason(hot, "b1") and "nested deeper than 32 levels" in reason(hot, "b1")


def test_a_batch_json_error_names_the_fields_not_their_values(tmp_path):
    (tmp_path / "batch.json").write_text(json.dumps({"case_no": 7201, "access_key": SECRET}), encoding="utf-8")
    with pytest.raises(BadInputError) as err:
        read_batch_manifest(tmp_path)
    assert "case_no" in str(err.value) and "access_key" in str(err.value) and SECRET not in str(err.value)


def test_the_rooms_file_may_not_lie_inside_the_hot_folder(hot):
    inside = write_rooms(hot / "rooms.yaml")
    with pytest.raises(HotFolderError, match="inside the hot folder"):
        HotFolder(hot, inside)


def test_a_batch_folder_that_is_a_link_is_refused_without_being_followed(hot, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    make_batch(elsewhere, CASE, marker=True)
    os.symlink(elsewhere, hot / "room-1" / "b1")
    recorder = Recorder()
    intake(hot, recorder).tick(full_scan=True)
    assert not recorder.runs
    assert "symbolic link" in reason(hot, "b1")
    assert sorted(p.name for p in elsewhere.iterdir()) == ["001.jpg", "007.tif", "009.jpg", "READY", "batch.json"]


def test_a_link_planted_in_the_claim_area_is_refused_and_nothing_is_written_through_it(hot, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    make_batch(elsewhere, CASE, marker=True)
    (hot / ".processing" / "room-1").mkdir(parents=True)
    os.symlink(elsewhere, hot / ".processing" / "room-1" / "b1")
    recorder = Recorder()
    intake(hot, recorder).recover()
    assert not recorder.runs
    assert "symbolic link" in reason(hot, "b1")
    assert (hot / "quarantine" / "room-1" / "b1" / "b1").is_symlink()  # the link itself, kept beside its reason
    assert not (elsewhere / "reason.txt").exists()


def test_a_sparse_terabyte_is_refused_at_the_claim_before_anything_is_hashed(hot):
    drop(hot, "b1", hostile.sparse("003.tif", 1 << 40))
    recorder = Recorder()
    worker = threading.Thread(target=intake(hot, recorder).tick, kwargs={"full_scan": True}, daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "the claim is still hashing the sparse file"
    assert not recorder.runs and "003.tif" in reason(hot, "b1") and "2,147,483,648" in reason(hot, "b1")


@pytest.mark.parametrize("build", [hostile.fifo("002.jpg"), hostile.hard_link, hostile.named(b"002\x1b[2J.jpg")],
                         ids=["fifo", "hard-link", "control-character"])
def test_a_batch_holding_a_file_that_cannot_be_trusted_is_refused_at_the_claim(hot, build):
    drop(hot, "b1", build)
    recorder = Recorder()
    intake(hot, recorder).tick(full_scan=True)
    assert not recorder.runs and "refused when the batch was claimed" in reason(hot, "b1")
