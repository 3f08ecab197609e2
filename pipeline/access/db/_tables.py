"""The access database's tables (SQLAlchemy Core): users and their roles (and the scanning rooms of an operator),
tokens and theirs, web sessions, requests (调卷函) with their history and the copy they released, case owners, grants
(of the original or of a disclosure copy) and revocations, the kinds of requesting agencies, the service's keys and
the audit log's key, and who holds or answered a 卷内目录 review on the operators' desk.

Times are stored as naive UTC (``DateTime`` without zone, the same on SQLite and PostgreSQL) and read back as aware
UTC datetimes (:class:`UtcDateTime`). The migrations in ``migrations/versions`` create exactly these tables; a change
here needs a new migration.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)


class UtcDateTime(TypeDecorator):
    """An aware UTC datetime stored as a naive one (portable across SQLite and PostgreSQL)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        """Aware datetimes are converted to UTC and stored without their zone; naive ones are refused."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        """Stored values are UTC."""
        return None if value is None else value.replace(tzinfo=UTC)


metadata = MetaData()

AGENCY = 100  # characters, as normalise_agency allows

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(100), nullable=False, default=""),
    Column("agency", String(AGENCY), nullable=False, index=True),
    Column("department", String(100), nullable=False, default=""),
    Column("password_hash", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime, nullable=True),
)

user_roles = Table(
    "user_roles", metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), primary_key=True),
)

ROOM = 64  # characters of a room name (a hot-folder folder name)

user_rooms = Table(
    "user_rooms", metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("room", String(ROOM), primary_key=True),
)

tokens = Table(
    "tokens", metadata,
    Column("id", String(12), primary_key=True),
    Column("agency", String(AGENCY), nullable=False),
    Column("label", String(200), nullable=False, default=""),
    Column("secret_sha256", String(64), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("source", String(16), nullable=False, default="cli"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),  # every token expires (migration 0003)
    Column("revoked_at", UtcDateTime, nullable=True),
)

token_roles = Table(
    "token_roles", metadata,
    Column("token_id", String(12), ForeignKey("tokens.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), primary_key=True),
)

sessions = Table(
    "sessions", metadata,
    Column("id_sha256", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

requests = Table(
    "requests", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_no", String(64), nullable=False, index=True),
    Column("case_key", String(200), nullable=False),
    Column("requesting_agency", String(AGENCY), nullable=False, index=True),
    Column("holding_agency", String(AGENCY), nullable=False, index=True),
    Column("department", String(100), nullable=False),
    Column("legal_basis", String(500), nullable=False),
    Column("reason", Text, nullable=False),
    Column("volumes", String(200), nullable=False, default=""),  # "" = all, else "1,3"
    Column("days", Integer, nullable=False),
    Column("contact", String(200), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("version", Integer, nullable=False, default=0),
    Column("filed_by", String(40), nullable=False),
    Column("filed_by_name", String(100), nullable=False, default=""),
    Column("filed_at", UtcDateTime, nullable=False),
    Column("reviewed_at", UtcDateTime, nullable=True),
    Column("approved_at", UtcDateTime, nullable=True),
    Column("decided_at", UtcDateTime, nullable=True),
    Column("released_at", UtcDateTime, nullable=True),
    Column("fetched_at", UtcDateTime, nullable=True),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("copy", String(40), nullable=False, default=""),  # released: "original" or a disclosure profile (0007)
)

request_events = Table(
    "request_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", Integer, ForeignKey("requests.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("step", String(16), nullable=False),
    Column("from_state", String(16), nullable=True),
    Column("to_state", String(16), nullable=False),
    Column("actor", String(40), nullable=False),
    Column("actor_name", String(100), nullable=False, default=""),
    Column("agency", String(AGENCY), nullable=False),
    Column("role", String(16), nullable=False, default=""),
    Column("at", UtcDateTime, nullable=False),
    Column("comment", Text, nullable=False, default=""),
    Column("audit_stream", String(250), nullable=False, default=""),
    Column("audit_seq", Integer, nullable=True),
    Column("audit_hash", String(64), nullable=False, default=""),
)

grants = Table(
    "grants", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_no", String(64), nullable=False),
    Column("agency", String(AGENCY), nullable=False),
    Column("request_id", Integer, ForeignKey("requests.id", ondelete="SET NULL"), nullable=True),
    Column("volumes", String(200), nullable=False, default=""),
    Column("source", String(16), nullable=False),
    Column("granted_by", String(100), nullable=False, default=""),
    Column("granted_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("copy", String(40), nullable=False, default=""),  # "": the original; else a disclosure profile (0007)
    Index("ix_grants_case_agency", "case_no", "agency"),
)

grant_denials = Table(
    "grant_denials", metadata,
    Column("case_no", String(64), primary_key=True),
    Column("agency", String(AGENCY), primary_key=True),
    Column("created_by", String(100), nullable=False, default=""),
    Column("created_at", UtcDateTime, nullable=False),
)

case_owners = Table(  # who owns a case: recorded at its first publication, never taken from the object store
    "case_owners", metadata,
    Column("case_no", String(64), primary_key=True),
    Column("agency", String(AGENCY), nullable=False),
    Column("claimed_at", UtcDateTime, nullable=False),
    Column("claimed_by", String(200), nullable=False, default=""),
    Column("source", String(16), nullable=False),  # publication | migrated
)

agency_kinds = Table(  # what kind of requester an agency is (0007): agency (not listed), lawyer or public
    "agency_kinds", metadata,
    Column("agency", String(AGENCY), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("set_by", String(100), nullable=False, default=""),
    Column("set_at", UtcDateTime, nullable=False),
)

service_keys = Table(
    "service_keys", metadata,
    Column("name", String(40), primary_key=True),
    Column("value", String(200), nullable=False),
)

review_claims = Table(
    "review_claims", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("since", UtcDateTime, nullable=False),
)

review_answers = Table(
    "review_answers", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("pause_key", String(100), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

audit_keys = Table(  # the audit log's HMAC key (made by migration 0005): what the bucket credential cannot forge
    "audit_keys", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("secret", String(64), nullable=False),  # hex
    Column("created_at", UtcDateTime, nullable=False),
)
