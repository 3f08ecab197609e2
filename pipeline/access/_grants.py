"""Who may read which case: the owning agency always; agencies the manifest names, unless an administrator took that
away; and agencies holding a grant in the access database — made by an administrator (``dossier grant``, no end) or
by a released request (调卷, until its expiry date, for the volumes it asked for).

Grants are rows, changed in transactions: nothing is read-modify-written. The fetch service caches one case's grants
for ``cache_ttl`` seconds (a revocation takes effect everywhere within that time, at once in the process that made
it); an expiry is compared with the clock on every request, so access ends on time even from the cache.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from pipeline.access._auth import BeforeCommit, Clock, normalise_agency
from pipeline.access._cache import TtlCache
from pipeline.access.db import Database, tables
from pipeline.common import utcnow
from pipeline.models import DossierManifest
from pipeline.storage import normalise_case_no


def volumes_text(volumes: Iterable[int] | None) -> str:
    """How a set of volumes is stored: "" for all, else "1,3"."""
    return "" if volumes is None else ",".join(str(n) for n in sorted(set(volumes)))


def volumes_of(text: str) -> frozenset[int] | None:
    """The volumes a stored text names (None: all)."""
    return None if not text else frozenset(int(n) for n in text.split(","))


@dataclass(frozen=True)
class Allowance:
    """One grant row: an agency may read a case until ``expires`` (None: no end), these volumes (None: all)."""

    agency: str
    expires: datetime | None
    volumes: frozenset[int] | None
    request_id: int | None
    source: str

    def live(self, now: datetime) -> bool:
        """True while it has not expired."""
        return self.expires is None or self.expires > now


@dataclass(frozen=True)
class CaseAccess:
    """A case's grants and revocations as read from the database."""

    case_no: str
    allowances: tuple[Allowance, ...] = ()
    denied: frozenset[str] = frozenset()

    def live(self, agency: str, now: datetime) -> list[Allowance]:
        """The agency's grants that have not expired."""
        return [a for a in self.allowances if a.agency == agency and a.live(now)]

    def granted(self, now: datetime) -> list[str]:
        """Agencies with a live grant."""
        return sorted({a.agency for a in self.allowances if a.live(now)})


@dataclass(frozen=True)
class Decision:
    """Why an agency may read a case, and what: the volumes (None: all) and the requests that released it."""

    via: str
    volumes: frozenset[int] | None = None
    request_ids: tuple[int, ...] = ()

    def covers(self, volume: int) -> bool:
        """True when the volume may be read."""
        return self.volumes is None or volume in self.volumes


def decide(agency: str, manifest: DossierManifest, access: CaseAccess, now: datetime) -> Decision | None:
    """The access rule: the owner always; a live grant from the database; a manifest grant not taken away."""
    agency = normalise_agency(agency)
    if manifest.agency and normalise_agency(manifest.agency) == agency:
        return Decision("owner")
    in_manifest = agency not in access.denied and agency in {normalise_agency(g) for g in manifest.grants
                                                             if g.strip()}
    released = granted(agency, access, now)
    if in_manifest:
        return Decision("manifest", None, released.request_ids if released else ())
    return released


def granted(agency: str, access: CaseAccess, now: datetime) -> Decision | None:
    """What the live grants in the database give an agency of a case: the volumes (None: all) and the requests that
    released them; None when there is none."""
    live = access.live(normalise_agency(agency), now)
    if not live:
        return None
    volumes = None if any(a.volumes is None for a in live) else frozenset().union(*(a.volumes for a in live))
    requests = tuple(sorted({a.request_id for a in live if a.request_id is not None}))
    return Decision("request" if requests else "grant", volumes, requests)


def may_read(agency: str, manifest: DossierManifest, access: CaseAccess, now: datetime | None = None) -> bool:
    """True when the agency may read the case's dossier."""
    return decide(agency, manifest, access, now or utcnow()) is not None


def explicitly_granted(agency: str, access: CaseAccess, now: datetime | None = None) -> bool:
    """True when a live grant in the database (not a manifest) gives the agency access."""
    return bool(access.live(agency, now or utcnow()))


class GrantStore:
    """Per-case grants and revocations in the access database."""

    def __init__(self, db: Database, cache_ttl: float = 5.0, clock: Clock = utcnow):
        self.db, self.clock = db, clock
        self._cache = TtlCache(cache_ttl)

    def peek(self, case_no: str) -> CaseAccess | None:
        """The cached grants of a case, or None when they must be read from the database."""
        record, hit = self._cache.get(normalise_case_no(case_no))
        return record if hit else None

    def read(self, conn: Connection, canonical: str) -> CaseAccess:
        """A case's grants within a transaction."""
        g, d = tables.grants, tables.grant_denials
        rows = conn.execute(select(g.c.agency, g.c.expires_at, g.c.volumes, g.c.request_id, g.c.source).where(
            g.c.case_no == canonical, g.c.revoked_at.is_(None)).order_by(g.c.id)).all()
        denied = frozenset(a for (a,) in conn.execute(select(d.c.agency).where(d.c.case_no == canonical)))
        return CaseAccess(canonical, tuple(Allowance(r.agency, r.expires_at, volumes_of(r.volumes), r.request_id,
                                                     r.source) for r in rows), denied)

    def get(self, case_no: str, cached: bool = True) -> CaseAccess:
        """The case's grants (empty when none was ever made)."""
        canonical = normalise_case_no(case_no)

        def load() -> CaseAccess:
            with self.db.read() as conn:
                return self.read(conn, canonical)

        if not cached:
            record = load()
            self._cache.put(canonical, record)
            return record
        return self._cache.load(canonical, load)

    def released_to(self, agency: str) -> list[CaseAccess]:
        """Every case with a grant to the agency that was not revoked (expired ones included: compare with
        :func:`granted` at the time of use), each with that agency's grants only."""
        g = tables.grants
        with self.db.read() as conn:
            rows = conn.execute(select(g.c.case_no, g.c.agency, g.c.expires_at, g.c.volumes, g.c.request_id,
                                       g.c.source).where(g.c.agency == normalise_agency(agency),
                                                         g.c.revoked_at.is_(None)).order_by(g.c.id)).all()
        cases: dict[str, list[Allowance]] = {}
        for r in rows:
            cases.setdefault(r.case_no, []).append(Allowance(r.agency, r.expires_at, volumes_of(r.volumes),
                                                             r.request_id, r.source))
        return [CaseAccess(case_no, tuple(allowances)) for case_no, allowances in cases.items()]

    def forget(self, case_no: str) -> None:
        """Drop a case from this process's cache (after a change)."""
        self._cache.drop(normalise_case_no(case_no))

    def grant(self, case_no: str, agency: str, by: str = "", before_commit: BeforeCommit = None) -> CaseAccess:
        """Let an agency read a case with no end date (also lifts an earlier revocation)."""
        canonical, agency = normalise_case_no(case_no), normalise_agency(agency)
        with self.db.write() as conn:
            d = tables.grant_denials
            conn.execute(delete(d).where(d.c.case_no == canonical, d.c.agency == agency))
            self.add(conn, canonical, agency, source="admin", by=by)
            record = self.read(conn, canonical)
            if before_commit is not None:
                before_commit(record)
        self.forget(canonical)
        return record

    def add(self, conn: Connection, canonical: str, agency: str, *, source: str, by: str,
            expires: datetime | None = None, volumes: Iterable[int] | None = None,
            request_id: int | None = None) -> None:
        """Insert one grant inside the caller's transaction (a release inserts its grant with its state change)."""
        conn.execute(tables.grants.insert().values(
            case_no=canonical, agency=agency, request_id=request_id, volumes=volumes_text(volumes), source=source,
            granted_by=by[:100], granted_at=self.clock(), expires_at=expires, revoked_at=None))

    def revoke(self, case_no: str, agency: str, by: str = "", before_commit: BeforeCommit = None) -> CaseAccess:
        """Take an agency's access to a case away: its grants end now, and a grant in the manifest no longer counts
        (the owning agency keeps its access)."""
        canonical, agency = normalise_case_no(case_no), normalise_agency(agency)
        with self.db.write() as conn:
            g, d = tables.grants, tables.grant_denials
            conn.execute(update(g).where(g.c.case_no == canonical, g.c.agency == agency, g.c.revoked_at.is_(None))
                         .values(revoked_at=self.clock()))
            if conn.execute(select(d.c.agency).where(d.c.case_no == canonical, d.c.agency == agency)).first() is None:
                conn.execute(d.insert().values(case_no=canonical, agency=agency, created_by=by[:100],
                                               created_at=self.clock()))
            record = self.read(conn, canonical)
            if before_commit is not None:
                before_commit(record)
        self.forget(canonical)
        return record
