"""The audit middleware: one entry per request, stored before the answer's last byte goes out."""

from __future__ import annotations

import asyncio
import time

from pipeline.access._audit import AuditLog
from pipeline.access._views import UNAUDITED, _error_response
from pipeline.errors import StoreError


class AuditMiddleware:
    """Appends one audit entry per request and holds the response's last byte until the entry is stored."""

    def __init__(self, app, audit: AuditLog, wait: float = 10.0):
        self.app, self.audit, self.wait = app, audit, wait
        self.in_progress = 0  # audited requests not yet recorded: the audit writer waits a moment for them
        audit.expected = lambda: self.in_progress

    async def _commit(self, scope, status: int | None, sent: int, started: float, aborted: bool) -> bool:
        self.in_progress -= 1
        fields = dict(scope.get("state", {}).get("audit", {}))
        client = scope.get("client") or ("", 0)
        status = status or 500
        result = fields.pop("result", None) or (
            "aborted" if aborted else "ok" if status < 400 else {401: "unauthenticated", 403: "denied",
                                                                 404: "not-found"}.get(status, "bad-request"
                                                                                        if status < 500 else "error"))
        entry = {"actor": fields.pop("actor", "-"), "agency": fields.pop("agency", "-"),
                 "method": scope.get("method", ""), "path": scope.get("path", "")[:300],
                 "query": scope.get("query_string", b"").decode("latin-1")[:200],
                 "status": status, "result": result, "bytes": sent, "remote": client[0],
                 "ms": round((time.perf_counter() - started) * 1000, 2), **fields}
        try:
            fut = self.audit.record(**entry)
            await asyncio.wait_for(asyncio.wrap_future(fut), self.wait)
            return True
        except (TimeoutError, StoreError):
            return False

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in UNAUDITED:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        st = {"status": None, "sent": 0, "start": None, "done": False, "length": None}
        self.in_progress += 1

        async def audited_send(message):
            if message["type"] == "http.response.start":
                st["status"] = message["status"]
                st["start"] = message  # held back: it may still have to become a 503
                for name, value in message.get("headers", ()):
                    if name.lower() == b"content-length":
                        st["length"] = int(value)
                return
            if message["type"] == "http.response.body":
                body = message.get("body", b"")
                # the entry must be stored before the client can hold the complete answer: with a Content-Length,
                # that is the chunk that reaches it, not the empty end-of-stream message after it
                last = not message.get("more_body", False) or (
                    st["length"] is not None and st["sent"] + len(body) >= st["length"])
                if last and not st["done"]:
                    st["done"] = True
                    stored = await self._commit(scope, st["status"], st["sent"] + len(body), started, False)
                    if not stored:
                        try:  # stored later, when the writer gets through again
                            self.audit.record(actor="-", agency="-", method=scope.get("method", ""),
                                              path=scope.get("path", "")[:300], status=503, result="error",
                                              bytes=0, detail="answer withheld: its audit entry could not be stored")
                        except StoreError:
                            pass
                        if st["start"] is not None:
                            response = _error_response(503, "audit-unavailable",
                                                       "the access could not be recorded in the audit log; "
                                                       "nothing was served")
                            await response(scope, receive, send)
                            return
                        raise RuntimeError("audit entry could not be stored; response cut short")
                if st["start"] is not None:
                    await send(st["start"])
                    st["start"] = None
                st["sent"] += len(body)
            await send(message)

        try:
            await self.app(scope, receive, audited_send)
        finally:
            if not st["done"]:
                st["done"] = True
                await self._commit(scope, st["status"], st["sent"], started, aborted=st["status"] is not None)
