"""The hot folder's layout: rooms, batches being dropped, claims in ``.processing``, outcomes in ``done/`` and
``quarantine/`` (with ``reason.txt``, the only file ever added to a batch)."""

from __future__ import annotations

import os
import stat
from datetime import tzinfo
from pathlib import Path
from typing import Literal

from pipeline.common import write_atomic
from pipeline.operations._names import PROCESSING, QUARANTINE, REASON_FILE, RESERVED, HotFolderError
from pipeline.operations._rooms import RoomConfig, RoomsFile, RoomsFileError, load_rooms_file, room_config


def _valid_name(name: str) -> bool:
    return bool(name) and not name.startswith((".", "_")) and name not in RESERVED


def real_folder(path: Path) -> Path:
    """Make (or find) a folder that is really a folder, not a link to one planted by someone: the claim area and
    the outcome folders must never lead out of the hot folder."""
    path.mkdir(parents=True, exist_ok=True)
    if stat.S_ISLNK(os.lstat(path).st_mode):
        raise HotFolderError(f"{path} is a symbolic link: refusing to move batches through it")
    return path


class HotFolder:
    """A hot folder root: its rooms, incoming batches, the claim area and the outcome folders; ``rooms`` is the
    administrator's rooms file (re-read when it changes) or its content."""

    def __init__(self, root: Path, rooms: Path | RoomsFile, zone: tzinfo | None = None):
        self.root = Path(root).resolve()
        self.zone = zone  # the time zone reason.txt shows times in (None: UTC)
        if not self.root.is_dir():
            raise HotFolderError(f"hot folder {self.root} does not exist or is not a folder")
        self.rooms_path = None if isinstance(rooms, RoomsFile) else Path(rooms)
        self._rooms: RoomsFile | None = rooms if isinstance(rooms, RoomsFile) else None
        self._rooms_seen: tuple[int, int] | None = None
        if self.rooms_path is not None:
            if self.rooms_path.resolve().is_relative_to(self.root):
                raise RoomsFileError(f"the rooms file {self.rooms_path} must not lie inside the hot folder: the rooms "
                                     f"could write it")
            self.bindings()

    def bindings(self) -> RoomsFile:
        """The administrator's rooms file, read again whenever it changed (size or mtime)."""
        if self.rooms_path is None:
            assert self._rooms is not None
            return self._rooms
        try:
            st = os.stat(self.rooms_path)
            seen = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            seen = None
        if self._rooms is None or seen != self._rooms_seen:
            self._rooms = load_rooms_file(self.rooms_path)
            self._rooms_seen = seen
        return self._rooms

    def rooms(self) -> list[str]:
        """Room folders, sorted (links to folders are not rooms)."""
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.is_symlink() and _valid_name(p.name))

    def room_config(self, room: str) -> RoomConfig:
        """A room's settings: its own room.yaml under the administrator's binding (HotFolderError if it has none)."""
        return room_config(room, self.root / room, self.bindings())

    def incoming(self, room: str) -> list[Path]:
        """Batch folders waiting in a room (not yet claimed)."""
        folder = self.root / room
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if (p.is_dir() or p.is_symlink()) and _valid_name(p.name))

    def room_of(self, path: Path) -> tuple[str, str] | None:
        """(room, batch) when a path lies inside an incoming batch folder, else None."""
        try:
            parts = Path(os.path.abspath(path)).relative_to(self.root).parts  # a link is not followed out
        except ValueError:
            return None
        if len(parts) < 2 or not _valid_name(parts[0]) or not _valid_name(parts[1]):
            return None
        return parts[0], parts[1]

    def claim_path(self, room: str, batch: str) -> Path:
        """Where a claimed batch lives while it is processed."""
        return self.root / PROCESSING / room / batch

    def claim(self, batch_dir: Path) -> Path | None:
        """Claim a batch by an atomic rename into ``.processing/<room>/``; None if it is gone or the name is taken
        by a batch still in flight (it is tried again later)."""
        batch_dir = Path(batch_dir)
        room = batch_dir.parent.name
        target = self.claim_path(room, batch_dir.name)
        real_folder(self.root / PROCESSING)
        real_folder(target.parent)
        if os.path.lexists(target):
            return None
        try:
            # rename(2) replaces an empty target folder silently; the check above and a non-empty batch make a
            # lost race fail with ENOTEMPTY instead.
            os.rename(batch_dir, target)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if os.path.lexists(target):
                return None
            raise HotFolderError(f"cannot claim batch {batch_dir}: {exc}") from exc
        return target

    def unclaim(self, claimed: Path, room: str) -> bool:
        """Put a claimed batch back into its room (it changed while being claimed); False if the name is taken."""
        back = self.root / room / claimed.name
        if os.path.lexists(back):
            return False
        os.rename(claimed, back)
        return True

    def processing(self) -> list[tuple[str, Path]]:
        """Every claimed batch: (room, path). A link planted among them is listed too (it is refused when it is
        looked at); a room folder in the claim area that is a link is not followed."""
        base = self.root / PROCESSING
        if not base.is_dir() or base.is_symlink():
            return []
        return [(room.name, batch) for room in sorted(base.iterdir()) if room.is_dir() and not room.is_symlink()
                for batch in sorted(room.iterdir()) if batch.is_dir() or batch.is_symlink()]

    def outcome_path(self, outcome: Literal["done", "quarantine"], room: str, batch: str) -> Path:
        """A free path in an outcome folder: ``<outcome>/<room>/<batch>``, or ``<batch>~2``, ``~3``… when taken."""
        real_folder(self.root / outcome)
        folder = real_folder(self.root / outcome / room)
        candidate = folder / batch
        n = 2
        while os.path.lexists(candidate):
            candidate = folder / f"{batch}~{n}"
            n += 1
        return candidate


def write_reason(folder: Path, text: str) -> Path:
    """Write ``reason.txt`` inside a quarantined batch (only ever after it was moved to quarantine)."""
    if folder.parent.parent.name != QUARANTINE:
        raise HotFolderError(f"refusing to write {REASON_FILE} into {folder}: it is not in a quarantine folder")
    path = folder / REASON_FILE
    write_atomic(path, (text.rstrip() + "\n").encode("utf-8"))
    return path
