"""Who is asking: bearer tokens (in the access database) and the principal a token or a signed-in user stands for.

A token is ``dos_<12 hex id>_<43 url-safe chars>``: 256 random bits, shown once by ``dossier token create`` and
stored as the SHA-256 of its secret part (a slow password hash defends low-entropy secrets only). A token belongs to
an agency, carries roles (clerk, reviewer, approver, registrar, admin, and on the operators' desk operator and
ops-admin; none: it may only read what its agency may read), may stand for a user (then its actor is that user, so
nobody approves their own request with a second credential, and it has only the roles the user still holds: taking a
role from the user takes it from their tokens), and expires (``expires_at``, always set: tokens taken over from
earlier versions were given one by migration 0003; ``dossier token expire`` changes it).

Service instances cache token records for ``cache_ttl`` seconds (default 5): a revocation takes effect everywhere
within that time; expiry is checked against the clock on every use, cached or not.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update

from pipeline.access._cache import TtlCache
from pipeline.access.db import Database, tables
from pipeline.common import escaped, folded_name, invisible_characters, utcnow
from pipeline.errors import BadInputError, DossierError, NotFoundError

TOKEN_MARK = "dos_"
_TOKEN_RE = re.compile(r"dos_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
_ID_RE = re.compile(r"[0-9a-f]{12}")
ROLES = ("clerk", "reviewer", "approver", "registrar", "admin", "operator", "ops-admin")
Clock = Callable[[], datetime]
BeforeCommit = Callable[[object], None] | None
"""Called with the changed record inside the change's transaction, before it commits (an administrator's change is
audited there: when the entry cannot be stored, the hook raises and nothing changes)."""


class AuthError(DossierError):
    """A token is missing, malformed, unknown, expired or revoked."""


def normalise_agency(name: str) -> str:
    """An agency name as compared and stored: NFKC, inner whitespace collapsed, validated."""
    if not isinstance(name, str):
        raise BadInputError("agency name must be text")
    hidden = invisible_characters("".join(name.split()))  # a Hangul filler is a letter that draws nothing
    if hidden:
        raise BadInputError(f"agency name contains a control or invisible character {hidden[0]}: "
                            f"'{escaped(name[:100])}'")
    text = folded_name(name)
    if not text:
        raise BadInputError("agency name is empty")
    if len(text) > 100:
        raise BadInputError(f"agency name is too long ({len(text)} characters, at most 100)")
    return text


def normalise_roles(roles: Iterable[str]) -> frozenset[str]:
    """A set of role names, each one of :data:`ROLES`."""
    found = frozenset(r.strip().lower() for r in roles if r.strip())
    unknown = sorted(found - set(ROLES))
    if unknown:
        raise BadInputError(f"unknown role(s) {', '.join(unknown)}; roles are {', '.join(ROLES)}")
    return found


@dataclass(frozen=True)
class Principal:
    """Who is asking: an actor id (``user:<n>`` or ``token:<id>``), its agency, its roles there, and the scanning
    rooms an operator works for."""

    id: str
    agency: str
    roles: frozenset[str] = frozenset()
    rooms: frozenset[str] = frozenset()
    name: str = ""
    department: str = ""
    token_id: str | None = None
    user_id: int | None = None

    def has(self, role: str) -> bool:
        """True when the principal holds the role at its agency."""
        return role in self.roles

    @property
    def label(self) -> str:
        """How people see the actor: the name when known, else the id."""
        return self.name or self.id


@dataclass(frozen=True)
class TokenRecord:
    """A stored token (without its secret)."""

    id: str
    agency: str
    created: datetime
    label: str = ""
    roles: tuple[str, ...] = ()
    expires: datetime | None = None
    revoked: datetime | None = None
    user_id: int | None = None
    source: str = "cli"
    secret_sha256: str = field(default="", repr=False)
    user_name: str = ""
    user_department: str = ""
    user_disabled: bool = False


def token_id_of(token: str) -> str | None:
    """The id part of a well-formed token (for audit entries of refused requests), else None."""
    m = _TOKEN_RE.fullmatch(token or "")
    return m.group(1) if m else None


def _roles_of(conn, owner_column, role_column, owners: list) -> dict[object, list[str]]:
    """The roles of each owner (token or user), read in chunks."""
    found: dict[object, list[str]] = {}
    for chunk in (owners[i:i + 500] for i in range(0, len(owners), 500)):
        for owner, role in conn.execute(select(owner_column, role_column).where(owner_column.in_(chunk))):
            found.setdefault(owner, []).append(role)
    return found


def _effective_roles(token_roles: Iterable[str], user_id: int | None, held: dict[object, list[str]]) -> tuple[str, ...]:
    """A token's roles as they count now: a token acting for a user has only the roles the user still holds (a
    demoted 部门负责人's token stops approving when the user does, within the cache time)."""
    roles = set(token_roles)
    if user_id is not None:
        roles &= set(held.get(user_id, ()))
    return tuple(sorted(roles))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    """Create, list, revoke and check bearer tokens."""

    def __init__(self, db: Database, cache_ttl: float = 5.0, clock: Clock = utcnow):
        self.db, self.clock = db, clock
        self._cache = TtlCache(cache_ttl)

    def _query(self):
        t, u = tables.tokens, tables.users
        return select(t, u.c.display_name, u.c.department, u.c.disabled_at).select_from(
            t.outerjoin(u, t.c.user_id == u.c.id))

    def _records(self, conn, where=None) -> list[TokenRecord]:
        rows = conn.execute(self._query() if where is None else self._query().where(where)).all()
        roles = _roles_of(conn, tables.token_roles.c.token_id, tables.token_roles.c.role, [r.id for r in rows])
        held = _roles_of(conn, tables.user_roles.c.user_id, tables.user_roles.c.role,
                         sorted({r.user_id for r in rows if r.user_id is not None}))
        return [TokenRecord(id=r.id, agency=r.agency, created=r.created_at, label=r.label,
                            roles=_effective_roles(roles.get(r.id, ()), r.user_id, held), expires=r.expires_at,
                            revoked=r.revoked_at, user_id=r.user_id, source=r.source, secret_sha256=r.secret_sha256,
                            user_name=r.display_name or "", user_department=r.department or "",
                            user_disabled=r.disabled_at is not None) for r in rows]

    def create(self, agency: str, label: str = "", roles: Iterable[str] = (), days: int = 365,
               username: str | None = None, before_commit: BeforeCommit = None) -> tuple[str, TokenRecord]:
        """A new token (shown once) and its record, valid ``days`` days (every token expires); with ``username`` it
        acts as that user (same agency, and only roles the user holds)."""
        if not isinstance(days, int) or days < 1:
            raise BadInputError(f"a token must expire: give its validity in days (at least 1), not {days!r}")
        agency, wanted = normalise_agency(agency), normalise_roles(roles)
        token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        now = self.clock()
        with self.db.write() as conn:
            user_id = None
            if username is not None:
                user = conn.execute(select(tables.users).where(tables.users.c.username == username)).first()
                if user is None:
                    raise NotFoundError(f"no user {username!r}")
                held = {r for (r,) in conn.execute(select(tables.user_roles.c.role).where(
                    tables.user_roles.c.user_id == user.id))}
                if user.agency != agency or not wanted <= held:
                    raise BadInputError(f"user {username} is of {user.agency} with roles {sorted(held)}: a token "
                                        f"for them must be of that agency with some of those roles")
                user_id = user.id
            conn.execute(tables.tokens.insert().values(
                id=token_id, agency=agency, label=label[:200], secret_sha256=_digest(secret), user_id=user_id,
                source="cli", created_at=now, expires_at=now + timedelta(days=days)))
            for role in sorted(wanted):
                conn.execute(tables.token_roles.insert().values(token_id=token_id, role=role))
            record = self._records(conn, tables.tokens.c.id == token_id)[0]
            if before_commit is not None:
                before_commit(record)
        return f"{TOKEN_MARK}{token_id}_{secret}", record

    def list(self) -> list[TokenRecord]:
        """Every token record, oldest first."""
        with self.db.read() as conn:
            return sorted(self._records(conn), key=lambda r: (r.created, r.id))

    def get(self, token_id: str) -> TokenRecord | None:
        """One token's record, read from the database."""
        with self.db.read() as conn:
            found = self._records(conn, tables.tokens.c.id == token_id)
        return found[0] if found else None

    def revoke(self, token_id: str, before_commit: BeforeCommit = None) -> TokenRecord:
        """Mark a token revoked (kept for the audit trail)."""
        return self._change(token_id, {"revoked_at": self.clock()}, before_commit, only_if_live=True)

    def set_expiry(self, token_id: str, expires: datetime, before_commit: BeforeCommit = None) -> TokenRecord:
        """Change when a token expires (an administrator's decision; a time in the past ends it now)."""
        if expires.tzinfo is None:
            raise BadInputError("a token's expiry needs a time zone")
        return self._change(token_id, {"expires_at": expires}, before_commit)

    def _change(self, token_id: str, values: dict, before_commit: BeforeCommit,
                only_if_live: bool = False) -> TokenRecord:
        token_id = token_id_of(token_id) or token_id
        if not _ID_RE.fullmatch(token_id or ""):
            raise AuthError(f"not a token id: {token_id!r}")
        with self.db.write() as conn:
            t = tables.tokens
            where = (t.c.id == token_id) & t.c.revoked_at.is_(None) if only_if_live else t.c.id == token_id
            conn.execute(update(t).where(where).values(**values))
            found = self._records(conn, t.c.id == token_id)
            if not found:
                raise NotFoundError(f"no token with id {token_id}")
            if before_commit is not None:
                before_commit(found[0])
        self._cache.drop(token_id)
        return found[0]

    def authenticate(self, token: str, cached_only: bool = False) -> Principal | None:
        """The principal of a valid token; AuthError for anything else. With ``cached_only``, None when the
        token's record is not in the cache (no database access: safe on an event loop)."""
        m = _TOKEN_RE.fullmatch(token or "")
        if not m:
            raise AuthError("malformed bearer token")
        token_id, secret = m.groups()
        record, hit = self._cache.get(token_id)
        if not hit:
            if cached_only:
                return None
            record = self._cache.load(token_id, lambda: self.get(token_id))
        if record is None or not hmac.compare_digest(_digest(secret), record.secret_sha256):
            raise AuthError("unknown token")
        if record.revoked:
            raise AuthError("token revoked")
        if record.expires is None or record.expires <= self.clock():  # a token without an expiry is not valid
            raise AuthError("token expired")
        if record.user_disabled:
            raise AuthError("the token's user is disabled")
        if record.user_id is not None:
            return Principal(id=f"user:{record.user_id}", agency=record.agency, roles=frozenset(record.roles),
                             name=record.user_name, department=record.user_department, token_id=token_id,
                             user_id=record.user_id)
        return Principal(id=f"token:{token_id}", agency=record.agency, roles=frozenset(record.roles),
                         name=record.label, token_id=token_id)
