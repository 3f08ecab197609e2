"""Full-text search in a real browser (Debian's chromium through Playwright): a clerk types a name into the search box
every page carries, opens a hit, and the boxes drawn over the page image sit on the name's characters — where the
volume's text layer puts them, and over printed ink. Screenshots go to tests/artifacts/screenshots/."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect
from search_fixtures import make_case, renumbered

from pipeline.access import Database
from pipeline.assembly import numbered_pages
from pipeline.search import open_index
from tests.access_fixtures import HOLDER, MovableClock, RequestService, make_people, start_service
from tests.store_fixtures import unique_case_no
from tests.test_browser import sign_in
from tests.web_helpers import SHOTS


@pytest.fixture(scope="module")
def world(embedded_store, tmp_path_factory):
    """The service with its people as users, one published case file of the court, indexed."""
    tmp = tmp_path_factory.mktemp("search-web")
    built = make_case(tmp / "case", "（2024）豫0727刑初61号", HOLDER, seed=61, pages=4)
    case = renumbered(built, unique_case_no())
    db = Database.open(f"sqlite:///{tmp / 'access.db'}")
    index = open_index("tantivy", tmp / "index")
    clock = MovableClock()
    tokens = make_people(db, clock, users=True)
    version = case.publish(embedded_store.store(), db)
    index.index_dossier(case.manifest, case.catalogue, case.volumes, version or "")
    prefix, app, server = start_service(embedded_store, db, tmp, clock=clock, sweep_seconds=3600, search=index)
    try:
        with server as url:
            yield RequestService(url, app, db, embedded_store.store(), prefix, clock, tmp, tokens), case
    finally:
        index.close()
        db.dispose()


def layer_boxes(case, volume: int, page: int, name: str) -> list[tuple[float, float, float, float]]:
    """The text layer's box (shares of the page) of each character of the name's first occurrence on the page."""
    layer = next(p for p in numbered_pages(dict(case.volumes)[volume]) if p.number == page)
    chars = [c for line in layer.lines for c in line]
    start = "".join(c.text for c in chars).index(name)
    return [(c.x0 / layer.width, c.y0 / layer.height, c.x1 / layer.width, c.y1 / layer.height)
            for c in chars[start : start + len(name)]]


def test_a_clerk_searches_a_name_opens_a_hit_and_the_boxes_cover_its_characters_on_the_page(browser, world):
    service, case = world
    name = case.facts.victim
    page = sign_in(browser, service.url, "registrar")
    page.get_by_role("search").first.get_by_label("全文检索").fill(name)
    page.get_by_role("search").first.get_by_role("button", name="检索").click()
    page.wait_for_url(re.compile(r"/web/search\?q="))
    assert page.get_by_role("status").inner_text().startswith("共找到")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "search-results.png", full_page=True)
    marked = page.locator("ol.hits mark").all_inner_texts()
    assert marked and set(marked) == {name}

    first = page.locator("ol.hits li a[href^='/web/search/hit']").first
    where = re.search(r"第(\d+)卷 第(\d+)页", first.inner_text())
    volume, number = int(where.group(1)), int(where.group(2))
    first.click()
    page.wait_for_url(re.compile(r"/web/search/hit\?"))
    image = page.locator("#page-image")
    # the pages forbid every script (CSP script-src 'none'), so the test asks through the driver, not a page script
    expect(image).to_have_js_property("complete", True, timeout=60_000)
    assert image.evaluate("img => img.naturalWidth") > 0
    page.screenshot(path=SHOTS / "search-hit.png", full_page=True)

    frame = image.bounding_box()
    rects = [r.bounding_box() for r in page.locator("rect.hit").all()]
    expected = layer_boxes(case, volume, number, name)
    assert len(rects) >= len(name)
    for got, want in zip(rects, expected):  # the first occurrence, character by character: centres within a pixel
        # and a half, sizes within the 2 px outline the rectangle is drawn with
        centre = (frame["x"] + (want[0] + want[2]) / 2 * frame["width"],
                  frame["y"] + (want[1] + want[3]) / 2 * frame["height"])
        assert got["x"] + got["width"] / 2 == pytest.approx(centre[0], abs=1.5)
        assert got["y"] + got["height"] / 2 == pytest.approx(centre[1], abs=1.5)
        assert got["width"] == pytest.approx((want[2] - want[0]) * frame["width"], abs=3)
        assert got["height"] == pytest.approx((want[3] - want[1]) * frame["height"], abs=3)

    src = image.get_attribute("src")
    png = page.context.request.get(service.url + src).body()
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    h, w = pixels.shape
    for x0, y0, x1, y1 in expected:  # printed ink under every box: the characters are there on the image
        cell = pixels[int(y0 * h) : int(y1 * h) + 1, int(x0 * w) : int(x1 * w) + 1]
        assert (cell < 128).mean() > 0.03, (x0, y0)


def test_another_agencys_clerk_finds_nothing_and_cannot_open_the_hit(browser, world):
    service, case = world
    owner = sign_in(browser, service.url, "registrar")
    owner.goto(service.url + f"/web/search?q={case.facts.victim}")
    hit_url = owner.locator("ol.hits li a[href^='/web/search/hit']").first.get_attribute("href")
    stranger = sign_in(browser, service.url, "stranger")
    stranger.goto(service.url + f"/web/search?q={case.facts.victim}")
    assert stranger.get_by_role("status").inner_text().startswith("共找到 0 处")
    opened = stranger.goto(service.url + hit_url)
    assert opened.status == 404 and stranger.locator("rect.hit").count() == 0
    missing = stranger.goto(service.url + "/web/search/hit?id=nothing%2Foriginal%2Fpage%2F1%2F1&q=x")
    assert missing.status == 404 and stranger.locator("h1").inner_text() == "未找到该检索结果"
