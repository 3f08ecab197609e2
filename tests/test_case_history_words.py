"""A case's history as operators read it (``dossier status 案号`` and the desk's 经过 table): the ledger records
event codes with their parameters, the history says them in Chinese from the catalogue, and a ledger written before
the codes (free-text English lines) still reads in Chinese, a line nobody knows marked as an old record.

The ledger is written by the real intake (claims, runs, settles, a requeue) driven by the in-test submitter of
test_hotfolder.py, which behaves like the Prefect server where the ledger is concerned."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from pipeline.operations import Ledger, LedgerEntry, case_history, requeue
from pipeline.storage import same_case
from tests.ops_fixtures import make_batch
from tests.test_hotfolder import CASE, ServerLike, drive, new_intake

SHANGHAI = ZoneInfo("Asia/Shanghai")
OLD_ENGLISH = ("claimed at", "submitted:", "completed", "settling to", "requeued by", "moved back", "run id is",
               "failed:", "quarantined at")


@pytest.fixture
def hot(tmp_path):
    (tmp_path / "hot" / "room-1").mkdir(parents=True)
    (tmp_path / "hot" / "room-1" / "room.yaml").write_text("settle_seconds: 0\n", encoding="utf-8")
    return tmp_path / "hot"


def words_left(event, entry_params: dict) -> str:
    """What an event says once the values it names (paths, run ids, names) are taken out: the sentence itself."""
    text = event.what
    for value in sorted((str(v) for v in entry_params.values() if v not in (None, "")), key=len, reverse=True):
        text = text.replace(value, "")
    return text


def tries(state, zone=SHANGHAI):
    history = case_history(state, CASE, same_case(CASE), zone=zone)
    return [e for e in history.events if e.kind == "try"]


def test_each_try_of_a_batch_is_recorded_as_an_event_code_and_read_in_chinese(hot, tmp_path):
    server = ServerLike(ok=False, message="Failed: volume 2")
    intake = new_intake(tmp_path, server)
    make_batch(hot / "room-1" / "b1", CASE, marker=True)
    drive(intake, server)
    requeue(Ledger(tmp_path / "state"), hot, "room-1", "b1", "李管理员")
    server.ok = True
    drive(intake, server)
    [entry] = Ledger(tmp_path / "state").entries()
    assert entry.state == "done" and all(not isinstance(e, str) for e in entry.history)
    params = {f"{i}{k}": v for i, e in enumerate(entry.events()) for k, v in e.params.items()}
    shown = tries(tmp_path / "state")
    assert {"claimed", "submitted", "settling", "cancelled", "requeued", "moved-back", "completed"} <= {e.code for e in shown}
    for event in shown:
        sentence = words_left(event, params)
        assert re.search(r"[\u4e00-\u9fff]", sentence) and not re.search(r"[A-Za-z]{2,}", sentence), event.what
    assert any(e.code == "requeued" and "李管理员" in e.what and "重新排队" in e.what for e in shown)


LEGACY_LINES = [
    "2026-12-01T01:02:03+00:00 claimed at /srv/hot/.processing/room-1/b1",
    "2026-12-01T01:02:04+00:00 submitted: run 0b5e7c1a-1111-2222-3333-444455556666",
    "2026-12-01T01:09:00+00:00 run 0b5e7c1a-1111-2222-3333-444455556666 ended 'Crashed'; held: store unavailable "
    "(connection refused)",
    "2026-12-01T02:00:00+00:00 settling to done: /srv/hot/done/room-1/b1",
    "2026-12-01T02:00:01+00:00 run 0b5e7c1a-1111-2222-3333-444455556666 completed",
    "2026-12-01T02:00:02+00:00 a sentence nobody wrote",
]


def test_a_ledger_written_before_the_event_codes_still_reads_in_chinese_and_an_unknown_line_is_marked_old(tmp_path):
    ledger = Ledger(tmp_path / "state")
    ledger.put(LedgerEntry(fingerprint="a" * 64, room="room-1", batch="b1", hotfolder="/srv/hot",
                           claim_path="/srv/hot/.processing/room-1/b1", key="k", case_no=CASE, state="done",
                           history=LEGACY_LINES))
    said = [(e.code, e.what) for e in tries(tmp_path / "state")]
    assert said == [
        ("claimed", "已从扫描室取件：/srv/hot/.processing/room-1/b1"),
        ("submitted", "已开始运行 0b5e7c1a-1111-2222-3333-444455556666"),
        ("held", "运行 0b5e7c1a-1111-2222-3333-444455556666 结束（Crashed）；暂停等待：对象存储不可用（connection refused）"),
        ("settling", "正在移动（已发布）：/srv/hot/done/room-1/b1"),
        ("completed", "运行 0b5e7c1a-1111-2222-3333-444455556666 已完成"),
        ("legacy", "（旧记录，原文）a sentence nobody wrote"),
    ]



def test_a_run_in_a_cases_history_says_what_it_does_and_where_it_is_in_chinese(tmp_path):
    from pipeline.dossier import RunRecord
    from pipeline.storage import case_key

    record = RunRecord(case_no=CASE, case_key=case_key(CASE), batch_id="b1", batch_dir="/srv/hot/room-1/b1",
                       kind="rerun", status="running", flow_run_id="640e590c")
    history = case_history(tmp_path / "state", CASE, same_case(CASE), [record], zone=SHANGHAI)
    assert [e.what for e in history.events if e.kind == "run"] == ["重做运行：运行中"]


def test_a_review_in_a_cases_history_names_the_fields_it_corrected_by_their_column_names(tmp_path):
    from pipeline.dossier import case_reviews
    from pipeline.dossier._run_view import save_corrections
    from pipeline.models import CatalogueCorrection

    at = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    save_corrections(tmp_path, [
        CatalogueCorrection(volume=1, seq=2, document=1, field="date", action="corrected", before="",
                            after="2024-05-28", by="张三", at=at),
        CatalogueCorrection(volume=1, seq=1, document=0, field="title", action="confirmed", before="起诉书",
                            after="起诉书", by="张三", at=at)])
    history = case_history(tmp_path / "state", CASE, same_case(CASE), [], case_reviews([tmp_path]), zone=SHANGHAI)
    assert [e.what for e in history.events if e.kind == "review"] == ["张三 审核：第 1 卷：更正 2.日期，确认 1 项"]
