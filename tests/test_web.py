"""The clerks' web pages over plain HTTP (forms without JavaScript): signing in, cookies, CSRF, looking up a case
without learning whether an ungranted one exists, the 调卷函 form, volumes inline or as downloads."""

import re

import httpx

from pipeline.access.web import ANON_COOKIE, SESSION_COOKIE
from pipeline.storage import normalise_case_no
from tests.access_fixtures import HOLDER, PASSWORD, enc
from tests.store_fixtures import unique_case_no
from tests.web_helpers import csrf_of, post_form, signed_in


def test_pages_need_signing_in_and_return_to_the_page_asked_for(web_service):
    client = httpx.Client(base_url=web_service.url, timeout=60)
    r = client.get("/web/inbox")
    assert r.status_code == 303 and r.headers["location"] == "/web/login?next=%2Fweb%2Finbox"
    token = csrf_of(client.get(r.headers["location"]).text)
    back = client.post("/web/login", data={"csrf": token, "username": "head", "password": PASSWORD,
                                           "next": "/web/inbox"})
    assert back.status_code == 303 and back.headers["location"] == "/web/inbox"
    assert "待办审批" in client.get("/web/inbox").text


def test_a_wrong_password_and_an_unknown_user_get_the_same_refusal(web_service):
    client = httpx.Client(base_url=web_service.url, timeout=60)
    answers = []
    for name, password in (("head", "wrong password!"), ("nobody-here", PASSWORD)):
        token = csrf_of(client.get("/web/login").text)
        answers.append(client.post("/web/login", data={"csrf": token, "username": name, "password": password}))
    assert [a.status_code for a in answers] == [401, 401]
    assert all("用户名或密码不正确" in a.text for a in answers) and SESSION_COOKIE not in client.cookies


def test_after_signing_in_elsewhere_the_next_page_stays_on_this_site(web_service):
    client = httpx.Client(base_url=web_service.url, timeout=60)
    token = csrf_of(client.get("/web/login").text)
    r = client.post("/web/login", data={"csrf": token, "username": "clerk", "password": PASSWORD,
                                        "next": "//evil.example/"})
    assert r.headers["location"] == "/web/"


def test_the_session_cookie_is_httponly_and_samesite_and_secure_behind_tls(web_service):
    def session_cookie(headers):
        form = httpx.get(web_service.url + "/web/login", headers=headers, timeout=60)
        anon = form.cookies[ANON_COOKIE]  # a Secure cookie: httpx would not send it back over plain HTTP itself
        r = httpx.post(web_service.url + "/web/login", headers={**headers, "Cookie": f"{ANON_COOKIE}={anon}"},
                       data={"csrf": csrf_of(form.text), "username": "clerk", "password": PASSWORD}, timeout=60)
        return next(v for v in r.headers.get_list("set-cookie") if v.startswith(SESSION_COOKIE + "="))

    plain, proxied = session_cookie({}), session_cookie({"X-Forwarded-Proto": "https"})
    assert "httponly" in plain.lower() and "samesite=lax" in plain.lower() and "secure" not in plain.lower()
    assert "secure" in proxied.lower()


def test_a_form_without_its_csrf_token_or_from_another_site_changes_nothing(web_service):
    svc = web_service
    request_id = svc.file(case_no=unique_case_no()).json()["id"]
    head = signed_in(svc.url, "head")
    missing = head.post(f"/web/requests/{request_id}/act", data={"action": "review"})
    token = csrf_of(head.get(f"/web/requests/{request_id}").text)
    foreign = head.post(f"/web/requests/{request_id}/act", data={"action": "review", "csrf": token},
                        headers={"Origin": "https://evil.example"})
    assert missing.status_code == foreign.status_code == 403 and "表单已失效" in missing.text
    assert svc.call("clerk", "GET", f"/requests/{request_id}").json()["state"] == "filed"


def test_looking_up_an_ungranted_case_looks_exactly_like_looking_up_a_missing_one(web_service):
    svc, existing, missing = web_service, unique_case_no(), unique_case_no()
    svc.publish(existing)
    clerk = signed_in(svc.url, "clerk")
    shown = clerk.get("/web/case", params={"case_no": existing})
    absent = clerk.get("/web/case", params={"case_no": missing})
    assert shown.status_code == absent.status_code == 404
    def neutral(page, case_no):  # the page less the case number it names and its form's token
        text = page.text.replace(case_no, "X").replace(enc(normalise_case_no(case_no)), "X")
        return re.sub(r'name="csrf" value="[^"]+"', "", text)

    assert neutral(shown, existing) == neutral(absent, missing)
    assert "为此案填写调卷函" in shown.text


def test_a_volume_opens_inline_for_the_pdf_viewer_or_downloads_as_an_attachment(web_service):
    svc, case_no = web_service, unique_case_no()
    manifest = svc.publish(case_no)
    svc.released(case_no)
    clerk = signed_in(svc.url, "clerk")
    page = clerk.get("/web/case", params={"case_no": case_no})
    assert page.status_code == 200 and "卷内目录" in page.text and "起诉书" in page.text
    inline = clerk.get(f"/web/cases/{enc(case_no)}/volumes/1")
    download = clerk.get(f"/web/cases/{enc(case_no)}/volumes/1", params={"download": "1"})
    assert inline.headers["content-disposition"].startswith("inline")
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.headers["x-copy-source-sha256"] == manifest.volumes[0].sha256  # a copy marked for the clerk


def test_the_request_form_names_a_missing_field_in_chinese_and_keeps_what_was_typed(web_service):
    clerk = signed_in(web_service.url, "clerk")
    r = post_form(clerk, "/web/requests/new", "/web/requests", case_no=unique_case_no(), holding_agency=HOLDER,
                  department="第一检察部", legal_basis="", reason="审查起诉", contact="李 123", days="30", scope="all")
    assert r.status_code == 400 and "请填写「法律依据」" in r.text and "审查起诉" in r.text


def test_a_request_filed_and_approved_through_plain_forms_reaches_the_registrar(web_service):
    svc, case_no = web_service, unique_case_no()
    clerk = signed_in(svc.url, "clerk")
    filed = post_form(clerk, "/web/requests/new", "/web/requests", case_no=case_no, holding_agency=HOLDER,
                      department="第一检察部", legal_basis="刑事诉讼法", reason="审查起诉", contact="李 123",
                      days="10", scope="some", volumes="1、2")
    assert filed.status_code == 303
    request_page = filed.headers["location"].split("?")[0]
    request_id = int(request_page.rsplit("/", 1)[1])
    for person, action in (("head", "review"), ("deputy", "approve")):
        client = signed_in(svc.url, person)
        r = post_form(client, "/web/inbox", f"{request_page}/act", action=action, comment="同意", back="inbox")
        assert r.status_code == 303 and r.headers["location"] == f"/web/inbox?done={action}"
    registrar = signed_in(svc.url, "registrar")
    assert f"第 {request_id} 号调卷函" in registrar.get("/web/inbox").text
    shown = svc.call("clerk", "GET", f"/requests/{request_id}").json()
    assert (shown["state"], shown["volumes"], shown["days"]) == ("approved", [1, 2], 10)
