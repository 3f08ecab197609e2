"""Who may read which case, decided from the access database alone: the **owner** — the agency recorded in
``case_owners`` when the case was first published (:meth:`GrantStore.claim`, called by the publishing run before it
writes ``dossier.json``) — always; and agencies holding a grant — made by an administrator (``dossier grant``, no end)
or by a released request (调卷, until its expiry date, for the volumes it asked for).

Nothing in the object store decides access: ``dossier.json`` is an unsigned object that every worker, watcher and
service can write with the bucket credential, so its ``agency`` and ``grants`` are never read here. A manifest
naming another owner or extra grants changes nothing; a case with no owner recorded has no owner access, and a
request for it is never released (:mod:`pipeline.access.requests`).

Grants are rows, changed in transactions: nothing is read-modify-written. The fetch service caches one case's grants
and owner for ``cache_ttl`` seconds (a revocation takes effect everywhere within that time, at once in the process
that made it); an expiry is compared with the clock on every request, so access ends on time even from the cache.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from pipeline.access._auth import BeforeCommit, Clock, normalise_agency
from pipeline.access._cache import TtlCache
from pipeline.access.db import Database, tables
from pipeline.common import utcnow
from pipeline.errors import BadInputError, RefusedError
from pipeline.storage import normalise_case_no


def volumes_text(volumes: Iterable[int] | None) -> str:
    """How a set of volumes is stored: "" for all, else "1,3"."""
    return "" if volumes is None else ",".join(str(n) for n in sorted(set(volumes)))


def volumes_of(text: str) -> frozenset[int] | None:
    """The volumes a stored text names (None: all)."""
    return None if not text else frozenset(int(n) for n in text.split(","))


ORIGINAL = "original"
"""What a grant of the original lets its agency read (a disclosure copy's grant names its profile instead)."""


@dataclass(frozen=True)
class Allowance:
    """One grant row: an agency may read a case until ``expires`` (None: no end), these volumes (None: all), the
    original or a disclosure copy (``copy``: "" for the original, else the copy's profile)."""

    agency: str
    expires: datetime | None
    volumes: frozenset[int] | None
    request_id: int | None
    source: str
    copy: str = ""

    def live(self, now: datetime) -> bool:
        """True while it has not expired."""
        return self.expires is None or self.expires > now


@dataclass(frozen=True)
class CaseAccess:
    """A case's owner, grants and revocations as read from the database (owner None: not published, or published
    without one)."""

    case_no: str
    allowances: tuple[Allowance, ...] = ()
    denied: frozenset[str] = frozenset()
    owner: str | None = None

    def owned_by(self, agency: str) -> bool:
        """True when the database records ``agency`` as the case's owner."""
        return self.owner is not None and self.owner == normalise_agency(agency)

    def live(self, agency: str, now: datetime) -> list[Allowance]:
        """The agency's grants that have not expired."""
        return [a for a in self.allowances if a.agency == agency and a.live(now)]

    def granted(self, now: datetime) -> list[str]:
        """Agencies with a live grant."""
        return sorted({a.agency for a in self.allowances if a.live(now)})


@dataclass(frozen=True)
class Decision:
    """Why an agency may read a case, and what: the volumes (None: all), the requests that released it, and which
    copies — the original (:data:`ORIGINAL`) and/or disclosure copies by profile (a lawyer released a 阅卷版 reads
    that copy and never the original)."""

    via: str
    volumes: frozenset[int] | None = None
    request_ids: tuple[int, ...] = ()
    copies: frozenset[str] = frozenset({ORIGINAL})

    def covers(self, volume: int) -> bool:
        """True when the volume may be read."""
        return self.volumes is None or volume in self.volumes

    def allows(self, copy: str) -> bool:
        """True when ``copy`` (the original, or a disclosure profile) may be read: whoever may read the original
        may read its disclosure copies too."""
        return ORIGINAL in self.copies or copy in self.copies

    @property
    def disclosure(self) -> str | None:
        """The disclosure profile released to a reader of copies only (None: the original may be read)."""
        return None if ORIGINAL in self.copies else min(self.copies)


def decide(agency: str, access: CaseAccess, now: datetime) -> Decision | None:
    """The access rule, from the database only: the recorded owner always; else a live grant (an administrator's,
    or a released request's for its volumes)."""
    if access.owned_by(agency):
        return Decision("owner")
    return granted(agency, access, now)


def granted(agency: str, access: CaseAccess, now: datetime) -> Decision | None:
    """What the live grants in the database give an agency of a case: the volumes (None: all) and the requests that
    released them; None when there is none."""
    live = access.live(normalise_agency(agency), now)
    if not live:
        return None
    volumes = None if any(a.volumes is None for a in live) else frozenset().union(*(a.volumes for a in live))
    requests = tuple(sorted({a.request_id for a in live if a.request_id is not None}))
    copies = frozenset(a.copy or ORIGINAL for a in live)
    return Decision("request" if requests else "grant", volumes, requests, copies)


def may_read(agency: str, access: CaseAccess, now: datetime | None = None) -> bool:
    """True when the agency may read the case's dossier."""
    return decide(agency, access, now or utcnow()) is not None


class GrantStore:
    """Per-case owners, grants and revocations in the access database."""

    def __init__(self, db: Database, cache_ttl: float = 5.0, clock: Clock = utcnow):
        self.db, self.clock = db, clock
        self._cache = TtlCache(cache_ttl)

    def peek(self, case_no: str) -> CaseAccess | None:
        """The cached grants of a case, or None when they must be read from the database."""
        record, hit = self._cache.get(normalise_case_no(case_no))
        return record if hit else None

    def read(self, conn: Connection, canonical: str) -> CaseAccess:
        """A case's owner and grants within a transaction."""
        g, d, o = tables.grants, tables.grant_denials, tables.case_owners
        rows = conn.execute(select(g.c.agency, g.c.expires_at, g.c.volumes, g.c.request_id, g.c.source,
                                   g.c.copy).where(g.c.case_no == canonical, g.c.revoked_at.is_(None))
                            .order_by(g.c.id)).all()
        denied = frozenset(a for (a,) in conn.execute(select(d.c.agency).where(d.c.case_no == canonical)))
        owner = conn.execute(select(o.c.agency).where(o.c.case_no == canonical)).scalar()
        return CaseAccess(canonical, tuple(Allowance(r.agency, r.expires_at, volumes_of(r.volumes), r.request_id,
                                                     r.source, r.copy) for r in rows), denied, owner)

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
                                       g.c.source, g.c.copy).where(g.c.agency == normalise_agency(agency),
                                                                   g.c.revoked_at.is_(None)).order_by(g.c.id)).all()
        cases: dict[str, list[Allowance]] = {}
        for r in rows:
            cases.setdefault(r.case_no, []).append(Allowance(r.agency, r.expires_at, volumes_of(r.volumes),
                                                             r.request_id, r.source, r.copy))
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
            request_id: int | None = None, copy: str = "") -> None:
        """Insert one grant inside the caller's transaction (a release inserts its grant with its state change);
        ``copy``: "" for the original, else the disclosure profile it lets the agency read."""
        conn.execute(tables.grants.insert().values(
            case_no=canonical, agency=agency, request_id=request_id, volumes=volumes_text(volumes), source=source,
            granted_by=by[:100], granted_at=self.clock(), expires_at=expires, revoked_at=None,
            copy="" if copy == ORIGINAL else copy))

    def claim(self, case_no: str, agency: str, by: str = "", before_commit: BeforeCommit = None) -> CaseAccess:
        """Record ``agency`` as the owner of a case about to be published (the first publication records it; later
        ones must be by the same agency). RefusedError when another agency owns it — worded without naming it —
        and BadInputError for a publication without an owning agency."""
        canonical = normalise_case_no(case_no)
        if not (agency or "").strip():
            raise BadInputError(f"case {canonical} cannot be published without an owning agency")
        agency = normalise_agency(agency)
        o = tables.case_owners
        for attempt in (1, 2):
            try:
                with self.db.write() as conn:
                    owner = conn.execute(select(o.c.agency).where(o.c.case_no == canonical)).scalar()
                    if owner is None:
                        conn.execute(o.insert().values(case_no=canonical, agency=agency, claimed_by=by[:200],
                                                       claimed_at=self.clock(), source="publication"))
                    elif owner != agency:
                        raise RefusedError(f"case {canonical} was first published by another agency: a dossier of "
                                           f"{agency} may not supersede it (refused)")
                    record = self.read(conn, canonical)
                    if before_commit is not None:
                        before_commit(record)
                break
            except IntegrityError:  # another publication recorded an owner meanwhile: decide again against it
                if attempt == 2:
                    raise
        self.forget(canonical)
        return record

    def revoke(self, case_no: str, agency: str, by: str = "", before_commit: BeforeCommit = None) -> CaseAccess:
        """Take an agency's access to a case away: its grants end now (the owning agency keeps its access)."""
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
