"""Driving the web pages with plain HTTP (as a browser without JavaScript would): sign in, read a form's CSRF token,
post a form; and with Debian's headless chromium through Playwright (never a downloaded browser)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.access_fixtures import PASSWORD

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the (first) form on a page."""
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def signed_in(url: str, person: str) -> httpx.Client:
    """A client with the person's session cookie."""
    client = httpx.Client(base_url=url, follow_redirects=False, timeout=180)
    token = csrf_of(client.get("/web/login").text)
    r = client.post("/web/login", data={"csrf": token, "username": person, "password": PASSWORD, "next": "/web/"})
    assert r.status_code == 303, r.text
    return client


def post_form(client: httpx.Client, page: str, target: str, **fields) -> httpx.Response:
    """Load a page, take its form's CSRF token, post the fields to ``target``."""
    return client.post(target, data={"csrf": csrf_of(client.get(page).text), **fields})


CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).parent / "artifacts" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, headless, for a module's tests."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: scripts/bootstrap.sh installs Debian's chromium")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM),
                                     args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        try:
            yield launched
        finally:
            launched.close()
