"""Reading and verifying the audit log (:mod:`pipeline.access._audit` writes it).

``verify_audit`` checks every stream: each entry's hash, the link to the entry before it, gapless sequence numbers,
segment names that match their first entry, object histories (a segment deleted or rewritten with other bytes), and
the stream's **checkpoints**: the chain must reach the highest checkpoint and have the hash it records there, so that
removing the newest segments, truncating the last one or deleting a whole stream is found. A stream written before
checkpoints existed (its first entry does not say ``"checkpoints": true``) is counted as ``legacy``: its end cannot
be proven.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from pipeline.access._audit import AUDIT_PREFIX, GENESIS, entry_hash
from pipeline.storage import ObjectStore

_SEGMENT = re.compile(r"(\d{12})\.jsonl")
_CHECKPOINT = re.compile(r"checkpoint-(\d{12})\.json")


@dataclass
class AuditReport:
    """Outcome of ``verify_audit``."""

    streams: int = 0
    segments: int = 0
    entries: int = 0
    checkpoints: int = 0
    legacy: int = 0  # streams from before checkpoints: complete as far as anyone can tell
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


@dataclass
class _Stream:
    segments: list[tuple[int, str, str | None]] = field(default_factory=list)  # first seq, key, version to read
    checkpoints: list[tuple[int, str, str | None]] = field(default_factory=list)  # entries, key, version


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


def _versions(store: ObjectStore, prefix: str) -> dict[str, list[tuple[str | None, bool, bool]]]:
    by_key: dict[str, list[tuple[str | None, bool, bool]]] = {}
    for info, latest, marker in store.list_versions(prefix):
        by_key.setdefault(info.key, []).append((info.version_id, latest, marker))
    return by_key


def _is_checkpoint(key: str) -> bool:
    return _CHECKPOINT.fullmatch(key.rpartition("/")[2]) is not None


def _streams(store: ObjectStore, problems: list[str], check_versions: bool, prefix: str) -> dict[str, _Stream]:
    """Per stream, its segments and checkpoints, after checking their version history (deleted, rewritten).

    The checkpoints come from a first listing and the segments from a second one made after it: a service may be
    appending to its stream meanwhile, and a listing is read in pages, so that one listing can miss a new segment
    (its name sorts before the page already read) and see the checkpoint written after it. Every checkpoint of the
    first listing had its segment stored before it, so the second listing has them all."""
    by_key = {k: v for k, v in _versions(store, prefix).items() if _is_checkpoint(k)}
    by_key.update({k: v for k, v in _versions(store, prefix).items() if not _is_checkpoint(k)})
    streams: dict[str, _Stream] = {}
    for key, versions in sorted(by_key.items()):
        stream, _, name = key[len(prefix):].partition("/")
        segment, checkpoint = _SEGMENT.fullmatch(name), _CHECKPOINT.fullmatch(name)
        if not stream or not (segment or checkpoint):
            problems.append(f"{key}: unexpected object in the audit log")
            continue
        what = "segment" if segment else "checkpoint"
        live = [v for v, _, marker in versions if not marker]
        if any(marker and latest for _, latest, marker in versions) or not live:
            problems.append(f"{key}: {what} was deleted")
        if not live:
            if checkpoint:  # purged: no content left, but its name still says how far the stream went
                streams.setdefault(stream, _Stream()).checkpoints.append((int(checkpoint.group(1)), key, None))
            continue
        if check_versions and len(live) > 1:
            digests = {hashlib.sha256(store.get_bytes(key, v)).hexdigest() for v in live}
            if len(digests) > 1:
                problems.append(f"{key}: {what} was rewritten ({len(live)} versions with different content)")
        latest_live = next((v for v, latest, marker in versions if latest and not marker), live[0])
        found = streams.setdefault(stream, _Stream())
        (found.segments if segment else found.checkpoints).append(
            (int((segment or checkpoint).group(1)), key, latest_live))
    for found in streams.values():
        found.segments.sort()
        found.checkpoints.sort()
    return streams


def _check_chain(store: ObjectStore, stream: str, segs, report: AuditReport) -> tuple[int, dict[int, str], bool]:
    """Walk a stream's segments: (entries found, hash by seq, whether its first entry promises checkpoints)."""
    expect_seq, prev, hashes, promised = 0, GENESIS, {}, False
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
               promised: bool, report: AuditReport) -> None:
    """The stream must reach its highest checkpoint, with the hash recorded there."""
    report.checkpoints += len(found.checkpoints)
    if not found.checkpoints:
        if promised:
            report.problems.append(f"stream {stream}: its checkpoints were removed (its first entry says it keeps "
                                   f"them)")
        elif found.segments:
            report.legacy += 1
        return
    count, key, version = found.checkpoints[-1]
    if entries < count:
        gone = "the whole stream was deleted" if not found.segments else "its newest entries were removed"
        report.problems.append(f"stream {stream}: checkpoint {key} records {count} entries, {entries} found: {gone}")
        return
    if version is None or count == 0:
        return
    try:
        body = json.loads(store.get_bytes(key, version, limit=1 << 16))
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("stream") != stream or body.get("entries") != count:
        report.problems.append(f"{key}: not a checkpoint of stream {stream} at {count} entries")
    elif body.get("head") != hashes.get(count - 1):
        report.problems.append(f"{key}: entry seq {count - 1} has another hash than the checkpoint recorded "
                               f"(entries rewritten or reordered)")


def verify_audit(store: ObjectStore, prefix: str = AUDIT_PREFIX) -> AuditReport:
    """Check every stream: hashes, links, sequence numbers, object histories and checkpoints (see the module)."""
    report = AuditReport()
    streams = _streams(store, report.problems, check_versions=True, prefix=prefix)
    report.streams = len(streams)
    for stream, found in streams.items():
        entries, hashes, promised = _check_chain(store, stream, found.segments, report)
        _check_end(store, stream, found, entries, hashes, promised, report)
    return report


def read_audit(store: ObjectStore, prefix: str = AUDIT_PREFIX) -> Iterator[dict]:
    """Every stored entry of every stream, oldest first (merged by time)."""
    problems: list[str] = []
    entries: list[dict] = []
    for found in _streams(store, problems, check_versions=False, prefix=prefix).values():
        for _, key, version in found.segments:
            entries.extend(_parse_segment(store.get_bytes(key, version), key, problems))
    entries.sort(key=lambda e: (str(e.get("ts", "")), str(e.get("stream", "")), e.get("seq", 0)))
    return iter(entries)
