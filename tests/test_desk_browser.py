"""The operators' desk in a real browser (Debian's headless chromium), against the real service, SeaweedFS store,
Prefect server with a worker running the deployed flows, and the hot-folder watcher:

- an operator drops a batch and watches it go from waiting to published on the rooms page;
- a batch quarantined because its room may not publish its case is requeued from its page, once an administrator
  allowed the case, and publishes;
- a batch with a page that cannot be read is quarantined with its pages shown and the bad one marked, and its failed
  run carries the failure artifact;
- a volume whose date is in doubt is reviewed at the station: the crop of the date's region beside the field, an
  impossible date refused, a real one accepted, and the run publishes it;
- an operator of room-1 sees nothing of room-2 (403, the same as for what does not exist);
- a rerun started from the desk is named with its 案号 on the Prefect server.

Screenshots of every page at 1366×768 go to tests/artifacts/screenshots/desk-*.png.
"""

from __future__ import annotations

import contextvars
import re
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from pipeline.access import read_audit
from tests.a11y import live_problems
from tests.access_fixtures import PASSWORD
from tests.desk_fixtures import DeskService, check_crop, desk_service
from tests.ops_fixtures import AGENCY, PAGES, make_batch, prefect_stack, store_environment, wait_for, write_profile
from tests.store_fixtures import unique_case_no
from tests.test_review import profile as review_profile
from tests.test_review import review_batch
from tests.web_helpers import SHOTS, signed_in

RUN_TIMEOUT = 400
VIEW = {"width": 1366, "height": 768}
pytestmark = pytest.mark.filterwarnings("ignore:Callback with id:RuntimeWarning")


@dataclass
class Desk:
    svc: DeskService
    hot: Path
    state: Path
    base: Path
    rooms: Path
    stack: object

    @property
    def url(self) -> str:
        return self.svc.url


def write_rooms(path: Path, base: Path, extra_room1: tuple[str, ...] = ()) -> None:
    """room-1 publishes 2024 court cases without a review; room-2 any case, pausing when a field is in doubt."""
    rooms = {"room-1": {"agencies": [AGENCY], "case_numbers": [r"\(2024\)豫0727刑初\d+号", *extra_room1],
                        "profile": str(write_profile(base)), "review": "never"},
             "room-2": {"agencies": [AGENCY], "case_numbers": [".*"], "profile": str(review_profile(base, "flagged")),
                        "review": "flagged"}}
    path.write_text(yaml.safe_dump({"rooms": rooms}, allow_unicode=True), encoding="utf-8")


@pytest.fixture(scope="module")
def desk(embedded_store, prefect_harness, tmp_path_factory):
    from flows.orchestration import PrefectOrchestrator
    from flows.watch import DeploymentSubmitter, Watcher

    env = store_environment(embedded_store)
    mp = pytest.MonkeyPatch()
    for k, v in env.items():
        mp.setenv(k, v)
    stack = prefect_stack(env, tmp_path_factory.mktemp("desk-stack"))
    base = tmp_path_factory.mktemp("desk")
    hot, state = base / "hot", base / "state"
    for room in ("room-1", "room-2"):
        (hot / room).mkdir(parents=True)
        (hot / room / "room.yaml").write_text("settle_seconds: 1\n", encoding="utf-8")
    state.mkdir()
    rooms = state / "rooms.yaml"
    write_rooms(rooms, base)
    stop = threading.Event()
    watcher = Watcher(hot, state, DeploymentSubmitter("process-batch/process-batch", state), tick_seconds=0.5,
                      log=lambda line: None)
    thread = threading.Thread(target=contextvars.copy_context().run, args=(watcher.run, stop), daemon=True)
    thread.start()
    orchestrator = PrefectOrchestrator(str(state), stack.url.removesuffix("/api"))
    try:
        with desk_service(embedded_store, state, base, orchestrator, (hot,), rooms) as svc:
            yield Desk(svc, hot, state, base, rooms, stack)
    finally:
        stop.set()
        thread.join(timeout=30)
        mp.undo()


def sign_in(browser, url: str, person: str):
    """A new browser session at 1366×768, signed in as the person; its page."""
    page = browser.new_context(locale="zh-CN", viewport=VIEW).new_page()
    page.goto(url + "/web/login?next=/web/operations/")
    page.get_by_label("用户名").fill(person)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(url + "/web/operations/")
    return page


def shot(page, name: str) -> None:
    """The page as seen at 1366×768, and whole."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"desk-{name}.png")
    page.screenshot(path=SHOTS / f"desk-{name}-full.png", full_page=True)


def load(page, url: str) -> None:
    """Go to ``url``; a navigation cut short by the page's own refresh (its meta refresh fired meanwhile, as it may
    on a busy machine) is tried again."""
    from playwright.sync_api import Error

    for tries in range(5):
        try:
            page.goto(url)
            return
        except Error as exc:
            if "ERR_ABORTED" not in str(exc) or tries == 4:
                raise


def label_of(page, batch: str) -> str | None:
    """The state shown for a batch on the page just loaded, or None when it is not listed."""
    row = page.locator("table.batches tr", has=page.get_by_role("link", name=batch, exact=True))
    return row.locator(".badge").first.inner_text() if row.count() else None


def follow(page, url: str, batch: str, until: str, timeout: float, first_seen=None) -> list[str]:
    """Reload the page until the batch shows ``until``; the labels it showed, in order (``first_seen`` is called
    once the batch is listed)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        load(page, url)
        label = label_of(page, batch)
        if label and (not seen or seen[-1] != label):
            seen.append(label)
            if len(seen) == 1 and first_seen is not None:
                first_seen()
        if label == until:
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"{batch} showed {seen}, never {until!r}")
        time.sleep(1.0)


def test_an_operator_sees_a_batch_they_dropped_go_from_waiting_to_published(desk, browser):
    page = sign_in(browser, desk.url, "op1")
    folder = desk.hot / "room-1" / "a1"
    shutil.copytree(make_batch(desk.base / "src" / "a1", unique_case_no()), folder)  # no READY yet: still arriving

    def dropped() -> None:
        assert page.locator('meta[http-equiv="refresh"]').count() == 1  # the page keeps itself current
        shot(page, "rooms-waiting")
        (folder / "READY").write_bytes(b"")

    seen = follow(page, desk.url + "/web/operations/", "a1", "已发布", RUN_TIMEOUT, dropped)
    assert seen[0] in ("放入中", "等待接收"), seen
    assert seen[-1] == "已发布"
    shot(page, "rooms-published")
    assert live_problems(page) == []


def test_a_quarantined_batch_requeued_from_its_page_publishes(desk, browser):
    case_no = unique_case_no().replace("（2024）", "（2023）")  # room-1 may publish 2024's cases only
    shutil.copytree(make_batch(desk.base / "src" / "q1", case_no), desk.hot / "room-1" / "q1")
    (desk.hot / "room-1" / "q1" / "READY").write_bytes(b"")  # the marker last: copied along, it may come first
    page = sign_in(browser, desk.url, "op1")
    follow(page, desk.url + "/web/operations/", "q1", "已隔离", RUN_TIMEOUT)
    page.get_by_role("link", name="q1", exact=True).click()
    assert page.get_by_role("heading", name=re.compile("批次 q1")).is_visible()
    shown = page.inner_text("main")  # why and what to do, in Chinese; the technical detail folded away
    assert "该扫描室无权发布此批次" in shown and "点「重新排队」" in shown and "refused" not in shown
    shot(page, "batch-quarantined")
    write_rooms(desk.rooms, desk.base, extra_room1=(r"\(2023\)豫0727刑初\d+号",))  # the administrator allows it
    page.get_by_role("button", name="重新排队").click()
    page.wait_for_url(re.compile(r"/web/operations/rooms/room-1\?done=requeued"))
    assert page.get_by_role("status").filter(has_text="批次已放回扫描室").is_visible()
    follow(page, desk.url + "/web/operations/", "q1", "已发布", RUN_TIMEOUT)
    requeued = [e for e in desk.svc.entries() if e["action"] == "desk.batch.requeue" and e.get("batch") == "q1"]
    assert [e["actor"] for e in requeued] == [f"user:{desk.svc.user_id('op1')}"] and requeued[0]["by"] == "李扫描"


def test_a_batch_with_a_page_that_cannot_be_read_shows_its_pages_with_the_bad_one_marked(desk, browser):
    case_no = unique_case_no()
    source = make_batch(desk.base / "src" / "bad", case_no)
    data = (source / "009.jpg").read_bytes()
    (source / "009.jpg").write_bytes(data[: len(data) // 3])
    shutil.copytree(source, desk.hot / "room-1" / "bad1")
    (desk.hot / "room-1" / "bad1" / "READY").write_bytes(b"")  # the marker last, after every page
    page = sign_in(browser, desk.url, "op1")
    follow(page, desk.url + "/web/operations/", "bad1", "已隔离", RUN_TIMEOUT)
    page.get_by_role("link", name="bad1", exact=True).click()
    marked = page.locator("ol.thumbs li.bad")
    assert marked.count() == 1 and "009.jpg" in marked.inner_text()
    assert page.locator("ol.thumbs li").count() == len(PAGES)  # refused before any page was read: its files
    shot(page, "batch-bad-page")
    assert live_problems(page) == []
    runs = [r for r in desk.stack.flow_runs() if r.name.startswith(case_no)]
    assert runs and runs[0].state.is_failed()
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(
            any_=[runs[0].id])))
    failure = [a for a in found if (a.key or "").startswith("failure-")]
    assert failure and "**原因：**" in failure[0].data and "**下一步：**" in failure[0].data


def test_a_volume_with_a_doubtful_date_is_reviewed_at_the_station_and_publishes_the_date(desk, browser):
    from pipeline.storage import case_key, load_manifest

    case_no = unique_case_no()
    folder = desk.hot / "room-2" / "r1"
    review_batch(desk.base / "src" / "r1", case_no)
    shutil.copytree(desk.base / "src" / "r1", folder)
    (folder / "READY").write_bytes(b"")
    page = sign_in(browser, desk.url, "op2")
    wait_for(lambda: _review_link(page, desk.url, "r1"), RUN_TIMEOUT, "the review of r1", interval=1.0)
    shot(page, "rooms-review")
    page.get_by_role("link", name="审核卷内目录").first.click()
    page.wait_for_url(re.compile(r"/web/operations/reviews/[0-9a-f-]+$"))
    date = page.locator("#f-2-date")
    assert date.evaluate("el => el === document.activeElement")  # the keyboard starts at the field in doubt
    crop = page.get_by_role("img", name=re.compile("第2行「日期」"))
    assert crop.is_visible() and crop.evaluate("img => img.naturalWidth") > 100
    served = page.request.get(crop.evaluate("img => img.src"))  # the same session's cookies
    assert served.ok and served.headers["content-type"] == "image/png"
    folder = next((desk.state / "work" / case_key(case_no)).iterdir())
    found = check_crop(served.body(), desk.state, folder, 1, 2, "date")
    assert found.file == "009.jpg" and found.same < 6 < found.elsewhere and found.ink > 0.01, found
    shot(page, "review-station")
    assert live_problems(page) == []
    date.fill("2024-13-45")
    date.press("Enter")
    assert page.get_by_text("「2024-13-45」不是有效日期").is_visible()
    shot(page, "review-refused")
    page.locator("#f-2-date").fill("2024-05-28")
    page.locator("#f-2-date").press("Enter")
    page.wait_for_url(re.compile(r"/web/operations/reviews\?done=answered"))
    shot(page, "reviews")
    follow(page, desk.url + "/web/operations/", "r1", "已发布", RUN_TIMEOUT)
    manifest = load_manifest(desk.svc.store, case_no).manifest
    assert manifest.documents[1].date == "2024-05-28"
    assert [c.by for c in manifest.corrections if c.action == "corrected"] == ["王扫描"]


def _review_link(page, url: str, batch: str) -> bool:
    load(page, url + "/web/operations/")
    return label_of(page, batch) is not None and page.get_by_role("link", name="审核卷内目录").count() > 0


def test_an_operator_of_room_1_sees_nothing_of_room_2(desk):
    op1 = signed_in(desk.url, "op1")
    overview = op1.get("/web/operations/").text
    assert "room-2" not in overview and "r1" not in overview
    for path in ("/web/operations/rooms/room-2", "/web/operations/rooms/room-2/batches/r1"):
        theirs, nothing = op1.get(path), op1.get(path.replace("room-2", "room-9"))
        assert theirs.status_code == nothing.status_code == 403
        assert _main(theirs.text) == _main(nothing.text)
    boss = signed_in(desk.url, "boss").get("/web/operations/").text
    assert "room-2" in boss and "room-1" in boss


def _main(html: str) -> str:
    return re.search(r"<main id=\"main\">(.*)</main>", html, re.S).group(1)


def test_a_rerun_started_at_the_desk_is_named_with_its_case_number_in_prefect(desk, browser):
    page = sign_in(browser, desk.url, "boss")
    shown = page.goto(desk.url + "/web/operations/rooms/room-1/batches/a1")
    assert shown.status == 200, page.inner_text("main")
    case_no = page.locator("dd a[href*='/web/operations/cases/']").first.inner_text().strip()
    shot(page, "batch-published")
    page.get_by_label(re.compile("重做一卷")).select_option("1")
    page.get_by_role("button", name="重做所选的卷").click()
    page.wait_for_url(re.compile(r"\?done=rerun"))
    runs = wait_for(lambda: [r for r in desk.stack.flow_runs("rerun-volume") if r.name == f"{case_no} · 第1卷 · 重做"],
                    60, "the rerun on the server")
    assert f"案号:{case_no}" in runs[0].tags and "room:room-1" in runs[0].tags
    page.get_by_role("link", name=case_no).first.click()  # the case's history names the rerun, linked to Prefect
    page.wait_for_url(re.compile(r"/web/operations/cases/"))
    case_url = page.url
    rerun_row = page.locator("tr", has=page.get_by_role("link", name=f"查看运行 {str(runs[0].id)[:8]}"))

    def rerun_listed() -> bool:
        load(page, case_url)
        return rerun_row.count() == 1 and "重做" in rerun_row.inner_text()

    wait_for(rerun_listed, RUN_TIMEOUT, "the rerun in the case's history", interval=1.0)
    assert rerun_row.get_by_role("link").get_attribute("href").startswith(desk.stack.url.removesuffix("/api"))
    shot(page, "case-history")
    assert live_problems(page) == []
    started = [e for e in desk.svc.entries() if e["action"] == "desk.run.rerun" and e.get("case_no") == case_no]
    assert started and started[0]["actor"] == f"user:{desk.svc.user_id('boss')}"
    entries = [e for e in read_audit(desk.svc.store, desk.svc.audit_prefix) if e.get("path", "").startswith(
        "/web/operations/rooms/room-1/batches/a1/rerun")]
    assert entries and entries[-1]["status"] == 303
