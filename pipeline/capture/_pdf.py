"""A scanner's PDF: checked before any page is decoded, and each page decoded by its image's colour space.

A PDF is refused when it is encrypted, carries active content (JavaScript, launch actions, embedded files, forms that
submit), holds more pages than the standard profile allows per file, or has a page or an image beyond its limits —
each said with the file, the page and the limit, never as MuPDF's own error.

A page whose one image covers it, upright, in grey or RGB (DeviceGray/RGB, CalGray/RGB, ICC with 1 or 3 components)
with the default decoding and nothing else visible on it is taken over as it is: its pixels, at its own resolution.
Every other page (CMYK, DeviceN, Separation, Indexed, Lab, masks, several images, text or drawings) is rendered by
MuPDF, which applies the colour space as a viewer would. A page that renders empty while an image on it holds ink is
refused rather than called blank.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator

import numpy as np
from PIL import Image

from pipeline.capture._images import check_pixels
from pipeline.capture._inspect import open_regular, refuse
from pipeline.errors import BadInputError
from pipeline.models import InputPolicy

MM_PER_POINT = 25.4 / 72.0
TAKEN_OVER = {"DeviceGray", "DeviceRGB", "CalGray", "CalRGB", "ICCBased"}
# Names whose presence in any object means active content a page scan never needs.
ACTIVE = {"JS": "JavaScript", "JavaScript": "JavaScript", "Launch": "a launch action",
          "EmbeddedFile": "an embedded file", "EmbeddedFiles": "embedded files", "RichMedia": "rich media",
          "XFA": "an XFA form", "SubmitForm": "a form that submits", "ImportData": "an import action",
          "GoToR": "a link into another file", "GoToE": "a link into an embedded file"}
_ACTIVE_NAME = re.compile(r"/(" + "|".join(sorted(ACTIVE, key=len, reverse=True)) + r")(?=[\s/<>\[\]()]|$)")


@contextlib.contextmanager
def open_pdf(path, name: str) -> Iterator:
    """The PDF opened by MuPDF through a descriptor checked to be a regular file (never a link or a pipe)."""
    import pymupdf

    fd = open_regular(path)
    try:
        try:
            doc = pymupdf.open(f"/proc/self/fd/{fd}", filetype="pdf")
        except Exception as exc:  # MuPDF raises its own types for broken files
            raise refuse(name, f"not a readable PDF ({_mupdf(exc)})") from exc
        try:
            yield doc
        finally:
            doc.close()
    finally:
        os.close(fd)


def _mupdf(exc: BaseException) -> str:
    """MuPDF's complaint without its internal error class names."""
    text = str(exc).strip() or type(exc).__name__
    return text.split(": ", 1)[-1][:200] if text.startswith(("code=", "Fz")) else text[:200]


def pdf_page_count(path, name: str, limits: InputPolicy) -> int:
    """How many pages a PDF holds, after checking the whole file and every page against the limits (no page is
    rendered here)."""
    with open_pdf(path, name) as doc:
        if doc.needs_pass or doc.is_encrypted:
            raise refuse(name, "an encrypted PDF: refused")
        count = doc.page_count
        if count == 0:
            raise refuse(name, "a PDF without pages")
        if count > limits.max_frames:
            raise refuse(name, f"a PDF of {count:,} pages; the standard profile allows at most {limits.max_frames} "
                               f"per file")
        active = active_content(doc)
        if active:
            raise refuse(name, f"a PDF carrying {active}: a scanner's PDF holds page images only; refused")
        for index in range(count):
            try:
                page = doc[index]
                _check_page(doc, page, f"{name}[{index}]", name, limits)
            except BadInputError:
                raise
            except Exception as exc:  # MuPDF raises its own types
                raise refuse(name, f"page {index + 1} cannot be read ({_mupdf(exc)})") from exc
        return count


def active_content(doc) -> str | None:
    """What active content a PDF carries (JavaScript, launch actions, embedded files, ...), or None: every object's
    dictionary is searched for the names that introduce them, inline dictionaries included."""
    if doc.embfile_count():
        return ACTIVE["EmbeddedFiles"]
    for xref in range(1, doc.xref_length()):
        try:
            text = doc.xref_object(xref, compressed=True)
        except Exception:  # noqa: BLE001 - a free or broken object holds nothing
            continue
        found = _ACTIVE_NAME.search(text)
        if found:
            return ACTIVE[found.group(1)]
    return None


def _check_page(doc, page, label: str, name: str, limits: InputPolicy) -> None:
    """A page's size and every image on it within the limits, and its render size too."""
    long_mm = max(page.rect.width, page.rect.height) * MM_PER_POINT
    if long_mm > limits.max_pdf_page_mm:
        raise BadInputError(f"{label}: a page of {long_mm:,.0f} mm; the standard profile allows at most "
                            f"{limits.max_pdf_page_mm:g} mm", name)
    for image in page.get_images(full=True):
        width, height = image[2], image[3]
        if width * height > limits.max_pixels:
            raise BadInputError(f"{label}: holds an image of {width}x{height} pixels, more than the "
                                f"{limits.max_pixels:,} the standard profile allows (image object {image[0]}): "
                                f"refused", name)
    dpi = _render_dpi(page, limits)
    check_pixels(f"{label} rendered at {dpi:g} dpi", name, _render_size(page, dpi), limits)


def _render_size(page, dpi: float) -> tuple[int, int]:
    return round(page.rect.width / 72.0 * dpi), round(page.rect.height / 72.0 * dpi)


def _sole_image(page) -> dict | None:
    """The one image covering the page, upright and unflipped, when it is the page's only image; else None."""
    infos = page.get_image_info(xrefs=True)
    if len(infos) != 1 or not infos[0].get("xref"):
        return None
    info = infos[0]
    a, b, c, d, _, _ = info["transform"]
    x0, y0, x1, y1 = info["bbox"]
    rect = page.rect
    covers = abs(x0 - rect.x0) + abs(y0 - rect.y0) + abs(x1 - rect.x1) + abs(y1 - rect.y1) <= 0.02 * rect.width
    return info if covers and a > 0 and d > 0 and abs(b) < 1e-6 and abs(c) < 1e-6 else None


def _render_dpi(page, limits: InputPolicy) -> float:
    """A page is rendered at its image's own resolution when one image covers it, else at the profile's."""
    sole = _sole_image(page)
    if sole is not None and page.rect.width:
        own = round(sole["width"] / (page.rect.width / 72.0), 1)
        if 100 <= own <= 1200:
            return own
    return float(limits.pdf_render_dpi)


def read_pdf_page(path, name: str, label: str, index: int, limits: InputPolicy) -> tuple[Image.Image, float]:
    """One page of a PDF as an image and its resolution: its image taken over when that is faithful, else the page
    rendered by MuPDF; BadInputError naming the file, page and limit for anything else."""
    with open_pdf(path, name) as doc:
        try:
            page = doc[index]
            _check_page(doc, page, label, name, limits)
            image = _taken_over(doc, page)
            if image is not None:
                dpi = round(image.width / (page.rect.width / 72.0), 1)
            else:
                dpi = _render_dpi(page, limits)
                image = _rendered(page, dpi)
                _require_ink_kept(doc, page, image, label, name)
        except BadInputError:
            raise
        except Exception as exc:  # MuPDF's own errors, said with the file and page
            raise BadInputError(f"{label}: cannot be decoded ({_mupdf(exc)})", name) from exc
        if page.rotation:
            image = image.rotate(-page.rotation, expand=True)
        return image, dpi


def _taken_over(doc, page) -> Image.Image | None:
    """The page's one image as it is stored, when that is exactly what the page shows; else None."""
    import pymupdf

    sole = _sole_image(page)
    if sole is None or page.get_drawings() or any(span.get("type") != 3 for span in page.get_texttrace()):
        return None
    xref = sole["xref"]
    images = {img[0]: img for img in page.get_images(full=True)}
    entry = images.get(xref)
    if entry is None or entry[1] or entry[4] not in (1, 8) or entry[5] not in TAKEN_OVER:
        return None  # a soft mask, 16-bit samples or a colour space that must be rendered
    if doc.xref_get_key(xref, "Decode")[0] != "null" or doc.xref_get_key(xref, "ImageMask")[1] == "true" \
            or doc.xref_get_key(xref, "Mask")[0] != "null":
        return None
    pix = pymupdf.Pixmap(doc, xref)
    if pix.alpha or pix.n not in (1, 3):
        return None
    return Image.frombytes("L" if pix.n == 1 else "RGB", (pix.width, pix.height), pix.samples)


def _rendered(page, dpi: float) -> Image.Image:
    import pymupdf

    pix = page.get_pixmap(dpi=round(dpi), colorspace=pymupdf.csRGB, alpha=False, annots=False)
    return Image.frombytes("RGB", (pix.width, pix.height), pix.samples)


def _spread(samples: np.ndarray) -> float:
    return float(np.percentile(samples, 99.5) - np.percentile(samples, 0.5)) if samples.size else 0.0


def _require_ink_kept(doc, page, image: Image.Image, label: str, name: str) -> None:
    """A rendered page that shows nothing while one of its images holds ink was not decoded faithfully: refuse it
    rather than let it be called blank."""
    import pymupdf

    shown = np.asarray(image.reduce(max(1, max(image.size) // 400)).convert("L"))
    if _spread(shown) > 24:
        return
    for entry in page.get_images(full=True):
        pix = pymupdf.Pixmap(doc, entry[0])
        step = max(1, max(pix.width, pix.height) // 400)
        raw = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, pix.n)[::step, ::step]
        if any(_spread(raw[:, :, c]) > 24 for c in range(pix.n - (1 if pix.alpha else 0))):
            raise BadInputError(f"{label}: its {entry[5]} image holds ink but the page renders empty: it cannot be "
                                f"decoded faithfully; refused rather than taken for a blank page", name)
