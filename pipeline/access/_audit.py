"""The access audit log: hash-chained entries stored in the object store, checked by ``dossier audit verify``.

Every writer (one service process, one CLI run) appends to its own **stream**
``system/audit/<stream-id>/<first-seq>.jsonl``: a sequence of immutable segment objects, each holding consecutive
entries as JSON lines. Each entry carries ``seq`` (0, 1, 2, … within the stream), ``prev`` (the hash of the previous
entry, 64 zeros for the first) and ``hash`` (SHA-256 of the entry's canonical JSON without ``hash``). Editing an entry
breaks its hash; recomputing the hashes breaks the link to the next entry or, when the whole tail is rewritten,
leaves the original segment as an older object version, which ``verify`` compares (segments are written once, and a
retried write repeats the identical bytes). Deleting a segment leaves a delete marker or a gap in ``seq``. Against
someone who can purge object versions, set ``DOSSIER_AUDIT_LOCK_DAYS`` so segments are written under COMPLIANCE
retention.

Concurrency: inside one process, :meth:`AuditLog.record` assigns ``seq``/``prev`` under a lock and a single writer
thread stores pending entries in batches (group commit: while one segment is being written, new entries queue up and
go into the next). Callers wait for their entry's future, so a request is answered only after its entry is stored.
Several service instances need no coordination: each writes its own stream, and ``show`` merges streams by time.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import re
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pipeline.common import utcnow
from pipeline.errors import StoreError
from pipeline.models import RetentionPolicy
from pipeline.storage import ObjectStore

AUDIT_PREFIX = "system/audit/"
GENESIS = "0" * 64
_SEGMENT = re.compile(r"(\d{12})\.jsonl")


def canonical_json(entry: dict) -> bytes:
    """The bytes an entry's hash is computed over (sorted keys, no spaces, UTF-8)."""
    return json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def entry_hash(entry: dict) -> str:
    """SHA-256 of an entry without its own ``hash`` field."""
    return hashlib.sha256(canonical_json({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


def new_stream_id(kind: str = "api") -> str:
    """A unique, time-ordered stream name: ``<utc time>-<kind>-<host>-<pid>-<random>``."""
    host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:40] or "host"
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{kind}-{host}-{os.getpid()}-{secrets.token_hex(3)}"


class AuditUnstored(StoreError):
    """An entry could not be stored in time. It stays queued (the chain has no gaps) and may be stored later:
    ``entry`` is what will be, so that the caller can record that what it announced did not happen."""

    def __init__(self, message: str, entry: dict):
        super().__init__(message)
        self.entry = entry


class AuditLog:
    """Appends entries to one stream; a writer thread stores them in batches (group commit)."""

    def __init__(self, store: ObjectStore, stream: str | None = None, kind: str = "api", max_batch: int = 500,
                 lock_days: int | None = None, prefix: str = AUDIT_PREFIX, linger: float = 0.0,
                 expected: Callable[[], int] | None = None):
        self.store = store
        self.prefix = prefix
        # group commit: before writing, wait up to `linger` seconds while `expected()` says more entries are on
        # their way (requests in progress that will record one), so that they share one segment write
        self.linger = linger
        self.expected = expected
        self.stream = stream or new_stream_id(kind)
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,200}", self.stream):
            raise StoreError(f"bad audit stream name {self.stream!r}")
        days = store.config.audit_lock_days if lock_days is None else lock_days
        self.retention = RetentionPolicy(mode="COMPLIANCE", days=days) if days > 0 else None
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
            entry["hash"] = entry_hash(entry)
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
            data = b"".join(canonical_json(e) + b"\n" for e, _ in batch)
            try:
                self.store.put_bytes(self._segment_key(batch[0][0]["seq"]), data, "application/x-ndjson",
                                     retention=self.retention)
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


# --------------------------------------------------------------------------------------------------------------------
# Reading and verifying


@dataclass
class AuditReport:
    """Outcome of ``verify_audit``."""

    streams: int = 0
    segments: int = 0
    entries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


def _parse_segment(data: bytes, key: str, problems: list[str]) -> list[dict]:
    entries = []
    for n, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            problems.append(f"{key} line {n}: not a JSON entry ({exc})")
            continue
        entries.append(entry)
    return entries


def _segments(store: ObjectStore, problems: list[str], check_versions: bool, prefix: str) \
        -> dict[str, list[tuple[int, str, str]]]:
    """Per stream, its segments (first seq, key, version id to read), after checking their version history."""
    by_key: dict[str, list[tuple[str | None, bool, bool]]] = {}
    for info, latest, marker in store.list_versions(prefix):
        by_key.setdefault(info.key, []).append((info.version_id, latest, marker))
    streams: dict[str, list[tuple[int, str, str]]] = {}
    for key, versions in sorted(by_key.items()):
        rest = key[len(prefix):]
        stream, _, name = rest.partition("/")
        match = _SEGMENT.fullmatch(name)
        if not stream or not match:
            problems.append(f"{key}: unexpected object in the audit log")
            continue
        live = [v for v, _, marker in versions if not marker]
        if any(marker and latest for _, latest, marker in versions) or not live:
            problems.append(f"{key}: segment was deleted")
        if not live:
            continue
        if check_versions and len(live) > 1:
            digests = {hashlib.sha256(store.get_bytes(key, v)).hexdigest() for v in live}
            if len(digests) > 1:
                problems.append(f"{key}: segment was rewritten ({len(live)} versions with different content)")
        latest_live = next((v for v, latest, marker in versions if latest and not marker), live[0])
        streams.setdefault(stream, []).append((int(match.group(1)), key, latest_live))
    for segs in streams.values():
        segs.sort()
    return streams


def verify_audit(store: ObjectStore, prefix: str = AUDIT_PREFIX) -> AuditReport:
    """Check every stream: hashes, links, sequence numbers, and that no segment was deleted or rewritten."""
    report = AuditReport()
    streams = _segments(store, report.problems, check_versions=True, prefix=prefix)
    report.streams = len(streams)
    for stream, segs in streams.items():
        expect_seq, prev = 0, GENESIS
        for first, key, version in segs:
            report.segments += 1
            if first != expect_seq:
                report.problems.append(f"{key}: starts at seq {first}, expected {expect_seq} (entries missing)")
            entries = _parse_segment(store.get_bytes(key, version), key, report.problems)
            if entries and entries[0].get("seq") != first:
                report.problems.append(f"{key}: first entry has seq {entries[0].get('seq')}, the name says {first}")
            for entry in entries:
                report.entries += 1
                seq = entry.get("seq")
                where = f"{key} seq {seq}"
                if entry.get("stream") != stream:
                    report.problems.append(f"{where}: belongs to stream {entry.get('stream')!r}")
                if entry.get("hash") != entry_hash(entry):
                    report.problems.append(f"{where}: entry was edited (hash does not match its content)")
                if entry.get("prev") != prev:
                    report.problems.append(f"{where}: chain broken (prev does not match the entry before it)")
                if seq != expect_seq:
                    report.problems.append(f"{where}: expected seq {expect_seq}")
                expect_seq = (seq if isinstance(seq, int) else expect_seq) + 1
                prev = entry.get("hash")
    return report


def read_audit(store: ObjectStore, prefix: str = AUDIT_PREFIX) -> Iterator[dict]:
    """Every stored entry of every stream, oldest first (merged by time)."""
    problems: list[str] = []
    entries: list[dict] = []
    for segs in _segments(store, problems, check_versions=False, prefix=prefix).values():
        for _, key, version in segs:
            entries.extend(_parse_segment(store.get_bytes(key, version), key, problems))
    entries.sort(key=lambda e: (str(e.get("ts", "")), str(e.get("stream", "")), e.get("seq", 0)))
    return iter(entries)
