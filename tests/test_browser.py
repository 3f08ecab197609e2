"""The whole 调卷 procedure in a real browser: Debian's headless chromium driven by Playwright (never a downloaded
browser). A clerk files → the department head reviews → the deputy chief approves → the court's registrar
releases → the clerk opens the 卷内目录 and downloads a volume → after the expiry date the same clerk is refused.
Screenshots of the case page, the 调卷函 form and the approver's inbox go to tests/artifacts/screenshots/."""

import re
from pathlib import Path

from tests.a11y import live_problems
from tests.access_fixtures import HOLDER, PASSWORD
from tests.store_fixtures import unique_case_no
from tests.web_helpers import SHOTS


def sign_in(browser, url: str, person: str):
    """A new browser session (its own cookies) signed in as the person; its page."""
    page = browser.new_context(accept_downloads=True, locale="zh-CN",
                               viewport={"width": 1280, "height": 900}).new_page()
    page.goto(url + "/web/")
    page.get_by_label("用户名").fill(person)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(url + "/web/")
    return page


def take_step(page, url: str, request_id: int, button: str, comment: str, shot: str | None = None) -> None:
    """In the inbox, on the request's card: write the comment and press the button."""
    page.goto(url + "/web/inbox")
    card = page.locator("article", has=page.get_by_role("heading", name=re.compile(f"第 {request_id} 号调卷函")))
    card.get_by_label("意见（拒绝时必填）").fill(comment)
    if shot:
        page.screenshot(path=SHOTS / shot, full_page=True)
    card.get_by_role("button", name=button).click()
    page.wait_for_url(re.compile(r"/web/inbox\?done="))
    assert page.get_by_role("status").is_visible()


def file_request(clerk, url: str, case_no: str) -> int:
    """Look the case up (nothing to see), follow the offer to file a 调卷函, fill it in, send it; its number."""
    clerk.get_by_label("案号").fill(case_no)
    clerk.get_by_role("button", name="查询").click()
    assert clerk.get_by_role("heading", name="未找到可查阅的案卷").is_visible()
    clerk.get_by_role("link", name="为此案填写调卷函").click()
    assert clerk.get_by_label("案号").input_value() == case_no
    clerk.get_by_label("持有单位（调往单位）").fill(HOLDER)
    clerk.get_by_label("法律依据").fill("《中华人民共和国刑事诉讼法》第一百七十六条")
    clerk.get_by_label("调卷事由").fill("审查起诉阶段需调阅原审卷宗，核对证据材料。")
    clerk.get_by_label("查阅期限（天，自放行之日起）").fill("7")
    clerk.get_by_label("联系人及电话").fill("李内勤 0371-23456789")
    clerk.screenshot(path=SHOTS / "request-form.png", full_page=True)
    clerk.get_by_role("button", name="提交调卷函").click()
    clerk.wait_for_url(re.compile(r"/web/requests/\d+\?done=filed"))
    assert clerk.get_by_text("调卷函已提交").is_visible()
    return int(re.search(r"/web/requests/(\d+)", clerk.url).group(1))


def test_a_clerk_gets_a_case_through_every_step_in_the_browser_and_loses_it_at_expiry(browser, web_service):
    svc, case_no = web_service, unique_case_no()
    manifest = svc.publish(case_no)
    SHOTS.mkdir(parents=True, exist_ok=True)
    clerk = sign_in(browser, svc.url, "clerk")
    request_id = file_request(clerk, svc.url, case_no)
    take_step(sign_in(browser, svc.url, "head"), svc.url, request_id, "审核通过", "同意，请分管领导审批")
    take_step(sign_in(browser, svc.url, "deputy"), svc.url, request_id, "审批通过", "同意调阅",
              shot="approver-inbox.png")
    take_step(sign_in(browser, svc.url, "registrar"), svc.url, request_id, "放行", "准予查阅七日")

    clerk.goto(f"{svc.url}/web/requests/{request_id}")
    clerk.get_by_role("link", name="查阅案卷").click()
    assert clerk.get_by_role("heading", name=case_no).is_visible()
    assert clerk.get_by_role("heading", name="卷内目录").is_visible()
    assert clerk.get_by_role("cell", name="起诉书").first.is_visible()
    clerk.screenshot(path=SHOTS / "case-page.png", full_page=True)
    viewer = svc.url + clerk.get_by_role("link", name="在浏览器中查看第1卷").get_attribute("href")
    inline = clerk.context.request.get(viewer)
    assert inline.headers["content-type"] == "application/pdf"
    assert inline.headers["content-disposition"].startswith("inline")
    with clerk.expect_download() as download:
        clerk.get_by_role("link", name="下载第1卷").click()
    from flows.cli.fetch import copy_check

    copy_check(Path(download.value.path()), manifest.volumes[0].sha256)  # a copy marked for the clerk, of volume 1

    svc.clock.advance(days=7, minutes=1)
    clerk.reload()
    assert clerk.get_by_role("heading", name="未找到可查阅的案卷").is_visible()
    refused = clerk.context.request.get(viewer)
    assert refused.status == 404 and refused.headers["content-type"].startswith("text/html")
    svc.app.state.desk.sweep()
    clerk.goto(f"{svc.url}/web/requests/{request_id}")
    steps = clerk.locator("table tbody tr td:nth-child(2)").all_inner_texts()
    assert steps == ["提交调卷函", "部门负责人审核通过", "分管领导审批通过", "案管放行", "调阅卷宗", "查阅期满，访问结束"]


def test_every_page_has_labelled_fields_and_readable_contrast_in_the_browser(browser, web_service):
    svc, case_no = web_service, unique_case_no()
    svc.publish(case_no)
    released = svc.released(case_no)
    waiting = svc.file(case_no=unique_case_no()).json()["id"]
    pages = {"clerk": ["/web/", f"/web/case?case_no={case_no}", f"/web/case?case_no={unique_case_no()}",
                       "/web/requests/new", "/web/requests", f"/web/requests/{released}"],
             "head": ["/web/inbox", f"/web/requests/{waiting}"]}
    login = browser.new_context().new_page()
    login.goto(svc.url + "/web/login")
    problems = live_problems(login)
    for person, paths in pages.items():
        page = sign_in(browser, svc.url, person)
        for path in paths:
            page.goto(svc.url + path)
            problems += live_problems(page)
    assert problems == []
