"""What every page of the operators' desk shares: the signed-in person with a place at the desk, and the one way
each of the desk's refusals is shown (whatever a person may not see reads exactly like what does not exist)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from pipeline.access._auth import Principal
from pipeline.access._views import note_audit
from pipeline.access.db import DatabaseError
from pipeline.access.desk import HIDDEN, Desk, Hidden, NotWaiting, OrchestratorUnavailable, at_desk
from pipeline.access.web._common import Web
from pipeline.errors import NotFoundError, RefusedError, StoreError

DESK = "/web/operations/"


async def desk_user(web: Web, request: Request, page: str) -> tuple[Principal, Desk] | Response:
    """The signed-in person and the desk, or the page that says why not (sign in; the desk is off; not theirs)."""
    who = await web.signed_in(request, page)
    if isinstance(who, Response):
        return who
    note_audit(request, action="desk", page=page)
    if web.operations is None:
        return web.page(request, "error.html", who, 404, title="操作台未启用",
                        message="本服务没有配置状态目录（DOSSIER_HOME），操作台不可用。")
    if not at_desk(who):
        note_audit(request, detail="not an operator or desk administrator")
        return hidden(web, request, who)
    return who, web.operations


async def desk_form(web: Web, request: Request, page: str) -> tuple[Principal, Desk, dict[str, str]] | Response:
    """For a desk action: the signed-in person, the desk and the form they sent (CSRF checked), or the page that says
    why not."""
    found = await desk_user(web, request, page)
    if isinstance(found, Response):
        return found
    who, desk = found
    form = await web.form(request, who)
    return form if isinstance(form, Response) else (who, desk, form)


def hidden(web: Web, request: Request, who: Principal) -> Response:
    """403 with the same words for what is not the person's and for what is not there."""
    note_audit(request, result="denied")
    return web.page(request, "error.html", who, 403, title="无法查看", message=HIDDEN)


def refusal(web: Web, request: Request, who: Principal, exc: Exception, back: str = DESK) -> Response:
    """The page for a desk action that could not be done, by why."""
    note_audit(request, detail=str(exc)[:300])
    if isinstance(exc, Hidden):
        return hidden(web, request, who)
    if isinstance(exc, NotWaiting):
        return web.page(request, "ops_message.html", who, 409, title="已不在等待审核", back=back,
                        message="这一卷已不在等待审核：可能已由他人提交、审核期限已过，或运行已被取消。")
    if isinstance(exc, (OrchestratorUnavailable, DatabaseError, StoreError)):
        return web.page(request, "ops_message.html", who, 503, title="暂时无法办理", back=back,
                        message="调度服务、数据库或审计日志暂时没有响应，本次操作没有执行。请稍后再试。")
    if isinstance(exc, RefusedError):
        return web.page(request, "ops_message.html", who, 409, title="未执行", back=back, message=str(exc))
    if isinstance(exc, NotFoundError):
        return web.page(request, "ops_message.html", who, 404, title="未找到", back=back,
                        message="没有找到所要的内容，它可能已经变化。")
    raise exc
