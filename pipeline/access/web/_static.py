"""The pages' stylesheet, shipped with the package (no build step)."""

from __future__ import annotations

import hashlib
from importlib import resources

from fastapi import APIRouter, Request
from starlette.responses import Response

CSS = resources.files("pipeline.access.web").joinpath("static/site.css").read_bytes()
CSS_ETAG = '"' + hashlib.sha256(CSS).hexdigest()[:16] + '"'


def static_routes(_web) -> APIRouter:
    """GET /web/static/site.css."""
    router = APIRouter(include_in_schema=False)

    @router.get("/web/static/site.css")
    async def stylesheet(request: Request) -> Response:
        headers = {"ETag": CSS_ETAG, "Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
        if request.headers.get("if-none-match") == CSS_ETAG:
            return Response(status_code=304, headers=headers)
        return Response(CSS, media_type="text/css; charset=utf-8", headers=headers)

    return router
