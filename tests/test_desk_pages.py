"""The desk's pages as an operator reads them, over a ledger the real intake wrote (see
:func:`tests.desk_fixtures.rooms_state`): a case's history in Chinese with its times in one zone and one format, and
the requeue offered only where a requeue can resolve the quarantine. Fetched over HTTP as a browser without
JavaScript would (the desk's browser tests drive the same pages with Chromium and a real watcher)."""

from __future__ import annotations

import re
from datetime import timedelta, timezone
from html import unescape
from urllib.parse import quote

import pytest

from pipeline.operations import Ledger
from pipeline.storage import same_case
from tests.desk_fixtures import desk_service, rooms_state
from tests.store_fixtures import unique_case_no
from tests.web_helpers import csrf_of, post_form, signed_in

BEIJING = timezone(timedelta(hours=8))
OLD_ENGLISH = ("claimed at", "submitted:", "completed", "settling to", "requeued by", "moved back", "run id is",
               "quarantined at", "refused at the claim")


@pytest.fixture(scope="module")
def desk(embedded_store, tmp_path_factory):
    base = tmp_path_factory.mktemp("desk-pages")
    rooms = rooms_state(base, unique_case_no())
    with desk_service(embedded_store, rooms.state, base, None, (rooms.hot,), rooms.rooms_file) as svc:
        yield svc, rooms


def main_of(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def cells(html: str, heading: str) -> list[list[str]]:
    """The rows of the table under ``<h2>heading</h2>``, as text."""
    table = main_of(html).split(f"<h2>{heading}</h2>", 1)[1].split("</table>", 1)[0]
    return [[unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1], re.S)]


def test_the_history_on_a_cases_page_tells_every_try_in_chinese(desk):
    svc, rooms = desk
    html = signed_in(svc.url, "op1").get(f"/web/operations/cases/{quote(rooms.case_no, safe='')}").text
    rows = cells(html, "经过")
    tries = [what for _, kind, what, _ in rows if kind == "批次"]
    assert len(tries) >= 10, rows
    for what in tries:
        assert re.search(r"[\u4e00-\u9fff]", what) and not any(p in what for p in OLD_ENGLISH), what
    assert any("李管理员 重新排队" in what for what in tries)
    assert any(what.startswith("取件时被拒绝（批次中有文件无法使用）") for what in tries)


def test_every_time_on_a_cases_page_is_beijing_time_in_one_format(desk):
    svc, rooms = desk
    html = signed_in(svc.url, "op1").get(f"/web/operations/cases/{quote(rooms.case_no, safe='')}").text
    assert "时间（北京时间）" in html and "UTC" not in main_of(html)
    entries = [e for e in Ledger(rooms.state).entries() if same_case(rooms.case_no)(e.case_no)]
    expected = {e.at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") for entry in entries for e in entry.events()}
    shown = {row[0] for row in cells(html, "经过")}
    assert shown == expected
    assert {row[2] for row in cells(html, "批次")} <= {e.updated_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
                                                      for e in entries}


def test_a_batch_quarantined_for_a_file_that_cannot_be_used_is_not_offered_a_requeue_but_told_to_drop_it_again(desk):
    svc, rooms = desk
    client = signed_in(svc.url, "op1")
    page = f"/web/operations/rooms/room-1/batches/{rooms.batches['bad-input']}"
    html = main_of(client.get(page).text)
    assert "已隔离" in html and "/requeue" not in html and ">重新排队<" not in html
    assert "不能「重新排队」" in html and "把整个批次重新放入扫描室 room-1" in html
    refused = post_form(client, f"/web/operations/rooms/room-1/batches/{rooms.batches['cancelled']}",
                        f"{page}/requeue")
    assert refused.status_code == 409 and "不能重新排队" in refused.text
    assert (rooms.hot / "quarantine" / "room-1" / rooms.batches["bad-input"]).is_dir()


def test_a_batch_quarantined_for_a_reason_a_requeue_resolves_is_offered_the_requeue(desk):
    svc, rooms = desk
    html = main_of(signed_in(svc.url, "op1").get(
        f"/web/operations/rooms/room-1/batches/{rooms.batches['not-allowed']}").text)
    assert ">重新排队<" in html and "不能「重新排队」" not in html


def test_a_requeue_onto_a_batch_of_the_same_name_in_the_room_is_refused_in_chinese_and_moves_nothing(desk):
    svc, rooms = desk
    name = rooms.batches["not-allowed"]
    page = f"/web/operations/rooms/room-1/batches/{name}"
    client = signed_in(svc.url, "op1")
    form = client.get(page).text
    in_the_way = rooms.hot / "room-1" / name
    in_the_way.mkdir()
    try:
        refused = client.post(f"{page}/requeue", data={"csrf": csrf_of(form)})
    finally:
        in_the_way.rmdir()
    assert refused.status_code == 409
    assert f"扫描室里已经有一个名为 room-1/{name} 的批次" in refused.text and "already in the room" not in refused.text
    assert (rooms.hot / "quarantine" / "room-1" / name).is_dir()
