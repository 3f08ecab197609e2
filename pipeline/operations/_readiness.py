"""When a batch is complete: a marker written last, or no change for a quiet period, and nothing still being copied."""

from __future__ import annotations

import os
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.capture import MANIFEST_NAME, READY_MARKER, shown
from pipeline.operations._names import NOT_PAGES
from pipeline.operations._rooms import RoomConfig

# Names that copy tools give files they are still writing; a batch holding one is not complete.
IN_PROGRESS_SUFFIXES = (".part", ".partial", ".tmp", ".temp", ".crdownload", ".filepart", ".download", ".!sync")


_RSYNC_TEMP = re.compile(r"^\..+\.[A-Za-z0-9]{6}$")  # rsync writes .name.XXXXXX and renames it at the end


@dataclass(frozen=True)
class FileState:
    """What the watcher compares between looks at a file."""

    size: int
    mtime_ns: int
    ctime_ns: int

    @property
    def arrived_ns(self) -> int:
        """When the file last changed here: ctime cannot be set back by copy tools that keep the source mtime."""
        return max(self.mtime_ns, self.ctime_ns)


Snapshot = dict[str, FileState]


def snapshot(batch_dir: Path) -> Snapshot:
    """Every entry under the batch folder (relative POSIX path → size and times, from ``lstat``: links, pipes and
    devices are listed as themselves, never followed or opened, and refused by name when the batch is claimed);
    empty if the folder is gone."""
    found: Snapshot = {}

    def walk(folder: str, prefix: str) -> None:
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(st.st_mode):
                walk(entry.path, f"{prefix}{entry.name}/")
            else:
                found[prefix + entry.name] = FileState(st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    walk(str(batch_dir), "")
    return dict(sorted(found.items()))


def in_progress_files(snap: Snapshot) -> list[str]:
    """Files whose names say a copy tool is still writing them."""
    out = []
    for rel in snap:
        name = rel.rsplit("/", 1)[-1]
        if name.lower().endswith(IN_PROGRESS_SUFFIXES) or name.startswith("~$") or _RSYNC_TEMP.match(name):
            out.append(rel)
    return out


@dataclass(frozen=True)
class Readiness:
    """Whether a batch may be claimed now, and why (or why not)."""

    ready: bool
    reason: str


def marker_of(snap: Snapshot) -> str | None:
    """The completion marker present: READY if there is one, else batch.json, else None."""
    for name in (READY_MARKER, MANIFEST_NAME):
        if name in snap:
            return name
    return None


def readiness(snap: Snapshot, config: RoomConfig, stable_for: float, now: float | None = None) -> Readiness:
    """Decide completeness from a snapshot and how long (seconds) it has been seen unchanged.

    A batch holding only markers is never complete. A marker (READY, else batch.json) written last makes the batch
    complete once everything has held still for ``settle_seconds``. A batch that has been quiet for
    ``quiet_seconds`` is complete in quiet mode, and in marker mode too when it has a marker that was not written
    last.
    """
    now = time.time() if now is None else now
    if not snap:
        return Readiness(False, "empty")
    if not any(rel not in NOT_PAGES for rel in snap):
        # e.g. batch.json copied first: it is "last" only until the first page arrives
        return Readiness(False, "no page files yet")
    busy = in_progress_files(snap)
    if busy:
        return Readiness(False, f"still being written: {', '.join(shown(b) for b in sorted(busy)[:3])}")
    if stable_for < config.settle_seconds:
        return Readiness(False, f"changing (unchanged for {stable_for:.1f} s of {config.settle_seconds:g} s)")
    newest = max(s.arrived_ns for s in snap.values()) / 1e9
    quiet = max(stable_for, now - newest)
    marker = marker_of(snap)
    if marker is not None:
        marker_time = snap[marker].arrived_ns
        later = sorted(rel for rel, s in snap.items() if rel != marker and s.arrived_ns > marker_time)
        if not later:
            return Readiness(True, f"{marker} written last")
        if quiet >= config.quiet_seconds:
            return Readiness(True, f"{marker} present but not written last; quiet for {quiet:.0f} s")
        return Readiness(False, f"{', '.join(shown(n) for n in later[:3])} written after {marker}; waiting for a new "
                                f"marker or {config.quiet_seconds:g} s of quiet")
    if config.completion == "quiet":
        if quiet >= config.quiet_seconds:
            return Readiness(True, f"quiet for {quiet:.0f} s")
        return Readiness(False, f"quiet for {quiet:.0f} s of {config.quiet_seconds:g} s")
    return Readiness(False, f"waiting for {READY_MARKER} or {MANIFEST_NAME}")


class StabilityTracker:
    """Remembers each batch's last snapshot and since when it has been unchanged."""

    def __init__(self) -> None:
        self._seen: dict[Path, tuple[Snapshot, float]] = {}

    def observe(self, batch_dir: Path, snap: Snapshot, now: float | None = None) -> float:
        """Record a look at the batch; returns how many seconds its snapshot has been unchanged."""
        now = time.monotonic() if now is None else now
        last = self._seen.get(batch_dir)
        if last is None or last[0] != snap:
            self._seen[batch_dir] = (snap, now)
            return 0.0
        return now - last[1]

    def forget(self, batch_dir: Path) -> None:
        """Drop what is known of a batch (claimed, or gone)."""
        self._seen.pop(batch_dir, None)

    def tracked(self) -> list[Path]:
        """Batches being watched for stability."""
        return list(self._seen)
