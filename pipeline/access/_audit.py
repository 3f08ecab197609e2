"""The access audit log: hash-chained entries stored in the object store, checked by ``dossier audit verify``.

Every writer (one service process, one CLI run, one publication) appends to its own **stream**
``system/audit/<stream-id>/<first-seq>.jsonl``: a sequence of immutable segment objects, each holding consecutive
entries as JSON lines. Each entry carries ``seq`` (0, 1, 2, … within the stream), ``prev`` (the hash of the previous
entry, 64 zeros for the first) and ``hash`` (SHA-256 of the entry's canonical JSON without ``hash``). Editing an entry
breaks its hash; recomputing the hashes breaks the link to the next entry or, when the whole tail is rewritten,
leaves the original segment as an older object version, which ``verify`` compares (segments are written once, and a
retried write repeats the identical bytes). Deleting a segment leaves a delete marker or a gap in ``seq``.

**Checkpoints** make the end of a stream provable: before its first segment a stream writes
``<stream-id>/checkpoint-000000000000.json``, and after every segment ``checkpoint-<entries>.json`` naming how many
entries the stream holds and the hash of the last one (the first entry says ``"checkpoints": true``). ``verify``
takes the highest checkpoint of each stream (its name alone: a listing) and refuses a chain that ends before it or
whose entry there has another hash: the newest segments, or a whole stream, cannot be removed unnoticed.

**Authentication**: the bucket credential — held by every worker, watcher and service — can write any object, so a
hash chain alone proves nothing about who wrote it: anyone holding it could write a whole stream with correct hashes
and checkpoints. Every entry therefore carries ``mac``, an HMAC-SHA256 of its hash, and every checkpoint one over its
body, with the installation's **audit key** (:class:`AuditKey`), kept in the access database (``audit_keys``, made
by migration 0005), never in the bucket. ``verify`` recomputes them: an entry or a checkpoint stored after the key
was made (the store's own ``Last-Modified``, which no client sets) without the right MAC is reported. Objects stored
before the key existed cannot carry one: their streams are counted as ``legacy``.

**Object lock**: segments and checkpoints are written under COMPLIANCE retention, so that no one — not even with the
bucket's credentials — can purge a version before it expires: ``DOSSIER_AUDIT_LOCK_DAYS`` days, by default
:data:`DEFAULT_LOCK_DAYS` (ten years) wherever the bucket has object lock (the embedded store's has); 0 turns it off.
Without object lock someone holding the bucket credential could purge a stream's segments *and* its checkpoints.

Concurrency: inside one process, :meth:`AuditLog.record` assigns ``seq``/``prev`` under a lock and a single writer
thread stores pending entries in batches (group commit: while one segment is being written, new entries queue up and
go into the next). Callers wait for their entry's future, so a request is answered only after its entry and the
checkpoint after it are stored. Several service instances need no coordination: each writes its own stream, and
``show`` merges streams by time. Reading and verifying: :mod:`pipeline.access._audit_verify`.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import hmac
import json
import os
import re
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from minio.error import S3Error
from sqlalchemy import select

from pipeline.access.db import Database, DatabaseError, tables
from pipeline.common import utcnow
from pipeline.errors import StoreError
from pipeline.models import RetentionPolicy
from pipeline.storage import ObjectStore

AUDIT_PREFIX = "system/audit/"
GENESIS = "0" * 64
DEFAULT_LOCK_DAYS = 3650
"""COMPLIANCE retention of audit objects when ``DOSSIER_AUDIT_LOCK_DAYS`` is unset and the bucket has object lock."""


def canonical_json(entry: dict) -> bytes:
    """The bytes an entry's hash is computed over (sorted keys, no spaces, UTF-8)."""
    return json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def entry_hash(entry: dict) -> str:
    """SHA-256 of an entry without its own ``hash`` and ``mac`` fields."""
    return hashlib.sha256(canonical_json({k: v for k, v in entry.items() if k not in ("hash", "mac")})).hexdigest()


@dataclass(frozen=True)
class AuditKey:
    """The installation's audit key: the HMAC secret, and since when entries are authenticated with it."""

    secret: bytes
    since: datetime

    def entry_mac(self, entry: dict) -> str:
        """The MAC an entry carries: over its hash, which covers every other field."""
        return hmac.new(self.secret, b"dossier-audit-entry\0" + str(entry.get("hash")).encode(),
                        hashlib.sha256).hexdigest()

    def checkpoint_mac(self, body: dict) -> str:
        """The MAC a checkpoint carries: over its body without the MAC."""
        return hmac.new(self.secret, b"dossier-audit-checkpoint\0" + canonical_json(
            {k: v for k, v in body.items() if k != "mac"}), hashlib.sha256).hexdigest()

    def signed(self, entry: dict, what: str = "entry") -> bool:
        """True when an entry (or a checkpoint body: ``what="checkpoint"``) carries this key's MAC."""
        mac = entry.get("mac")
        expected = self.entry_mac(entry) if what == "entry" else self.checkpoint_mac(entry)
        return isinstance(mac, str) and hmac.compare_digest(mac, expected)


def new_stream_id(kind: str = "api") -> str:
    """A unique, time-ordered stream name: ``<utc time>-<kind>-<host>-<pid>-<random>``."""
    host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:40] or "host"
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{kind}-{host}-{os.getpid()}-{secrets.token_hex(3)}"


def audit_key(db: Database) -> AuditKey:
    """The installation's audit key, from the access database (made by its migrations)."""
    k = tables.audit_keys
    with db.read() as conn:
        row = conn.execute(select(k.c.secret, k.c.created_at).order_by(k.c.id).limit(1)).first()
    if row is None:
        raise DatabaseError(f"access database {db.display} has no audit key: run 'dossier db upgrade'")
    return AuditKey(bytes.fromhex(row.secret), row.created_at)


class AuditUnstored(StoreError):
    """An entry could not be stored in time. It stays queued (the chain has no gaps) and may be stored later:
    ``entry`` is what will be, so that the caller can record that what it announced did not happen."""

    def __init__(self, message: str, entry: dict):
        super().__init__(message)
        self.entry = entry


class AuditLog:
    """Appends entries to one stream; a writer thread stores them in batches (group commit)."""

    def __init__(self, store: ObjectStore, key: AuditKey, stream: str | None = None, kind: str = "api",
                 max_batch: int = 500,
                 lock_days: int | None = None, prefix: str = AUDIT_PREFIX, linger: float = 0.0,
                 expected: Callable[[], int] | None = None):
        self.store, self.key = store, key
        self.prefix = prefix
        # group commit: before writing, wait up to `linger` seconds while `expected()` says more entries are on
        # their way (requests in progress that will record one), so that they share one segment write
        self.linger = linger
        self.expected = expected
        self.stream = stream or new_stream_id(kind)
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,200}", self.stream):
            raise StoreError(f"bad audit stream name {self.stream!r}")
        # None: DEFAULT_LOCK_DAYS where the bucket has object lock (decided before the first write)
        self.lock_days = store.config.audit_lock_days if lock_days is None else lock_days
        self.retention: RetentionPolicy | None = None
        self._opened = False
        self.max_batch = max_batch
        self._cond = threading.Condition()
        self._seq = 0
        self._last = GENESIS
        self._pending: list[tuple[dict, concurrent.futures.Future]] = []
        self._inflight: list[tuple[dict, concurrent.futures.Future]] | None = None
        self._closing = False
        self._give_up = False
        self._thread: threading.Thread | None = None
        self.segments_written = 0

    def record(self, **fields) -> concurrent.futures.Future:
        """Append an entry (``ts``, ``seq``, ``prev``, ``hash`` are added); the future resolves once it is stored."""
        fut: concurrent.futures.Future = concurrent.futures.Future()
        with self._cond:
            if self._closing:
                raise StoreError(f"audit stream {self.stream} is closed")
            entry = {"ts": utcnow().isoformat(timespec="microseconds"),
                     "stream": self.stream, "seq": self._seq, "prev": self._last, **fields}
            if self._seq == 0:
                entry["checkpoints"] = True  # verify then insists on this stream's checkpoints
            entry["hash"] = entry_hash(entry)
            entry["mac"] = self.key.entry_mac(entry)
            fut.entry = entry  # type: ignore[attr-defined]  (what will be stored, for AuditUnstored)
            self._seq += 1
            self._last = entry["hash"]
            self._pending.append((entry, fut))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"audit-{self.stream[-6:]}", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return fut

    def record_and_wait(self, timeout: float = 30.0, **fields) -> dict:
        """Append an entry and wait until it is stored (raises :class:`AuditUnstored` when it could not be)."""
        fut = self.record(**fields)
        try:
            return fut.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            raise AuditUnstored(f"audit entry not stored within {timeout:.0f} s (stream {self.stream})",
                                fut.entry) from None
        except StoreError as exc:
            raise AuditUnstored(f"audit entry not stored: {exc}", fut.entry) from exc

    def _segment_key(self, first_seq: int) -> str:
        return f"{self.prefix}{self.stream}/{first_seq:012d}.jsonl"

    def _open(self) -> None:
        """Before the first segment: decide the retention and write the stream's first checkpoint (no entries)."""
        days = self.lock_days
        if days is None:
            days = DEFAULT_LOCK_DAYS if object_lock_enabled(self.store) else 0
        self.retention = RetentionPolicy(mode="COMPLIANCE", days=days) if days > 0 else None
        self._checkpoint(0, GENESIS)
        self._opened = True

    def _checkpoint(self, entries: int, head: str) -> None:
        body = {"stream": self.stream, "entries": entries, "head": head,
                "ts": utcnow().isoformat(timespec="microseconds")}
        body["mac"] = self.key.checkpoint_mac(body)
        self.store.put_bytes(f"{self.prefix}{self.stream}/checkpoint-{entries:012d}.json",
                             json.dumps(body, sort_keys=True).encode("utf-8"), "application/json",
                             retention=self.retention)

    def _store_batch(self, batch: list[tuple[dict, concurrent.futures.Future]]) -> None:
        """The segment, then the checkpoint after it (a retry writes both again, with the same segment bytes)."""
        if not self._opened:
            self._open()
        data = b"".join(canonical_json(e) + b"\n" for e, _ in batch)
        self.store.put_bytes(self._segment_key(batch[0][0]["seq"]), data, "application/x-ndjson",
                             retention=self.retention)
        last = batch[-1][0]
        self._checkpoint(last["seq"] + 1, last["hash"])

    def _run(self) -> None:
        delay = 0.2
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if not self._pending:
                    return
                if self._inflight is None:
                    if self.linger > 0 and self.expected is not None:
                        deadline = time.monotonic() + self.linger
                        while (not self._closing and len(self._pending) < self.max_batch and self.expected() > 0
                               and time.monotonic() < deadline):
                            self._cond.wait(timeout=max(0.0, deadline - time.monotonic()))
                    # a failed segment is retried with exactly the same entries, so all its versions are identical
                    self._inflight = self._pending[:self.max_batch]
                batch = self._inflight
            try:
                self._store_batch(batch)
            except Exception as exc:  # noqa: BLE001 - the writer thread must survive any store failure
                error = exc if isinstance(exc, StoreError) else StoreError(f"audit write failed: {exc}")
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(error)
                with self._cond:
                    if self._closing and self._give_up:
                        return
                    self._cond.wait(timeout=delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.2
            with self._cond:
                del self._pending[:len(batch)]
                self._inflight = None
                self.segments_written += 1
                self._cond.notify_all()
            for entry, fut in batch:
                if not fut.done():
                    fut.set_result(entry)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every entry recorded so far is stored."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StoreError(f"{len(self._pending)} audit entries of stream {self.stream} not stored "
                                     f"within {timeout:.0f} s")
                self._cond.wait(timeout=min(left, 0.5))

    def close(self, timeout: float = 30.0) -> None:
        """Store what is pending and stop the writer; entries that cannot be stored are printed to stderr."""
        try:
            self.flush(timeout)
        except StoreError:
            with self._cond:
                lost = [e for e, _ in self._pending]
            for e in lost:
                print("AUDIT-UNSTORED " + canonical_json(e).decode("utf-8"), file=sys.stderr)
            raise
        finally:
            with self._cond:
                self._closing = True
                self._give_up = True
                self._cond.notify_all()
            if self._thread is not None:
                self._thread.join(timeout=5.0)


def object_lock_enabled(store: ObjectStore) -> bool:
    """True when the store's bucket has object lock (so retention can be set); StoreError when it cannot tell."""
    try:
        store.client.get_object_lock_config(store.bucket)
    except S3Error as exc:
        if "ObjectLockConfiguration" in exc.code or exc.code in ("NotImplemented", "InvalidRequest"):
            return False
        raise StoreError(f"cannot read the object lock of bucket {store.bucket}: {exc.code} {exc.message}") from exc
    except Exception as exc:
        raise StoreError(f"cannot read the object lock of bucket {store.bucket}: {exc}") from exc
    return True
