"""What the decoding child does (:mod:`._child` runs it with a CPU budget): list a page file's pages, prove them
sound, and decode one page. Everything that makes a decoder read a batch's bytes is here; ``python -m`` runs it.

Each operation takes JSON-able arguments and returns a JSON-able reply and a payload of bytes (a page's pixels).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pipeline.capture._child import serve
from pipeline.capture._images import (
    SNIFF_BYTES,
    check_jpeg,
    decode_frames,
    decode_page,
    file_dpi,
    format_of,
    frame_sizes,
    image_header,
    opened_image,
    pixel_digest,
)
from pipeline.capture._inspect import open_regular, read_regular
from pipeline.capture._pdf import pdf_page_count, read_pdf_page
from pipeline.errors import BadInputError
from pipeline.models import InputPolicy


def _head(path: Path) -> bytes:
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as fh:
        return fh.read(SNIFF_BYTES)


def count_pages(path: str, limits: dict) -> tuple[dict, bytes]:
    """A file's format (from its first bytes) and how many pages it holds, from its headers and structure only (a
    PDF's pages checked, a JPEG's markers walked): nothing is decoded. BadInputError naming the file."""
    file, policy = Path(path), InputPolicy.model_validate(limits)
    kind = format_of(file.name, _head(file))
    if kind == "PDF":
        return {"kind": kind, "count": pdf_page_count(file, file.name, policy)}, b""
    fd = open_regular(file)
    with os.fdopen(fd, "rb") as fh:
        if kind == "JPEG":
            check_jpeg(file.name, fh.fileno())
        with opened_image(file.name, fh, kind, policy) as img:
            return {"kind": kind, "count": len(frame_sizes(file.name, img, policy))}, b""


def prove_pages(path: str, kind: str, count: int) -> tuple[dict, bytes]:
    """Decode every page of a TIFF or PNG once, so that a truncated one stops the batch before any page is read."""
    file = Path(path)
    fd = open_regular(file)
    with os.fdopen(fd, "rb") as fh, opened_image(file.name, fh, kind) as img:
        decode_frames(file.name, img, count)
    return {}, b""


def read_page_pixels(path: str, index: int, frames: int, kind: str, label: str,
                     limits: dict) -> tuple[dict, bytes]:
    """One page decoded: its image header (with the resolution its file declares and its SHA-256) and its pixels.

    The SHA-256 of a single-page image file is that of the very bytes decoded (read once: a file changed meanwhile
    cannot give one hash and other pixels); of the decoded pixels otherwise."""
    file, policy = Path(path), InputPolicy.model_validate(limits)
    if kind == "PDF":
        image, dpi = read_pdf_page(file, file.name, label, index, policy)
        digest = pixel_digest(image)
    else:
        data = read_regular(file, policy.max_file_bytes)
        found = format_of(file.name, data[:SNIFF_BYTES])
        if kind and found != kind:
            raise BadInputError(f"{label}: was {kind} when the batch was listed and is {found} now: the file changed",
                                file.name)
        image = decode_page(file.name, label, data, found, index, frames, policy)
        digest = hashlib.sha256(data).hexdigest() if frames == 1 else pixel_digest(image)
        del data
        dpi = file_dpi(image)
    header = {**image_header(image), "dpi": dpi, "sha256": digest}
    return header, image.tobytes()


OPERATIONS = {"count": count_pages, "prove": prove_pages, "read": read_page_pixels}

if __name__ == "__main__":
    serve(OPERATIONS)
