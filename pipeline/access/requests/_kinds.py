"""What kind of requester an agency is — another agency (机关, the default for one not listed), a defence lawyer's
firm, the public — as an administrator recorded it (``dossier agency kind``): it decides what a release gives by
default (a lawyer: the 阅卷版)."""

from __future__ import annotations

from sqlalchemy import select

from pipeline.access._auth import BeforeCommit, normalise_agency
from pipeline.access.db import Database, tables
from pipeline.access.requests._model import REQUESTER_KINDS
from pipeline.common import utcnow
from pipeline.errors import BadInputError

K = tables.agency_kinds


class AgencyKinds:
    """The kinds of requesting agencies in the access database."""

    def __init__(self, db: Database):
        """Over one access database."""
        self.db = db

    def kind_of(self, agency: str) -> str:
        """agency, lawyer or public."""
        with self.db.read() as conn:
            found = conn.execute(select(K.c.kind).where(K.c.agency == normalise_agency(agency))).scalar()
        return found or "agency"

    def set(self, agency: str, kind: str, by: str = "", before_commit: BeforeCommit = None) -> str:
        """Record what kind of requester ``agency`` is; returns the normalised agency name."""
        if kind not in REQUESTER_KINDS:
            raise BadInputError(f"kind must be one of {', '.join(REQUESTER_KINDS)}, not {kind!r}")
        agency = normalise_agency(agency)
        with self.db.write() as conn:
            conn.execute(K.delete().where(K.c.agency == agency))
            conn.execute(K.insert().values(agency=agency, kind=kind, set_by=by[:100], set_at=utcnow()))
            if before_commit is not None:
                before_commit(kind)
        return agency

    def all(self) -> dict[str, str]:
        """Every agency recorded, with its kind."""
        with self.db.read() as conn:
            return {a: k for a, k in conn.execute(select(K.c.agency, K.c.kind).order_by(K.c.agency))}
