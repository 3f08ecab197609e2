"""The audit middleware: one entry per request, stored before the first byte of the answer goes out.

The entry is written when the application starts its answer (status and headers known, nothing sent yet): a volume
is recorded before any of its bytes leave, with the length it is about to send. When the entry cannot be stored the
application's answer is dropped and a 503 goes out instead: nothing is served. An answer that then ends short (the
client went away, the store failed mid-volume) adds an ``aborted`` entry with the bytes that did go out.
"""

from __future__ import annotations

import asyncio
import time

from pipeline.access._audit import AuditLog
from pipeline.access._views import UNAUDITED, error_response
from pipeline.errors import StoreError


class _Withheld(Exception):
    """The answer's audit entry could not be stored: a 503 went out instead, and the application must stop."""


def _result_of(status: int) -> str:
    if status < 400:
        return "ok"
    return {401: "unauthenticated", 403: "denied", 404: "not-found"}.get(status,
                                                                       "bad-request" if status < 500 else "error")


class AuditMiddleware:
    """Appends one audit entry per request and sends nothing of the answer until the entry is stored."""

    def __init__(self, app, audit: AuditLog, wait: float = 10.0):
        self.app, self.audit, self.wait = app, audit, wait
        self.in_progress = 0  # audited requests not yet recorded: the audit writer waits a moment for them
        audit.expected = lambda: self.in_progress

    def _entry(self, scope, status: int | None, sent: int, started: float, result: str | None = None) -> dict:
        fields = dict(scope.get("state", {}).get("audit", {}))
        client = scope.get("client") or ("", 0)
        status = status or 500
        result = result or fields.pop("result", None) or _result_of(status)
        fields.pop("result", None)
        return {"actor": fields.pop("actor", "-"), "agency": fields.pop("agency", "-"),
                "method": scope.get("method", ""), "path": scope.get("path", "")[:300],
                "query": scope.get("query_string", b"").decode("latin-1")[:200],
                "status": status, "result": result, "bytes": sent, "remote": client[0],
                "ms": round((time.perf_counter() - started) * 1000, 2), **fields}

    async def _commit(self, scope, status: int | None, sent: int, started: float) -> bool:
        self.in_progress -= 1
        try:
            fut = self.audit.record(**self._entry(scope, status, sent, started))
            await asyncio.wait_for(asyncio.wrap_future(fut), self.wait)
            return True
        except (TimeoutError, StoreError):
            return False

    def _later(self, **entry) -> None:
        """An entry that nobody waits for (stored when the writer gets through)."""
        try:
            self.audit.record(**entry)
        except StoreError:
            pass

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in UNAUDITED:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        st = {"status": None, "length": None, "sent": 0, "committed": False, "refused": False, "complete": False}
        self.in_progress += 1

        async def audited_send(message):
            if message["type"] == "http.response.start":
                st["status"] = message["status"]
                st["length"] = next((int(v) for k, v in message.get("headers", ()) if k.lower() == b"content-length"),
                                    None)
                st["committed"] = True
                if not await self._commit(scope, st["status"], st["length"] or 0, started):
                    st["refused"] = True
                    self._later(actor="-", agency="-", method=scope.get("method", ""), path=scope.get("path", "")[:300],
                                status=503, result="error", bytes=0,
                                detail="answer withheld: its audit entry could not be stored")
                    response = error_response(503, "audit-unavailable", "the access could not be recorded in the "
                                                                        "audit log; nothing was served")
                    await response(scope, receive, send)
                    raise _Withheld
            elif message["type"] == "http.response.body":
                st["sent"] += len(message.get("body", b""))
                st["complete"] = not message.get("more_body", False)
            await send(message)

        try:
            await self.app(scope, receive, audited_send)
        except _Withheld:
            return
        finally:
            if not st["committed"]:  # no answer was started (the application failed): recorded as an error
                await self._commit(scope, st["status"], st["sent"], started)
            elif not st["refused"] and (not st["complete"] or (st["length"] is not None and st["sent"] < st["length"])):
                entry = self._entry(scope, st["status"], st["sent"], started, result="aborted")
                entry["detail"] = f"answer cut short: {st['sent']} of {st['length'] or '?'} bytes sent"
                self._later(**entry)
