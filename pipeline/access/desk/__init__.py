"""The operators' desk (操作台): what scanning-room operators (扫描员) and the desk's administrators (管理员) see of
their rooms' batches and cases, and do with them — the review station included. The web pages are in
:mod:`pipeline.access.web`; the workflow engine is reached through :class:`Orchestrator`, given by the edge."""

from pipeline.access.desk._cases import CasesDesk, CaseView
from pipeline.access.desk._claims import Claim, ReviewClaims
from pipeline.access.desk._context import HIDDEN, DeskContext, DeskSources, Hidden, RunSeen
from pipeline.access.desk._desk import Desk
from pipeline.access.desk._orchestrator import NotWaiting, Orchestrator, OrchestratorUnavailable, Pause
from pipeline.access.desk._reviews import DATE_HELP, ReviewPage, ReviewProblems, ReviewStation
from pipeline.access.desk._rooms import MOVING, SECTIONS, BatchRow, BatchView, RoomsDesk, RoomsView, RoomView
from pipeline.access.desk._scope import (
    OPERATOR,
    OPS_ADMIN,
    at_desk,
    every_room,
    may_reprocess,
    may_rerun,
    may_see,
    rooms_seen,
)
from pipeline.access.desk._words import desk_reason

__all__ = [
    "MOVING",
    "SECTIONS",
    "BatchRow",
    "BatchView",
    "CaseView",
    "CasesDesk",
    "RoomView",
    "RoomsDesk",
    "RoomsView",
    "DATE_HELP",
    "desk_reason",
    "HIDDEN",
    "OPERATOR",
    "OPS_ADMIN",
    "Claim",
    "Desk",
    "DeskContext",
    "DeskSources",
    "Hidden",
    "NotWaiting",
    "Orchestrator",
    "OrchestratorUnavailable",
    "Pause",
    "ReviewClaims",
    "ReviewPage",
    "ReviewProblems",
    "ReviewStation",
    "RunSeen",
    "at_desk",
    "every_room",
    "may_reprocess",
    "may_rerun",
    "may_see",
    "rooms_seen",
]
