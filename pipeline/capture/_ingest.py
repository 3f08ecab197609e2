"""Find the pages of a batch folder, read them one at a time, hash them, and reject bad input with reasons.

A batch is a folder of page images in scan order (``.tif/.tiff`` incl. multi-page and Group 4, ``.jpg/.jpeg``,
``.png``, or a scanner's image-only ``.pdf``) with an optional ``batch.json``. Nothing here ever writes to the batch.
Every file is looked at without being opened first (:mod:`._inspect`); its first bytes, not its name, then decide how
it is decoded (TIFF, JPEG and PNG by Pillow's plugin for that format only, PDF by MuPDF), and each page is checked
against the standard profile's input limits before it is decoded.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from pydantic import ValidationError

from pipeline.capture._images import (
    SNIFF_BYTES,
    decode_frames,
    decode_page,
    format_of,
    frame_sizes,
    opened_image,
    pixel_digest,
)
from pipeline.capture._inspect import (
    MANIFEST_NAME,
    MAX_MANIFEST_BYTES,
    inspect_batch,
    open_regular,
    read_regular,
    sha256_regular,
    shown,
)
from pipeline.capture._pdf import pdf_page_count, read_pdf_page
from pipeline.common import syntax_problem, validation_problems
from pipeline.errors import BadInputError
from pipeline.models import BatchManifest, InputPolicy

# A resolution that makes the page larger than this (inches) is not a real scan resolution (72 dpi defaults).
MAX_PLAUSIBLE_PAPER_INCHES = 25.0
DEFAULT_LIMITS = InputPolicy()


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
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
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
    """Every page of the batch in scan order, each file checked and every page fully decoded once to prove it sound.

    First every file is looked at without opening it, then each file's headers are read (frames, sizes: nothing is
    decoded until the batch is known to be within the profile's limits), then every page of an image file is decoded
    once, ``workers`` files at a time (the decoders release the GIL): a truncated file stops the batch before any OCR
    is spent on it. The first bad file in scan order is the one reported.
    """
    files = batch_files(batch_dir, limits)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        found = list(pool.map(lambda p: _page_count(p, limits), files))
        total = sum(count for _, count in found)
        if total > limits.max_pages:
            raise BadInputError(f"batch {shown(batch_dir.name)} holds {total:,} pages; the standard profile allows at "
                                f"most {limits.max_pages:,}")
        list(pool.map(lambda item: _prove(*item), [(p, k, c) for p, (k, c) in zip(files, found) if k != "PDF"]))
    return [PageRef(path.name, i, count, kind) for path, (kind, count) in zip(files, found) for i in range(count)]


def _head(path: Path) -> bytes:
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as fh:
        return fh.read(SNIFF_BYTES)


def _page_count(path: Path, limits: InputPolicy) -> tuple[str, int]:
    """A file's format (from its first bytes) and how many pages it holds (from its headers: nothing is decoded);
    BadInputError naming the file."""
    kind = format_of(path.name, _head(path))
    if kind == "PDF":
        return kind, pdf_page_count(path, path.name, limits)
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as fh, opened_image(path.name, fh, kind, limits) as img:
        return kind, len(frame_sizes(path.name, img, limits))


def _prove(path: Path, kind: str, count: int) -> None:
    """Decode every page of an image file once (PDF pages are checked, not rendered, up front)."""
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as fh, opened_image(path.name, fh, kind) as img:
        decode_frames(path.name, img, count)


def file_dpi(img: Image.Image) -> float | None:
    """The resolution the file declares, or None when absent or implausible for a paper page."""
    dpi = img.info.get("dpi")
    if not dpi:
        return None
    try:
        x = float(dpi[0])
    except (TypeError, ValueError, IndexError):
        return None
    if x <= 1 or max(img.width, img.height) / x > MAX_PLAUSIBLE_PAPER_INCHES:
        return None
    return x


def page_file_digest(batch_dir: Path, ref: PageRef, limits: InputPolicy = DEFAULT_LIMITS) -> str | None:
    """The page's SHA-256 without decoding it (that of the file, for single-page image files); None otherwise."""
    if ref.frames == 1 and ref.kind != "PDF":
        return sha256_regular(batch_dir / ref.file, limits.max_file_bytes)[0]
    return None


def read_page(batch_dir: Path, ref: PageRef, limits: InputPolicy = DEFAULT_LIMITS) -> RawPage:
    """Decode one page. Its SHA-256 is that of the very bytes decoded for a single-page image file (read once into
    memory: a file changed meanwhile cannot give one hash and other pixels), of the decoded page otherwise."""
    path = batch_dir / ref.file
    if ref.kind == "PDF":
        image, dpi = read_pdf_page(path, ref.file, ref.label, ref.index, limits)
        return RawPage(ref, image, dpi, pixel_digest(image))
    data = read_regular(path, limits.max_file_bytes)
    kind = format_of(ref.file, data[:SNIFF_BYTES])
    if ref.kind and kind != ref.kind:
        raise BadInputError(f"{ref.label}: was {ref.kind} when the batch was listed and is {kind} now: the file "
                            f"changed", ref.file)
    image = decode_page(ref.file, ref.label, data, kind, ref.index, ref.frames, limits)
    digest = hashlib.sha256(data).hexdigest() if ref.frames == 1 else pixel_digest(image)
    del data
    return RawPage(ref, image, file_dpi(image), digest)
