"""The requesters' side: the HTTP API and web pages, the access database (tokens, users and roles, case owners and
grants — the only source of access decisions — requests), the audit log and its key, the brakes on guessing."""

from pipeline.access._api import create_app
from pipeline.access._audit import AuditKey, AuditLog, audit_key
from pipeline.access._audit_first import AuditFirst
from pipeline.access._audit_verify import AuditReport, read_audit, verify_audit
from pipeline.access._auth import ROLES, AuthError, Principal, TokenRecord, TokenStore, normalise_agency
from pipeline.access._grants import CaseAccess, GrantStore, decide, granted, may_read
from pipeline.access._search import search_scope
from pipeline.access._throttle import Brake, BrakePolicy, Brakes, PasswordPool
from pipeline.access._users import UserRecord, UserStore
from pipeline.access.db import Database, DatabaseError
from pipeline.access.requests import (
    ACTIONS,
    SYSTEM,
    Filing,
    RequestDesk,
    RequestView,
    TransitionRefused,
    filing_from,
    human,
    timing_report,
)

__all__ = [
    "ACTIONS",
    "ROLES",
    "SYSTEM",
    "AuditFirst",
    "AuditKey",
    "AuditLog",
    "AuditReport",
    "AuthError",
    "Brake",
    "BrakePolicy",
    "Brakes",
    "CaseAccess",
    "Database",
    "DatabaseError",
    "Filing",
    "GrantStore",
    "PasswordPool",
    "Principal",
    "RequestDesk",
    "RequestView",
    "TokenRecord",
    "TokenStore",
    "TransitionRefused",
    "UserRecord",
    "UserStore",
    "audit_key",
    "create_app",
    "decide",
    "filing_from",
    "granted",
    "human",
    "may_read",
    "normalise_agency",
    "read_audit",
    "search_scope",
    "timing_report",
    "verify_audit",
]
