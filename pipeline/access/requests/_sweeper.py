"""The service's background sweep: release waiting requests whose dossier appeared, record expired access."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class Sweeper:
    """Calls ``sweep()`` every ``interval`` seconds in a daemon thread until stopped; failures are logged and
    retried at the next round (access ends on time anyway: expiry is checked on every request)."""

    def __init__(self, sweep, interval: float):
        self.sweep, self.interval = sweep, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0

    def start(self) -> None:
        """Start sweeping (no-op when already started)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="request-sweeper", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sweep()
            except Exception as exc:  # noqa: BLE001 - a store or database hiccup must not end the sweeping
                log.warning("request sweep failed: %s: %s", type(exc).__name__, exc)
            self.rounds += 1

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current round."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
