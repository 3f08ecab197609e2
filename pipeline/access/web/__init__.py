"""The web pages (Chinese, server-rendered with Jinja2, no JavaScript): sign in, look up a case, its 卷内目录 and
volumes, file a 调卷函, the inbox of reviewers, approvers and registrars, a request's history; the operators' desk
(rooms, batches, cases, the review station)."""

from fastapi import APIRouter

from pipeline.access.web._cases import case_routes, copy_routes, session_routes
from pipeline.access.web._common import Web
from pipeline.access.web._desk_images import batch_image_routes
from pipeline.access.web._desk_rooms import rooms_routes
from pipeline.access.web._requests import filing_routes, review_routes
from pipeline.access.web._review_station import station_routes
from pipeline.access.web._search import search_routes
from pipeline.access.web._session import ANON_COOKIE, SESSION_COOKIE, WebAuth, service_key
from pipeline.access.web._static import static_routes


def web_routes(web: Web) -> APIRouter:
    """Every page, under /web (and / redirecting there)."""
    router = APIRouter(include_in_schema=False)
    for part in (session_routes, case_routes, copy_routes, search_routes, filing_routes, review_routes, rooms_routes,
                 station_routes, batch_image_routes, static_routes):
        router.include_router(part(web))
    return router


__all__ = ["ANON_COOKIE", "SESSION_COOKIE", "Web", "WebAuth", "service_key", "web_routes"]
