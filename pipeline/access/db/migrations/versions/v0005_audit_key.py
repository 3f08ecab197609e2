"""The audit log's key: a random HMAC-SHA256 secret, made here once, with which every audit entry and checkpoint is
authenticated from now on (:mod:`pipeline.access._audit`). It lives in the access database, which the bucket
credential does not open: an audit stream written with the bucket credential alone no longer verifies. Streams
stored before this migration ran carry no MAC and are reported as ``legacy`` by ``dossier audit verify`` (anything
the store dates after ``created_at`` must carry one).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10
"""

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "audit_keys",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.bulk_insert(table, [{"secret": secrets.token_hex(32), "created_at": datetime.now(UTC).replace(tzinfo=None)}])


def downgrade() -> None:
    op.drop_table("audit_keys")
