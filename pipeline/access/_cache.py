"""A small time-to-live cache for the token and grant look-ups of the fetch service, loading each key once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TtlCache:
    """Values kept for ``ttl`` seconds (0: never kept); cleared wholesale when it grows past ``size`` entries."""

    def __init__(self, ttl: float, size: int = 10_000):
        self.ttl, self.size = ttl, size
        self._data: dict[object, tuple[float, object]] = {}
        self._lock = threading.Lock()
        self._loading = [threading.Lock() for _ in range(64)]

    def get(self, key: object) -> tuple[object, bool]:
        """(value, True) for a fresh entry, else (None, False)."""
        with self._lock:
            hit = self._data.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return hit[1], True
        return None, False

    def load(self, key: object, loader: Callable[[], object]) -> object:
        """The fresh value, else ``loader()``'s, remembered. Concurrent misses of one key wait for a single load:
        when an entry expires under load, 16 requests in flight make one database query, not 16."""
        value, hit = self.get(key)
        if hit:
            return value
        with self._loading[hash(key) % len(self._loading)]:
            value, hit = self.get(key)
            if not hit:
                value = loader()
                self.put(key, value)
            return value

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
