"""The request API (调卷函): file, list one's own, the inbox by role, one request with its history, act on it.

Every call needs a bearer token whose roles allow it. Answers: 201 filed; 400 bad input; 401 no valid token; 403 the
role, agency or person may not take that step (nobody approves their own request); 404 no such request visible to
the caller (the same whether it exists or not); 409 the request is not in a state where that step can be taken
(already taken by someone else, refused, out of order); 503 the audit log or the database cannot be written (the
step did not happen).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from pipeline.access._auth import Principal
from pipeline.access._views import TOO_MANY, ApiError, ErrorBody, note_audit
from pipeline.access.requests._desk import RequestDesk
from pipeline.access.requests._model import MAX_REQUEST_ID, Event, Filing, RequestView, TransitionRefused
from pipeline.errors import BadInputError, CaseNumberError, NotFoundError, RefusedError


class RequestOut(BaseModel):
    """A request as its readers see it."""

    id: int
    case_no: str
    state: str = Field(description="filed, reviewed, approved, waiting, released, fetched, expired or refused")
    state_label: str
    requesting_agency: str
    holding_agency: str
    department: str
    legal_basis: str
    reason: str
    volumes: list[int] | None = Field(description="volumes asked for; null: all")
    days: int
    contact: str
    filed_by: str
    filed_by_name: str
    filed_at: datetime
    reviewed_at: datetime | None
    approved_at: datetime | None
    decided_at: datetime | None
    released_at: datetime | None
    fetched_at: datetime | None
    expires_at: datetime | None = Field(description="access ends at this time (set on release)")
    closed_at: datetime | None
    released_copy: str = Field("", description="what the release gives: original, or the disclosure profile "
                                               "(阅卷版); empty before the release")

    @classmethod
    def of(cls, view: RequestView, **extra) -> RequestOut:
        """From the desk's view."""
        fields = {name: getattr(view, name) for name in cls.model_fields if hasattr(view, name)}
        return cls(**{**fields, "volumes": list(view.volumes) if view.volumes else None,
                      "released_copy": view.copy, **extra})


class EventOut(BaseModel):
    """One step of a request's history."""

    step: str
    label: str
    from_state: str | None
    to_state: str
    actor: str
    actor_name: str
    agency: str
    role: str
    at: datetime
    comment: str
    audit_ref: str = Field(description="<audit stream>#<seq> of the step's audit entry")

    @classmethod
    def of(cls, event: Event) -> EventOut:
        """From the desk's event."""
        return cls(label=event.label, **{name: getattr(event, name) for name in cls.model_fields if name != "label"})


class RequestDetail(RequestOut):
    """A request with its history."""

    history: list[EventOut]


class InboxItem(RequestOut):
    """A request waiting for the caller, with the actions open to them."""

    actions: list[str]


class ActionIn(BaseModel):
    """A step a person takes on a request."""

    action: Literal["review", "approve", "release", "refuse"]
    comment: str = Field("", max_length=2000, description="optional, except that a refusal needs its reason")
    model_config = ConfigDict(populate_by_name=True)

    copy_choice: Literal["original", "disclosure"] | None = Field(
        None, alias="copy", description="release only: the original (原件) or the disclosure copy (阅卷版); default "
                                         "by the requesting agency's kind (a lawyer gets the 阅卷版)")


ANSWERS = {400: {"model": ErrorBody, "description": "bad input"},
           401: {"model": ErrorBody, "description": "no valid bearer token"},
           403: {"model": ErrorBody, "description": "role, agency or person may not do this"},
           404: {"model": ErrorBody, "description": "no such request visible to the caller"},
           409: {"model": ErrorBody, "description": "the request is not in a state for this step"},
           429: TOO_MANY,
           503: {"model": ErrorBody, "description": "audit log or database unavailable: nothing changed"}}


async def run_desk(fn, *args):
    """Run a desk call in the thread pool and turn its refusals into the API's answers."""
    try:
        return await run_in_threadpool(fn, *args)
    except TransitionRefused as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    except RefusedError as exc:
        raise ApiError(403, "forbidden", str(exc)) from None
    except NotFoundError as exc:
        raise ApiError(404, "not-found", str(exc)) from None
    except (BadInputError, CaseNumberError) as exc:
        raise ApiError(400, "bad-request", str(exc)) from None


def request_routes(desk: RequestDesk, principal) -> APIRouter:
    """The /requests endpoints over one desk; ``principal`` is the bearer-token dependency."""
    router = APIRouter(prefix="/requests", tags=["requests (调卷函)"])
    RequestId = Path(ge=1, le=MAX_REQUEST_ID, description="request number")

    @router.post("", status_code=201, summary="File a request (clerk)", response_model=RequestOut,
                 responses=ANSWERS)
    async def file_request(request: Request, filing: Filing, who: Principal = Depends(principal)) -> RequestOut:
        note_audit(request, action="request-api", op="file")
        view = await run_desk(desk.file, who, filing)
        note_audit(request, request_id=view.id, case_no=view.case_no)
        return RequestOut.of(view)

    @router.get("", summary="Requests the caller filed (admins: all of the agency's)",
                response_model=list[RequestOut], responses=ANSWERS)
    async def list_requests(request: Request, everyone: bool = Query(False, alias="all"),
                            who: Principal = Depends(principal)) -> list[RequestOut]:
        note_audit(request, action="request-api", op="list")
        return [RequestOut.of(v) for v in await run_desk(desk.mine, who, everyone)]

    @router.get("/inbox", summary="Requests waiting for one of the caller's roles (reviewer, approver, registrar)",
                response_model=list[InboxItem], responses=ANSWERS)
    async def inbox(request: Request, who: Principal = Depends(principal)) -> list[InboxItem]:
        note_audit(request, action="request-api", op="inbox")
        return [InboxItem.of(v, actions=list(a)) for v, a in await run_desk(desk.inbox, who)]

    @router.get("/{request_id}", summary="One request with its history", response_model=RequestDetail,
                responses=ANSWERS)
    async def show(request: Request, request_id: int = RequestId,
                   who: Principal = Depends(principal)) -> RequestDetail:
        note_audit(request, action="request-api", op="show", request_id=request_id)
        view, events = await run_desk(desk.get, who, request_id)
        return RequestDetail.of(view, history=[EventOut.of(e) for e in events])

    @router.post("/{request_id}/actions", summary="Review, approve, release or refuse a request",
                 response_model=RequestOut, responses=ANSWERS)
    async def act(request: Request, body: ActionIn, request_id: int = RequestId,
                  who: Principal = Depends(principal)) -> RequestOut:
        note_audit(request, action="request-api", op=body.action, request_id=request_id)
        return RequestOut.of(await run_desk(desk.act, who, request_id, body.action, body.comment, body.copy_choice))

    return router
