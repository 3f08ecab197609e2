"""Headers every answer of the service carries, whatever produced it (a page, the API, the documentation, an error,
a redirect): it may not be framed by another site (``X-Frame-Options: DENY``, and ``frame-ancestors 'none'`` where
the answer has no policy of its own), its type is not sniffed, and over TLS — directly, or behind a proxy uvicorn
trusts for ``X-Forwarded-Proto`` — browsers are told to use HTTPS only for a year (``Strict-Transport-Security``):
a later plain-HTTP link or a downgrade on the way cannot expose a session cookie."""

from __future__ import annotations

HSTS = b"max-age=31536000"


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP answer (streamed answers untouched otherwise)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tls = scope.get("scheme") == "https"

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.append((b"x-frame-options", b"DENY"))
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", b"frame-ancestors 'none'"))
                if b"x-content-type-options" not in present:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if tls:
                    headers.append((b"strict-transport-security", HSTS))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
