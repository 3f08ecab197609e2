"""What keeps guessing from paying off and hashing from taking the service down.

- **Brakes**: failed sign-ins are counted per account (the name tried, whether it exists or not: the answer must not
  tell) and per source address, failed bearer tokens per source address. After ``free`` failures a key must wait
  before its next attempt — 1 s, then twice as long after each further failure, up to ``max_wait`` — and is
  answered 429 with ``Retry-After`` meanwhile, without a password being hashed or a token looked up. A key's
  failures are forgotten ``forget_after`` seconds after its last one; a successful sign-in clears its account's
  (not its source's: one good account does not launder guesses at others). The account brake stops at 5 minutes, so
  that someone failing on purpose locks a colleague out for no longer than that; the source brake goes to 15.
  Counts are kept in each service process (``dossier serve --workers N``: each worker brakes on its own).
- **The password pool**: scrypt (32 MiB and ~0.1 s a check) runs in a pool of its own — two threads by default — not
  in the thread pool every request shares, and at most ``queue`` checks wait for it; beyond that a sign-in is
  answered 503 with ``Retry-After`` at once. Sixty-four sign-ins at once then cost two hashes' memory, and ``/health``
  and the fetch API keep their threads.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class BrakePolicy:
    """How many failures are free, and how long the waits after them grow."""

    free: int
    max_wait: float
    first_wait: float = 1.0
    forget_after: float = 3600.0

    def wait_after(self, failures: int) -> float:
        """Seconds the next attempt must wait after this many failures in a row."""
        if failures <= self.free:
            return 0.0
        return min(self.max_wait, self.first_wait * 2 ** min(failures - self.free - 1, 40))


@dataclass
class _Record:
    failures: int
    last: float


class Brake:
    """Failure counts per key and the wait each key owes (thread-safe; bounded to ``size`` keys)."""

    def __init__(self, policy: BrakePolicy, clock: Callable[[], float] = time.monotonic, size: int = 100_000):
        self.policy, self.clock, self.size = policy, clock, size
        self._records: dict[object, _Record] = {}
        self._lock = threading.Lock()

    def wait(self, key: object) -> float:
        """Seconds before ``key`` may try again (0: now)."""
        now = self.clock()
        with self._lock:
            record = self._records.get(key)
            if record is None:
                return 0.0
            if now - record.last > self.policy.forget_after:
                del self._records[key]
                return 0.0
            return max(0.0, record.last + self.policy.wait_after(record.failures) - now)

    def failed(self, key: object) -> None:
        """Count a failure of ``key``."""
        now = self.clock()
        with self._lock:
            record = self._records.get(key)
            if record is None or now - record.last > self.policy.forget_after:
                if len(self._records) >= self.size:
                    self._forget_old(now)
                record = self._records[key] = _Record(0, now)
            record.failures += 1
            record.last = now

    def succeeded(self, key: object) -> None:
        """Forget ``key``'s failures."""
        with self._lock:
            self._records.pop(key, None)

    def _forget_old(self, now: float) -> None:
        stale = [k for k, r in self._records.items() if now - r.last > self.policy.forget_after]
        for k in stale or sorted(self._records, key=lambda k: self._records[k].last)[: self.size // 10]:
            del self._records[k]


ACCOUNT = BrakePolicy(free=5, max_wait=300.0)
SIGN_IN_SOURCE = BrakePolicy(free=20, max_wait=900.0)
TOKEN_SOURCE = BrakePolicy(free=20, max_wait=60.0)


@dataclass
class Brakes:
    """The service's brakes: per account, per source signing in, per source presenting bearer tokens."""

    accounts: Brake = field(default_factory=lambda: Brake(ACCOUNT))
    sign_in_sources: Brake = field(default_factory=lambda: Brake(SIGN_IN_SOURCE))
    token_sources: Brake = field(default_factory=lambda: Brake(TOKEN_SOURCE))


def retry_after(seconds: float) -> str:
    """The ``Retry-After`` value for a wait: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


class Busy(Exception):
    """Too many password checks are waiting already: try again in a moment."""


class PasswordPool:
    """Password hashing off the shared thread pool: ``workers`` threads, at most ``queue`` checks waiting."""

    def __init__(self, workers: int = 2, queue: int = 16):
        self.workers, self.queue = workers, queue
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="password")
        self._waiting = 0
        self._lock = threading.Lock()

    async def run(self, fn: Callable[..., T], *args) -> T:
        """``fn(*args)`` in the pool; :class:`Busy` at once when ``queue`` checks are waiting already."""
        with self._lock:
            if self._waiting >= self.queue:
                raise Busy
            self._waiting += 1
        try:
            return await asyncio.wrap_future(self._executor.submit(fn, *args))
        finally:
            with self._lock:
                self._waiting -= 1

    def close(self) -> None:
        """Stop the pool's threads (after the checks in it)."""
        self._executor.shutdown(wait=True)
