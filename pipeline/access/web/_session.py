"""Signing in to the web pages: the session cookie, and CSRF protection of every form.

- The session cookie holds a random 256-bit value (its SHA-256 is the session's key in the database); it is
  ``HttpOnly``, ``SameSite=Lax``, and ``Secure`` when the request came over TLS (directly, or through a proxy that
  uvicorn trusts for ``X-Forwarded-Proto``) or when ``DOSSIER_COOKIE_SECURE=1``.
- Every form carries a CSRF token: an HMAC (with a key kept in the database, the same for every instance) of the
  session cookie, or — before signing in — of a random anonymous cookie (double submit). A form whose token does
  not match, or whose ``Origin`` header names another site, is refused before anything happens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from pipeline.access._auth import Principal
from pipeline.access._users import UserStore
from pipeline.access.db import Database, tables

SESSION_COOKIE = "dossier_session"
ANON_COOKIE = "dossier_anon"


def service_key(db: Database, name: str) -> bytes:
    """A secret shared by every service instance (made once, kept in the database)."""
    k = tables.service_keys
    for _ in range(3):
        with db.read() as conn:
            found = conn.execute(select(k.c.value).where(k.c.name == name)).first()
        if found is not None:
            return bytes.fromhex(found.value)
        try:
            with db.write() as conn:
                conn.execute(k.insert().values(name=name, value=secrets.token_hex(32)))
        except IntegrityError:  # another instance made it first: read theirs
            continue
    raise RuntimeError(f"service key {name} could not be made")


class WebAuth:
    """Sessions and CSRF tokens for the web pages."""

    def __init__(self, users: UserStore, key: bytes, session_hours: float = 8.0, cookie_secure: bool | None = None):
        self.users, self.key, self.session_hours, self.cookie_secure = users, key, session_hours, cookie_secure

    def secure(self, request: Request) -> bool:
        """Whether cookies get the Secure flag for this request."""
        return self.cookie_secure if self.cookie_secure is not None else request.url.scheme == "https"

    async def who(self, request: Request) -> Principal | None:
        """The signed-in user's principal, or None."""
        secret = request.cookies.get(SESSION_COOKIE)
        if not secret:
            return None
        user = await run_in_threadpool(self.users.session_user, secret)
        return user.principal() if user else None

    def _token(self, bound: str) -> str:
        return hmac.new(self.key, b"csrf|" + bound.encode("utf-8"), hashlib.sha256).hexdigest()

    def csrf(self, request: Request) -> tuple[str, str | None]:
        """The CSRF token for forms on this page, and a new anonymous cookie value to set (None when the request
        already has a cookie to bind to)."""
        bound = request.cookies.get(SESSION_COOKIE) or request.cookies.get(ANON_COOKIE)
        fresh = None
        if not bound:
            bound = fresh = secrets.token_urlsafe(32)
        return self._token(bound), fresh

    def csrf_ok(self, request: Request, given: str) -> bool:
        """True when a submitted form's token matches this browser's cookie and it comes from this site."""
        origin = request.headers.get("origin")
        if origin is not None and origin.rstrip("/") != f"{request.url.scheme}://{request.url.netloc}":
            return False
        for name in (SESSION_COOKIE, ANON_COOKIE):
            bound = request.cookies.get(name)
            if bound and given and hmac.compare_digest(given, self._token(bound)):
                return True
        return False

    def set_cookie(self, response: Response, request: Request, name: str, value: str,
                   max_age: int | None = None) -> None:
        """Set one of our cookies with the flags above."""
        response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, secure=self.secure(request),
                            samesite="lax")

    def clear(self, response: Response, request: Request) -> None:
        """Remove the session cookie."""
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, secure=self.secure(request), samesite="lax")
