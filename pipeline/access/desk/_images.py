"""Page images as the desk shows them: the crop of a field's region at a readable size, a whole page for the screen,
a page's thumbnail. Only images the pipeline wrote into its page cache are read (never a batch's own files)."""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from pathlib import Path

from PIL import Image

CROP_BOX = (960, 320)
"""The largest a crop is shown (pixels): a date line with the seal around it reads at about 2-3 mm type."""
CROP_UPSCALE = 2.0
PAGE_WIDTH = 1400
"""Width a whole page is shown at: an A4 page's body text stays legible on a 1366-pixel screen when zoomed."""


def _viewable(img: Image.Image) -> Image.Image:
    return img.convert("L") if img.mode in ("1", "I", "I;16", "F") else img.convert("RGB") \
        if img.mode not in ("L", "RGB") else img


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def crop_png(path: Path, box: tuple[int, int, int, int]) -> bytes:
    """The region ``box`` (x0, y0, x1, y1 in the image's pixels) of a page image, scaled to fit :data:`CROP_BOX`
    (enlarged at most :data:`CROP_UPSCALE` times), as PNG."""
    with Image.open(path) as img:
        region = _viewable(img.crop(box))
    w, h = region.size
    scale = min(CROP_BOX[0] / max(1, w), CROP_BOX[1] / max(1, h), CROP_UPSCALE)
    if abs(scale - 1.0) > 0.01:
        region = region.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
    return _png(region)


def page_png(path: Path, width: int = PAGE_WIDTH) -> bytes:
    """A whole page image at ``width`` pixels (never enlarged), as PNG."""
    with Image.open(path) as img:
        if img.format == "JPEG" and img.width > 2 * width:
            img.draft("RGB" if img.mode == "RGB" else "L", (width, round(img.height * width / img.width)))
        page = _viewable(img)
        if page.width > width:
            page = page.resize((width, max(1, round(page.height * width / page.width))), Image.Resampling.LANCZOS)
        return _png(page)


class RenderedImages:
    """Rendered images kept in memory (least recently used out) under a byte budget: a reviewer going back and
    forth over a volume does not decode its pages again."""

    def __init__(self, budget: int = 64 * 1024 * 1024):
        self.budget = budget
        self._items: OrderedDict[tuple, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple, render) -> bytes:
        """The image under ``key`` (its path with the file's mtime and size, and what was asked), made once."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        data = render()
        with self._lock:
            self._items[key] = data
            self._size += len(data)
            while self._size > self.budget and self._items:
                _, old = self._items.popitem(last=False)
                self._size -= len(old)
        return data


def file_key(path: Path, *asked) -> tuple:
    """A cache key for an image made from a file: the file (path, mtime, size) and what was asked of it."""
    st = path.stat()
    return (str(path), st.st_mtime_ns, st.st_size, *asked)
