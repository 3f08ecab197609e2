"""Find the pages of a batch folder, read them one at a time, hash them, and reject bad input with reasons.

A batch is a folder of page images in scan order (``.tif/.tiff`` incl. multi-page and Group 4, ``.jpg/.jpeg``,
``.png``, or a scanner's image-only ``.pdf``) with an optional ``batch.json``. Nothing here ever writes to the batch.
Every file is looked at without being opened first (:mod:`._inspect`); its first bytes, not its name, then decide how
it is decoded (TIFF, JPEG and PNG by Pillow's plugin for that format only, PDF by MuPDF), and each page is checked
against the standard profile's input limits before it is decoded. Every decoder runs in a child process with a CPU
budget (:mod:`._child`, :mod:`._decoder`): a file that is a decoding bomb is refused by name when its budget is spent.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from pydantic import ValidationError

from pipeline.capture._child import decode_in_child
from pipeline.capture._images import file_dpi, image_from
from pipeline.capture._inspect import (
    MANIFEST_NAME,
    MAX_MANIFEST_BYTES,
    inspect_batch,
    read_regular,
    sha256_regular,
    shown,
)
from pipeline.common import parse_json, syntax_problem, validation_problems
from pipeline.errors import BadInputError, DossierError
from pipeline.models import BatchManifest, InputPolicy

DEFAULT_LIMITS = InputPolicy()
__all__ = ["file_dpi"]  # kept importable from here: the resolution a page file declares


@dataclass(frozen=True)
class PageRef:
    """One page of a batch: the file (relative to the batch folder) and the page index inside it."""

    file: str
    index: int = 0
    frames: int = 1  # how many pages the file holds
    kind: str = ""  # TIFF, JPEG, PNG or PDF, from the file's first bytes when the batch was listed

    @property
    def label(self) -> str:
        """How a page is named in messages: ``p0007.tif`` or ``scan.tif[3]`` for multi-page files."""
        return self.file if self.frames == 1 else f"{self.file}[{self.index}]"


@dataclass(frozen=True)
class RawPage:
    """A decoded page as received: the image, the resolution its file declares (None if none) and its SHA-256."""

    ref: PageRef
    image: Image.Image
    dpi: float | None
    sha256: str


def read_batch_manifest(batch_dir: Path) -> BatchManifest | None:
    """The batch's ``batch.json``, validated; None when the batch has none. Errors name the field and the problem,
    never a value from the file."""
    path = batch_dir / MANIFEST_NAME
    if not os.path.lexists(path):
        return None
    data = read_regular(path, MAX_MANIFEST_BYTES)
    try:
        raw = parse_json(data.decode("utf-8"))
    except ValueError as exc:  # bad UTF-8, bad syntax, nested too deep
        raise BadInputError(f"{MANIFEST_NAME} in batch {shown(batch_dir.name)}: {syntax_problem(exc)}",
                            MANIFEST_NAME) from None
    try:
        return BatchManifest.model_validate(raw)
    except ValidationError as exc:
        raise BadInputError(f"{MANIFEST_NAME} in batch {shown(batch_dir.name)} is invalid: "
                            f"{validation_problems(exc)}", MANIFEST_NAME) from None


def batch_files(batch_dir: Path, limits: InputPolicy = DEFAULT_LIMITS) -> list[Path]:
    """The page files of a batch in scan order (natural sort of names), after every file of the batch passed
    :func:`inspect_batch`: anything that is not a plain page file stops the batch, by name."""
    return [batch_dir / f.name for f in inspect_batch(batch_dir, limits) if f.is_page]


def list_pages(batch_dir: Path, workers: int = 2, limits: InputPolicy = DEFAULT_LIMITS) -> list[PageRef]:
    """Every page of the batch in scan order, each file checked and every TIFF or PNG page decoded once to prove it
    sound (a JPEG's structure is walked instead: it is decoded once, when its page is read).

    First every file is looked at without opening it, then each file's headers are read (frames, sizes: nothing is
    decoded until the batch is known to be within the profile's limits), then every page of a TIFF or PNG is decoded
    once, ``workers`` files at a time: a truncated file stops the batch before any OCR is spent on it. Every decoder
    runs in a child under the profile's CPU budget. The first bad file in scan order is the one reported.
    """
    files = batch_files(batch_dir, limits)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        found = list(pool.map(lambda p: _page_count(p, limits), files))
        total = sum(count for _, count in found)
        if total > limits.max_pages:
            raise BadInputError(f"batch {shown(batch_dir.name)} holds {total:,} pages; the standard profile allows at "
                                f"most {limits.max_pages:,}")
        proved = [(p, k, c) for p, (k, c) in zip(files, found) if k in ("TIFF", "PNG")]
        list(pool.map(lambda item: _prove(*item, limits), proved))
    return [PageRef(path.name, i, count, kind) for path, (kind, count) in zip(files, found) for i in range(count)]


def _page_count(path: Path, limits: InputPolicy) -> tuple[str, int]:
    """A file's format (from its first bytes) and how many pages it holds (from its headers: nothing is decoded);
    BadInputError naming the file."""
    reply, _ = decode_in_child("count", {"path": str(path), "limits": limits.model_dump()},
                               cpu_seconds=limits.max_decode_cpu_seconds, label=path.name, file=path.name)
    return reply["kind"], int(reply["count"])


def _prove(path: Path, kind: str, count: int, limits: InputPolicy) -> None:
    """Decode every page of a TIFF or PNG once (a PDF's pages are checked, not rendered, up front)."""
    decode_in_child("prove", {"path": str(path), "kind": kind, "count": count},
                    cpu_seconds=limits.max_decode_cpu_seconds * count, label=path.name, file=path.name)


def page_file_digest(batch_dir: Path, ref: PageRef, limits: InputPolicy = DEFAULT_LIMITS) -> str | None:
    """The page's SHA-256 without decoding it (that of the file, for single-page image files); None otherwise."""
    if ref.frames == 1 and ref.kind != "PDF":
        return sha256_regular(batch_dir / ref.file, limits.max_file_bytes)[0]
    return None


def read_page(batch_dir: Path, ref: PageRef, limits: InputPolicy = DEFAULT_LIMITS) -> RawPage:
    """Decode one page, in a child under the profile's CPU budget. Its SHA-256 is that of the very bytes decoded for
    a single-page image file, of the decoded page otherwise."""
    args = {"path": str(batch_dir / ref.file), "index": ref.index, "frames": ref.frames, "kind": ref.kind,
            "label": ref.label, "limits": limits.model_dump()}
    reply, pixels = decode_in_child("read", args, cpu_seconds=limits.max_decode_cpu_seconds, label=ref.label,
                                    file=ref.file)
    try:
        image = image_from(reply, pixels)
    except (KeyError, ValueError) as exc:
        raise DossierError(f"{ref.label}: the decoding process answered with an unusable image ({exc})") from None
    del pixels
    return RawPage(ref, image, reply.get("dpi"), reply["sha256"])
