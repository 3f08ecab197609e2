"""Who owns a case is recorded in the access database, no longer read from ``dossier.json``: the table
``case_owners`` (one row per case: the owning agency, when and by which run it was recorded, how). From now on the
publishing run records the owner before it writes the first manifest of a case, and later publications must be by
the same agency.

Cases published before this migration are taken over from the latest manifest of each dossier in the object store
(``source = 'migrated'``), once, when this migration runs — as migration 0002 took over tokens: from then on a
manifest written into the bucket with a new ``agency`` changes nothing. A dossier without an owning agency, or whose
manifest cannot be read, gets no row (nobody owns it; an administrator can grant access to it).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import context, op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _take_over(bind, store) -> None:
    from pipeline.access._auth import normalise_agency
    from pipeline.errors import BadInputError
    from pipeline.storage import normalise_case_no, published_manifests

    owners = sa.table("case_owners", sa.column("case_no"), sa.column("agency"), sa.column("claimed_at"),
                      sa.column("claimed_by"), sa.column("source"))
    now = datetime.now(UTC).replace(tzinfo=None)
    for ref in published_manifests(store):
        try:
            agency = normalise_agency(ref.manifest.agency)
        except BadInputError:  # no owning agency (or one no agency name can be): nobody owns it
            continue
        by = f"taken over from manifest version {ref.version_id or '-'}"[:200]
        bind.execute(owners.insert().values(case_no=normalise_case_no(ref.manifest.case_no), agency=agency,
                                            claimed_at=now, claimed_by=by, source="migrated"))


def upgrade() -> None:
    op.create_table(
        "case_owners",
        sa.Column("case_no", sa.String(64), primary_key=True),
        sa.Column("agency", sa.String(100), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(200), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
    )
    store = context.config.attributes.get("store")
    if store is not None:
        _take_over(op.get_bind(), store)


def downgrade() -> None:
    op.drop_table("case_owners")
