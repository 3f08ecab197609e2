"""The fetch API's routes: a dossier's manifest and 卷内目录, its stored files, its versions, its volumes (each
served as a copy marked for its recipient), and the disclosure copy released to an agency (:mod:`._copies`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from pipeline import __version__
from pipeline.access._auth import Principal
from pipeline.access._copies import disclosure_routes, marked_volume
from pipeline.access._grants import ORIGINAL
from pipeline.access._service import FetchService
from pipeline.access._views import TOO_MANY, ApiError, DossierView, ErrorBody, ManifestVersion, note_audit
from pipeline.storage import CATALOGUE_NAME, REPORT_NAME, dossier_prefix, manifest_versions

REFUSALS = {401: {"model": ErrorBody, "description": "no valid bearer token"},
            403: {"model": ErrorBody, "description": "not granted, or no such case (indistinguishable)"},
            404: {"model": ErrorBody, "description": "granted, but no such dossier / volume / version"},
            400: {"model": ErrorBody, "description": "not a case number"},
            429: TOO_MANY, 503: {"model": ErrorBody, "description": "store or audit log unavailable"}}
CaseNo = Path(description="案号, percent-encoded UTF-8, any spelling, e.g. （2019）豫0727刑初172号")
Version = Query(None, description="manifest version id (default: latest)")


def dossier_routes(service: FetchService) -> APIRouter:
    """Health, manifests, stored files and versions of dossiers."""
    router = APIRouter()
    principal = service.principal

    @router.get("/health", summary="Liveness and store reachability")
    def health() -> dict:
        up = service.store.ping()
        return {"status": "ok" if up else "degraded", "store": up, "version": __version__}

    @router.get("/dossiers/{case_no}", summary="Manifest and 卷内目录 of a dossier",
                responses={200: {"model": DossierView}, **REFUSALS})
    async def get_dossier(request: Request, case_no: str = CaseNo, version: str | None = Version,
                          who: Principal = Depends(principal)) -> Response:
        note_audit(request, action="manifest")
        ref = await service.authorised(request, case_no, version, who)
        manifests = service.manifests
        body = manifests.peek_view(ref) or await run_in_threadpool(manifests.view, ref, service.build_view)
        return Response(body, media_type="application/json", headers={"X-Version-Id": ref.version_id or ""})

    @router.get("/dossiers/{case_no}/versions", summary="Published versions of a dossier's manifest",
                responses={200: {"model": list[ManifestVersion]}, **REFUSALS})
    async def get_versions(request: Request, case_no: str = CaseNo,
                           who: Principal = Depends(principal)) -> Response:
        note_audit(request, action="versions")
        ref = await service.authorised(request, case_no, None, who)
        versions = await run_in_threadpool(manifest_versions, service.store, ref.manifest.case_no)
        found = [{"version_id": v, "published": t.isoformat() if t else None, "latest": latest}
                 for v, t, latest in versions]
        return JSONResponse(found)

    async def stored_file(request: Request, case_no: str, version: str | None, who: Principal,
                          name: str) -> Response:
        note_audit(request, action=name.removesuffix(".json"))
        ref = await service.authorised(request, case_no, version, who)
        m = ref.manifest
        if name == "manifest.json":
            return Response(ref.data, media_type="application/json", headers={"X-Version-Id": ref.version_id or ""})
        sha = m.catalogue_sha256 if name == CATALOGUE_NAME else m.report_sha256
        if not sha:
            raise ApiError(404, "not-found", f"dossier {m.case_no} has no {name}")
        data = await run_in_threadpool(service.store.get_bytes, dossier_prefix(m.case_no) + name,
                                       m.object_versions.get(name))
        return Response(data, media_type="application/json", headers={"X-Content-SHA256": sha})

    @router.get("/dossiers/{case_no}/manifest.json", summary="The stored dossier.json bytes", responses=REFUSALS)
    async def get_manifest_file(request: Request, case_no: str = CaseNo, version: str | None = Version,
                                who: Principal = Depends(principal)) -> Response:
        return await stored_file(request, case_no, version, who, "manifest.json")

    @router.get("/dossiers/{case_no}/catalogue.json", summary="The stored catalogue.json bytes", responses=REFUSALS)
    async def get_catalogue_file(request: Request, case_no: str = CaseNo, version: str | None = Version,
                                 who: Principal = Depends(principal)) -> Response:
        return await stored_file(request, case_no, version, who, CATALOGUE_NAME)

    @router.get("/dossiers/{case_no}/report.json", summary="The stored report.json bytes", responses=REFUSALS)
    async def get_report_file(request: Request, case_no: str = CaseNo, version: str | None = Version,
                              who: Principal = Depends(principal)) -> Response:
        return await stored_file(request, case_no, version, who, REPORT_NAME)

    router.include_router(volume_routes(service))
    router.include_router(disclosure_routes(service))
    return router


def volume_routes(service: FetchService) -> APIRouter:
    """A dossier's volumes: streamed through, or redirected to a presigned URL."""
    router = APIRouter()

    @router.get("/dossiers/{case_no}/volumes/{n}", summary="Volume N as a signed PDF/A",
                response_class=StreamingResponse,
                responses={200: {"content": {"application/pdf": {}}, "description": "the volume, streamed"},
                           307: {"description": "redirect to a short-lived presigned URL"}, **REFUSALS})
    async def get_volume(request: Request, case_no: str = CaseNo, n: int = Path(ge=1, le=9999),
                         version: str | None = Version, who: Principal = Depends(service.principal)) -> Response:
        note_audit(request, action="volume", volume=n)
        ref, decision = await service.authorise(request, case_no, version, who)
        m = ref.manifest
        vol = next((v for v in m.volumes if v.number == n), None)
        if vol is None:
            raise ApiError(404, "not-found", f"dossier {m.case_no} has {len(m.volumes)} volume(s), not {n}")
        if not decision.covers(n):
            note_audit(request, detail="volume not granted")
            raise ApiError(403, "forbidden", f"this agency's access to {m.case_no} does not cover volume {n}")
        await service.fetched(who, decision)
        return await volume_response(service, request, who, decision, ref, vol, inline=False)

    return router


async def volume_response(service: FetchService, request: Request, who: Principal, decision, ref, vol,
                          inline: bool) -> Response:
    """A volume of the original, copied and marked for ``who`` (:func:`marked_volume`), as an attachment or for the
    browser's PDF viewer. Never a redirect to the store: a presigned URL would hand out the unmarked volume."""
    m = ref.manifest
    return await marked_volume(service, request, who, decision, dossier_prefix(m.case_no) + vol.key,
                               m.object_versions.get(vol.key), vol.sha256, vol.number, m.case_no, ORIGINAL, inline)
