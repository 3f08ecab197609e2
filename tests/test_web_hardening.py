"""What every answer of the service tells the browser, and what a page shows of text other people typed: no answer
may be framed by another site (pages, the API, the documentation, redirects, errors), HSTS only over TLS (see
tests/test_transport.py), and a right-to-left override in a 调卷函's free text shown as a visible mark on the
registrar's page while the stored text keeps it."""

from __future__ import annotations

import httpx

from tests.store_fixtures import unique_case_no
from tests.web_helpers import signed_in


def test_no_answer_may_be_framed_by_another_site(web_service):
    url = web_service.url
    answers = [httpx.get(url + path, timeout=30) for path in ("/web/login", "/", "/dossiers/x", "/docs", "/health",
                                                              "/openapi.json", "/web/static/site.css")]
    assert [a.status_code for a in answers] == [200, 303, 401, 200, 200, 200, 200]
    for a in answers:
        assert a.headers["x-frame-options"] == "DENY", a.url
        assert "frame-ancestors 'none'" in a.headers["content-security-policy"], a.url
        assert a.headers["x-content-type-options"] == "nosniff", a.url


def test_over_plain_http_no_answer_claims_https_only(web_service):
    assert "strict-transport-security" not in httpx.get(web_service.url + "/web/login", timeout=30).headers


def test_a_right_to_left_override_in_a_requests_text_is_shown_as_a_visible_mark(web_service):
    svc = web_service
    spoofed = "调阅\u202egpj.exe卷宗"  # shown raw, a reader would see "调阅exe.jpg卷宗"-like reordering
    request_id = svc.file(case_no=unique_case_no(), reason=spoofed, contact="李\u2067 0371\u2069").json()["id"]
    for person, action in (("head", "review"), ("deputy", "approve")):
        assert svc.act(person, request_id, action).status_code == 200
    page = signed_in(svc.url, "registrar").get(f"/web/requests/{request_id}")
    assert page.status_code == 200
    assert not any(ch in page.text for ch in "\u202e\u2067\u2069")
    assert "调阅[U+202E]gpj.exe卷宗" in page.text and "[U+2067]" in page.text
    stored = svc.call("registrar", "GET", f"/requests/{request_id}").json()
    assert stored["reason"] == spoofed  # the stored text is kept as filed
