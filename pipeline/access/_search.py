"""Full-text search for the signed-in agency: its scope from the access rules, the API route, the audit note.

The scope is decided by the same rules as a fetch (:func:`pipeline.access._grants.granted`): the agency's own
dossiers (the owner the index recorded at publication) and every case a live grant in the database releases to it,
only the volumes released. A query therefore finds nothing in a case the agency may not read, and its answer is the
same whether such a case matches or not: the count and the hits are computed inside the scope. Every answer is held
to the next multiple of :data:`TIME_QUANTUM` after the request began, so its timing falls in the same class whatever
the cases outside the scope hold. Every search is audited: who, the query, the filters, how many hits.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from pipeline.access._auth import Principal
from pipeline.access._grants import GrantStore, granted
from pipeline.access._routes import REFUSALS
from pipeline.access._views import ApiError, note_audit
from pipeline.errors import CaseNumberError
from pipeline.search import DISCLOSURE, ORIGINAL, CaseGrant, Filters, Hit, Results, Scope, SearchIndex, unpack_boxes
from pipeline.search import occurrences as found_in
from pipeline.search import parse_query as phrases_of
from pipeline.storage import case_key, normalise_case_no

TIME_QUANTUM = 0.05  # seconds
MAX_QUERY = 100
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def search_scope(agency: str, grants: GrantStore, now: datetime) -> Scope:
    """What an agency may search now: its own dossiers and the cases released to it (the volumes released; only the
    disclosure copy's text where only the copy was released)."""
    released = []
    for access in grants.released_to(agency):
        decision = granted(agency, access, now)
        if decision is not None:
            kind = ORIGINAL if decision.disclosure is None else DISCLOSURE  # a 阅卷版 reader never finds the original
            released.append(CaseGrant(case_key(access.case_no), decision.volumes, kind))
    return Scope(owner=agency, grants=tuple(released))


def held_for(elapsed: float, quantum: float = TIME_QUANTUM) -> float:
    """How long to hold an answer that took ``elapsed`` seconds so that it leaves at a multiple of ``quantum``."""
    return quantum - (elapsed % quantum) if elapsed % quantum else 0.0


def search_filters(case: str | None, title: str | None, date_from: str | None, date_to: str | None) -> Filters:
    """The filters of a search request (ApiError 400 for a malformed case number or date)."""
    def day(value: str | None, name: str) -> int:
        if not value:
            return 0
        if not _DATE.fullmatch(value):
            raise ApiError(400, "bad-request", f"{name} must be a date YYYY-MM-DD")
        return int(value.replace("-", ""))

    key = None
    if case:
        try:
            key = case_key(normalise_case_no(case))
        except CaseNumberError as exc:
            raise ApiError(400, "bad-case-number", str(exc)) from None
    return Filters(case_key=key, title=(title or "").strip() or None, date_from=day(date_from, "date_from"),
                   date_to=day(date_to, "date_to"))


class SnippetPiece(BaseModel):
    """A piece of a snippet; ``hit`` marks the query's occurrence."""

    text: str
    hit: bool


class SearchHit(BaseModel):
    """One result: where it is (case, volume, page number as stamped), what document, a marked snippet, and the
    boxes of each occurrence on the page image (x0, y0, x1, y1 as shares of its width and height)."""

    id: str = Field(description="the hit's id (opens it on the web page /web/search/hit)")
    case_no: str
    volume: int = Field(description="0 for a hit in the case's facts")
    page: int = Field(description="page number as stamped in the volume (a 卷内目录 row: its document's first page)")
    source: str = Field(description="page | catalogue | case")
    title: str = Field(description="the document's 题名")
    date: str
    score: float
    snippet: list[SnippetPiece]
    boxes: list[list[list[float]]] = Field(description="per occurrence, the box of each character")


class SearchAnswer(BaseModel):
    """``GET /search``: how many entries in the caller's scope match, and the best of them by relevance."""

    query: str
    total: int
    hits: list[SearchHit]


def hit_view(hit: Hit, query: str) -> SearchHit:
    """A hit as the API shows it."""
    e = hit.entry
    spans = found_in(e.text, phrases_of(query)) if e.boxes else []
    boxes = [[list(b) for b in unpack_boxes(e.boxes, s, t)] for s, t in spans]
    return SearchHit(id=e.uid, case_no=e.case_no, volume=e.volume, page=e.page, source=e.source, title=e.title,
                     date=e.date, score=round(hit.score, 4), boxes=boxes,
                     snippet=[SnippetPiece(text=t, hit=m) for t, m in hit.snippet])


def run_search(index: SearchIndex, grants: GrantStore, who: Principal, now: datetime, query: str,
               filters: Filters, limit: int) -> Results:
    """The search as the principal's agency may run it now."""
    return index.search(query, search_scope(who.agency, grants, now), filters, limit)


def search_routes(index: SearchIndex | None, grants: GrantStore, service) -> APIRouter:
    """``GET /search``."""
    router = APIRouter()

    @router.get("/search", summary="Full-text search of the dossiers this agency may read",
                responses={200: {"model": SearchAnswer}, **{k: v for k, v in REFUSALS.items() if k in (400, 401, 503)}})
    async def search(request: Request,
                     q: str = Query(min_length=1, max_length=MAX_QUERY,
                                    description="words to find, e.g. 张三, 豫A12345, 〔2024〕74号; every "
                                                "space-separated part must be on the page"),
                     case: str | None = Query(None, max_length=100, description="only this 案号"),
                     title: str | None = Query(None, max_length=100, description="only documents of this 题名, "
                                                                                 "e.g. 询问笔录"),
                     date_from: str | None = Query(None, description="documents dated on or after, YYYY-MM-DD"),
                     date_to: str | None = Query(None, description="documents dated on or before, YYYY-MM-DD"),
                     limit: int = Query(20, ge=1, le=100),
                     who: Principal = Depends(service.principal)) -> SearchAnswer:
        started = time.perf_counter()
        note_audit(request, action="search", search=q, **({"search_case": case} if case else {}))
        filters = search_filters(case, title, date_from, date_to)
        if index is None:
            raise ApiError(503, "search-unavailable", "full-text search is not configured on this service")
        results = await run_in_threadpool(run_search, index, grants, who, service.clock(), q, filters, limit)
        note_audit(request, hits=results.total, result="ok")
        answer = SearchAnswer(query=q, total=results.total, hits=[hit_view(h, q) for h in results.hits])
        await asyncio.sleep(held_for(time.perf_counter() - started))
        return answer

    return router
