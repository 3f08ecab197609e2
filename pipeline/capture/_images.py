"""Page image files (TIFF, JPEG, PNG): told apart by their first bytes, decoded by Pillow's plugin for that format
only, every frame checked against the limits before it is decoded.

Pillow opens any format it knows, whatever the file is called: a ``.png`` holding EPS starts Ghostscript, FITS and
PSD have decoders of their own. Here the file's signature picks the format and Pillow is told to try that plugin and
no other; what it then reports must be the same format.
"""

from __future__ import annotations

import hashlib
import io
import math
import mmap
import re
import struct
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
# A resolution that makes the page larger than this (inches) is not a real scan resolution (72 dpi defaults).
MAX_PLAUSIBLE_PAPER_INCHES = 25.0
MAX_JPEG_SCANS = 100
"""Scans a JPEG may hold: a baseline JPEG has 1, libjpeg's progressive JPEG 6 (grey) or 10 (colour); libtiff refuses
more than 100 in a JPEG-compressed TIFF (LIBTIFF_JPEG_MAX_ALLOWED_SCAN_NUMBER). Each scan is a pass over the whole
image: 20,000 repeated scans cost ~50 CPU-seconds per decode."""
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")  # what ends a scan's data: not stuffing, a restart, or fill


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


def file_dpi(img: Image.Image) -> float | None:
    """The resolution the file declares, or None when absent, not a number (a TIFF's 0/0 or 1/0 reads as NaN, a
    float tag can hold NaN or infinity) or implausible for a paper page."""
    dpi = img.info.get("dpi")
    if not dpi:
        return None
    try:
        x = float(dpi[0])
    except (TypeError, ValueError, IndexError, ZeroDivisionError):
        return None
    if not math.isfinite(x) or x <= 1 or max(img.width, img.height) / x > MAX_PLAUSIBLE_PAPER_INCHES:
        return None
    return x


def check_jpeg(name: str, fd: int) -> None:
    """Walk a JPEG file's markers without decoding it (a whole 2 GB file is read through a memory map, each scan's
    data skipped by one regular-expression search): refuse it when it holds more than :data:`MAX_JPEG_SCANS` scans
    (a decoding bomb) or ends before its end-of-image marker (truncated)."""
    with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as data:
        size, at, scans = len(data), 2, 0
        while True:
            while at + 1 < size and data[at] == 0xFF and data[at + 1] == 0xFF:
                at += 1  # fill bytes before a marker
            if at + 2 > size or data[at] != 0xFF:
                break
            marker = data[at + 1]
            if marker == 0xD9:
                return
            if 0xD0 <= marker <= 0xD7 or marker == 0x01:
                at += 2
                continue
            if at + 4 > size:
                break
            end = at + 2 + struct.unpack_from(">H", data, at + 2)[0]
            if marker == 0xDA:
                scans += 1
                if scans > MAX_JPEG_SCANS:
                    raise refuse(name, f"JPEG 含超过 {MAX_JPEG_SCANS} 个扫描段（疑为恶意构造的解码炸弹），"
                                       f"已拒收；请重新扫描该页 — a JPEG of more than {MAX_JPEG_SCANS} scans "
                                       f"(each a pass over the whole image): refused as a decoding bomb")
                found = _JPEG_MARKER.search(data, end)
                end = found.start() if found else size
            at = end
    raise refuse(name, "a JPEG that ends before its end-of-image marker (truncated): refused")


FRAMED_MODES = {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "I",
                "I;16", "I;16L", "I;16B", "I;16N", "F"}


def image_header(img: Image.Image) -> dict:
    """What it takes, besides its pixel bytes (``img.tobytes()``), to make an image again: mode, size, palette and
    transparency."""
    header: dict = {"mode": img.mode, "size": list(img.size)}
    if img.mode in ("P", "PA"):
        header["palette"] = img.getpalette("RGB")
    transparency = img.info.get("transparency")
    if isinstance(transparency, bytes):
        header["transparency_bytes"] = list(transparency)
    elif isinstance(transparency, (int, tuple)):
        header["transparency"] = transparency
    return header


def image_from(header: dict, pixels: bytes | bytearray) -> Image.Image:
    """The image :func:`image_header` and its pixel bytes describe; ValueError when they do not fit together."""
    mode, size = header["mode"], tuple(header["size"])
    if mode not in FRAMED_MODES or len(size) != 2:
        raise ValueError(f"not an image header: mode {mode!r}, size {size!r}")
    img = Image.frombytes(mode, size, pixels)
    if "palette" in header:
        img.putpalette(header["palette"], "RGB")
    if "transparency_bytes" in header:
        img.info["transparency"] = bytes(header["transparency_bytes"])
    elif "transparency" in header:
        value = header["transparency"]
        img.info["transparency"] = tuple(value) if isinstance(value, list) else value
    return img
