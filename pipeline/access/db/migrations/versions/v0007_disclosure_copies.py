"""Disclosure copies (阅卷版) in the 调卷 procedure: what a registrar released (``requests.copy``: ``original`` or a
disclosure profile's name, empty until released), what a grant lets its agency read (``grants.copy``: empty for the
original, else the profile), and what kind of requester an agency is (``agency_kinds``: agency, lawyer or public;
an agency not listed is an agency), which decides what a release gives by default.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-11
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("copy", sa.String(40), nullable=False, server_default=""))
    with op.batch_alter_table("grants") as batch:
        batch.add_column(sa.Column("copy", sa.String(40), nullable=False, server_default=""))
    op.create_table(
        "agency_kinds",
        sa.Column("agency", sa.String(100), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("set_by", sa.String(100), nullable=False),
        sa.Column("set_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("agency_kinds")
    with op.batch_alter_table("grants") as batch:
        batch.drop_column("copy")
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("copy")
