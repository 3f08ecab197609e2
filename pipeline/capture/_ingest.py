"""Find the pages of a batch folder, read them one at a time, hash them, and reject bad input with reasons.

A batch is a folder of page images in scan order (``.tif/.tiff`` incl. multi-page and Group 4, ``.jpg/.jpeg``,
``.png``, or a scanner's image-only ``.pdf``) with an optional ``batch.json``. Nothing here ever writes to the batch.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageSequence, UnidentifiedImageError
from pydantic import ValidationError

from pipeline.common import sha256_file
from pipeline.errors import BadInputError
from pipeline.models import BatchManifest

MANIFEST_NAME = "batch.json"
READY_MARKER = "READY"
IMAGE_SUFFIXES = {".tif", ".tiff", ".jpg", ".jpeg", ".png"}
PDF_SUFFIXES = {".pdf"}
# Files scanners and desktops leave behind; skipped, never an error.
IGNORED_NAMES = {MANIFEST_NAME, READY_MARKER, "Thumbs.db", "desktop.ini", "reason.txt"}
MAX_PIXELS = 150_000_000  # a 600-dpi A2 sheet; anything larger is refused as a decompression bomb

# A resolution that makes the page larger than this (inches) is not a real scan resolution (72 dpi defaults).
MAX_PLAUSIBLE_PAPER_INCHES = 25.0


@dataclass(frozen=True)
class PageRef:
    """One page of a batch: the file (relative to the batch folder) and the page index inside it."""

    file: str
    index: int = 0
    frames: int = 1  # how many pages the file holds

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


def natural_key(name: str) -> list:
    """Sort key that orders p2 before p10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]



def read_manifest(batch_dir: Path) -> BatchManifest | None:
    """The batch's ``batch.json``, validated; None when the batch has none."""
    path = batch_dir / MANIFEST_NAME
    if not path.exists():
        return None
    try:
        return BatchManifest.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"{MANIFEST_NAME} in {batch_dir} cannot be read: {exc}", MANIFEST_NAME) from exc
    except ValidationError as exc:
        raise BadInputError(f"{MANIFEST_NAME} in {batch_dir} is invalid: {exc}", MANIFEST_NAME) from exc


def batch_files(batch_dir: Path) -> list[Path]:
    """The page files of a batch in scan order (natural sort of names); refuses anything that is not a page file."""
    if not batch_dir.is_dir():
        raise BadInputError(f"batch folder {batch_dir} does not exist or is not a folder")
    pages: list[Path] = []
    for path in sorted(batch_dir.iterdir(), key=lambda p: natural_key(p.name)):
        if path.name in IGNORED_NAMES or path.name.startswith("."):
            continue
        if path.is_dir():
            raise BadInputError(f"{path.name}: unexpected folder in batch {batch_dir.name}", path.name)
        suffix = path.suffix.lower()
        if suffix not in IMAGE_SUFFIXES | PDF_SUFFIXES:
            raise BadInputError(
                f"{path.name}: not a page image (accepted: .tif .tiff .jpg .jpeg .png .pdf)", path.name
            )
        pages.append(path)
    if not pages:
        raise BadInputError(f"batch {batch_dir.name} holds no page images", None)
    return pages


def _open_image(path: Path) -> Image.Image:
    """Open an image file, turning every decoder complaint into a BadInputError naming the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit applies below
            img = Image.open(path)
            if img.width * img.height > MAX_PIXELS:
                raise BadInputError(f"{path.name}: {img.width}x{img.height} pixels is too large to be a page scan",
                                    path.name)
            return img
    except BadInputError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise BadInputError(f"{path.name}: not a readable image ({exc})", path.name) from exc


def list_pages(batch_dir: Path, workers: int = 2) -> list[PageRef]:
    """Every page of the batch in scan order, each file opened and every page fully decoded once to prove it is sound.

    Decoding up front (``workers`` files at a time; the decoders release the GIL) means a truncated file stops the
    batch before any OCR is spent on it. The first bad file in scan order is the one reported.
    """
    files = batch_files(batch_dir)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        counts = list(pool.map(_page_count, files))
    return [PageRef(path.name, i, count) for path, count in zip(files, counts) for i in range(count)]


def _page_count(path: Path) -> int:
    """How many pages a file holds, after decoding each of them; BadInputError naming the file if one fails."""
    if path.suffix.lower() in PDF_SUFFIXES:
        return _pdf_page_count(path)
    with _open_image(path) as img:
        count = 0
        try:
            if img.format == "JPEG":
                # DCT scaling decodes every entropy-coded byte (a truncated file still fails) at 1/8 the cost
                img.draft(img.mode, (max(1, img.width // 8), max(1, img.height // 8)))
            for frame in ImageSequence.Iterator(img):
                frame.load()
                count += 1
        except (OSError, SyntaxError, ValueError) as exc:
            raise BadInputError(f"{path.name}: page {count + 1} cannot be decoded ({exc})", path.name) from exc
    return count


def _pdf_page_count(path: Path) -> int:
    import pymupdf

    try:
        with pymupdf.open(path) as doc:
            if doc.is_encrypted:
                raise BadInputError(f"{path.name}: encrypted PDF", path.name)
            if doc.page_count == 0:
                raise BadInputError(f"{path.name}: PDF has no pages", path.name)
            return doc.page_count
    except BadInputError:
        raise
    except Exception as exc:  # MuPDF raises its own types for broken files
        raise BadInputError(f"{path.name}: not a readable PDF ({exc})", path.name) from exc


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


def pixel_digest(img: Image.Image) -> str:
    """SHA-256 over an image's mode, size and pixel bytes."""
    h = hashlib.sha256()
    h.update(f"{img.mode}:{img.width}x{img.height}:".encode())
    h.update(img.tobytes())
    return h.hexdigest()


def page_file_digest(batch_dir: Path, ref: PageRef) -> str | None:
    """The page's SHA-256 without decoding it (that of the file, for single-page image files); None otherwise."""
    path = batch_dir / ref.file
    if ref.frames == 1 and path.suffix.lower() not in PDF_SUFFIXES:
        return sha256_file(path)
    return None


def read_page(batch_dir: Path, ref: PageRef) -> RawPage:
    """Decode one page. Its SHA-256 is that of the file's bytes for single-page files, of the decoded page otherwise."""
    path = batch_dir / ref.file
    if path.suffix.lower() in PDF_SUFFIXES:
        return _read_pdf_page(path, ref)
    img = _open_image(path)
    try:
        img.seek(ref.index)
        dpi = file_dpi(img)
        img.load()
        # a single-frame file is done with once decoded (Pillow closes it); a frame of a multi-page file is copied
        # out so that the file can be closed (the copy of an A4 colour page costs ~15 ms)
        page = img.copy() if ref.frames > 1 else img
    except (EOFError, OSError, ValueError) as exc:
        img.close()
        raise BadInputError(f"{ref.label}: cannot be decoded ({exc})", ref.file) from exc
    if page is not img:
        img.close()
    digest = sha256_file(path) if ref.frames == 1 else pixel_digest(page)
    return RawPage(ref, page, dpi, digest)


def _read_pdf_page(path: Path, ref: PageRef) -> RawPage:
    """A page of a scanner's PDF: its one full-page image when it has one, else the page rendered at 300 dpi."""
    import pymupdf

    with pymupdf.open(path) as doc:
        page = doc[ref.index]
        images = page.get_images(full=True)
        dpi: float | None = None
        if len(images) == 1:
            xref = images[0][0]
            info = doc.extract_image(xref)
            img = Image.open(io.BytesIO(info["image"]))
            img.load()
            rect = page.rect
            dpi = round(img.width / (rect.width / 72.0), 1) if rect.width else None
            if page.rotation:
                img = img.rotate(-page.rotation, expand=True)
        else:
            pix = page.get_pixmap(dpi=300)
            img = Image.frombytes("RGB", (pix.width, pix.height), pix.samples)
            dpi = 300.0
    digest = pixel_digest(img)
    return RawPage(ref, img, dpi, digest)
