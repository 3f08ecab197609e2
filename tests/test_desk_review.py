"""The review station of the operators' desk against a real Prefect server, SeaweedFS store and a run paused for the
review of its 卷内目录 (the judgment's 日期 left undeclared, OCR off: it stays in doubt): the station shows the crop
of the page where the date is printed, refuses what is no date beside its field, lets only the person holding the
review answer, resumes the run once when two answers race, and the run publishes the reviewed date."""

from __future__ import annotations

import concurrent.futures
import contextvars
import re
import threading
import uuid

import httpx
import pytest

from pipeline.operations import RoomPolicy
from tests.a11y import live_problems
from tests.access_fixtures import PASSWORD
from tests.desk_fixtures import check_crop, desk_service
from tests.ops_fixtures import AGENCY, store_environment, wait_for
from tests.store_fixtures import unique_case_no
from tests.test_review import paused_run, profile, review_batch
from tests.web_helpers import SHOTS, csrf_of, signed_in


@pytest.fixture(scope="module")
def store_env(embedded_store):
    mp = pytest.MonkeyPatch()
    for k, v in store_environment(embedded_store).items():
        mp.setenv(k, v)
    yield
    mp.undo()


@pytest.fixture(scope="module")
def paused(tmp_path_factory, prefect_harness, store_env):
    """A run of room-1's batch paused for the review of volume 1; its outcome once it ends."""
    from flows.process import process_batch

    base = tmp_path_factory.mktemp("desk-review")
    case_no = unique_case_no()
    batch = review_batch(base / "batch", case_no)
    state = base / "state"
    room = RoomPolicy(room="room-1", agencies=[AGENCY], case_numbers=[".*"])
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = process_batch(str(batch), profile=str(profile(base, "flagged")), state=str(state),
                                              room=room)
        except BaseException as exc:  # noqa: BLE001 - reported by the tests
            outcome["error"] = exc

    thread = threading.Thread(target=contextvars.copy_context().run, args=(run,))
    thread.start()
    found = wait_for(lambda: paused_run(case_no) or outcome.get("error"), 300, "the run to pause for review")
    assert not isinstance(found, BaseException), found
    yield case_no, state, str(found.run_id), outcome, thread
    thread.join(timeout=600)


@pytest.fixture(scope="module")
def desk(embedded_store, paused, tmp_path_factory):
    from flows.orchestration import PrefectOrchestrator

    _, state, *_ = paused
    with desk_service(embedded_store, state, tmp_path_factory.mktemp("desk-db"),
                      PrefectOrchestrator(str(state), "http://127.0.0.1:4200")) as svc:
        yield svc


def station(run_id: str) -> str:
    return f"/web/operations/reviews/{run_id}"


def main_of(html: str) -> str:
    """The page's <main> (what differs between two people's pages is only the header and the form tokens)."""
    return re.search(r"<main id=\"main\">(.*)</main>", html, re.S).group(1)


def test_the_station_shows_the_volume_with_its_date_in_doubt_and_the_focus_on_it(desk, paused):
    case_no, _, run_id, _, _ = paused
    page = signed_in(desk.url, "op1").get(station(run_id))
    assert page.status_code == 200, page.text
    html = page.text
    assert "卷内目录审核" in html and case_no in html and "第1卷" in html
    date = re.search(r'<input id="f-2-date"[^>]*>', html).group(0)
    assert "autofocus" in date and "tabindex" not in date  # the field in doubt is where the keyboard starts
    title = re.search(r'<input id="f-2-title"[^>]*>', html).group(0)
    assert 'tabindex="-1"' in title and "刑事判决书" in title  # a field read for sure is out of the tab order
    assert "存疑：缺失" in html and "李扫描" in html  # why it is in doubt; who holds the review (the one who opened it)


def test_the_crop_beside_the_date_comes_from_the_region_of_its_page(desk, paused):
    _, state, run_id, _, _ = paused
    client = signed_in(desk.url, "op1")
    html = client.get(station(run_id)).text
    src = re.search(r'<img src="([^"]+/crops/2/date\.png)"[^>]*data-position="(\d+)" data-box="([\d,]+)"', html)
    assert src, "no crop beside the date"
    crop = client.get(src.group(1))
    assert crop.status_code == 200 and crop.headers["content-type"] == "image/png"
    found = check_crop(crop.content, state, next((state / "work").glob("*/*")), 1, 2, "date")
    assert [found.position, *found.box] == [int(src.group(2)), *map(int, src.group(3).split(","))]
    assert found.file == "009.jpg"  # the judgment's (last) page, where its 落款 is
    assert found.same < 6 < found.elsewhere, found
    assert found.ink > 0.01  # there is print in it (the 落款 with its date), not blank paper


def test_the_station_is_legible_at_1366_by_768_with_labelled_fields_and_readable_contrast(desk, paused, browser):
    page = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 768}).new_page()
    page.goto(desk.url + "/web/login?next=" + station(paused[2]))
    page.get_by_label("用户名").fill("op1")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(desk.url + station(paused[2]))
    assert page.locator("#f-2-date").evaluate("el => el === document.activeElement")
    page.keyboard.press("Tab")  # Tab goes on to the next field in doubt, not through every field
    focused = page.evaluate("document.activeElement.id || document.activeElement.tagName")
    assert focused not in ("f-3-doc_no", "f-1-doc_no", "f-2-title") and not focused.startswith("f-1-")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "desk-review-station.png")
    page.screenshot(path=SHOTS / "desk-review-station-full.png", full_page=True)
    assert live_problems(page) == []


def test_an_operator_of_another_room_is_refused_as_if_the_run_did_not_exist(desk, paused):
    run_id = paused[2]
    other = signed_in(desk.url, "op2")
    theirs, nothing = other.get(station(run_id)), other.get(station(str(uuid.uuid4())))
    assert theirs.status_code == nothing.status_code == 403
    assert main_of(theirs.text) == main_of(nothing.text)
    assert other.get(station(run_id) + "/volumes/1/crops/2/date.png").status_code == 403
    assert signed_in(desk.url, "clerk").get(station(run_id)).status_code == 403  # no place at the desk


def test_a_date_that_is_not_on_the_calendar_is_refused_beside_its_field_and_the_run_keeps_waiting(desk, paused):
    case_no, _, run_id, _, _ = paused
    client = signed_in(desk.url, "op1")
    page = client.get(station(run_id)).text
    pause = re.search(r'name="pause" value="([^"]+)"', page).group(1)
    answer = client.post(station(run_id), data={"csrf": csrf_of(page), "pause": pause, "2.date": "2024-13-45",
                                                "2.author": "河南省封丘县人民法院（已核对）"})
    assert answer.status_code == 400
    assert "「2024-13-45」不是有效日期" in answer.text and 'aria-invalid="true"' in answer.text
    assert 'value="河南省封丘县人民法院（已核对）"' in answer.text  # what the reviewer typed is kept
    assert paused_run(case_no) is not None


def test_a_second_reviewer_sees_who_holds_the_review_and_cannot_answer_until_taking_it_over(desk, paused):
    run_id = paused[2]
    boss = signed_in(desk.url, "boss")
    page = boss.get(station(run_id)).text
    assert "李扫描 正在审核这一卷" in page and "接手审核" in page
    pause = re.search(r'name="pause" value="([^"]+)"', page).group(1)
    refused = boss.post(station(run_id), data={"csrf": csrf_of(page), "pause": pause, "2.date": "2024-05-28"})
    assert refused.status_code == 409 and "李扫描 正在审核" in refused.text
    took = boss.post(station(run_id) + "/take-over", data={"csrf": csrf_of(page)})
    assert took.status_code == 303
    gave = boss.post(station(run_id) + "/release", data={"csrf": csrf_of(page)})
    assert gave.status_code == 303
    actions = [(e["action"], e["actor"]) for e in desk.entries()]
    boss_id = f"user:{desk.user_id('boss')}"
    assert ("desk.review.take-over", boss_id) in actions and ("desk.review.release", boss_id) in actions


def test_two_answers_to_the_same_pause_resume_the_run_once(desk, paused):
    _, _, run_id, _, _ = paused
    client = signed_in(desk.url, "op1")
    page = client.get(station(run_id)).text
    form = {"csrf": csrf_of(page), "pause": re.search(r'name="pause" value="([^"]+)"', page).group(1),
            "2.date": "二〇二四年五月二十八日"}
    cookies = dict(client.cookies)

    def post() -> httpx.Response:
        return httpx.post(desk.url + station(run_id), data=form, cookies=cookies, timeout=60)

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answers = sorted(r.status_code for r in pool.map(lambda _: post(), range(2)))
    assert answers == [303, 409]
    answered = [e for e in desk.entries() if e["action"] == "desk.review.answer"]
    assert len(answered) == 1 and answered[0]["actor"] == f"user:{desk.user_id('op1')}"
    assert "2.日期: '' -> '2024-05-28'" in answered[0]["detail"]


def test_the_run_publishes_the_date_the_reviewer_gave(desk, paused):
    from pipeline.storage import load_manifest

    case_no, _, _, outcome, thread = paused
    thread.join(timeout=600)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["result"]["published"]
    manifest = load_manifest(desk.store, case_no).manifest
    assert manifest.documents[1].date == "2024-05-28"
    assert [(c.field, c.after, c.by) for c in manifest.corrections if c.action == "corrected"] == \
        [("date", "2024-05-28", "李扫描")]


def test_the_runs_summary_names_the_review_correction(desk, paused):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    _, _, run_id, _, thread = paused
    thread.join(timeout=600)
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(
            any_=[uuid.UUID(run_id)])))
    summary = next(a.data for a in found if a.type == "markdown" and a.key.startswith("dossier-"))
    assert "## 卷内目录审核（李扫描）" in summary
    assert "| 1 | 2 | 日期 | （空） | 2024-05-28 | 李扫描 |" in summary
