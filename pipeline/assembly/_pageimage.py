"""The scanned image of a numbered page of a volume, taken back out of the PDF as it was put in (``_images.py``: a
G4 or JPEG stream under the page's number and text layer)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pikepdf
from PIL import Image

from pipeline.errors import VolumeError


@dataclass(frozen=True)
class ScannedImage:
    """A numbered page's scanned image (mode 1, L or RGB), its resolution, and its JPEG bytes when it is one."""

    image: Image.Image
    dpi: float
    jpeg: bytes | None


def scanned_image(pdf: pikepdf.Pdf, pdf_index: int, label: str) -> ScannedImage:
    """The page's scanned image; ``label`` names the page in errors. A JPEG comes back as its own bytes (and
    decoded), a G4 stream through pikepdf's CCITT decoder."""
    page = pdf.pages[pdf_index]
    images = list(page.get_images(recursive=False).values())
    if len(images) != 1:
        raise VolumeError(f"{label}: expected one scanned image on the page, found {len(images)}")
    stream = images[0]
    jpeg = None
    try:
        if stream.get("/Filter") == pikepdf.Name.DCTDecode:
            jpeg = stream.read_raw_bytes()
            image = Image.open(io.BytesIO(jpeg))
            image.load()
        else:
            image = pikepdf.PdfImage(stream).as_pil_image()
    except (pikepdf.PdfError, OSError, NotImplementedError) as exc:
        raise VolumeError(f"{label}: cannot decode the scanned image: {exc}") from exc
    width_pt = float(page.mediabox[2]) - float(page.mediabox[0])
    return ScannedImage(image, image.width * 72.0 / width_pt, jpeg)
