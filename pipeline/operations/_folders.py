"""The hot folder's layout: rooms, batches being dropped, claims in ``.processing``, outcomes in ``done/`` and
``quarantine/`` (with ``reason.txt``, the only file ever added to a batch)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pipeline.common import write_atomic
from pipeline.operations._names import PROCESSING, QUARANTINE, REASON_FILE, RESERVED, HotFolderError
from pipeline.operations._rooms import RoomConfig, load_room_config


def _valid_name(name: str) -> bool:
    return bool(name) and not name.startswith((".", "_")) and name not in RESERVED


class HotFolder:
    """A hot folder root: its rooms, incoming batches, the claim area and the outcome folders."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise HotFolderError(f"hot folder {self.root} does not exist or is not a folder")

    def rooms(self) -> list[str]:
        """Room folders, sorted."""
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _valid_name(p.name))

    def room_config(self, room: str) -> RoomConfig:
        """A room's settings."""
        return load_room_config(self.root / room)

    def incoming(self, room: str) -> list[Path]:
        """Batch folders waiting in a room (not yet claimed)."""
        folder = self.root / room
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.is_dir() and _valid_name(p.name))

    def room_of(self, path: Path) -> tuple[str, str] | None:
        """(room, batch) when a path lies inside an incoming batch folder, else None."""
        try:
            parts = Path(path).resolve().relative_to(self.root).parts
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
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            return None
        try:
            # rename(2) replaces an empty target folder silently; the check above and a non-empty batch make a
            # lost race fail with ENOTEMPTY instead.
            os.rename(batch_dir, target)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if target.exists():
                return None
            raise HotFolderError(f"cannot claim batch {batch_dir}: {exc}") from exc
        return target

    def unclaim(self, claimed: Path, room: str) -> bool:
        """Put a claimed batch back into its room (it changed while being claimed); False if the name is taken."""
        back = self.root / room / claimed.name
        if back.exists():
            return False
        os.rename(claimed, back)
        return True

    def processing(self) -> list[tuple[str, Path]]:
        """Every claimed batch: (room, path)."""
        base = self.root / PROCESSING
        if not base.is_dir():
            return []
        return [(room.name, batch) for room in sorted(base.iterdir()) if room.is_dir()
                for batch in sorted(room.iterdir()) if batch.is_dir()]

    def outcome_path(self, outcome: Literal["done", "quarantine"], room: str, batch: str) -> Path:
        """A free path in an outcome folder: ``<outcome>/<room>/<batch>``, or ``<batch>~2``, ``~3``… when taken."""
        folder = self.root / outcome / room
        folder.mkdir(parents=True, exist_ok=True)
        candidate = folder / batch
        n = 2
        while candidate.exists():
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
