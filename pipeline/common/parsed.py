"""Small record files read often (a ledger, the runs' records) parsed again only when they change."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


class ParsedFiles(Generic[T]):
    """Files parsed once and again only when they changed (inode, size or mtime): a page that reads a thousand
    records every few seconds pays a ``stat`` for each unchanged one, not a read and a parse. ``parse`` gets a file's
    bytes and returns its value, or raises ``ValueError``/``OSError`` for a file to be left out (it is tried again
    when it changes)."""

    def __init__(self, parse: Callable[[bytes], T]):
        self.parse = parse
        self._seen: dict[str, tuple[tuple[int, int, int], T | None, Path]] = {}
        self._lock = threading.Lock()

    def read(self, paths: Iterable[str | Path]) -> list[tuple[Path, T]]:
        """The values of the files (those that parse), in the order given; files no longer given are forgotten."""
        found, kept = [], {}
        with self._lock:
            seen_before = self._seen
        for path in paths:
            name = os.fspath(path)
            try:
                st = os.stat(name)
            except OSError:
                continue
            key = (st.st_ino, st.st_size, st.st_mtime_ns)
            seen = seen_before.get(name)
            if seen is not None and seen[0] == key:
                value, as_path = seen[1], seen[2]
            else:
                as_path = Path(name)
                try:
                    with open(name, "rb") as fh:
                        value = self.parse(fh.read())
                except (OSError, ValueError):
                    value = None
            kept[name] = (key, value, as_path)
            if value is not None:
                found.append((as_path, value))
        with self._lock:
            self._seen = kept
        return found


def files_below(folder: Path, depth: int, name: str | None = None, suffix: str = "") -> list[str]:
    """The files at ``depth`` below ``folder`` (1: in it; 3: as ``*/*/name``) named ``name`` (else every one ending in
    ``suffix``), hidden names left out, as such a glob finds them but at a fraction of pathlib's cost (a file named
    ``name`` is listed whether it exists or not: reading it tells)."""
    level = [os.fspath(folder)]
    for _ in range(depth - 1):
        level = [entry.path for parent in level for entry in _entries(parent) if entry.is_dir(follow_symlinks=False)
                 and not entry.name.startswith(".")]
    if name is not None:
        return [os.path.join(parent, name) for parent in level]
    return [entry.path for parent in level for entry in _entries(parent)
            if entry.name.endswith(suffix) and not entry.name.startswith(".")]


def _entries(folder: str) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            return list(it)
    except OSError:
        return []
