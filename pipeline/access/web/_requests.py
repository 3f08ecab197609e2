"""Pages: filing a 调卷函, one's own requests, the inbox of reviewers, approvers and registrars, a request with its
history and the form to take the next step. Every form is a plain POST (works without JavaScript) with a CSRF token,
answered by a redirect to the page showing the result."""

from __future__ import annotations

import re

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from pipeline.access._auth import normalise_agency
from pipeline.access._views import note_audit
from pipeline.access.requests import DEFAULT_COPY, MAX_DAYS, MAX_REQUEST_ID, Filing, TransitionRefused, filing_from
from pipeline.access.web._common import Web, see_other
from pipeline.errors import BadInputError, CaseNumberError, NotFoundError, RefusedError

FIELDS = {"case_no": "案号", "holding_agency": "持有单位", "department": "承办部门", "legal_basis": "法律依据",
          "reason": "调卷事由", "contact": "联系人及电话", "days": "查阅期限", "volumes": "调阅卷册"}
DONE = {"filed": "调卷函已提交，等待部门负责人审核。", "review": "已审核通过，转分管领导审批。",
        "approve": "已审批通过，转持有单位案管部门。", "release": "已处理：放行（卷宗尚未发布的，发布后自动放行）。",
        "refuse": "已拒绝，理由已记录。"}


_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_NUMBER = re.compile(r"[0-9]{1,4}")


def whole_number(text: str) -> int | None:
    """A number typed into a form: ASCII or full-width digits (a Chinese input method types those), at most four;
    None for anything else — superscripts (²), circled numbers (①) and other scripts' digits are digits to
    ``str.isdigit`` but not numbers a clerk meant."""
    text = text.strip().translate(_FULLWIDTH_DIGITS)
    return int(text) if _NUMBER.fullmatch(text) else None


def filing_of(form: dict[str, str], agency: str) -> Filing:
    """A 调卷函 from the web form, or a BadInputError in Chinese naming the field."""
    for name in ("case_no", "holding_agency", "department", "legal_basis", "reason", "contact", "days"):
        if not form.get(name, "").strip():
            raise BadInputError(f"请填写「{FIELDS[name]}」。")
    volumes = None
    if form.get("scope") == "some":
        volumes = [whole_number(p) for p in re.split(r"[,，、;；\s]+", form.get("volumes", "")) if p]
        if not volumes or None in volumes:
            raise BadInputError("请填写要调阅的卷号（数字），例如：1、3。")
    days = whole_number(form["days"]) or 0
    if not 1 <= days <= MAX_DAYS:
        raise BadInputError(f"「查阅期限」应为 1 到 {MAX_DAYS} 之间的天数。")
    try:
        holding = normalise_agency(form["holding_agency"])
    except BadInputError as exc:
        raise BadInputError(f"「持有单位」填写有误：{exc}") from None
    if holding == agency:
        raise BadInputError("持有单位是本单位：本单位的案卷无需调卷，请直接查询。")
    try:
        return filing_from(case_no=form["case_no"], holding_agency=form["holding_agency"],
                           department=form["department"], legal_basis=form["legal_basis"], reason=form["reason"],
                           contact=form["contact"], days=days, volumes=volumes)
    except BadInputError as exc:
        field = str(exc).split(":", 1)[0]
        raise BadInputError(f"「{FIELDS.get(field, field)}」填写有误：{str(exc).split(':', 1)[-1].strip()}") from None


def filing_routes(web: Web) -> APIRouter:
    """The 调卷函 form and one's own requests."""
    router = APIRouter(include_in_schema=False)

    async def form_page(request: Request, who, values: dict[str, str], error: str | None = None, status: int = 200):
        holders = [a for a in await run_in_threadpool(web.desk.holding_agencies) if a != who.agency]
        return web.page(request, "request_form.html", who, status, values=values, error=error, max_days=MAX_DAYS,
                        holders=holders)

    @router.get("/web/requests/new")
    async def new_request(request: Request, case_no: str = "", holding_agency: str = "") -> Response:
        who = await web.signed_in(request, "request-form")
        if isinstance(who, Response):
            return who
        shown = case_no[:64].replace("(", "（").replace(")", "）")  # as courts print it
        values = {"case_no": shown, "holding_agency": holding_agency[:100], "department": who.department,
                  "days": "30", "scope": "all"}
        return await form_page(request, who, values)

    @router.post("/web/requests")
    async def file_request(request: Request) -> Response:
        who = await web.signed_in(request, "request-form")
        if isinstance(who, Response):
            return who
        form = await web.form(request, who)
        if isinstance(form, Response):
            return form
        try:
            filing = filing_of(form, who.agency)
            view = await run_in_threadpool(web.desk.file, who, filing)
        except CaseNumberError as exc:
            return await form_page(request, who, form, f"案号格式不正确：{exc}", 400)
        except BadInputError as exc:
            return await form_page(request, who, form, str(exc), 400)
        except RefusedError:
            return await form_page(request, who, form, "只有内勤（clerk）角色可以提交调卷函。", 403)
        note_audit(request, request_id=view.id, case_no=view.case_no)
        return see_other(f"/web/requests/{view.id}?done=filed")

    @router.get("/web/requests")
    async def my_requests(request: Request) -> Response:
        who = await web.signed_in(request, "requests")
        if isinstance(who, Response):
            return who
        return web.page(request, "requests.html", who, requests=await run_in_threadpool(web.desk.mine, who))

    return router


def copy_defaults(web: Web, requests) -> dict[int, str]:
    """What a release of each request gives unless the registrar chooses otherwise (by the requester's kind)."""
    return {r.id: DEFAULT_COPY.get(web.desk.kinds.kind_of(r.requesting_agency), "original") for r in requests}


def review_routes(web: Web) -> APIRouter:
    """The inbox, one request, acting on it."""
    router = APIRouter(include_in_schema=False)
    RequestId = Path(ge=1, le=MAX_REQUEST_ID)

    async def request_page(request: Request, who, request_id: int, error: str | None = None, status: int = 200,
                           done: str | None = None) -> Response:
        try:
            view, events = await run_in_threadpool(web.desk.get, who, request_id)
        except NotFoundError:
            return web.page(request, "error.html", who, 404, title="未找到调卷函",
                            message=f"没有您可以查看的第 {request_id} 号调卷函。")
        actions = await run_in_threadpool(web.desk.actions_for, who, request_id)
        defaults = await run_in_threadpool(copy_defaults, web, [view])
        return web.page(request, "request.html", who, status, r=view, events=events, actions=actions, error=error,
                        done=DONE.get(done or ""), copy_defaults=defaults)

    @router.get("/web/requests/{request_id}")
    async def show(request: Request, request_id: int = RequestId, done: str = "") -> Response:
        who = await web.signed_in(request, "request")
        return who if isinstance(who, Response) else await request_page(request, who, request_id, done=done)

    @router.get("/web/inbox")
    async def inbox(request: Request, done: str = "") -> Response:
        who = await web.signed_in(request, "inbox")
        if isinstance(who, Response):
            return who
        items = await run_in_threadpool(web.desk.inbox, who)
        histories = await run_in_threadpool(web.desk.histories, [r.id for r, _ in items])
        defaults = await run_in_threadpool(copy_defaults, web, [r for r, _ in items])
        return web.page(request, "inbox.html", who, items=items, histories=histories, done=DONE.get(done),
                        copy_defaults=defaults)

    @router.post("/web/requests/{request_id}/act")
    async def act(request: Request, request_id: int = RequestId) -> Response:
        who = await web.signed_in(request, "act")
        if isinstance(who, Response):
            return who
        form = await web.form(request, who)
        if isinstance(form, Response):
            return form
        action, comment = form.get("action", ""), form.get("comment", "")
        copy = form.get("copy") if action == "release" else None
        note_audit(request, request_id=request_id, op=action[:20], **({"copy": copy[:20]} if copy else {}))
        try:
            await run_in_threadpool(web.desk.act, who, request_id, action, comment, copy or None)
        except TransitionRefused:
            message = "该调卷函已由他人处理或状态已变化，本次操作未执行。"
            return await request_page(request, who, request_id, message, 409)
        except RefusedError as exc:
            return await request_page(request, who, request_id, f"您不能执行此操作：{exc}", 403)
        except NotFoundError:
            return await request_page(request, who, request_id)
        except BadInputError as exc:
            message = "拒绝时请在「意见」中填写理由。" if "reason" in str(exc) else f"操作有误：{exc}"
            return await request_page(request, who, request_id, message, 400)
        back = "/web/inbox" if form.get("back") == "inbox" else f"/web/requests/{request_id}"
        return see_other(f"{back}?done={action}")

    return router
