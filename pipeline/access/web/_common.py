"""What every web page shares: the parts of the service it uses, signing in, reading a form safely."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pipeline.access._auth import Principal
from pipeline.access._grants import GrantStore
from pipeline.access._service import FetchService
from pipeline.access._throttle import Brakes, PasswordPool
from pipeline.access._users import UserStore
from pipeline.access._views import note_audit
from pipeline.access.desk import Desk
from pipeline.access.requests import RequestDesk
from pipeline.access.web._render import render
from pipeline.access.web._session import WebAuth
from pipeline.search import SearchIndex

MAX_FORM_FIELD = 4000
ERROR_PAGES = {
    400: ("链接或表单内容有误", "该链接或表单的内容无法识别。请返回上一页，检查后重新提交。"),
    404: ("页面不存在", "没有这个页面。请从首页重新进入。"),
    405: ("页面不存在", "没有这个页面。请从首页重新进入。"),
    500: ("系统错误", "系统处理时出错，本次操作未完成。请联系管理员。"),
    503: ("系统暂时无法服务", "对象存储、数据库或审计日志暂时无法访问，本次操作未执行。请稍后再试。"),
}


@dataclass
class Web:
    """The service's parts the pages use."""

    service: FetchService
    desk: RequestDesk
    auth: WebAuth
    users: UserStore
    grants: GrantStore
    brakes: Brakes
    passwords: PasswordPool
    search: SearchIndex | None = None
    operations: Desk | None = None  # the operators' desk, where the service knows a state folder

    def page(self, request: Request, template: str, who: Principal | None, status: int = 200, **context) -> Response:
        """Render a page for the signed-in principal (or for nobody)."""
        return render(request, self.auth, template, status, who=who, **context)

    def error_page(self, request: Request, status: int, headers: dict[str, str] | None = None) -> Response:
        """The page for an error met before (or instead of) a page's own answer: a link or form that cannot be
        read, no such page, the store or database down — in Chinese, like every page."""
        title, message = ERROR_PAGES.get(status, ERROR_PAGES[500 if status >= 500 else 400])
        page = self.page(request, "error.html", None, status, title=title, message=message)
        page.headers.update(headers or {})
        return page

    async def signed_in(self, request: Request, page: str) -> Principal | Response:
        """The signed-in principal, or the redirect to the sign-in page that comes back here."""
        note_audit(request, action="web", page=page)
        who = await self.auth.who(request)
        if who is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return see_other(f"/web/login?next={quote(target, safe='')}")
        note_audit(request, actor=who.id, agency=who.agency)
        return who

    async def form(self, request: Request, who: Principal | None) -> dict[str, str] | Response:
        """The submitted form's fields, or the refusal page when its CSRF token or origin is wrong."""
        data = await request.form()
        fields = {k: v[:MAX_FORM_FIELD] for k, v in data.items() if isinstance(v, str)}
        if not self.auth.csrf_ok(request, fields.get("csrf", "")):
            note_audit(request, result="denied", detail="CSRF token missing or wrong")
            return self.page(request, "error.html", who, 403, title="表单已失效",
                             message="该表单已失效或不是从本系统提交的。请返回上一页，刷新后重新提交。")
        return fields


def see_other(url: str) -> RedirectResponse:
    """303 to a page of ours (after a form: the browser then GETs it)."""
    return RedirectResponse(url, status_code=303)


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a page of ours only (no open redirect)."""
    if not value or not value.startswith("/web/") or value.startswith("//") or "\\" in value:
        return "/web/"
    return value
