"""Every token expires: tokens taken over from the object store by migration 0002 had no expiry; they get one
:data:`MIGRATED_TOKEN_DAYS` days after this migration runs (``dossier token expire ID --days N`` changes it), and
``tokens.expires_at`` becomes NOT NULL, so that a token without an end cannot exist.

On SQLite the column change rebuilds the table (Alembic's batch mode); dropping the old table would cascade to
``token_roles`` (foreign keys are on), so the roles are read first and put back.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

MIGRATED_TOKEN_DAYS = 90

tokens = sa.table("tokens", sa.column("id"), sa.column("expires_at"))
token_roles = sa.table("token_roles", sa.column("token_id"), sa.column("role"))


def _set_nullable(nullable: bool) -> None:
    bind = op.get_bind()
    roles = bind.execute(sa.select(token_roles.c.token_id, token_roles.c.role)).all() \
        if bind.dialect.name == "sqlite" else None
    with op.batch_alter_table("tokens") as batch:
        batch.alter_column("expires_at", existing_type=sa.DateTime(), nullable=nullable)
    if roles is not None:
        bind.execute(token_roles.delete())
        if roles:
            bind.execute(token_roles.insert(), [{"token_id": t, "role": r} for t, r in roles])


def upgrade() -> None:
    until = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=MIGRATED_TOKEN_DAYS)
    op.execute(tokens.update().where(tokens.c.expires_at.is_(None)).values(expires_at=until))
    _set_nullable(False)


def downgrade() -> None:
    _set_nullable(True)
