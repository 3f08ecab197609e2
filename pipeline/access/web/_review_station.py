"""Pages: the review station of the operators' desk — the volumes waiting for a 卷内目录 review, one volume's
catalogue with the crop of the page beside each field in doubt, and the reviewer's answer (which resumes the run).

Keyboard first: the fields in doubt are the only inputs in the tab order (the first one has the focus), Enter
submits the answer; the other fields can still be clicked and corrected. An answer that cannot be used comes back
with the reviewer's values kept and the reason beside the field."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from pipeline.access._views import note_audit
from pipeline.access.desk import DATE_HELP, ReviewProblems
from pipeline.access.web._common import Web, see_other
from pipeline.access.web._desk_pages import DESK, desk_form, desk_user, refusal
from pipeline.errors import NotFoundError
from pipeline.structure import FIELDS, LABELS

REVIEWS = DESK + "reviews"
PNG_HEADERS = {"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"}
DONE = {"answered": "审核已提交，运行继续生成卷册。", "released": "已放弃审核，其他人可以接手。",
        "taken": "已接手审核。"}


def _values(form: dict[str, str]) -> dict[str, str]:
    """The fields of the answer (``<seq>.<field>``) from the submitted form."""
    return {k: v for k, v in form.items() if "." in k and k.split(".", 1)[1] in FIELDS}


def station_routes(web: Web) -> APIRouter:
    """The review station."""
    router = APIRouter(include_in_schema=False)

    async def station(request: Request, who, desk, run_id: str, status: int = 200, values=None,
                      problems=None, done: str = "") -> Response:
        try:
            view = await run_in_threadpool(desk.reviews.page, who, run_id)
        except Exception as exc:  # noqa: BLE001 - each refusal has its page
            return refusal(web, request, who, exc, REVIEWS)
        note_audit(request, case_no=view.run.case_no, room=view.run.room or "-", run=run_id, volume=view.sheet.volume)
        return web.page(request, "ops_review.html", who, status, v=view, values=values or {},
                        problems=problems or {}, fields=FIELDS, labels=LABELS, date_help=DATE_HELP,
                        done=DONE.get(done), zone=desk.zone)

    @router.get(REVIEWS)
    async def waiting(request: Request, done: str = "") -> Response:
        found = await desk_user(web, request, "reviews")
        if isinstance(found, Response):
            return found
        who, desk = found
        runs = [r for r in await run_in_threadpool(desk.context.runs, who) if r.status == "review"]
        return web.page(request, "ops_reviews.html", who, runs=runs, done=DONE.get(done), zone=desk.zone)

    @router.get(REVIEWS + "/{run_id}")
    async def show(request: Request, run_id: str, done: str = "") -> Response:
        found = await desk_user(web, request, "review")
        return found if isinstance(found, Response) else await station(request, *found, run_id, done=done)

    @router.post(REVIEWS + "/{run_id}")
    async def answer(request: Request, run_id: str) -> Response:
        found = await desk_form(web, request, "review-answer")
        if isinstance(found, Response):
            return found
        who, desk, form = found
        values = _values(form)
        try:
            volume = await run_in_threadpool(desk.reviews.answer, who, run_id, form.get("pause", ""), values)
        except ReviewProblems as exc:
            note_audit(request, result="bad-request", detail=str(exc)[:300])
            return await station(request, who, desk, run_id, 400, values, exc.problems)
        except Exception as exc:  # noqa: BLE001 - each refusal has its page
            return refusal(web, request, who, exc, f"{REVIEWS}/{run_id}")
        note_audit(request, run=run_id, volume=volume)
        return see_other(f"{REVIEWS}?done=answered")

    router.include_router(claim_routes(web))
    router.include_router(image_routes(web))
    return router


def claim_routes(web: Web) -> APIRouter:
    """Taking over and releasing a review."""
    router = APIRouter(include_in_schema=False)

    async def claim_action(request: Request, run_id: str, what: str) -> Response:
        found = await desk_form(web, request, f"review-{what}")
        if isinstance(found, Response):
            return found
        who, desk, form = found
        act = desk.reviews.take_over if what == "take-over" else desk.reviews.release
        try:
            await run_in_threadpool(act, who, run_id)
        except Exception as exc:  # noqa: BLE001 - each refusal has its page
            return refusal(web, request, who, exc, f"{REVIEWS}/{run_id}")
        return see_other(f"{REVIEWS}/{run_id}?done=taken" if what == "take-over" else f"{REVIEWS}?done=released")

    @router.post(REVIEWS + "/{run_id}/take-over")
    async def take_over(request: Request, run_id: str) -> Response:
        return await claim_action(request, run_id, "take-over")

    @router.post(REVIEWS + "/{run_id}/release")
    async def release(request: Request, run_id: str) -> Response:
        return await claim_action(request, run_id, "release")

    return router


def image_routes(web: Web) -> APIRouter:
    """The crops beside the fields in doubt and the whole pages they are on."""
    router = APIRouter(include_in_schema=False)

    async def image(request: Request, page: str, render, *args) -> Response:
        found = await desk_user(web, request, page)
        if isinstance(found, Response):
            return found
        who, _ = found
        try:
            data = await run_in_threadpool(render, who, *args)
        except NotFoundError as exc:
            note_audit(request, detail=str(exc)[:300])
            return Response(status_code=404)
        except Exception as exc:  # noqa: BLE001 - each refusal has its page
            return refusal(web, request, who, exc)
        note_audit(request, run=args[0], volume=args[1])
        return Response(data, media_type="image/png", headers=PNG_HEADERS)

    @router.get(REVIEWS + "/{run_id}/volumes/{volume}/crops/{seq}/{field}.png")
    async def crop(request: Request, run_id: str, volume: int, seq: int, field: str) -> Response:
        if field not in FIELDS:
            return Response(status_code=404)
        return await image(request, "review-crop", web.operations.reviews.crop if web.operations else None,
                           run_id, volume, seq, field)

    @router.get(REVIEWS + "/{run_id}/volumes/{volume}/pages/{position}.png")
    async def whole_page(request: Request, run_id: str, volume: int, position: int) -> Response:
        return await image(request, "review-page", web.operations.reviews.whole_page if web.operations else None,
                           run_id, volume, position)

    return router
