"""The requesters' HTTP API: authenticated, authorised per agency, every access audited (``dossier serve``).

Endpoints (OpenAPI at ``/docs`` and ``/openapi.json``):

- ``GET /health`` — liveness and whether the store answers (not audited, reveals nothing).
- ``GET /dossiers/{case_no}`` — the manifest (volumes, pages, documents, signature and report verdicts) with the
  卷内目录 (catalogue) embedded.
- ``GET /dossiers/{case_no}/manifest.json`` / ``catalogue.json`` / ``report.json`` — the stored bytes, verifiable
  against the manifest's SHA-256 (header ``X-Content-SHA256``).
- ``GET /dossiers/{case_no}/volumes/{n}`` — volume N as a PDF streamed from the store in chunks, or a 307 redirect to
  a short-lived presigned URL when the service runs with ``presign_seconds``.
- ``GET /dossiers/{case_no}/versions`` — every published manifest version; any dossier endpoint takes
  ``?version=<id>`` to read an older one.

``case_no`` arrives percent-encoded UTF-8 in the path and is normalised (（2019）… and (2019)… are one case).
Requests carry ``Authorization: Bearer <token>`` (``dossier token create``). Answers: 401 without a valid token;
403 with the same body whether the case is not granted to the agency or does not exist at all; 404 only to an
agency with access (or a grant for that case number); 400 for something that is not a case number.

Every request except ``/health`` and the documentation is appended to the audit log (:mod:`pipeline.audit`)
before its last byte is sent: a manifest answer waits for its entry to be stored (503 if the log cannot be written),
and a volume stream is cut short (the client sees an incomplete body) when its entry cannot be stored.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import OrderedDict
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline import __version__
from pipeline.access._audit import AUDIT_PREFIX, AuditLog
from pipeline.access._auth import (
    AuthError,
    GrantStore,
    Principal,
    TokenStore,
    explicitly_granted,
    may_read,
    token_id_of,
)
from pipeline.errors import CaseNumberError, StoreError
from pipeline.models import Catalogue, DossierManifest
from pipeline.storage import (
    CATALOGUE_NAME,
    REPORT_NAME,
    DossierNotFound,
    ManifestRef,
    ObjectMissing,
    ObjectStore,
    StoreConfig,
    case_key,
    dossier_prefix,
    load_manifest,
    manifest_versions,
    normalise_case_no,
)

UNAUDITED = frozenset({"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
_VERSION_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")
DENIED = "this agency has no access to the requested case"


class ErrorBody(BaseModel):
    """Every error answer."""

    error: str
    detail: str


class DossierView(BaseModel):
    """``GET /dossiers/{case_no}``: the manifest as published, with the catalogue (卷内目录)."""

    case_no: str
    case_key: str
    version_id: str | None
    manifest: DossierManifest
    catalogue: Catalogue | dict | None = None


class ManifestVersion(BaseModel):
    """One published version of a dossier's manifest."""

    version_id: str
    published: str | None
    latest: bool


class ApiError(Exception):
    """An error answer with a JSON body."""

    def __init__(self, status: int, error: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.error, self.detail, self.headers = status, error, detail, headers


def _error_response(status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def _note(request: Request, **fields: Any) -> None:
    """Add fields to this request's audit entry."""
    request.scope.setdefault("state", {}).setdefault("audit", {}).update(fields)


class _ManifestCache:
    """Latest manifest per case, rechecked after ``ttl`` seconds with one HEAD request (single flight per case);
    manifests and rendered views by version id, which are immutable, in an LRU."""

    def __init__(self, store: ObjectStore, ttl: float, size: int = 512, grace: float = 5.0):
        self.store, self.ttl, self.size, self.grace = store, ttl, size, grace
        self._refreshing: set[str] = set()
        self._latest: dict[str, tuple[float, ManifestRef | None]] = {}
        self._by_version: OrderedDict[tuple[str, str], ManifestRef] = OrderedDict()
        self._views: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._stripes = [threading.Lock() for _ in range(64)]

    def peek(self, canonical: str, version: str | None) -> tuple[bool, ManifestRef | None, bool]:
        """(hit, manifest, stale) from memory only, safe on the event loop. A stale hit (older than ``ttl`` but
        within ``grace``) may be served while one background refresh runs (see :meth:`refresh_soon`)."""
        key = case_key(canonical)
        with self._lock:
            if version is not None:
                ref = self._by_version.get((key, version))
                return ref is not None, ref, False
            hit = self._latest.get(key)
        if hit is not None:
            age = time.monotonic() - hit[0]
            if age < self.ttl:
                return True, hit[1], False
            if age < self.ttl + self.grace:
                return True, hit[1], True
        return False, None, False

    def refresh_soon(self, canonical: str) -> None:
        """Start one background refresh of a case's latest manifest (no-op when one is already running)."""
        key = case_key(canonical)
        with self._lock:
            if key in self._refreshing:
                return
            self._refreshing.add(key)

        def refresh() -> None:
            try:
                self._load_latest(canonical, key)
            except Exception:  # noqa: BLE001 - a failed refresh leaves the entry to expire; requests then report it
                pass
            finally:
                with self._lock:
                    self._refreshing.discard(key)

        threading.Thread(target=refresh, name="manifest-refresh", daemon=True).start()

    def get(self, canonical: str, version: str | None) -> ManifestRef | None:
        """The manifest (latest or by version), or None when there is none; reads the store when needed."""
        key = case_key(canonical)
        found, ref, _ = self.peek(canonical, version)
        if found:
            return ref
        if version is not None:
            try:
                ref = load_manifest(self.store, canonical, version)
            except DossierNotFound:
                return None
            self._remember(key, ref)
            return ref
        with self._stripes[hash(key) % len(self._stripes)]:  # one reader per case loads it, the others wait
            found, ref, stale = self.peek(canonical, None)
            if found and not stale:
                return ref
            return self._load_latest(canonical, key)

    def _load_latest(self, canonical: str, key: str) -> ManifestRef | None:
        with self._lock:
            previous = self._latest.get(key)
        info = self.store.stat(dossier_prefix(canonical) + "dossier.json")
        if info is None:
            ref = None
        elif previous and previous[1] is not None and previous[1].version_id == info.version_id:
            ref = previous[1]  # unchanged: the HEAD request was enough
        else:
            try:
                ref = load_manifest(self.store, canonical, info.version_id)
            except DossierNotFound:
                ref = None
        with self._lock:
            if len(self._latest) > 10 * self.size:
                self._latest.clear()
            self._latest[key] = (time.monotonic(), ref)
        if ref is not None:
            self._remember(key, ref)
        return ref

    def _remember(self, key: str, ref: ManifestRef) -> None:
        if ref.version_id is None:
            return
        with self._lock:
            self._by_version[(key, ref.version_id)] = ref
            self._by_version.move_to_end((key, ref.version_id))
            while len(self._by_version) > self.size:
                self._by_version.popitem(last=False)

    def peek_view(self, ref: ManifestRef) -> bytes | None:
        """The rendered body of a manifest version if already built."""
        with self._lock:
            return self._views.get((ref.manifest.case_key, ref.version_id or ""))

    def view(self, ref: ManifestRef, build) -> bytes:
        """The rendered ``GET /dossiers/{case_no}`` body of a manifest version (built once, then cached)."""
        cached = self.peek_view(ref)
        if cached is not None:
            return cached
        body = build(ref)
        if ref.version_id is not None:
            with self._lock:
                self._views[(ref.manifest.case_key, ref.version_id)] = body
                while len(self._views) > self.size:
                    self._views.popitem(last=False)
        return body


class AuditMiddleware:
    """Appends one audit entry per request and holds the response's last byte until the entry is stored."""

    def __init__(self, app, audit: AuditLog, wait: float = 10.0):
        self.app, self.audit, self.wait = app, audit, wait
        self.in_progress = 0  # audited requests not yet recorded: the audit writer waits a moment for them
        audit.expected = lambda: self.in_progress

    async def _commit(self, scope, status: int | None, sent: int, started: float, aborted: bool) -> bool:
        self.in_progress -= 1
        fields = dict(scope.get("state", {}).get("audit", {}))
        client = scope.get("client") or ("", 0)
        status = status or 500
        result = fields.pop("result", None) or (
            "aborted" if aborted else "ok" if status < 400 else {401: "unauthenticated", 403: "denied",
                                                                 404: "not-found"}.get(status, "bad-request"
                                                                                        if status < 500 else "error"))
        entry = {"actor": fields.pop("actor", "-"), "agency": fields.pop("agency", "-"),
                 "method": scope.get("method", ""), "path": scope.get("path", "")[:300],
                 "query": scope.get("query_string", b"").decode("latin-1")[:200],
                 "status": status, "result": result, "bytes": sent, "remote": client[0],
                 "ms": round((time.perf_counter() - started) * 1000, 2), **fields}
        try:
            fut = self.audit.record(**entry)
            await asyncio.wait_for(asyncio.wrap_future(fut), self.wait)
            return True
        except (StoreError, asyncio.TimeoutError):
            return False

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in UNAUDITED:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        st = {"status": None, "sent": 0, "start": None, "done": False, "length": None}
        self.in_progress += 1

        async def audited_send(message):
            if message["type"] == "http.response.start":
                st["status"] = message["status"]
                st["start"] = message  # held back: it may still have to become a 503
                for name, value in message.get("headers", ()):
                    if name.lower() == b"content-length":
                        st["length"] = int(value)
                return
            if message["type"] == "http.response.body":
                body = message.get("body", b"")
                # the entry must be stored before the client can hold the complete answer: with a Content-Length,
                # that is the chunk that reaches it, not the empty end-of-stream message after it
                last = not message.get("more_body", False) or (
                    st["length"] is not None and st["sent"] + len(body) >= st["length"])
                if last and not st["done"]:
                    st["done"] = True
                    stored = await self._commit(scope, st["status"], st["sent"] + len(body), started, False)
                    if not stored:
                        try:  # stored later, when the writer gets through again
                            self.audit.record(actor="-", agency="-", method=scope.get("method", ""),
                                              path=scope.get("path", "")[:300], status=503, result="error",
                                              bytes=0, detail="answer withheld: its audit entry could not be stored")
                        except StoreError:
                            pass
                        if st["start"] is not None:
                            response = _error_response(503, "audit-unavailable",
                                                       "the access could not be recorded in the audit log; "
                                                       "nothing was served")
                            await response(scope, receive, send)
                            return
                        raise RuntimeError("audit entry could not be stored; response cut short")
                if st["start"] is not None:
                    await send(st["start"])
                    st["start"] = None
                st["sent"] += len(body)
            await send(message)

        try:
            await self.app(scope, receive, audited_send)
        finally:
            if not st["done"]:
                st["done"] = True
                await self._commit(scope, st["status"], st["sent"], started, aborted=st["status"] is not None)


def create_app(store_config: StoreConfig, *, store: ObjectStore | None = None, audit_stream: str | None = None,
               cache_ttl: float = 5.0, manifest_ttl: float = 1.0, presign_seconds: int = 0,
               audit_wait: float = 10.0, audit_prefix: str = AUDIT_PREFIX, audit_linger: float = 0.005) -> FastAPI:
    """The fetch service over one store: token auth, per-agency access, audited; see the module docstring."""
    store = store or ObjectStore(store_config)
    tokens = TokenStore(store, cache_ttl=cache_ttl)
    grants = GrantStore(store, cache_ttl=cache_ttl)
    manifests = _ManifestCache(store, ttl=manifest_ttl, grace=manifest_ttl and 5.0)
    audit = AuditLog(store, stream=audit_stream, kind="api", prefix=audit_prefix, linger=audit_linger)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await asyncio.to_thread(audit.close, 30.0)

    app = FastAPI(title="scan-to-dossier fetch service", version=__version__, lifespan=lifespan,
                  description="Authorised, audited fetch of published case dossiers (电子卷宗) by case number.")
    app.state.store, app.state.tokens, app.state.grants, app.state.audit = store, tokens, grants, audit
    app.add_middleware(AuditMiddleware, audit=audit, wait=audit_wait)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return _error_response(exc.status, exc.error, exc.detail, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        error = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return _error_response(exc.status_code, error, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error_response(400, "bad-request", f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(ObjectMissing)
    async def _object_missing(request: Request, exc: ObjectMissing):
        _note(request, detail=str(exc)[:300])  # a pinned object version is gone: data loss, not a client error
        return _error_response(500, "object-missing", "a stored object named by the manifest is missing")

    @app.exception_handler(StoreError)
    async def _store_error(request: Request, exc: StoreError):
        _note(request, detail=str(exc)[:300])
        return _error_response(503, "store-unavailable", "the object store could not answer; try again later")

    async def principal(request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "a bearer token is required (Authorization: Bearer <token>)",
                           {"WWW-Authenticate": 'Bearer realm="dossiers"'})
        token = token.strip()
        try:
            who = tokens.authenticate(token, cached_only=True) or await run_in_threadpool(tokens.authenticate, token)
        except AuthError as exc:
            _note(request, actor=token_id_of(token) or "-", detail=str(exc))
            raise ApiError(401, "unauthorized", "the bearer token is not valid",
                           {"WWW-Authenticate": 'Bearer realm="dossiers", error="invalid_token"'}) from None
        _note(request, actor=who.token_id, agency=who.agency)
        return who

    async def authorised(request: Request, case_no: str, version: str | None, who: Principal) -> ManifestRef:
        """The manifest the principal may read, or the right refusal (403 reveals nothing about existence).
        Cache hits are answered on the event loop; store reads go to the thread pool."""
        try:
            canonical = normalise_case_no(case_no)
        except CaseNumberError as exc:
            raise ApiError(400, "bad-case-number", str(exc)) from None
        if version is not None and not _VERSION_RE.fullmatch(version):
            raise ApiError(400, "bad-request", "version must be an object version id")
        _note(request, case_no=canonical, case_key=case_key(canonical), version=version)
        record = grants.peek(canonical) or await run_in_threadpool(grants.get, canonical)
        found, ref, stale = manifests.peek(canonical, version)
        if not found:
            ref = await run_in_threadpool(manifests.get, canonical, version)
        elif stale:
            manifests.refresh_soon(canonical)
        if ref is None:
            if explicitly_granted(who.agency, record):
                raise ApiError(404, "not-found", f"no published dossier for case {canonical}"
                               + (f" with version {version}" if version else ""))
            _note(request, detail="no such dossier")  # for the auditor only: the answer is the plain 403
            raise ApiError(403, "forbidden", DENIED)
        if not may_read(who.agency, ref.manifest, record):
            _note(request, detail="not granted")
            raise ApiError(403, "forbidden", DENIED)
        _note(request, result="allowed", manifest_version=ref.version_id)
        return ref

    def build_view(ref: ManifestRef) -> bytes:
        catalogue = None
        m = ref.manifest
        if m.catalogue_sha256:
            raw = store.get_bytes(dossier_prefix(m.case_no) + CATALOGUE_NAME, m.object_versions.get(CATALOGUE_NAME))
            catalogue = json.loads(raw)
        body = {"case_no": m.case_no, "case_key": m.case_key, "version_id": ref.version_id,
                "manifest": json.loads(ref.data), "catalogue": catalogue}
        return json.dumps(body, ensure_ascii=False).encode("utf-8")

    refusals = {401: {"model": ErrorBody, "description": "no valid bearer token"},
                403: {"model": ErrorBody, "description": "not granted, or no such case (indistinguishable)"},
                404: {"model": ErrorBody, "description": "granted, but no such dossier / volume / version"},
                400: {"model": ErrorBody, "description": "not a case number"},
                503: {"model": ErrorBody, "description": "store or audit log unavailable"}}
    CaseNo = Path(description="案号, percent-encoded UTF-8, any spelling, e.g. （2019）豫0727刑初172号")
    Version = Query(None, description="manifest version id (default: latest)")

    @app.get("/health", summary="Liveness and store reachability")
    def health() -> dict:
        up = store.ping()
        return {"status": "ok" if up else "degraded", "store": up, "version": __version__}

    @app.get("/dossiers/{case_no}", summary="Manifest and 卷内目录 of a dossier",
             responses={200: {"model": DossierView}, **refusals})
    async def get_dossier(request: Request, case_no: str = CaseNo, version: str | None = Version,
                          who: Principal = Depends(principal)) -> Response:
        _note(request, action="manifest")
        ref = await authorised(request, case_no, version, who)
        body = manifests.peek_view(ref) or await run_in_threadpool(manifests.view, ref, build_view)
        return Response(body, media_type="application/json",
                        headers={"X-Version-Id": ref.version_id or ""})

    @app.get("/dossiers/{case_no}/versions", summary="Published versions of a dossier's manifest",
             responses={200: {"model": list[ManifestVersion]}, **refusals})
    async def get_versions(request: Request, case_no: str = CaseNo,
                           who: Principal = Depends(principal)) -> Response:
        _note(request, action="versions")
        ref = await authorised(request, case_no, None, who)
        versions = await run_in_threadpool(manifest_versions, store, ref.manifest.case_no)
        found = [{"version_id": v, "published": t.isoformat() if t else None, "latest": latest}
                 for v, t, latest in versions]
        return JSONResponse(found)

    async def stored_file(request: Request, case_no: str, version: str | None, who: Principal,
                          name: str) -> Response:
        _note(request, action=name.removesuffix(".json"))
        ref = await authorised(request, case_no, version, who)
        m = ref.manifest
        if name == "manifest.json":
            return Response(ref.data, media_type="application/json", headers={"X-Version-Id": ref.version_id or ""})
        sha = m.catalogue_sha256 if name == CATALOGUE_NAME else m.report_sha256
        if not sha:
            raise ApiError(404, "not-found", f"dossier {m.case_no} has no {name}")
        data = await run_in_threadpool(store.get_bytes, dossier_prefix(m.case_no) + name, m.object_versions.get(name))
        return Response(data, media_type="application/json", headers={"X-Content-SHA256": sha})

    @app.get("/dossiers/{case_no}/manifest.json", summary="The stored dossier.json bytes", responses=refusals)
    async def get_manifest_file(request: Request, case_no: str = CaseNo, version: str | None = Version,
                                who: Principal = Depends(principal)) -> Response:
        return await stored_file(request, case_no, version, who, "manifest.json")

    @app.get("/dossiers/{case_no}/catalogue.json", summary="The stored catalogue.json bytes", responses=refusals)
    async def get_catalogue_file(request: Request, case_no: str = CaseNo, version: str | None = Version,
                                 who: Principal = Depends(principal)) -> Response:
        return await stored_file(request, case_no, version, who, CATALOGUE_NAME)

    @app.get("/dossiers/{case_no}/report.json", summary="The stored report.json bytes", responses=refusals)
    async def get_report_file(request: Request, case_no: str = CaseNo, version: str | None = Version,
                              who: Principal = Depends(principal)) -> Response:
        return await stored_file(request, case_no, version, who, REPORT_NAME)

    @app.get("/dossiers/{case_no}/volumes/{n}", summary="Volume N as a signed PDF/A",
             response_class=StreamingResponse,
             responses={200: {"content": {"application/pdf": {}}, "description": "the volume, streamed"},
                        307: {"description": "redirect to a short-lived presigned URL"}, **refusals})
    async def get_volume(request: Request, case_no: str = CaseNo, n: int = Path(ge=1, le=9999),
                         version: str | None = Version, who: Principal = Depends(principal)) -> Response:
        _note(request, action="volume", volume=n)
        ref = await authorised(request, case_no, version, who)
        m = ref.manifest
        vol = next((v for v in m.volumes if v.number == n), None)
        if vol is None:
            raise ApiError(404, "not-found", f"dossier {m.case_no} has {len(m.volumes)} volume(s), not {n}")
        key = dossier_prefix(m.case_no) + vol.key
        object_version = m.object_versions.get(vol.key)
        if presign_seconds > 0:
            _note(request, result="redirect")
            url = await run_in_threadpool(store.presigned_url, key, object_version, presign_seconds)
            return RedirectResponse(url, status_code=307)
        body = await run_in_threadpool(store.open, key, object_version)  # a store failure here is a clean 503

        def chunks():
            try:
                yield from body.stream(256 * 1024)
            finally:
                body.close()
                body.release_conn()

        filename = f"{m.case_key}-{n:03d}.pdf"
        return StreamingResponse(chunks(), media_type="application/pdf", headers={
            "Content-Length": str(vol.bytes), "X-Content-SHA256": vol.sha256, "X-Version-Id": ref.version_id or "",
            "Content-Disposition": f"attachment; filename={filename}; "
                                   f"filename*=UTF-8''{quote(m.case_no, safe='')}-{n:03d}.pdf"})

    return app

