"""The requesters' HTTP API and web pages: authenticated, authorised per agency, every access audited
(``dossier serve``).

Endpoints (OpenAPI at ``/docs`` and ``/openapi.json``):

- ``GET /health`` — liveness and whether the store answers (not audited, reveals nothing).
- ``GET /dossiers/{case_no}`` — the manifest (volumes, pages, documents, signature and report verdicts) with the
  卷内目录 (catalogue) embedded.
- ``GET /dossiers/{case_no}/manifest.json`` / ``catalogue.json`` / ``report.json`` — the stored bytes, verifiable
  against the manifest's SHA-256 (header ``X-Content-SHA256``).
- ``GET /dossiers/{case_no}/volumes/{n}`` — volume N as a copy made for the caller (a line on every page, its copy
  identifier in the XMP and in the audit entry, certified by the service's key: :mod:`._copies`), streamed; never a
  redirect to the store (``presign_seconds`` no longer applies to volumes: a presigned URL would hand out the
  unmarked volume).
- ``GET /dossiers/{case_no}/disclosure`` and ``…/disclosure/volumes/{n}`` — the disclosure copy (阅卷版) released to
  the caller: its manifest with its 卷内目录, its volumes marked like any other. A reader released only the copy is
  refused every route of the original (403).
- ``GET /dossiers/{case_no}/versions`` — every published manifest version; any dossier endpoint takes
  ``?version=<id>`` to read an older one.
- ``GET /search?q=…`` — full-text search of the dossiers the agency may read now, with the page number as stamped,
  a marked snippet and the characters' boxes of each hit (:mod:`pipeline.access._search`).

- ``POST /requests``, ``GET /requests``, ``GET /requests/inbox``, ``GET /requests/{id}``,
  ``POST /requests/{id}/actions`` — 调卷函: file, list one's own, the inbox by role, one with its history, take a step
  (:mod:`pipeline.access.requests`).
- ``/web/…`` — the clerks' pages in Chinese (:mod:`pipeline.access.web`); ``/`` redirects there.
- ``/web/operations/…`` — the operators' desk (:mod:`pipeline.access.desk`), when the service is given a state
  folder (``operations``): rooms, batches, cases, the review station, page crops and contact sheets.

``case_no`` arrives percent-encoded UTF-8 in the path and is normalised (（2019）… and (2019)… are one case).
API requests carry ``Authorization: Bearer <token>`` (``dossier token create``); pages use a session cookie.
Answers: 401 without a valid token; 403 with the same body whether the case is not granted to the agency or does
not exist at all; 404 only to an agency with access (or a grant for that case number); 400 for something that is
not a case number. Access comes from owning the case, the manifest's grants, an administrator's grant, or a released
调卷函 until its expiry date (checked against the clock on every request).

Every request except ``/health``, the documentation and the stylesheet is appended to the audit log
(:mod:`pipeline.access._audit`) before the first byte of its answer is sent: a volume is recorded before any of it
leaves, and when the entry cannot be stored nothing is served (503). An answer that then ends short adds an
``aborted`` entry with the bytes that went out.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline import __version__
from pipeline.access._audit import AUDIT_PREFIX, AuditLog, audit_key
from pipeline.access._auth import Clock, TokenStore
from pipeline.access._grants import GrantStore
from pipeline.access._headers import SecurityHeaders
from pipeline.access._manifest_cache import ManifestCache
from pipeline.access._middleware import AuditMiddleware
from pipeline.access._routes import dossier_routes
from pipeline.access._search import search_routes
from pipeline.access._service import FetchService
from pipeline.access._throttle import Brakes, PasswordPool
from pipeline.access._users import UserStore
from pipeline.access._views import ApiError, error_response, note_audit
from pipeline.access.db import Database, DatabaseError
from pipeline.access.desk import Desk, DeskSources
from pipeline.access.requests import RequestDesk, Sweeper, request_routes
from pipeline.access.web import Web, WebAuth, service_key, web_routes
from pipeline.common import utcnow
from pipeline.errors import StoreError
from pipeline.search import SearchIndex
from pipeline.storage import DISCLOSURE_MANIFEST, ObjectMissing, ObjectStore, StoreConfig, disclosure_prefix


def create_app(store_config: StoreConfig, *, database: Database, store: ObjectStore | None = None,
               audit_stream: str | None = None, cache_ttl: float = 5.0, manifest_ttl: float = 1.0,
               presign_seconds: int = 0, audit_wait: float = 10.0, audit_prefix: str = AUDIT_PREFIX,
               audit_linger: float = 0.005, clock: Clock = utcnow, sweep_seconds: float = 30.0,
               session_hours: float = 8.0, cookie_secure: bool | None = None, brakes: Brakes | None = None,
               password_workers: int = 2, search: SearchIndex | None = None,
               operations: DeskSources | None = None, copy_signer=None) -> FastAPI:
    """The fetch service, the request API and the web pages over one store and one access database; see the
    module docstring. ``clock`` decides when access and tokens expire (sessions follow the real time); ``brakes``
    and ``password_workers``: :mod:`pipeline.access._throttle`; ``search`` is the full-text index (None:
    ``/search`` answers 503); ``copy_signer`` (a SignerConfig) certifies every volume served, marked for its
    recipient (without one, volumes are refused: 503)."""
    store = store or ObjectStore(store_config)
    tokens = TokenStore(database, cache_ttl=cache_ttl, clock=clock)
    grants = GrantStore(database, cache_ttl=cache_ttl, clock=clock)
    manifests = ManifestCache(store, ttl=manifest_ttl, grace=manifest_ttl and 5.0)
    audit = AuditLog(store, audit_key(database), stream=audit_stream, kind="api", prefix=audit_prefix,
                     linger=audit_linger)
    brakes = brakes or Brakes()
    service = FetchService(store, tokens, grants, manifests, presign_seconds, clock, brakes.token_sources,
                           copy_signer)

    def manifest_of(case_no: str):
        ref = manifests.get(case_no, None)
        return ref.manifest if ref is not None else None

    def copy_published(case_no: str, profile: str) -> bool:
        return store.stat(disclosure_prefix(case_no, profile) + DISCLOSURE_MANIFEST) is not None

    desk = RequestDesk(database, grants, audit, manifest_of, clock, audit_timeout=audit_wait,
                       copy_published=copy_published)
    service.on_fetch = desk.note_fetched
    sweeper = Sweeper(desk.sweep, sweep_seconds)
    users = UserStore(database)
    operators = Desk.open(operations, database, audit, clock) if operations is not None else None
    passwords = PasswordPool(password_workers)
    web = Web(service, desk, WebAuth(users, service_key(database, "web-csrf"), session_hours, cookie_secure), users,
              grants, brakes, passwords, search, operators)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        sweeper.start()
        yield
        await asyncio.to_thread(sweeper.stop)
        await asyncio.to_thread(passwords.close)
        await asyncio.to_thread(audit.close, 30.0)

    app = FastAPI(title="scan-to-dossier fetch service", version=__version__, lifespan=lifespan,
                  description="Authorised, audited fetch of published case dossiers (电子卷宗) by case number, "
                              "and requests to read another agency's case (调卷函) approved in steps.")
    app.state.store, app.state.tokens, app.state.grants, app.state.audit = store, tokens, grants, audit
    app.state.database, app.state.desk, app.state.users, app.state.sweeper = database, desk, users, sweeper
    app.state.service = service
    app.add_middleware(AuditMiddleware, audit=audit, wait=audit_wait)
    app.add_middleware(SecurityHeaders)  # outermost: the audit log's own 503 carries them too
    add_error_handlers(app, web)
    app.include_router(dossier_routes(service))
    app.include_router(search_routes(search, grants, service))
    app.include_router(request_routes(desk, service.principal))
    app.include_router(web_routes(web))
    return app


def add_error_handlers(app: FastAPI, web: Web) -> None:
    """Every error answer of the API is a JSON :class:`ErrorBody`, of the web pages a page in Chinese; store or
    database trouble is a 503 (a missing pinned object a 500)."""

    def answer(request: Request, status: int, error: str, detail: str, headers: dict[str, str] | None = None):
        if request.url.path.startswith("/web/"):
            return web.error_page(request, status, headers)
        return error_response(status, error, detail, headers)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return answer(request, exc.status, exc.error, exc.detail, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        error = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return answer(request, exc.status_code, error, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return answer(request, 400, "bad-request", f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(ObjectMissing)
    async def _object_missing(request: Request, exc: ObjectMissing):
        note_audit(request, detail=str(exc)[:300])  # a pinned object version is gone: data loss, not a client error
        return answer(request, 500, "object-missing", "a stored object named by the manifest is missing")

    @app.exception_handler(StoreError)
    async def _store_error(request: Request, exc: StoreError):
        note_audit(request, detail=str(exc)[:300])
        return answer(request, 503, "store-unavailable", "the object store could not answer; try again later")

    @app.exception_handler(DatabaseError)
    async def _database_error(request: Request, exc: DatabaseError):
        note_audit(request, detail=str(exc)[:300])
        return answer(request, 503, "database-unavailable", "the access database could not answer; try again later")
