"""Prefect as administrators use it, against a real Prefect server and store: runs named by what they do and tagged
with the readable 案号 and room, contact sheets linked over HTTP from the desk (which serves them only to the room's
people), and a failed run whose first artifact says in Chinese why it failed, what to do and where the desk shows it."""

from __future__ import annotations

import pytest

from flows.runlabels import run_name, run_tags
from pipeline.operations import RoomPolicy
from tests.desk_fixtures import desk_service
from tests.ops_fixtures import AGENCY, make_batch, store_environment, write_profile
from tests.store_fixtures import unique_case_no
from tests.web_helpers import signed_in

BASE = "http://desk.example:8080"


def test_a_run_is_named_by_its_case_the_part_it_does_and_what_it_does():
    case_no = "（2024）豫0727刑初172号"
    assert run_name(case_no, "rerun", [1]) == "（2024）豫0727刑初172号 · 第1卷 · 重做"
    assert run_name(case_no, "process", room="room-1", batch="b007") == "（2024）豫0727刑初172号 · room-1/b007 · 处理"
    assert run_name(case_no, "reprocess", profile="da-t-31") == "（2024）豫0727刑初172号 · 重新处理（da-t-31）"
    assert run_tags(case_no, "room-1")[::2] == ["案号:（2024）豫0727刑初172号", "room:room-1"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, prefect_harness, embedded_store):
    """One run of room-1 that publishes, one whose page cannot be decoded; with the desk's address configured."""
    from flows.process import process_batch

    mp = pytest.MonkeyPatch()
    for k, v in {**store_environment(embedded_store), "DOSSIER_ARTIFACT_BASE_URL": BASE}.items():
        mp.setenv(k, v)
    base = tmp_path_factory.mktemp("labels")
    state, prof = base / "state", write_profile(base)
    room = RoomPolicy(room="room-1", agencies=[AGENCY], case_numbers=[".*"])
    good_case, bad_case = unique_case_no(), unique_case_no()
    good = process_batch(str(make_batch(base / "good", good_case)), profile=str(prof), state=str(state), room=room,
                         return_state=True)
    broken = make_batch(base / "bad", bad_case)
    data = (broken / "009.jpg").read_bytes()
    (broken / "009.jpg").write_bytes(data[: len(data) // 3])  # a scan cut off: the page cannot be decoded
    bad = process_batch(str(broken), profile=str(prof), state=str(state), room=room, return_state=True)
    yield {"good": (good_case, good), "bad": (bad_case, bad), "state": state}
    mp.undo()


def read(run_state):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    run_id = run_state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])))
    return run, sorted(artifacts, key=lambda a: a.created, reverse=True)


def test_a_run_on_the_server_carries_its_case_and_room_in_its_name_and_tags(runs):
    case_no, state = runs["good"]
    run, _ = read(state)
    assert state.is_completed()
    assert run.name.startswith(f"{case_no} · room-1/good") and run.name.endswith("处理")
    assert f"案号:{case_no}" in run.tags and "room:room-1" in run.tags


def test_the_contact_sheets_link_to_the_desk_which_shows_them_to_the_rooms_people_only(runs, embedded_store,
                                                                                      tmp_path):
    case_no, state = runs["good"]
    _, artifacts = read(state)
    sheets = [a.data for a in artifacts if a.type == "image"]
    assert sheets and all(s.startswith(f"{BASE}/web/operations/contact-sheets/") for s in sheets)
    path = sheets[0][len(BASE):]
    with desk_service(embedded_store, runs["state"], tmp_path) as desk:
        shown = signed_in(desk.url, "op1").get(path)
        assert shown.status_code == 200 and shown.content.startswith(b"\x89PNG")
        assert signed_in(desk.url, "op2").get(path).status_code == 403
        seen = [(e["actor"], e["status"]) for e in desk.entries("desk") if e.get("page") == "contact-sheet"]
        assert seen == [(f"user:{desk.user_id('op1')}", 200), (f"user:{desk.user_id('op2')}", 403)]


def test_the_summary_names_no_review_when_nobody_reviewed(runs):
    _, artifacts = read(runs["good"][1])
    summary = next(a for a in artifacts if a.type == "markdown")
    assert "卷内目录审核" not in summary.data and "numbered pages" in summary.data


def test_a_failed_run_shows_first_why_in_chinese_what_to_do_and_the_desk(runs):
    case_no, state = runs["bad"]
    run, artifacts = read(state)
    assert state.is_failed()
    first = artifacts[0]
    assert first.type == "markdown" and first.key.startswith("failure-")
    assert "运行失败" in first.data and "**原因：**" in first.data and "**下一步：**" in first.data
    assert "批次中的文件或批次说明无法使用" in first.data
    assert f"{BASE}/web/operations/cases/" in first.data and "009.jpg" in first.data
    assert f"案号:{case_no}" in run.tags
