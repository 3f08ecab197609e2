"""Reading and verifying the audit log (:mod:`pipeline.access._audit` writes it).

``verify_audit`` checks every stream: each entry's hash, the link to the entry before it, gapless sequence numbers,
segment names that match their first entry, object histories (a segment deleted or rewritten with other bytes), the
stream's **checkpoints** — the chain must reach the highest checkpoint and have the hash it records there, so that
removing the newest segments, truncating the last one or deleting a whole stream is found — and **who wrote it**:
every entry and checkpoint the store dates after the audit key was made must carry that key's MAC, so that a stream
(or a tail, or a checkpoint) written with the bucket credential alone is reported. A stream written before checkpoints
existed (its first entry does not say ``"checkpoints": true``), or wholly before the audit key was made, is counted
as ``legacy``: its end, or its author, cannot be proven.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from pipeline.access._audit import AUDIT_PREFIX, GENESIS, AuditKey, entry_hash
from pipeline.storage import ObjectInfo, ObjectStore

_STORE_CLOCK_GRAIN = timedelta(seconds=1)  # stores may date objects to the second: a later one is never legacy
_SEGMENT = re.compile(r"(\d{12})\.jsonl")
_CHECKPOINT = re.compile(r"checkpoint-(\d{12})\.json")


@dataclass
class AuditReport:
    """Outcome of ``verify_audit``."""

    streams: int = 0
    segments: int = 0
    entries: int = 0
    checkpoints: int = 0
    legacy: int = 0  # streams from before checkpoints or before the audit key: their end or author unprovable
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


@dataclass(frozen=True, order=True)
class _Part:
    """A segment or checkpoint to read: its number (first seq, or entries), key, the version to read, and whether
    the store dated it before the audit key existed (then it carries no MAC)."""

    number: int
    key: str
    version: str | None
    legacy: bool = False


@dataclass
class _Stream:
    segments: list[_Part] = field(default_factory=list)
    checkpoints: list[_Part] = field(default_factory=list)

    @property
    def legacy(self) -> bool:
        """Every object of the stream predates the audit key (it carries no MAC: its author cannot be proven)."""
        stored = [p for p in self.segments + self.checkpoints if p.version is not None]
        return bool(stored) and all(p.legacy for p in stored)


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


def _versions(store: ObjectStore, prefix: str) -> dict[str, list[tuple[ObjectInfo, bool, bool]]]:
    by_key: dict[str, list[tuple[ObjectInfo, bool, bool]]] = {}
    for info, latest, marker in store.list_versions(prefix):
        by_key.setdefault(info.key, []).append((info, latest, marker))
    return by_key


def _is_checkpoint(key: str) -> bool:
    return _CHECKPOINT.fullmatch(key.rpartition("/")[2]) is not None


def _streams(store: ObjectStore, problems: list[str], check_versions: bool, prefix: str,
             key: AuditKey | None = None) -> dict[str, _Stream]:
    """Per stream, its segments and checkpoints, after checking their version history (deleted, rewritten).

    The checkpoints come from a first listing and the segments from a second one made after it: a service may be
    appending to its stream meanwhile, and a listing is read in pages, so that one listing can miss a new segment
    (its name sorts before the page already read) and see the checkpoint written after it. Every checkpoint of the
    first listing had its segment stored before it, so the second listing has them all."""
    by_key = {k: v for k, v in _versions(store, prefix).items() if _is_checkpoint(k)}
    by_key.update({k: v for k, v in _versions(store, prefix).items() if not _is_checkpoint(k)})
    streams: dict[str, _Stream] = {}
    for name_key, versions in sorted(by_key.items()):
        stream, _, name = name_key[len(prefix):].partition("/")
        segment, checkpoint = _SEGMENT.fullmatch(name), _CHECKPOINT.fullmatch(name)
        if not stream or not (segment or checkpoint):
            problems.append(f"{name_key}: unexpected object in the audit log")
            continue
        what = "segment" if segment else "checkpoint"
        number = int((segment or checkpoint).group(1))
        live = [info for info, _, marker in versions if not marker]
        if any(marker and latest for _, latest, marker in versions) or not live:
            problems.append(f"{name_key}: {what} was deleted")
        if not live:
            if checkpoint:  # purged: no content left, but its name still says how far the stream went
                streams.setdefault(stream, _Stream()).checkpoints.append(_Part(number, name_key, None))
            continue
        if check_versions and len(live) > 1:
            digests = {hashlib.sha256(store.get_bytes(name_key, v.version_id)).hexdigest() for v in live}
            if len(digests) > 1:
                problems.append(f"{name_key}: {what} was rewritten ({len(live)} versions with different content)")
        latest_live = next((info for info, latest, marker in versions if latest and not marker), live[0])
        # the first version the store dated (later ones must hold the same bytes, checked above)
        first_stored = min((v.last_modified for v in live if v.last_modified is not None), default=None)
        legacy = key is not None and first_stored is not None and first_stored < key.since - _STORE_CLOCK_GRAIN
        found = streams.setdefault(stream, _Stream())
        (found.segments if segment else found.checkpoints).append(
            _Part(number, name_key, latest_live.version_id, legacy))
    for found in streams.values():
        found.segments.sort()
        found.checkpoints.sort()
    return streams


def _check_chain(store: ObjectStore, stream: str, segs: list[_Part], report: AuditReport,
                 key: AuditKey) -> tuple[int, dict[int, str], bool]:
    """Walk a stream's segments: (entries found, hash by seq, whether its first entry promises checkpoints)."""
    expect_seq, prev, hashes, promised = 0, GENESIS, {}, False
    for part in segs:
        report.segments += 1
        if part.number != expect_seq:
            report.problems.append(f"{part.key}: starts at seq {part.number}, expected {expect_seq} (entries missing)")
        entries = _parse_segment(store.get_bytes(part.key, part.version), part.key, report.problems)
        if entries and entries[0].get("seq") != part.number:
            report.problems.append(f"{part.key}: first entry has seq {entries[0].get('seq')}, the name says "
                                   f"{part.number}")
        forged = [] if part.legacy else [e.get("seq") for e in entries if not key.signed(e)]
        if forged:
            report.problems.append(f"{part.key}: {len(forged)} entr{'y' if len(forged) == 1 else 'ies'} (seq "
                                   f"{forged[0]}{'…' if len(forged) > 1 else ''}) not authenticated with this "
                                   f"installation's audit key: written by someone else (the bucket credential "
                                   f"alone cannot make them)")
        for entry in entries:
            report.entries += 1
            seq = entry.get("seq")
            where = f"{part.key} seq {seq}"
            if seq == 0:
                promised = entry.get("checkpoints") is True
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
            if isinstance(seq, int):
                hashes[seq] = str(prev)
    return expect_seq, hashes, promised


def _check_end(store: ObjectStore, stream: str, found: _Stream, entries: int, hashes: dict[int, str],
               promised: bool, report: AuditReport, key: AuditKey) -> None:
    """The stream must reach its highest checkpoint, with the hash recorded there."""
    report.checkpoints += len(found.checkpoints)
    if not found.checkpoints:
        if promised:
            report.problems.append(f"stream {stream}: its checkpoints were removed (its first entry says it keeps "
                                   f"them)")
        elif found.segments and not found.legacy:
            report.problems.append(f"stream {stream}: no checkpoint, yet written after the audit key was made")
        return
    last = found.checkpoints[-1]
    count = last.number
    if entries < count:
        gone = "the whole stream was deleted" if not found.segments else "its newest entries were removed"
        report.problems.append(f"stream {stream}: checkpoint {last.key} records {count} entries, {entries} found: "
                               f"{gone}")
        return
    if last.version is None:
        return
    try:
        body = json.loads(store.get_bytes(last.key, last.version, limit=1 << 16))
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("stream") != stream or body.get("entries") != count:
        report.problems.append(f"{last.key}: not a checkpoint of stream {stream} at {count} entries")
    elif not last.legacy and not key.signed(body, "checkpoint"):
        report.problems.append(f"{last.key}: checkpoint not authenticated with this installation's audit key: "
                               f"written by someone else")
    elif count and body.get("head") != hashes.get(count - 1):
        report.problems.append(f"{last.key}: entry seq {count - 1} has another hash than the checkpoint recorded "
                               f"(entries rewritten or reordered)")


def verify_audit(store: ObjectStore, key: AuditKey, prefix: str = AUDIT_PREFIX) -> AuditReport:
    """Check every stream: hashes, links, sequence numbers, object histories, checkpoints and the audit key's MACs
    (see the module)."""
    report = AuditReport()
    streams = _streams(store, report.problems, check_versions=True, prefix=prefix, key=key)
    report.streams = len(streams)
    for stream, found in streams.items():
        entries, hashes, promised = _check_chain(store, stream, found.segments, report, key)
        _check_end(store, stream, found, entries, hashes, promised, report, key)
        if found.legacy:
            report.legacy += 1
    return report


def read_audit(store: ObjectStore, prefix: str = AUDIT_PREFIX) -> Iterator[dict]:
    """Every stored entry of every stream, oldest first (merged by time)."""
    problems: list[str] = []
    entries: list[dict] = []
    for found in _streams(store, problems, check_versions=False, prefix=prefix).values():
        for part in found.segments:
            entries.extend(_parse_segment(store.get_bytes(part.key, part.version), part.key, problems))
    entries.sort(key=lambda e: (str(e.get("ts", "")), str(e.get("stream", "")), e.get("seq", 0)))
    return iter(entries)
