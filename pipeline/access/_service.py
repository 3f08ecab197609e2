"""The fetch service's shared parts: who is asking (bearer tokens), what they may read (grants, released
requests), the manifests."""

from __future__ import annotations

import json

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from pipeline.access._auth import AuthError, Clock, Principal, TokenStore, token_id_of
from pipeline.access._grants import ORIGINAL, Decision, GrantStore, decide
from pipeline.access._manifest_cache import ManifestCache
from pipeline.access._throttle import Brake, retry_after
from pipeline.access._views import DENIED, VERSION_RE, ApiError, note_audit
from pipeline.common import utcnow
from pipeline.errors import CaseNumberError
from pipeline.storage import CATALOGUE_NAME, ManifestRef, ObjectStore, case_key, dossier_prefix, normalise_case_no


class FetchService:
    """Authentication, authorisation and manifest reading for the routes, over one store."""

    def __init__(self, store: ObjectStore, tokens: TokenStore, grants: GrantStore, manifests: ManifestCache,
                 presign_seconds: int = 0, clock: Clock = utcnow, token_brake: Brake | None = None,
                 copy_signer=None):
        self.store, self.tokens, self.grants, self.manifests = store, tokens, grants, manifests
        self.presign_seconds, self.clock = presign_seconds, clock
        self.copy_signer = copy_signer  # the key that certifies every volume served, marked for its recipient
        self.token_brake = token_brake  # failed bearer tokens per source address
        self.on_fetch = None  # the request desk's note_fetched: a released request is done once a volume is read
        self.fetched_noted: set[int] = set()

    async def principal(self, request: Request) -> Principal:
        """The agency behind the request's bearer token; 401 without a valid one, 429 (without looking the token
        up) while its source address owes a wait for the tokens it got wrong."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "a bearer token is required (Authorization: Bearer <token>)",
                           {"WWW-Authenticate": 'Bearer realm="dossiers"'})
        token = token.strip()
        tokens, source = self.tokens, source_of(request)
        try:
            who = tokens.authenticate(token, cached_only=True)
            if who is None:
                wait = self.token_brake.wait(source) if self.token_brake else 0.0
                if wait > 0:
                    note_audit(request, actor=token_id_of(token) or "-", detail="braked: too many wrong tokens")
                    raise ApiError(429, "too-many-requests", "too many invalid bearer tokens from this address; "
                                   "try again later", {"Retry-After": retry_after(wait)})
                who = await run_in_threadpool(tokens.authenticate, token)
        except AuthError as exc:
            if self.token_brake is not None:
                self.token_brake.failed(source)
            note_audit(request, actor=token_id_of(token) or "-", detail=str(exc))
            raise ApiError(401, "unauthorized", "the bearer token is not valid",
                           {"WWW-Authenticate": 'Bearer realm="dossiers", error="invalid_token"'}) from None
        note_audit(request, actor=who.id, agency=who.agency)
        return who

    async def authorised(self, request: Request, case_no: str, version: str | None, who: Principal) -> ManifestRef:
        """The manifest the principal may read, or the right refusal (see :meth:`authorise`)."""
        return (await self.authorise(request, case_no, version, who))[0]

    async def decision_for(self, request: Request, case_no: str, version: str | None,
                           who: Principal) -> tuple[str, Decision]:
        """The case number and why the principal may read it, or the right refusal (403 reveals nothing about
        existence): the one authorisation decision, from the access database alone."""
        try:
            canonical = normalise_case_no(case_no)
        except CaseNumberError as exc:
            raise ApiError(400, "bad-case-number", str(exc)) from None
        if version is not None and not VERSION_RE.fullmatch(version):
            raise ApiError(400, "bad-request", "version must be an object version id")
        note_audit(request, case_no=canonical, case_key=case_key(canonical), version=version)
        record = self.grants.peek(canonical) or await run_in_threadpool(self.grants.get, canonical)
        decision = decide(who.agency, record, self.clock())  # nothing in the bucket decides access
        if decision is None:
            note_audit(request, detail="not granted")  # the same answer whether the case exists or not
            raise ApiError(403, "forbidden", DENIED)
        return canonical, decision

    async def authorise(self, request: Request, case_no: str, version: str | None, who: Principal,
                        copy: str = ORIGINAL) -> tuple[ManifestRef, Decision]:
        """The manifest the principal may read and why, or the right refusal (see :meth:`decision_for`; a reader
        released only a disclosure copy is refused the original, ``copy``, by every route). Cache hits are answered
        on the event loop; store and database reads go to the thread pool."""
        canonical, decision = await self.decision_for(request, case_no, version, who)
        if not decision.allows(copy):
            note_audit(request, detail=f"released the {decision.disclosure} disclosure copy only")
            raise ApiError(403, "forbidden", f"case {canonical} was released to this agency as its disclosure copy "
                           f"(阅卷版) only: GET /dossiers/{{case_no}}/disclosure")
        found, ref, stale = self.manifests.peek(canonical, version)
        if not found:
            ref = await run_in_threadpool(self.manifests.get, canonical, version)
        elif stale:
            self.manifests.refresh_soon(canonical)
        if ref is None:
            raise ApiError(404, "not-found", f"no published dossier for case {canonical}"
                           + (f" with version {version}" if version else ""))
        note_audit(request, result="allowed", manifest_version=ref.version_id, via=decision.via,
                   **({"request_id": list(decision.request_ids)} if decision.request_ids else {}))
        return ref, decision

    async def fetched(self, who: Principal, decision: Decision) -> None:
        """A volume is about to be served: the first time per released request, record the 'fetched' step (audited
        before it takes effect; when it cannot be recorded the volume is not served)."""
        if self.on_fetch is None or not set(decision.request_ids) - self.fetched_noted:
            return
        await run_in_threadpool(self.on_fetch, who, decision.request_ids)
        self.fetched_noted.update(decision.request_ids)

    def build_view(self, ref: ManifestRef) -> bytes:
        """The ``GET /dossiers/{case_no}`` body of a manifest version: the manifest with its catalogue."""
        catalogue = None
        m = ref.manifest
        if m.catalogue_sha256:
            raw = self.store.get_bytes(dossier_prefix(m.case_no) + CATALOGUE_NAME,
                                       m.object_versions.get(CATALOGUE_NAME))
            catalogue = json.loads(raw)
        body = {"case_no": m.case_no, "case_key": m.case_key, "version_id": ref.version_id,
                "manifest": json.loads(ref.data), "catalogue": catalogue}
        return json.dumps(body, ensure_ascii=False).encode("utf-8")


def source_of(request: Request) -> str:
    """The address a request came from (the client's, or the one a trusted proxy forwarded)."""
    return request.client.host if request.client else "-"
