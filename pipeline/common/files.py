"""Files written so that readers never see half of them, and their SHA-256 digests, streamed."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20


def sha256_and_size(path: Path, chunk: int = CHUNK) -> tuple[str, int]:
    """SHA-256 (hex) and size in bytes of a file, read once in chunks."""
    with open(path, "rb") as fh:
        return sha256_stream(iter(lambda: fh.read(chunk), b""))


def sha256_stream(chunks: Iterable[bytes], sink: BinaryIO | None = None) -> tuple[str, int]:
    """SHA-256 (hex) and size of a stream of byte chunks, each also written to ``sink`` when given."""
    h, size = hashlib.sha256(), 0
    for block in chunks:
        h.update(block)
        size += len(block)
        if sink is not None:
            sink.write(block)
    return h.hexdigest(), size


def sha256_file(path: Path, chunk: int = CHUNK) -> str:
    """SHA-256 (hex) of a file, streamed."""
    return sha256_and_size(path, chunk)[0]


def write_atomic(path: Path, data: bytes | str, *, mode: int | None = None, durable: bool = False) -> None:
    """Write a file so that readers see the old content or the new, never a part (str is written as UTF-8).

    ``mode`` sets its permissions before it appears under its name; ``durable`` flushes it to disk first, for records a
    crash must not lose half of.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_private(path: Path, data: bytes | str) -> None:
    """Write a file only its owner may read (0600), atomically and flushed to disk: keys, credentials."""
    write_atomic(path, data, mode=0o600, durable=True)
