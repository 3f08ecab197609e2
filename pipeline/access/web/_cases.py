"""Pages: signing in and out, the home page with the case look-up, a case's 卷内目录 and its volumes (for a reader
released only its disclosure copy: the copy, its 卷内目录 with names in their 某 form, its volumes).

A case the signed-in agency may not read gets exactly the page a case that does not exist gets (same status, same
words): the look-up gives no hint that an ungranted case exists. Both offer to file a 调卷函.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from pipeline.access._copies import copy_view, copy_volume, released_copy
from pipeline.access._routes import volume_response
from pipeline.access._service import source_of
from pipeline.access._throttle import Busy, retry_after
from pipeline.access._users import account_key
from pipeline.access._views import ApiError, note_audit
from pipeline.access.web._common import Web, safe_next, see_other
from pipeline.access.web._session import ANON_COOKIE, SESSION_COOKIE
from pipeline.errors import CaseNumberError
from pipeline.storage import normalise_case_no


def _access_until(web: Web, who, access, decision):
    """When the agency's access ends (None: no end), for the case page."""
    if decision.via == "owner":
        return None
    live = access.live(who.agency, web.service.clock())
    return None if any(a.expires is None for a in live) else max(a.expires for a in live)


def session_routes(web: Web) -> APIRouter:
    """Sign in, sign out."""
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def root() -> Response:
        return see_other("/web/")

    @router.get("/web/login")
    async def login_form(request: Request, next: str = "/web/") -> Response:
        note_audit(request, action="web", page="login")
        return web.page(request, "login.html", None, next=safe_next(next), error=None, username="")

    @router.post("/web/login")
    async def login(request: Request) -> Response:
        note_audit(request, action="web", page="login")
        form = await web.form(request, None)
        if isinstance(form, Response):
            return form
        username, target = form.get("username", "").strip()[:200], safe_next(form.get("next"))

        def again(status: int, error: str, wait: float | None = None) -> Response:
            page = web.page(request, "login.html", None, status, next=target, username=username, error=error)
            if wait is not None:
                page.headers["Retry-After"] = retry_after(wait)
            return page

        account, source = ("account", account_key(username)), ("source", source_of(request))
        wait = max(web.brakes.accounts.wait(account), web.brakes.sign_in_sources.wait(source))
        if wait > 0:  # no password is hashed while a wait is owed
            note_audit(request, result="denied", detail=f"sign-in braked for {username[:64]!r}")
            return again(429, f"登录失败次数过多，请 {retry_after(wait)} 秒后再试。", wait)
        try:
            user = await web.passwords.run(web.users.verify, username, form.get("password", "")[:1024])
        except Busy:
            note_audit(request, result="error", detail="sign-in busy: too many password checks waiting")
            return again(503, "登录的人太多，请稍后再试。", 1.0)
        if user is None:
            web.brakes.accounts.failed(account)
            web.brakes.sign_in_sources.failed(source)
            note_audit(request, result="denied", detail=f"sign-in failed for {username[:64]!r}")
            return again(401, "用户名或密码不正确，或该账号已停用。")
        web.brakes.accounts.succeeded(account)
        secret = await run_in_threadpool(web.users.start_session, user, web.auth.session_hours)
        note_audit(request, actor=f"user:{user.id}", agency=user.agency, result="signed-in")
        response = see_other(target)
        web.auth.set_cookie(response, request, SESSION_COOKIE, secret, max_age=int(web.auth.session_hours * 3600))
        response.delete_cookie(ANON_COOKIE, path="/")
        return response

    @router.post("/web/logout")
    async def logout(request: Request) -> Response:
        note_audit(request, action="web", page="logout")
        form = await web.form(request, None)
        if isinstance(form, Response):
            return form
        secret = request.cookies.get(SESSION_COOKIE)
        if secret:
            await run_in_threadpool(web.users.end_session, secret)
        response = see_other("/web/login")
        web.auth.clear(response, request)
        return response

    return router


async def copy_page(web: Web, request: Request, who, canonical: str) -> Response:
    """The case as a reader of its disclosure copy only sees it: the copy, its 卷内目录, its volumes."""
    ref, decision = await released_copy(web.service, request, canonical, who, None)
    view = json.loads(await run_in_threadpool(copy_view, web.service, ref))
    access = web.grants.peek(canonical) or await run_in_threadpool(web.grants.get, canonical)
    return web.page(request, "case_copy.html", who, case_no=ref.manifest.case_no, copy=ref.manifest,
                    catalogue=view.get("catalogue") or {}, decision=decision,
                    until=_access_until(web, who, access, decision))


def copy_routes(web: Web) -> APIRouter:
    """A volume of the disclosure copy released to the signed-in agency, for the PDF viewer or as a download."""
    router = APIRouter(include_in_schema=False)

    @router.get("/web/cases/{case_no}/disclosure/volumes/{n}")
    async def copy_volume_page(request: Request, case_no: str, n: int, download: bool = False) -> Response:
        who = await web.signed_in(request, "volume")
        if isinstance(who, Response):
            return who
        note_audit(request, action="volume", volume=n)
        try:
            ref, decision = await released_copy(web.service, request, case_no, who, None)
            return await copy_volume(web.service, request, who, decision, ref, n, inline=not download)
        except ApiError as exc:
            if exc.status in (400, 403, 404):
                return web.page(request, "case_missing.html", who, 404, case_no=case_no)
            raise

    return router


def case_routes(web: Web) -> APIRouter:
    """Home (look-up), a case's page, a volume for the PDF viewer or as a download."""
    router = APIRouter(include_in_schema=False)

    async def home(request: Request, who, status: int = 200, error: str | None = None, case_no: str = ""):
        mine = await run_in_threadpool(web.desk.mine, who, False, 10)
        waiting = await run_in_threadpool(web.desk.inbox, who)
        return web.page(request, "home.html", who, status, error=error, case_no=case_no, mine=mine,
                        inbox_count=len(waiting))

    @router.get("/web/")
    async def home_page(request: Request) -> Response:
        who = await web.signed_in(request, "home")
        return who if isinstance(who, Response) else await home(request, who)

    def missing(request: Request, who, case_no: str) -> Response:
        return web.page(request, "case_missing.html", who, 404, case_no=case_no)

    @router.get("/web/case")
    async def case_page(request: Request, case_no: str = "") -> Response:
        who = await web.signed_in(request, "case")
        if isinstance(who, Response):
            return who
        if not case_no.strip():
            return see_other("/web/")
        try:
            canonical = normalise_case_no(case_no)
        except CaseNumberError as exc:
            return await home(request, who, 400, f"案号格式不正确：{exc}", case_no)
        try:
            _, decision = await web.service.decision_for(request, canonical, None, who)
            if decision.disclosure is not None:
                return await copy_page(web, request, who, canonical)
            ref, decision = await web.service.authorise(request, canonical, None, who)
        except ApiError as exc:
            if exc.status in (403, 404):
                return missing(request, who, canonical)
            raise
        manifests = web.service.manifests
        view = json.loads(manifests.peek_view(ref)
                          or await run_in_threadpool(manifests.view, ref, web.service.build_view))
        access = web.grants.peek(canonical) or await run_in_threadpool(web.grants.get, canonical)
        return web.page(request, "case.html", who, case_no=ref.manifest.case_no, manifest=ref.manifest,
                        catalogue=view.get("catalogue") or {}, decision=decision, owner=access.owner,
                        until=_access_until(web, who, access, decision))

    @router.get("/web/cases/{case_no}/volumes/{n}")
    async def volume(request: Request, case_no: str, n: int, download: bool = False) -> Response:
        who = await web.signed_in(request, "volume")
        if isinstance(who, Response):
            return who
        note_audit(request, action="volume", volume=n)
        try:
            ref, decision = await web.service.authorise(request, case_no, None, who)
        except ApiError as exc:
            if exc.status in (400, 403, 404):
                return missing(request, who, case_no)
            raise
        vol = next((v for v in ref.manifest.volumes if v.number == n), None)
        if vol is None or not decision.covers(n):
            note_audit(request, detail="no such volume, or not granted")
            return missing(request, who, ref.manifest.case_no)
        await web.service.fetched(who, decision)
        return await volume_response(web.service, request, who, decision, ref, vol, inline=not download)

    return router
