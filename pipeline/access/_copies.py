"""What the service hands out: every volume — the original's or a disclosure copy's — as a copy made for its
recipient (a line on every page, the copy identifier in the XMP, certified by the service's key; see
:mod:`pipeline.dossier`), its identifier in the fetch's audit entry; and the disclosure copy (阅卷版) released to an
agency: its manifest, its 卷内目录 and its volumes.

A reader released only a disclosure copy reads it here and nowhere else: every route of the original refuses it
(:meth:`FetchService.authorise`).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from pipeline.access._auth import Principal
from pipeline.access._grants import ORIGINAL, Decision
from pipeline.access._service import FetchService
from pipeline.access._views import TOO_MANY, ApiError, ErrorBody, note_audit
from pipeline.access.requests import copy_label
from pipeline.errors import DossierError
from pipeline.storage import CATALOGUE_NAME, DisclosureRef, disclosure_prefix, load_disclosure

CHUNK = 256 * 1024
ANSWERS = {401: {"model": ErrorBody, "description": "no valid bearer token"},
           403: {"model": ErrorBody, "description": "not granted, or no such case (indistinguishable)"},
           404: {"model": ErrorBody, "description": "granted, but no such copy or volume"},
           400: {"model": ErrorBody, "description": "not a case number"}, 429: TOO_MANY,
           503: {"model": ErrorBody, "description": "store, audit log or the key certifying copies unavailable"}}


async def marked_volume(service: FetchService, request: Request, who: Principal, decision: Decision, key: str,
                        version: str | None, sha256: str, number: int, case_no: str, copy: str,
                        inline: bool) -> Response:
    """A volume copied from the store for ``who`` — marked on every page, its identifier in the XMP and in this
    fetch's audit entry, certified by the service — streamed as an attachment or for the browser's PDF viewer."""
    from pipeline.dossier import Recipient, new_copy_id, recipient_copy

    if service.copy_signer is None:
        note_audit(request, detail="no key to certify copies")
        raise ApiError(503, "no-copy-key", "the service has no key to certify the copies it serves (DOSSIER_SIGN_*)")
    request_id = decision.request_ids[0] if decision.request_ids else None
    recipient = Recipient(new_copy_id(), who.agency, who.name or who.label, request_id, service.clock(),
                          copy_label(copy))
    folder = Path(tempfile.mkdtemp(prefix="dossier-copy-"))
    try:
        path, digest = await run_in_threadpool(recipient_copy, service.store, key, version, sha256, recipient,
                                               service.copy_signer, folder)
    except DossierError:
        _clean(folder)
        raise
    note_audit(request, copy_id=recipient.copy_id, copy_sha256=digest, copy_of=recipient.copy_of, volume=number,
               actor_name=who.label)  # the request ids were noted with the decision
    size = path.stat().st_size

    def chunks():
        try:
            with path.open("rb") as fh:
                while data := fh.read(CHUNK):
                    yield data
        finally:
            _clean(folder)

    name = f"{quote(case_no, safe='')}-{number:03d}{'' if copy == ORIGINAL else '-' + copy}.pdf"
    return StreamingResponse(chunks(), media_type="application/pdf", headers={
        "Content-Length": str(size), "X-Content-SHA256": digest, "X-Copy-Id": recipient.copy_id,
        "X-Copy-Source-SHA256": sha256,
        "Content-Disposition": f"{'inline' if inline else 'attachment'}; filename={recipient.copy_id}.pdf; "
                               f"filename*=UTF-8''{name}"})


def _clean(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


async def released_copy(service: FetchService, request: Request, case_no: str, who: Principal,
                        profile: str | None) -> tuple[DisclosureRef, Decision]:
    """The disclosure copy the principal may read (the one released to it; a reader of the original names one
    with ``profile``, by default the lawyer's) and why, or the right refusal."""
    canonical, decision = await service.decision_for(request, case_no, None, who)
    chosen = decision.disclosure or profile or "lawyer"
    if not decision.allows(chosen):
        note_audit(request, detail=f"released the {decision.disclosure} copy, not {chosen}")
        raise ApiError(403, "forbidden", f"case {canonical} was released to this agency as its "
                                         f"{decision.disclosure} copy")
    try:
        ref = await run_in_threadpool(load_disclosure, service.store, canonical, chosen)
    except DossierError as exc:
        if getattr(exc, "exit_code", None) == 7:
            raise ApiError(404, "not-found", f"no {chosen} disclosure copy of case {canonical} is published") \
                from None
        raise
    note_audit(request, result="allowed", via=decision.via, copy=chosen, copy_version=ref.version_id,
               **({"request_id": list(decision.request_ids)} if decision.request_ids else {}))
    return ref, decision


def copy_view(service: FetchService, ref: DisclosureRef) -> bytes:
    """The ``GET /dossiers/{case_no}/disclosure`` body: the copy's manifest and its 卷内目录."""
    m = ref.manifest
    prefix = disclosure_prefix(m.case_no, m.profile)
    catalogue = json.loads(service.store.get_bytes(prefix + CATALOGUE_NAME, m.object_versions.get(CATALOGUE_NAME))) \
        if m.catalogue_sha256 else None
    return json.dumps({"case_no": m.case_no, "case_key": m.case_key, "profile": m.profile,
                       "version_id": ref.version_id, "manifest": json.loads(ref.data), "catalogue": catalogue},
                      ensure_ascii=False).encode("utf-8")


def disclosure_routes(service: FetchService) -> APIRouter:
    """The disclosure copy released to an agency: its manifest with its 卷内目录, and its volumes."""
    router = APIRouter()
    Profile = Query(None, description="a reader of the original may name a copy: lawyer, public or agency")

    @router.get("/dossiers/{case_no}/disclosure", summary="The disclosure copy (阅卷版) released to the caller",
                responses=ANSWERS)
    async def get_copy(request: Request, case_no: str, profile: str | None = Profile,
                       who: Principal = Depends(service.principal)) -> Response:
        note_audit(request, action="disclosure")
        ref, _ = await released_copy(service, request, case_no, who, profile)
        body = await run_in_threadpool(copy_view, service, ref)
        return Response(body, media_type="application/json", headers={"X-Version-Id": ref.version_id or ""})

    @router.get("/dossiers/{case_no}/disclosure/volumes/{n}", summary="Volume N of the disclosure copy, marked for "
                "the caller", response_class=StreamingResponse, responses=ANSWERS)
    async def get_copy_volume(request: Request, case_no: str, n: int = PathParam(ge=1, le=9999),
                              profile: str | None = Profile, inline: bool = False,
                              who: Principal = Depends(service.principal)) -> Response:
        note_audit(request, action="volume", volume=n)
        ref, decision = await released_copy(service, request, case_no, who, profile)
        return await copy_volume(service, request, who, decision, ref, n, inline)

    return router


async def copy_volume(service: FetchService, request: Request, who: Principal, decision: Decision,
                      ref: DisclosureRef, n: int, inline: bool) -> Response:
    """Volume ``n`` of a released disclosure copy, marked for ``who`` (404 without it, 403 outside the grant)."""
    m = ref.manifest
    vol = next((v for v in m.volumes if v.number == n), None)
    if vol is None:
        raise ApiError(404, "not-found", f"the disclosure copy of {m.case_no} has {len(m.volumes)} volume(s), "
                                         f"not {n}")
    if not decision.covers(n):
        note_audit(request, detail="volume not granted")
        raise ApiError(403, "forbidden", f"this agency's access to {m.case_no} does not cover volume {n}")
    await service.fetched(who, decision)
    return await marked_volume(service, request, who, decision, disclosure_prefix(m.case_no, m.profile) + vol.key,
                               m.object_versions.get(vol.key), vol.sha256, n, m.case_no, m.profile, inline)
