"""Pages: full-text search (the box on every page), a hit shown on its page image with the characters' boxes drawn
over it, and the page image itself.

A hit the agency may not open (another agency's, a volume not released, a dossier withdrawn since) gets the same page
as a hit that does not exist. The boxes are an SVG over the image (no script, no inline style: the pages' CSP).
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from pipeline.access._search import held_for, search_filters, search_scope
from pipeline.access._views import ApiError, note_audit
from pipeline.access.web._common import Web
from pipeline.assembly import page_image
from pipeline.storage import dossier_prefix

RESULTS_PER_PAGE = 30


class VolumeFiles:
    """The last few volumes opened for page images, downloaded once into a private temporary folder."""

    def __init__(self, store, keep: int = 4):
        self.store, self.keep = store, keep
        self.folder = Path(tempfile.mkdtemp(prefix="dossier-pages-"))
        self._files: OrderedDict[tuple[str, str], Path] = OrderedDict()
        self._lock = threading.Lock()

    def path(self, key: str, version: str | None) -> Path:
        """The local copy of one object version (downloaded when not kept)."""
        with self._lock:
            found = self._files.get((key, version or ""))
            if found is not None:
                self._files.move_to_end((key, version or ""))
                return found
            target = self.folder / f"{len(self._files)}-{abs(hash((key, version)))}.pdf"
            self.store.download(key, target, version)
            self._files[(key, version or "")] = target
            while len(self._files) > self.keep:
                _, old = self._files.popitem(last=False)
                old.unlink(missing_ok=True)
            return target


def search_routes(web: Web) -> APIRouter:
    """The results page, a hit on its page, a page image."""
    router = APIRouter(include_in_schema=False)
    volumes = VolumeFiles(web.service.store)

    @router.get("/web/search")
    async def results(request: Request, q: str = "", case: str = "", title: str = "", date_from: str = "",
                      date_to: str = "") -> Response:
        who = await web.signed_in(request, "search")
        if isinstance(who, Response):
            return who
        q = q.strip()[:100]
        form = {"q": q, "case": case, "title": title, "date_from": date_from, "date_to": date_to}
        if not q or web.search is None:
            return web.page(request, "search.html", who, q=q, form=form, results=None,
                            error=None if web.search else "本系统未启用全文检索。")
        started = time.perf_counter()
        note_audit(request, action="search", search=q, **({"search_case": case} if case else {}))
        try:
            filters = search_filters(case or None, title or None, date_from or None, date_to or None)
        except ApiError as exc:
            return web.page(request, "search.html", who, 400, q=q, form=form, results=None,
                            error=f"检索条件有误：{exc.detail}")
        scope = await run_in_threadpool(search_scope, who.agency, web.grants, web.service.clock())
        found = await run_in_threadpool(web.search.search, q, scope, filters, RESULTS_PER_PAGE)
        note_audit(request, hits=found.total)
        await asyncio.sleep(held_for(time.perf_counter() - started))
        return web.page(request, "search.html", who, q=q, form=form, results=found, error=None)

    def missing(request: Request, who) -> Response:
        return web.page(request, "error.html", who, 404, title="未找到该检索结果",
                        message="该检索结果不存在，或本单位目前无权查阅该页（案卷未获准调阅、查阅期限已满或案卷已撤销）。")

    @router.get("/web/search/hit")
    async def hit(request: Request, id: str = "", q: str = "") -> Response:
        who = await web.signed_in(request, "search-hit")
        if isinstance(who, Response):
            return who
        note_audit(request, action="search-hit", hit=id[:300], search=q[:100])
        if web.search is None or not id:
            return missing(request, who)
        scope = await run_in_threadpool(search_scope, who.agency, web.grants, web.service.clock())
        opened = await run_in_threadpool(web.search.open_hit, id[:300], q[:100], scope)
        if opened is None or opened.entry.source == "case":
            return missing(request, who)
        return web.page(request, "search_hit.html", who, q=q, hit=opened, entry=opened.entry)

    @router.get("/web/cases/{case_no}/volumes/{n}/pages/{page}.png")
    async def page_png(request: Request, case_no: str, n: int, page: int) -> Response:
        who = await web.signed_in(request, "page-image")
        if isinstance(who, Response):
            return who
        note_audit(request, action="page-image", volume=n, page=page)
        try:
            ref, decision = await web.service.authorise(request, case_no, None, who)
        except ApiError as exc:
            if exc.status in (400, 403, 404):
                return missing(request, who)
            raise
        vol = next((v for v in ref.manifest.volumes if v.number == n), None)
        if vol is None or not decision.covers(n) or not 1 <= page <= vol.pages:
            return missing(request, who)
        await web.service.fetched(who, decision)
        key = dossier_prefix(ref.manifest.case_no) + vol.key
        path = await run_in_threadpool(volumes.path, key, ref.manifest.object_versions.get(vol.key))
        png = await run_in_threadpool(page_image, path, page)
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    return router

