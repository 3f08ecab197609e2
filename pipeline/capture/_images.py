"""Page image files (TIFF, JPEG, PNG): told apart by their first bytes, decoded by Pillow's plugin for that format
only, every frame checked against the limits before it is decoded.

Pillow opens any format it knows, whatever the file is called: a ``.png`` holding EPS starts Ghostscript, FITS and
PSD have decoders of their own. Here the file's signature picks the format and Pillow is told to try that plugin and
no other; what it then reports must be the same format.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image

from pipeline.capture._inspect import refuse
from pipeline.errors import BadInputError
from pipeline.models import InputPolicy

# The formats a batch may hold, by their signatures; Pillow's format names for each.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
)
PILLOW_FORMATS = {"TIFF": ("TIFF",), "JPEG": ("JPEG", "MPO"), "PNG": ("PNG",)}
SNIFF_BYTES = 1024


def sniff(head: bytes) -> str | None:
    """The format a file's first bytes announce: TIFF, JPEG, PNG, PDF, or None for anything else."""
    for signature, name in _SIGNATURES:
        if head.startswith(signature):
            return name
    if b"%PDF-" in head[:SNIFF_BYTES]:
        return "PDF"
    return None


def format_of(name: str, head: bytes) -> str:
    """The format of a page file from its first bytes; BadInputError naming the file when it is none we decode."""
    kind = sniff(head)
    if kind is None:
        what = "a BigTIFF" if head[:4] in (b"II+\x00", b"MM\x00+") else "not a TIFF, JPEG, PNG or PDF file"
        raise refuse(name, f"{what} (its first bytes say so, whatever its name): refused")
    return kind


@contextmanager
def opened_image(name: str, data: bytes | io.BufferedIOBase, kind: str,
                 limits: InputPolicy | None = None) -> Iterator[Image.Image]:
    """Open image bytes (or a file object) with Pillow's plugin for ``kind`` only; complaints name the file."""
    fp = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # our own limit applies per frame; a decoder's complaints are refusals
            img = Image.open(fp, formats=list(PILLOW_FORMATS[kind]))
    except Image.DecompressionBombError as exc:
        allowed = f" (the standard profile allows {limits.max_pixels:,} per page)" if limits else ""
        raise refuse(name, f"an image of more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels{allowed}: a decompression "
                           f"bomb, refused") from exc
    except Exception as exc:  # hostile input can make a decoder raise anything
        raise refuse(name, f"not a readable {kind} image ({_short(exc)})") from exc
    try:
        if img.format not in PILLOW_FORMATS[kind]:
            raise refuse(name, f"announces {kind} but decodes as {img.format}: refused")
        yield img
    finally:
        img.close()


def _short(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__)[:200]


def frame_sizes(name: str, img: Image.Image, limits: InputPolicy) -> list[tuple[int, int]]:
    """Width and height of every frame, read from the headers without decoding pixels; refuses a file with more
    frames than the profile allows, a frame larger than its pixel limit (a decompression bomb), and several frames
    in anything but a TIFF (an animated PNG or a multi-picture JPEG is not a scan)."""
    sizes: list[tuple[int, int]] = []
    index = 0
    while True:
        try:
            img.seek(index)
        except EOFError:
            break
        except Exception as exc:  # hostile input can make a decoder raise anything
            raise refuse(name, f"page {index + 1} cannot be read ({_short(exc)})") from exc
        if index >= limits.max_frames:
            raise refuse(name, f"holds more than {limits.max_frames} pages; the standard profile allows at most "
                               f"{limits.max_frames} per file")
        if index and img.format != "TIFF":
            raise refuse(name, f"a {img.format} image with several frames is not a page scan: refused")
        check_pixels(f"{name}[{index}]" if index else name, name, img.size, limits)
        sizes.append(img.size)
        index += 1
    img.seek(0)
    return sizes


def check_pixels(label: str, file: str, size: tuple[int, int], limits: InputPolicy) -> None:
    """Refuse a page image larger than the profile's pixel limit, before it is decoded."""
    width, height = size
    if width <= 0 or height <= 0:
        raise BadInputError(f"{label}: an image of {width}x{height} pixels", file)
    if width * height > limits.max_pixels:
        raise BadInputError(f"{label}: {width}x{height} pixels is more than the {limits.max_pixels:,} the standard "
                            f"profile allows for one page (a decompression bomb, or not a page scan): refused", file)


def decode_frames(name: str, img: Image.Image, frames: int) -> None:
    """Decode every frame once (JPEG at 1/8 scale: every entropy-coded byte is still read) to prove it sound."""
    for index in range(frames):
        try:
            img.seek(index)
            if img.format in ("JPEG", "MPO"):
                img.draft(img.mode, (max(1, img.width // 8), max(1, img.height // 8)))
            img.load()
        except Exception as exc:  # hostile input can make a decoder raise anything
            raise refuse(name, f"page {index + 1} cannot be decoded ({_short(exc)})") from exc


def decode_page(name: str, label: str, data: bytes, kind: str, index: int, frames: int,
                limits: InputPolicy) -> Image.Image:
    """Decode one page of a file's bytes (frame ``index``) with the plugin of its format only; the pixel limit is
    checked on the frame's header first."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # our own limit applies below
            img = Image.open(io.BytesIO(data), formats=list(PILLOW_FORMATS[kind]))
    except Exception as exc:  # hostile input can make a decoder raise anything
        raise BadInputError(f"{label}: not a readable {kind} image ({_short(exc)})", name) from exc
    try:
        if img.format not in PILLOW_FORMATS[kind]:
            raise refuse(name, f"announces {kind} but decodes as {img.format}: refused")
        img.seek(index)
        check_pixels(label, name, img.size, limits)
        img.load()
    except BadInputError:
        img.close()
        raise
    except Exception as exc:  # hostile input can make a decoder raise anything
        img.close()
        raise BadInputError(f"{label}: cannot be decoded ({_short(exc)})", name) from exc
    if frames == 1:
        return img  # decoded: the image no longer needs its bytes
    # a frame of a multi-page file is copied out so that the file can be closed (an A4 colour page: ~15 ms)
    page = img.copy()
    page.info = dict(img.info)
    img.close()
    return page


def pixel_digest(img: Image.Image) -> str:
    """SHA-256 over an image's mode, size and pixel bytes."""
    h = hashlib.sha256()
    h.update(f"{img.mode}:{img.width}x{img.height}:".encode())
    h.update(img.tobytes())
    return h.hexdigest()
