"""What the fetch API answers with: bodies, errors, and the note each request leaves for its audit entry."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from pipeline.models import Catalogue, DossierManifest

UNAUDITED = frozenset({"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/web/static/site.css"})
VERSION_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")
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


TOO_MANY = {"model": ErrorBody, "description": "too many invalid bearer tokens from this address: wait (no token "
                                              "is looked up meanwhile)",
            "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}}


class ApiError(Exception):
    """An error answer with a JSON body."""

    def __init__(self, status: int, error: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.error, self.detail, self.headers = status, error, detail, headers


def error_response(status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON error body every API error is sent as: ``{"error": …, "detail": …}``."""
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def note_audit(request: Request, **fields: Any) -> None:
    """Add fields to this request's audit entry."""
    request.scope.setdefault("state", {}).setdefault("audit", {}).update(fields)
