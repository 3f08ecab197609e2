"""Pages: the operators' desk — the rooms a person sees with their batches by what they need (a person, time,
nothing), one room, one batch with its pages and reason, a case's history, and the actions on a batch (requeue,
rerun a volume, reprocess). Pages with a batch on its way refresh themselves every 5 s (``<meta refresh>``: no
script); every action is a plain POST with a CSRF token, audited with the person before it is done, answered by a
redirect."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from pipeline.access._views import note_audit
from pipeline.access.desk import MOVING, SECTIONS, may_reprocess
from pipeline.access.web._common import Web, see_other
from pipeline.access.web._desk_pages import DESK, desk_form, desk_user, refusal
from pipeline.errors import BadInputError
from pipeline.standard import builtin_profiles

DONE = {"requeued": "批次已放回扫描室，监视程序会重新接收并处理它。", "rerun": "已开始重做所选的卷，进度见下方。",
        "reprocess": "已开始按所选标准重新处理。"}


def rooms_routes(web: Web) -> APIRouter:
    """The rooms, one room, one batch."""
    router = APIRouter(include_in_schema=False)

    async def rooms(request: Request, room: str | None, done: str) -> Response:
        found = await desk_user(web, request, "rooms" if room is None else "room")
        if isinstance(found, Response):
            return found
        who, desk = found
        try:
            view = await run_in_threadpool(desk.rooms.overview, who, room, 20 if room is None else 500)
        except Exception as exc:  # noqa: BLE001 - each refusal has its page
            return refusal(web, request, who, exc)
        title = "操作台" if room is None else f"扫描室 {room}"
        return web.page(request, "ops_rooms.html", who, view=view, title=title, single=room is not None,
                        sections=SECTIONS, done=DONE.get(done), zone=desk.zone)

    @router.get(DESK)
    async def overview(request: Request, done: str = "") -> Response:
        return await rooms(request, None, done)

    @router.get(DESK + "rooms/{room}")
    async def one_room(request: Request, room: str, done: str = "") -> Response:
        return await rooms(request, room, done)

    @router.get(DESK + "rooms/{room}/batches/{batch}")
    async def batch(request: Request, room: str, batch: str, done: str = "") -> Response:
        found = await desk_user(web, request, "batch")
        if isinstance(found, Response):
            return found
        who, desk = found
        try:
            view = await run_in_threadpool(desk.rooms.batch, who, room, batch)
        except Exception as exc:  # noqa: BLE001 - each refusal has its page
            return refusal(web, request, who, exc, f"{DESK}rooms/{room}")
        note_audit(request, room=room, batch=batch[:100], case_no=view.row.status.case_no or "-")
        return web.page(request, "ops_batch.html", who, v=view, moving=MOVING, done=DONE.get(done),
                        may_reprocess=may_reprocess(who), profiles=sorted(builtin_profiles()), zone=desk.zone)

    @router.get(DESK + "cases/{case_no}")
    async def case(request: Request, case_no: str) -> Response:
        found = await desk_user(web, request, "case")
        if isinstance(found, Response):
            return found
        who, desk = found
        try:
            view = await run_in_threadpool(desk.cases.case, who, case_no)
        except Exception as exc:  # noqa: BLE001 - each refusal has its page
            return refusal(web, request, who, exc)
        note_audit(request, case_no=view.case_no)
        return web.page(request, "ops_case.html", who, v=view, zone=desk.zone)

    router.include_router(action_routes(web))
    return router


def action_routes(web: Web) -> APIRouter:
    """Requeue, rerun a volume, reprocess."""
    router = APIRouter(include_in_schema=False)

    async def act(request: Request, room: str, batch: str, what: str) -> Response:
        found = await desk_form(web, request, f"batch-{what}")
        if isinstance(found, Response):
            return found
        who, desk, form = found
        page = f"{DESK}rooms/{room}/batches/{batch}"
        note_audit(request, room=room, batch=batch[:100], op=what)
        try:
            if what == "requeue":
                await run_in_threadpool(desk.rooms.requeue, who, room, batch)
                return see_other(f"{DESK}rooms/{room}?done=requeued")
            if what == "rerun":
                volume = int(form.get("volume", "0") or 0) if form.get("volume", "").isdigit() else 0
                run_id = await run_in_threadpool(desk.rooms.rerun, who, room, batch, volume)
            else:
                run_id = await run_in_threadpool(desk.rooms.reprocess, who, room, batch,
                                                 form.get("profile", "").strip() or None)
        except BadInputError as exc:
            return web.page(request, "ops_message.html", who, 400, title="未执行", back=page, message=str(exc))
        except Exception as exc:  # noqa: BLE001 - each refusal has its page
            return refusal(web, request, who, exc, page)
        note_audit(request, run=run_id)
        return see_other(f"{page}?done={what}")

    @router.post(DESK + "rooms/{room}/batches/{batch}/requeue")
    async def requeue(request: Request, room: str, batch: str) -> Response:
        return await act(request, room, batch, "requeue")

    @router.post(DESK + "rooms/{room}/batches/{batch}/rerun")
    async def rerun(request: Request, room: str, batch: str) -> Response:
        return await act(request, room, batch, "rerun")

    @router.post(DESK + "rooms/{room}/batches/{batch}/reprocess")
    async def reprocess(request: Request, room: str, batch: str) -> Response:
        return await act(request, room, batch, "reprocess")

    return router
