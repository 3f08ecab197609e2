"""The request desk: filing a 调卷函, taking its steps, reading requests and their history, and the steps the
system takes by itself (release on publication, first fetch, expiry).

Every step is written to the audit log **before** it takes effect: inside the step's database transaction, with
the request's row locked (``SELECT … FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), the step is
checked against the request's current state, its audit entry is stored (the call waits for the object store), and
only then are the row, its history and any grant changed and committed. When the entry cannot be stored the step
does not happen (the transaction rolls back and the caller gets the store's error). When the commit fails after
the entry was stored, a ``request.void`` entry naming the first one's hash is added, so the log never claims a step
the database does not have.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from pipeline.access._audit import AuditLog
from pipeline.access._auth import Clock, Principal, normalise_agency
from pipeline.access._grants import ORIGINAL, GrantStore, volumes_of, volumes_text
from pipeline.access.db import Database, tables
from pipeline.access.requests._kinds import AgencyKinds
from pipeline.access.requests._model import Event, Filing, RequestView, TransitionRefused, released_copy
from pipeline.access.requests._rules import Change, decide_action, inbox_actions, release_change, visible
from pipeline.common import utcnow
from pipeline.errors import BadInputError, NotFoundError, RefusedError
from pipeline.models import DossierManifest
from pipeline.storage import case_key, normalise_case_no

R, E = tables.requests, tables.request_events
ManifestOf = Callable[[str], DossierManifest | None]
CopyPublished = Callable[[str, str], bool]


def _no_copies(case_no: str, profile: str) -> bool:
    return False
SYSTEM = Principal(id="system", agency="-", name="系统")


class RequestDesk:
    """Requests in the access database, every step audited before it takes effect."""

    def __init__(self, db: Database, grants: GrantStore, audit: AuditLog, manifest_of: ManifestOf,
                 clock: Clock = utcnow, audit_timeout: float = 30.0, copy_published: CopyPublished = _no_copies):
        self.db, self.grants, self.audit, self.manifest_of, self.clock = db, grants, audit, manifest_of, clock
        self.audit_timeout = audit_timeout
        self.copy_published = copy_published  # (case number, disclosure profile): is that copy published?
        self.kinds = AgencyKinds(db)
        self._fetched: set[int] = set()

    # ---------------------------------------------------------------------------------------------- audit and apply

    def _record(self, row, actor: Principal, change: Change) -> dict:
        return self.audit.record_and_wait(
            self.audit_timeout, action=f"request.{change.step}", step=change.step, request_id=row.id,
            case_no=row.case_no, case_key=row.case_key, actor=actor.id, actor_name=actor.label, agency=actor.agency,
            role=change.role, requesting_agency=row.requesting_agency, holding_agency=row.holding_agency,
            **{"from": change.from_state, "to": change.to_state}, comment=change.comment[:500], status=0, bytes=0,
            result="ok")

    def _void(self, entry: dict | None, exc: BaseException) -> None:
        """The step announced by ``entry`` did not happen: say so in the log (queued, not waited for: when the
        store is down, both entries are stored in order once it is back)."""
        entry = entry or getattr(exc, "entry", None)
        if entry is None:
            return
        try:
            self.audit.record(action="request.void", voids=entry["hash"], request_id=entry["request_id"],
                              step=entry["step"], actor=entry["actor"], agency=entry["agency"], status=0, bytes=0,
                              result="void", detail=f"not committed: {type(exc).__name__}: {str(exc)[:200]}")
        except Exception:  # noqa: BLE001 - the original error is what the caller must see
            pass

    def _event(self, conn: Connection, request_id: int, actor: Principal, change: Change, entry: dict) -> None:
        conn.execute(E.insert().values(
            request_id=request_id, step=change.step, from_state=change.from_state, to_state=change.to_state,
            actor=actor.id, actor_name=actor.label[:100], agency=actor.agency, role=change.role, at=change.at,
            comment=change.comment, audit_stream=entry["stream"], audit_seq=entry["seq"], audit_hash=entry["hash"]))

    def _apply(self, conn: Connection, row, actor: Principal, change: Change, entry: dict) -> None:
        done = conn.execute(update(R).where(R.c.id == row.id, R.c.version == row.version).values(
            state=change.to_state, version=row.version + 1, updated_at=change.at, **change.values))
        if done.rowcount != 1:  # the row is locked, so this means the database lost the lock: refuse, never guess
            raise TransitionRefused(f"request {row.id} changed while this step was taken; try again")
        self._event(conn, row.id, actor, change, entry)
        if change.grant:
            self.grants.add(conn, row.case_no, row.requesting_agency, source="request", by=f"request {row.id}",
                            expires=change.values["expires_at"], volumes=volumes_of(row.volumes), request_id=row.id,
                            copy=change.values.get("copy") or row.copy or ORIGINAL)

    def _change(self, request_id: int, actor: Principal,
                decide: Callable[[Connection, object], Change | None]) -> RequestView | None:
        """Lock the request, decide the step, audit it, apply it; None when ``decide`` finds nothing to do."""
        entry = None
        try:
            with self.db.write() as conn:
                row = conn.execute(select(R).where(R.c.id == request_id).with_for_update()).first()
                if row is None:  # worded as for a request the actor may not see: existence is not told
                    raise NotFoundError(f"no request {request_id} visible to {actor.agency}")
                change = decide(conn, row)
                if change is None:
                    return None
                entry = self._record(row, actor, change)
                self._apply(conn, row, actor, change, entry)
                view = RequestView.of(conn.execute(select(R).where(R.c.id == request_id)).one())
        except BaseException as exc:
            self._void(entry, exc)
            raise
        if change.grant:
            self.grants.forget(view.case_no)
        return view

    # ------------------------------------------------------------------------------------------------ people's steps

    def file(self, who: Principal, filing: Filing) -> RequestView:
        """A clerk files a request; it waits for the department head's review."""
        if not who.has("clerk"):
            raise RefusedError("only a clerk (内勤) of the requesting agency can file a request")
        canonical, holding = normalise_case_no(filing.case_no), normalise_agency(filing.holding_agency)
        if holding == who.agency:
            raise BadInputError(f"{holding} is your own agency: its cases need no request")
        now, entry = self.clock(), None
        change = Change("filed", None, "filed", "clerk", now, filing.reason[:200])
        try:
            with self.db.write() as conn:
                request_id = conn.execute(R.insert().values(
                    case_no=canonical, case_key=case_key(canonical), requesting_agency=who.agency,
                    holding_agency=holding, department=filing.department, legal_basis=filing.legal_basis,
                    reason=filing.reason, volumes=volumes_text(filing.volumes), days=filing.days,
                    contact=filing.contact, state="filed", version=0, filed_by=who.id, filed_by_name=who.label[:100],
                    filed_at=now, updated_at=now)).inserted_primary_key[0]
                row = conn.execute(select(R).where(R.c.id == request_id)).one()
                entry = self._record(row, who, change)
                self._event(conn, request_id, who, change, entry)
        except BaseException as exc:
            self._void(entry, exc)
            raise
        return RequestView.of(row)

    def act(self, who: Principal, request_id: int, action: str, comment: str = "",
            copy: str | None = None) -> RequestView:
        """Review, approve, release or refuse a request (see :data:`RULES`). A 'release' gives the original or a
        disclosure copy (``copy``: original | disclosure; by default what the requesting agency's kind gets: a
        lawyer the 阅卷版); one of a case — or a copy — the holding agency has not published (or a case it does not
        own) records the decision and waits for it."""
        held, released = False, ORIGINAL
        if action == "release":
            with self.db.read() as conn:
                row = conn.execute(select(R.c.case_no, R.c.holding_agency, R.c.requesting_agency).where(
                    R.c.id == request_id)).first()
            if row is not None:
                released = released_copy(copy, self.kinds.kind_of(row.requesting_agency))
                held = self.held(row.case_no, row.holding_agency, released)

        def decide(conn: Connection, row) -> Change:
            return decide_action(who, row, self._actors(conn, row.id), action, comment, held, self.clock(),
                                 released)

        return self._change(request_id, who, decide)

    def held(self, case_no: str, agency: str, copy: str = ORIGINAL) -> bool:
        """True when the case is published, the access database records ``agency`` as its owner, and — for a
        disclosure copy — that copy is published too."""
        return (self.grants.get(case_no, cached=False).owned_by(agency) and self.manifest_of(case_no) is not None
                and (copy in ("", ORIGINAL) or self.copy_published(case_no, copy)))

    @staticmethod
    def _actors(conn: Connection, request_id: int) -> set[str]:
        return {a for (a,) in conn.execute(select(E.c.actor).where(E.c.request_id == request_id))}

    # --------------------------------------------------------------------------------------------- the system's steps

    def note_fetched(self, who: Principal, request_ids: tuple[int, ...]) -> None:
        """The requesting agency read a volume: its released requests for the case are done (access lasts until
        the expiry date)."""
        for request_id in request_ids:
            if request_id in self._fetched:
                continue

            def decide(conn: Connection, row) -> Change | None:
                if row.state != "released" or row.requesting_agency != who.agency:
                    return None
                now = self.clock()
                return Change("fetched", row.state, "fetched", "", now, values={"fetched_at": now})

            self._change(request_id, who, decide)
            self._fetched.add(request_id)

    def expire_due(self) -> int:
        """Record the end of every released request whose period is over; returns how many."""
        now = self.clock()
        with self.db.read() as conn:
            due = [i for (i,) in conn.execute(select(R.c.id).where(
                R.c.state.in_(("released", "fetched")), R.c.expires_at <= now).order_by(R.c.id))]
        done = 0
        for request_id in due:
            def decide(conn: Connection, row) -> Change | None:
                now = self.clock()
                if row.state not in ("released", "fetched") or row.expires_at > now:
                    return None
                return Change("expired", row.state, "expired", "", now, values={"closed_at": now})

            done += self._change(request_id, SYSTEM, decide) is not None
        return done

    def release_published(self) -> int:
        """Release every waiting request whose case the holding agency has published since; returns how many. A
        request for a case held by another agency (or by none) keeps waiting, as for one not yet published: what
        the registrar was told at release is never contradicted (its registrar can still refuse it)."""
        with self.db.read() as conn:
            waiting = conn.execute(select(R.c.id, R.c.case_no, R.c.holding_agency, R.c.copy).where(
                R.c.state == "waiting").order_by(R.c.id)).all()
        done = 0
        for request_id, case_no, holding, copy in waiting:
            if not self.held(case_no, holding, copy):
                continue

            def decide(conn: Connection, row) -> Change | None:
                if row.state != "waiting":
                    return None
                said = "卷宗已发布，自动放行" if row.copy in ("", ORIGINAL) else "阅卷版已制作，自动放行"
                return release_change(row, "", self.clock(), said)

            done += self._change(request_id, SYSTEM, decide) is not None
        return done

    def sweep(self) -> tuple[int, int]:
        """What the service does every few seconds: (released on publication, expired)."""
        return self.release_published(), self.expire_due()

    # ----------------------------------------------------------------------------------------------------- reading

    def get(self, who: Principal, request_id: int) -> tuple[RequestView, list[Event]]:
        """A request and its history, if the principal may see it (else NotFoundError, as for no request)."""
        with self.db.read() as conn:
            row = conn.execute(select(R).where(R.c.id == request_id)).first()
            if row is None or not visible(who, row):
                raise NotFoundError(f"no request {request_id} visible to {who.agency}")
            events = _histories(conn, [request_id])
        return RequestView.of(row), events.get(request_id, [])

    def histories(self, request_ids: list[int]) -> dict[int, list[Event]]:
        """The histories of requests the caller already may see (e.g. its inbox), oldest step first."""
        with self.db.read() as conn:
            return _histories(conn, request_ids)

    def holding_agencies(self) -> list[str]:
        """Agencies with a registrar (users or tokens): where a 调卷函 can be sent."""
        u, ur, t, tr = tables.users, tables.user_roles, tables.tokens, tables.token_roles
        with self.db.read() as conn:
            people = conn.execute(select(u.c.agency).join(ur, ur.c.user_id == u.c.id).where(
                ur.c.role == "registrar", u.c.disabled_at.is_(None))).scalars().all()
            keys = conn.execute(select(t.c.agency).join(tr, tr.c.token_id == t.c.id).where(
                tr.c.role == "registrar", t.c.revoked_at.is_(None))).scalars().all()
        return sorted(set(people) | set(keys))

    def actions_for(self, who: Principal, request_id: int) -> tuple[str, ...]:
        """The actions the principal may take on the request now (empty when none, or when it is not visible)."""
        with self.db.read() as conn:
            row = conn.execute(select(R).where(R.c.id == request_id)).first()
            return inbox_actions(who, row, self._actors(conn, row.id)) if row is not None else ()

    def mine(self, who: Principal, everyone: bool = False, limit: int = 200) -> list[RequestView]:
        """Requests the principal filed, newest first; with ``everyone`` (admins) all of the agency's."""
        if everyone and not who.has("admin"):
            raise RefusedError("only an administrator sees every request of the agency")
        where = (R.c.requesting_agency == who.agency) | (
            (R.c.holding_agency == who.agency) & R.c.approved_at.isnot(None)) if everyone else R.c.filed_by == who.id
        with self.db.read() as conn:
            rows = conn.execute(select(R).where(where).order_by(R.c.id.desc()).limit(limit)).all()
        return [RequestView.of(r) for r in rows]

    def inbox(self, who: Principal, limit: int = 500) -> list[tuple[RequestView, tuple[str, ...]]]:
        """Requests waiting for one of the principal's roles, oldest first, with the actions open to it."""
        mine = (R.c.requesting_agency == who.agency) & R.c.state.in_(("filed", "reviewed"))
        theirs = (R.c.holding_agency == who.agency) & R.c.state.in_(("approved", "waiting"))
        with self.db.read() as conn:
            rows = conn.execute(select(R).where(mine | theirs).order_by(R.c.id).limit(limit)).all()
            found = []
            for row in rows:
                actions = inbox_actions(who, row, self._actors(conn, row.id))
                if actions:
                    found.append((RequestView.of(row), actions))
        return found


def _histories(conn: Connection, request_ids: list[int]) -> dict[int, list[Event]]:
    found: dict[int, list[Event]] = {}
    for chunk in (request_ids[i:i + 500] for i in range(0, len(request_ids), 500)):
        for e in conn.execute(select(E).where(E.c.request_id.in_(chunk)).order_by(E.c.id)):
            found.setdefault(e.request_id, []).append(Event(e.step, e.from_state, e.to_state, e.actor, e.actor_name,
                                                            e.agency, e.role, e.at, e.comment,
                                                            f"{e.audit_stream}#{e.audit_seq}"))
    return found
