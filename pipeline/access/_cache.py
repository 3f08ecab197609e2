"""A small time-to-live cache shared by the token, grant and session look-ups of the fetch service."""

from __future__ import annotations

import threading
import time


class TtlCache:
    """Values kept for ``ttl`` seconds (0: never kept); cleared wholesale when it grows past ``size`` entries."""

    def __init__(self, ttl: float, size: int = 10_000):
        self.ttl, self.size = ttl, size
        self._data: dict[object, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def get(self, key: object) -> tuple[object, bool]:
        """(value, True) for a fresh entry, else (None, False)."""
        with self._lock:
            hit = self._data.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return hit[1], True
        return None, False

    def put(self, key: object, value: object) -> None:
        """Remember a value from now on."""
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._data) > self.size:
                self._data.clear()
            self._data[key] = (time.monotonic(), value)

    def drop(self, key: object) -> None:
        """Forget one entry (after this process changed it)."""
        with self._lock:
            self._data.pop(key, None)
