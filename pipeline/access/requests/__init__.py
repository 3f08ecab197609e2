"""Requests to read another agency's case (调卷函): filing, the steps, the system's own steps, the API, the report."""

from pipeline.access.requests._desk import SYSTEM, RequestDesk
from pipeline.access.requests._kinds import AgencyKinds
from pipeline.access.requests._model import (
    ACTION_LABELS,
    ACTIONS,
    COPY_LABELS,
    DEFAULT_COPY,
    MAX_DAYS,
    MAX_REQUEST_ID,
    OPEN_STATES,
    READABLE_STATES,
    REQUESTER_KINDS,
    ROLE_LABELS,
    STATE_LABELS,
    STEP_LABELS,
    Event,
    Filing,
    RequestView,
    TransitionRefused,
    copy_label,
    filing_from,
)
from pipeline.access.requests._report import WORKING_DAYS_TARGET, TimingReport, human, timing_report, working_days
from pipeline.access.requests._routes import EventOut, InboxItem, RequestDetail, RequestOut, request_routes, run_desk
from pipeline.access.requests._sweeper import Sweeper

__all__ = [
    "ACTIONS",
    "AgencyKinds",
    "COPY_LABELS",
    "DEFAULT_COPY",
    "REQUESTER_KINDS",
    "copy_label",
    "ACTION_LABELS",
    "MAX_DAYS",
    "MAX_REQUEST_ID",
    "OPEN_STATES",
    "READABLE_STATES",
    "ROLE_LABELS",
    "STATE_LABELS",
    "STEP_LABELS",
    "SYSTEM",
    "Event",
    "EventOut",
    "InboxItem",
    "RequestDetail",
    "RequestOut",
    "Filing",
    "RequestDesk",
    "RequestView",
    "Sweeper",
    "TimingReport",
    "WORKING_DAYS_TARGET",
    "TransitionRefused",
    "filing_from",
    "human",
    "request_routes",
    "run_desk",
    "timing_report",
    "working_days",
]
