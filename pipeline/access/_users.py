"""People who sign in to the web pages: users of an agency with roles there (an operator also with the scanning rooms
they work for), their passwords, their sessions.

Passwords are hashed with scrypt (``hashlib.scrypt``: memory-hard, in the standard library, nothing to download),
N=2^15, r=8, p=1, a 16-byte random salt; the parameters are stored with each hash so they can be raised later.
Signing in with an unknown name costs the same hash as a wrong password. A session is a random 256-bit cookie value
stored as its SHA-256, with an end time; signing out deletes it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from pipeline.access._auth import BeforeCommit, Clock, Principal, normalise_agency, normalise_roles
from pipeline.access.db import Database, tables
from pipeline.common import utcnow
from pipeline.errors import BadInputError, NotFoundError
from pipeline.operations import room_name

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 15, 8, 1
MIN_PASSWORD = 10
_USERNAME = re.compile(r"[\w.@-]{2,64}")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` of a password."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            maxmem=256 * SCRYPT_R * SCRYPT_N, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def check_password(password: str, stored: str) -> bool:
    """True when the password matches a stored hash (constant-time comparison)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=256 * int(r) * int(n), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def normalise_username(name: str) -> str:
    """A user name as stored: NFKC, letters, digits and ``._@-``, 2 to 64 characters."""
    text = unicodedata.normalize("NFKC", name or "").strip()
    if not _USERNAME.fullmatch(text):
        raise BadInputError(f"user name {name!r}: use 2-64 letters, digits or . _ @ -")
    return text


def account_key(username: str) -> str:
    """The account a sign-in names, as its brake counts it: the normalised name, or (for a name no user can have)
    the text as typed — either way the same whether the user exists or not."""
    try:
        return normalise_username(username)
    except BadInputError:
        return username[:64]


def _check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD or len(password) > 1024:
        raise BadInputError(f"a password needs {MIN_PASSWORD} to 1024 characters")


@dataclass(frozen=True)
class UserRecord:
    """A user as stored (without the password hash)."""

    id: int
    username: str
    agency: str
    roles: tuple[str, ...]
    display_name: str = ""
    department: str = ""
    created: datetime | None = None
    disabled: datetime | None = None
    rooms: tuple[str, ...] = ()

    def principal(self) -> Principal:
        """The principal a signed-in user stands for."""
        return Principal(id=f"user:{self.id}", agency=self.agency, roles=frozenset(self.roles),
                         rooms=frozenset(self.rooms), name=self.display_name or self.username,
                         department=self.department, user_id=self.id)


class UserStore:
    """Users, their roles and their web sessions."""

    def __init__(self, db: Database, clock: Clock = utcnow):
        self.db, self.clock = db, clock

    def _load(self, conn, where) -> list[UserRecord]:
        u = tables.users
        rows = conn.execute(select(u).where(where).order_by(u.c.id)).all()
        ids = [r.id for r in rows]
        roles = _per_user(conn, tables.user_roles.c.role, ids)
        rooms = _per_user(conn, tables.user_rooms.c.room, ids)
        return [UserRecord(r.id, r.username, r.agency, tuple(sorted(roles.get(r.id, ()))), r.display_name,
                           r.department, r.created_at, r.disabled_at, tuple(sorted(rooms.get(r.id, ()))))
                for r in rows]

    def create(self, username: str, password: str, agency: str, roles: Iterable[str], display_name: str = "",
               department: str = "", before_commit: BeforeCommit = None, rooms: Iterable[str] = ()) -> UserRecord:
        """A new user of an agency with roles there (and, for an operator, the rooms they work for)."""
        username, agency, wanted = normalise_username(username), normalise_agency(agency), normalise_roles(roles)
        places = normalise_rooms(rooms)
        _check_password_rules(password)
        hashed = hash_password(password)
        with self.db.write() as conn:
            if conn.execute(select(tables.users.c.id).where(tables.users.c.username == username)).first():
                raise BadInputError(f"user {username} exists already")
            user_id = conn.execute(tables.users.insert().values(
                username=username, display_name=" ".join(display_name.split())[:100], agency=agency,
                department=" ".join(department.split())[:100], password_hash=hashed, created_at=self.clock(),
                disabled_at=None)).inserted_primary_key[0]
            for role in sorted(wanted):
                conn.execute(tables.user_roles.insert().values(user_id=user_id, role=role))
            for room in sorted(places):
                conn.execute(tables.user_rooms.insert().values(user_id=user_id, room=room))
            return _committing(self._load(conn, tables.users.c.id == user_id)[0], before_commit)

    def get(self, username: str) -> UserRecord:
        """A user by name."""
        with self.db.read() as conn:
            found = self._load(conn, tables.users.c.username == normalise_username(username))
        if not found:
            raise NotFoundError(f"no user {username!r}")
        return found[0]

    def list(self) -> list[UserRecord]:
        """Every user."""
        with self.db.read() as conn:
            return self._load(conn, tables.users.c.id.isnot(None))

    def set_roles(self, username: str, roles: Iterable[str], before_commit: BeforeCommit = None) -> UserRecord:
        """Replace a user's roles."""
        wanted, user = normalise_roles(roles), self.get(username)
        with self.db.write() as conn:
            conn.execute(delete(tables.user_roles).where(tables.user_roles.c.user_id == user.id))
            for role in sorted(wanted):
                conn.execute(tables.user_roles.insert().values(user_id=user.id, role=role))
            return _committing(self._load(conn, tables.users.c.id == user.id)[0], before_commit)

    def set_rooms(self, username: str, rooms: Iterable[str], before_commit: BeforeCommit = None) -> UserRecord:
        """Replace the scanning rooms a user works for (an operator sees those rooms' batches on the desk)."""
        places, user = normalise_rooms(rooms), self.get(username)
        with self.db.write() as conn:
            conn.execute(delete(tables.user_rooms).where(tables.user_rooms.c.user_id == user.id))
            for room in sorted(places):
                conn.execute(tables.user_rooms.insert().values(user_id=user.id, room=room))
            return _committing(self._load(conn, tables.users.c.id == user.id)[0], before_commit)

    def set_password(self, username: str, password: str, before_commit: BeforeCommit = None) -> UserRecord:
        """Change a user's password and end their sessions."""
        _check_password_rules(password)
        user, hashed = self.get(username), hash_password(password)
        with self.db.write() as conn:
            conn.execute(update(tables.users).where(tables.users.c.id == user.id).values(password_hash=hashed))
            conn.execute(delete(tables.sessions).where(tables.sessions.c.user_id == user.id))
            return _committing(self._load(conn, tables.users.c.id == user.id)[0], before_commit)

    def disable(self, username: str, before_commit: BeforeCommit = None) -> UserRecord:
        """Stop a user from signing in (and end their sessions); the record stays for the history."""
        user = self.get(username)
        with self.db.write() as conn:
            u = tables.users
            conn.execute(update(u).where(u.c.id == user.id, u.c.disabled_at.is_(None)).values(disabled_at=self.clock()))
            conn.execute(delete(tables.sessions).where(tables.sessions.c.user_id == user.id))
            return _committing(self._load(conn, u.c.id == user.id)[0], before_commit)

    def verify(self, username: str, password: str) -> UserRecord | None:
        """The user when the name and password match an enabled user, else None (same cost either way)."""
        try:
            name = normalise_username(username)
        except BadInputError:
            name = None
        with self.db.read() as conn:
            row = None if name is None else conn.execute(select(tables.users.c.id, tables.users.c.password_hash,
                                                                tables.users.c.disabled_at).where(
                tables.users.c.username == name)).first()
        if not check_password(password, row.password_hash if row else _DUMMY_HASH) or row is None:
            return None
        if row.disabled_at is not None:
            return None
        with self.db.read() as conn:
            return self._load(conn, tables.users.c.id == row.id)[0]

    def start_session(self, user: UserRecord, hours: float) -> str:
        """A new session for a signed-in user: the cookie value (stored only as its SHA-256)."""
        secret = secrets.token_urlsafe(32)
        now = self.clock()
        with self.db.write() as conn:
            s = tables.sessions
            conn.execute(delete(s).where(s.c.expires_at <= now))
            conn.execute(s.insert().values(id_sha256=hashlib.sha256(secret.encode()).hexdigest(), user_id=user.id,
                                           created_at=now, expires_at=now + timedelta(hours=hours)))
        return secret

    def session_user(self, secret: str) -> UserRecord | None:
        """The enabled user of a live session, else None."""
        if not secret or len(secret) > 100:
            return None
        s, u = tables.sessions, tables.users
        with self.db.read() as conn:
            row = conn.execute(select(s.c.user_id).select_from(s.join(u, u.c.id == s.c.user_id)).where(
                s.c.id_sha256 == hashlib.sha256(secret.encode()).hexdigest(), s.c.expires_at > self.clock(),
                u.c.disabled_at.is_(None))).first()
            return self._load(conn, u.c.id == row.user_id)[0] if row else None

    def end_session(self, secret: str) -> None:
        """Sign out: the session is deleted."""
        with self.db.write() as conn:
            conn.execute(delete(tables.sessions).where(
                tables.sessions.c.id_sha256 == hashlib.sha256(secret.encode()).hexdigest()))


def normalise_rooms(rooms: Iterable[str]) -> frozenset[str]:
    """Room names as the hot folder has them (BadInputError naming a bad one)."""
    return frozenset(room_name(r) for r in rooms if r.strip())


def _per_user(conn, column, ids: list[int]) -> dict[int, list[str]]:
    """One column of a per-user table (roles, rooms) for the given users."""
    found: dict[int, list[str]] = {}
    if ids:
        table = column.table
        for user_id, value in conn.execute(select(table.c.user_id, column).where(table.c.user_id.in_(ids))):
            found.setdefault(user_id, []).append(value)
    return found


def _committing(record: UserRecord, before_commit: BeforeCommit) -> UserRecord:
    """Hand the changed record to the caller's hook inside the transaction (it audits the change first)."""
    if before_commit is not None:
        before_commit(record)
    return record
