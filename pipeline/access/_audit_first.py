"""The audit entry comes first: an act is announced in the audit log, and stored, before it takes effect.

The administrators' commands (``dossier token``, ``grant``, ``user`` …) and publication (``dossier.publish`` before
``dossier.json`` is written) follow the same steps, kept here once:

- :meth:`AuditFirst.announce` stores the entry and waits for it; when it cannot be stored (``AuditUnstored``) the
  act must not happen, and the caller's error says why;
- leaving the block after a failure that followed an announcement (stored, or still queued and possibly stored later:
  ``AuditUnstored.entry``) records a void entry naming it, so the log never claims an act that did not happen —
  unless :meth:`AuditFirst.took_effect` said it had;
- the act's stream is closed on leaving: what is pending is stored within 30 s after success (a failure to store it
  is the caller's error), 2 s after a failure (whose own error is the one the caller sees) — unless the act was
  written to a stream others share (``close=False``: the service's, for the operators' desk), which stays open.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.access._audit import AuditLog
from pipeline.errors import StoreError

VoidFields = Callable[[dict, str], dict]
"""void(announced, failure): the fields of the entry saying that the act ``announced`` did not happen, ``failure``
naming why (the error's type and the start of its message)."""


class AuditFirst:
    """One act on its own audit stream, announced before it takes effect and voided (by the entry ``void`` makes)
    when it then fails."""

    def __init__(self, log: AuditLog, void: VoidFields, close: bool = True):
        self.log = log
        self.void = void
        self.close = close
        self.announced: dict | None = None
        self.done = False

    def announce(self, **fields) -> dict:
        """Store the act's entry and wait for it (raises ``AuditUnstored`` when it cannot be: nothing may happen)."""
        self.announced = self.log.record_and_wait(**fields)
        return self.announced

    def took_effect(self) -> None:
        """The act happened: a failure after this voids nothing."""
        self.done = True

    def __enter__(self) -> AuditFirst:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        announced = self.announced or getattr(exc, "entry", None)
        if exc is not None and announced is not None and not self.done:
            self.log.record(**self.void(announced, f"{type(exc).__name__}: {str(exc)[:200]}"))
        if not self.close:
            return
        try:
            self.log.close(timeout=30.0 if exc is None else 2.0)
        except StoreError:
            if exc is None:
                raise  # the act happened and was audited; only what followed could not be stored (printed to stderr)
