"""A lawyer's 调卷函 in a real browser (Debian's chromium driven by Playwright): filed, reviewed, approved, and
released by the registrar as the 阅卷版 (the default for a lawyer's firm); the lawyer reads the copy's 卷内目录 and
downloads a volume on the web page, cannot fetch the original by any URL of the pages or the API, and `dossier trace`
on the downloaded file names the lawyer and the 调卷函. Screenshots go to tests/artifacts/screenshots/."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.access import Database, TokenStore, UserStore
from pipeline.access.requests import AgencyKinds
from tests.access_fixtures import PASSWORD, MovableClock, RequestService, copy_signer, enc, make_people
from tests.store_fixtures import serve_in_thread, unique_case_no
from tests.test_browser import file_request, sign_in, take_step
from tests.test_disclosure_release import publish_copy
from tests.web_helpers import SHOTS

LAW_FIRM = "河南明德律师事务所"
LAWYERS = {"lawyer": (("clerk",), "刘律师", "刑事业务部"), "partner": (("reviewer",), "孙主任律师", "刑事业务部"),
           "director": (("approver",), "钱主任", "")}  # the firm's own reviewer and approver sign its 调卷函 off


@pytest.fixture(scope="module")
def lawyer_service(embedded_store, tmp_path_factory):
    """The service over its own database, with a lawyer's firm (recorded as such) and its people beside the usual
    ones, its audit entries where `dossier trace` reads them (the default audit prefix)."""
    from pipeline.access import create_app

    tmp = tmp_path_factory.mktemp("lawyer")
    db = Database.open(f"sqlite:///{tmp / 'access.db'}")
    clock = MovableClock()
    tokens = make_people(db, clock, users=True)
    for name, (roles, display, department) in LAWYERS.items():
        UserStore(db).create(name, PASSWORD, LAW_FIRM, roles, display, department)
        tokens[name] = TokenStore(db, clock=clock).create(LAW_FIRM, label=display, roles=roles, username=name)[0]
    AgencyKinds(db).set(LAW_FIRM, "lawyer", "test")
    app = create_app(embedded_store.config, database=db, cache_ttl=0, manifest_ttl=0, clock=clock,
                     sweep_seconds=3600, copy_signer=copy_signer(embedded_store))
    try:
        with serve_in_thread(app) as url:
            yield RequestService(url, app, db, embedded_store.store(), "system/audit/", clock, tmp, tokens)
    finally:
        db.dispose()


def test_a_lawyer_gets_the_disclosure_copy_on_the_web_page_never_the_original_and_trace_names_him(
        browser, lawyer_service, embedded_store, tmp_path):
    svc, case_no = lawyer_service, unique_case_no()
    svc.publish(case_no)
    publish_copy(svc, case_no)
    SHOTS.mkdir(parents=True, exist_ok=True)
    lawyer = sign_in(browser, svc.url, "lawyer")
    request_id = file_request(lawyer, svc.url, case_no)
    take_step(sign_in(browser, svc.url, "partner"), svc.url, request_id, "审核通过", "同意")
    take_step(sign_in(browser, svc.url, "director"), svc.url, request_id, "审批通过", "同意")
    registrar = sign_in(browser, svc.url, "registrar")
    registrar.goto(svc.url + "/web/inbox")
    card = registrar.locator("article", has=registrar.get_by_role("heading", name=re.compile(f"第 {request_id} 号")))
    assert card.get_by_label("阅卷版（遮蔽个人信息）").is_checked()
    take_step(registrar, svc.url, request_id, "放行", "依法准予律师阅卷", shot="registrar-release-disclosure.png")

    lawyer.goto(f"{svc.url}/web/requests/{request_id}")
    assert lawyer.get_by_text("阅卷版（律师）").is_visible()
    lawyer.get_by_role("link", name="查阅案卷").click()
    assert lawyer.get_by_text("本单位获准调阅的是该卷宗的阅卷版（律师）").is_visible()
    assert lawyer.get_by_role("cell", name="被害人周某某询问笔录").first.is_visible()
    lawyer.screenshot(path=SHOTS / "lawyer-case-page.png", full_page=True)
    with lawyer.expect_download() as download:
        lawyer.get_by_role("link", name="下载第1卷阅卷版").click()
    fetched = tmp_path / "fetched.pdf"
    Path(download.value.path()).rename(fetched)

    originals = [f"/web/cases/{enc(case_no)}/volumes/1", f"/web/cases/{enc(case_no)}/volumes/1?download=1",
                 f"/web/cases/{enc(case_no)}/volumes/2", f"/web/cases/{enc(case_no)}/volumes/1/pages/1.png"]
    for path in originals:
        page = lawyer.context.request.get(svc.url + path)
        assert page.status == 404 and page.headers["content-type"].startswith("text/html"), path
    for path in ("", "/manifest.json", "/catalogue.json", "/report.json", "/versions", "/volumes/1", "/volumes/2"):
        assert svc.call("lawyer", "GET", f"/dossiers/{enc(case_no)}{path}").status_code == 403, path

    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_S3_")}
    env.update(DOSSIER_HOME=str(embedded_store.state_dir), COLUMNS="200")
    traced = subprocess.run([sys.executable, "-m", "flows.cli", "trace", str(fetched), "--development-key"],
                            capture_output=True, text=True, env=env, timeout=300)  # as a person runs it
    assert traced.returncode == 0, traced.stderr
    assert "刘律师" in traced.stdout and f"第{request_id}号" in traced.stdout and LAW_FIRM in traced.stdout
    assert "签章完好" in traced.stdout and "文件与调阅时完全一致" in traced.stdout
