"""How the operators' desk words a batch's reason: the people's words in Chinese first, the technical detail apart,
and the next step naming the desk's own buttons, not the CLI's commands."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.access.desk import desk_reason
from pipeline.models import BatchStatus
from pipeline.operations import ReasonKind
from pipeline.operations._reasons import reason

CASE_NO = "（2023）豫0727刑初172号"
DETAIL = f"refused when the batch was claimed: case number {CASE_NO} is not one room room-1 may publish"


def quarantined(kind: ReasonKind, detail: str = DETAIL) -> BatchStatus:
    why = reason(kind, detail, "room-1", "q1", CASE_NO)
    return BatchStatus(room="room-1", batch="q1", case_no=CASE_NO, state="quarantined", label="已隔离",
                       since=datetime.now(UTC), since_local="12-06 23:00", reason=why.line, reason_kind=kind.value,
                       next_step=why.advice)


def test_a_quarantined_batch_shows_why_in_chinese_with_the_technical_detail_apart():
    what, detail, _ = desk_reason(quarantined(ReasonKind.NOT_ALLOWED))
    assert what == "该扫描室无权发布此批次"
    assert detail == DETAIL


def test_the_next_step_of_a_quarantined_batch_names_the_desks_button_not_a_command():
    _, _, step = desk_reason(quarantined(ReasonKind.NOT_ALLOWED))
    assert "「重新排队」" in step and "dossier" not in step and "扫描室配置文件" in step


def test_the_next_step_of_failed_volumes_names_the_desks_rerun():
    _, _, step = desk_reason(quarantined(ReasonKind.VOLUMES, "volume 2: PDF/A check failed"))
    assert "「重做所选的卷」" in step and "dossier rerun" not in step


def test_a_reason_recorded_before_its_kind_was_known_is_shown_as_recorded():
    status = quarantined(ReasonKind.NOT_ALLOWED).model_copy(update={"reason_kind": ""})
    assert desk_reason(status) == (status.reason, "", status.next_step)


def sheet_of_one_row():
    from pipeline.dossier import ReviewSheet
    from pipeline.models import CatalogueEntry

    row = CatalogueEntry(seq=1, title="刑事判决书", first_page=1, last_page=3, document=0)
    return ReviewSheet(case_no=CASE_NO, volume=1, of=1, entries=[row])


def test_a_date_not_on_the_calendar_is_refused_in_the_reviewers_words_only():
    from pipeline.access.desk._reviews import answer_rows

    _, problems = answer_rows(sheet_of_one_row(), {"1.date": "2024-13-45"})
    assert problems["1.date"].startswith("「2024-13-45」不是有效日期") and "calendar" not in problems["1.date"]


def test_a_date_after_today_is_refused_as_later_than_today_not_as_no_date():
    from pipeline.access.desk._reviews import answer_rows

    _, problems = answer_rows(sheet_of_one_row(), {"1.date": "2999-01-02"})
    assert problems["1.date"] == "「2999-01-02」晚于今天：文件的日期不能晚于审核的这一天。"


def test_a_partial_date_is_kept_partial():
    from pipeline.access.desk._reviews import answer_rows

    rows, problems = answer_rows(sheet_of_one_row(), {"1.date": "2024年5月"})
    assert problems == {} and rows[0].date == "2024-05"


def test_the_prefect_review_form_and_the_review_station_name_every_doubt_in_the_same_words():
    from flows.review import doubt_text
    from pipeline.access.web._render import ENV
    from pipeline.models import CatalogueEntry
    from pipeline.structure import DOUBT_WORDS

    for flag in DOUBT_WORDS:
        row = CatalogueEntry(seq=1, title="刑事判决书", first_page=1, last_page=3, document=0,
                             evidence={"date": {"flags": [flag]}})
        station = ENV.globals["doubt_words"]([flag])
        assert doubt_text(row) == f"日期 {station}" and not any(c.isascii() and c.isalpha() for c in station), flag


def test_a_held_batch_tells_the_operator_that_an_administrator_fixes_the_machine_and_it_goes_on_by_itself():
    held = BatchStatus(room="room-1", batch="h1", case_no=CASE_NO, state="held", label="等待：对象存储不可用",
                       since=datetime.now(UTC), since_local="12-06 23:00",
                       next_step="检查对象存储：dossier store status（dossier store start）")
    _, _, step = desk_reason(held)
    assert "管理员" in step and "自动继续" in step and "不必重新放入" in step
