"""The requesters' side: the HTTP API, tokens and grants, the audit log."""

from pipeline.access._api import create_app
from pipeline.access._audit import AuditLog, read_audit, verify_audit
from pipeline.access._auth import GrantStore, TokenStore, normalise_agency

__all__ = [
    "AuditLog",
    "GrantStore",
    "TokenStore",
    "create_app",
    "normalise_agency",
    "read_audit",
    "verify_audit",
]
