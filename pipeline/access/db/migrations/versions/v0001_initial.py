"""The access database: users and roles, tokens, web sessions, requests and their history, grants, service keys.

Revision ID: 0001
Revises:
Create Date: 2026-01-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

AGENCY = 100


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(), nullable=nullable)


def _people() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("agency", sa.String(AGENCY), nullable=False, index=True),
        sa.Column("department", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        _when("created_at", False), _when("disabled_at"))
    op.create_table(
        "user_roles",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("role", sa.String(16), primary_key=True))
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(12), primary_key=True),
        sa.Column("agency", sa.String(AGENCY), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        _when("created_at", False), _when("expires_at"), _when("revoked_at"))
    op.create_table(
        "token_roles",
        sa.Column("token_id", sa.String(12), sa.ForeignKey("tokens.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("role", sa.String(16), primary_key=True))
    op.create_table(
        "sessions",
        sa.Column("id_sha256", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        _when("created_at", False), _when("expires_at", False))


def _requests() -> None:
    op.create_table(
        "requests",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_no", sa.String(64), nullable=False, index=True),
        sa.Column("case_key", sa.String(200), nullable=False),
        sa.Column("requesting_agency", sa.String(AGENCY), nullable=False, index=True),
        sa.Column("holding_agency", sa.String(AGENCY), nullable=False, index=True),
        sa.Column("department", sa.String(100), nullable=False),
        sa.Column("legal_basis", sa.String(500), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("volumes", sa.String(200), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("filed_by", sa.String(40), nullable=False),
        sa.Column("filed_by_name", sa.String(100), nullable=False),
        _when("filed_at", False), _when("reviewed_at"), _when("approved_at"), _when("decided_at"),
        _when("released_at"), _when("fetched_at"), _when("expires_at"), _when("closed_at"),
        _when("updated_at", False))
    op.create_table(
        "request_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("requests.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(40), nullable=False),
        sa.Column("actor_name", sa.String(100), nullable=False),
        sa.Column("agency", sa.String(AGENCY), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        _when("at", False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("audit_stream", sa.String(250), nullable=False),
        sa.Column("audit_seq", sa.Integer(), nullable=True),
        sa.Column("audit_hash", sa.String(64), nullable=False))


def _grants() -> None:
    op.create_table(
        "grants",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_no", sa.String(64), nullable=False),
        sa.Column("agency", sa.String(AGENCY), nullable=False),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("requests.id", ondelete="SET NULL"), nullable=True),
        sa.Column("volumes", sa.String(200), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("granted_by", sa.String(100), nullable=False),
        _when("granted_at", False), _when("expires_at"), _when("revoked_at"))
    op.create_index("ix_grants_case_agency", "grants", ["case_no", "agency"])
    op.create_table(
        "grant_denials",
        sa.Column("case_no", sa.String(64), primary_key=True),
        sa.Column("agency", sa.String(AGENCY), primary_key=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        _when("created_at", False))
    op.create_table(
        "service_keys",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False))


def upgrade() -> None:
    _people()
    _requests()
    _grants()


def downgrade() -> None:
    for table in ("service_keys", "grant_denials", "grants", "request_events", "requests", "sessions",
                  "token_roles", "tokens", "user_roles", "users"):
        op.drop_table(table)
