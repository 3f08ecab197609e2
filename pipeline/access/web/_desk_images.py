"""Pictures of a batch on the desk: its pages' thumbnails and its volumes' contact sheets (the ones the runs' Prefect
artifacts link to), each answered only to those who may see the batch's room, and audited like any page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, Response

from pipeline.access._views import note_audit
from pipeline.access.web._common import Web
from pipeline.access.web._desk_pages import DESK, desk_user, refusal
from pipeline.errors import NotFoundError

IMAGE_HEADERS = {"Cache-Control": "private, max-age=60", "X-Content-Type-Options": "nosniff"}


def batch_image_routes(web: Web) -> APIRouter:
    """GET a page's thumbnail and a volume's contact sheet."""
    router = APIRouter(include_in_schema=False)

    async def picture(request: Request, page: str, find, case_no: str, batch: str, number: int) -> Response:
        found = await desk_user(web, request, page)
        if isinstance(found, Response):
            return found
        who, desk = found
        note_audit(request, case_no=case_no[:64], batch=batch[:100])
        try:
            path = await run_in_threadpool(getattr(desk.images, find), who, case_no, batch, number)
        except NotFoundError as exc:
            note_audit(request, detail=str(exc)[:300])
            return Response(status_code=404)
        except Exception as exc:  # noqa: BLE001 - each refusal has its page
            return refusal(web, request, who, exc)
        return FileResponse(path, media_type="image/png", headers=IMAGE_HEADERS)

    @router.get(DESK + "contact-sheets/{case_no}/{batch}/{volume}")
    async def contact_sheet(request: Request, case_no: str, batch: str, volume: int) -> Response:
        return await picture(request, "contact-sheet", "contact_sheet", case_no, batch, volume)

    @router.get(DESK + "cases/{case_no}/batches/{batch}/pages/{position}.png")
    async def thumbnail(request: Request, case_no: str, batch: str, position: int) -> Response:
        return await picture(request, "thumbnail", "thumbnail", case_no, batch, position)

    return router
