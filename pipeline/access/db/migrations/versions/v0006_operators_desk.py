"""The operators' desk: the scanning rooms an operator (扫描员) works for, who holds a 卷内目录 review, and which
pause of a run was answered (so that two reviewers never resume the same pause twice).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-12
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _user() -> sa.Column:
    return sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "user_rooms",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("room", sa.String(64), primary_key=True))
    op.create_table(
        "review_claims",
        sa.Column("run_id", sa.String(64), primary_key=True), _user(),
        sa.Column("since", sa.DateTime(), nullable=False))
    op.create_table(
        "review_answers",
        sa.Column("run_id", sa.String(64), primary_key=True), sa.Column("pause_key", sa.String(100), primary_key=True),
        _user(), sa.Column("at", sa.DateTime(), nullable=False))


def downgrade() -> None:
    for table in ("review_answers", "review_claims", "user_rooms"):
        op.drop_table(table)
