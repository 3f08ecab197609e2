"""Helpers for the structure, separator and render tests: archival page files, real Tesseract OCR, page artifacts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytesseract
from PIL import Image

from pipeline.models import PageRecord, PageSource, SeparatorPayload
from pipeline.ocr import OcrLine, OcrResult, OcrWord
from pipeline.pages import PageArtifact


def bitonal(image: Image.Image, threshold: int = 150) -> Image.Image:
    """A page as a bitonal scanner delivers it."""
    return image.convert("L").point(lambda v: 255 if v > threshold else 0).convert("1")


def save_g4(image: Image.Image, path: Path, dpi: float) -> Path:
    """A single-strip CCITT G4 TIFF, as the imaging stage writes bitonal pages."""
    image = image if image.mode == "1" else bitonal(image)
    image.save(path, "TIFF", compression="group4", dpi=(dpi, dpi), tiffinfo={278: image.height})
    return path


def save_jpeg(image: Image.Image, path: Path, dpi: float, grey: bool = False) -> Path:
    """A baseline JPEG, as the imaging stage writes grey and colour pages."""
    image.convert("L" if grey else "RGB").save(path, "JPEG", quality=75, dpi=(round(dpi), round(dpi)))
    return path


def tesseract_ocr(image: Image.Image, dpi: float, psm: int = 3) -> OcrResult:
    """Real Tesseract (chi_sim, one thread) on a page, grouped into lines as the OCR stage hands them over."""
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    data = pytesseract.image_to_data(image, lang="chi_sim", config=f"--psm {psm} --dpi {round(dpi)}",
                                     output_type=pytesseract.Output.DICT, timeout=120)
    groups: dict[tuple[int, int, int], list[OcrWord]] = {}
    for i, text in enumerate(data["text"]):
        if not text.strip():
            continue
        key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        x, y, w, h = data["left"][i], data["top"][i], data["width"][i], data["height"][i]
        groups.setdefault(key, []).append(OcrWord(text.strip(), x, y, x + w, y + h, float(data["conf"][i])))
    lines = []
    for key in sorted(groups):
        ws = tuple(groups[key])
        lines.append(OcrLine(ws, min(w.x0 for w in ws), min(w.y0 for w in ws), max(w.x1 for w in ws),
                             max(w.y1 for w in ws)))
    return OcrResult(image.width, image.height, dpi, tuple(lines), f"test psm={psm}")


def page_artifact(position: int, image_path: Path | None = None, *, dpi: float = 300.0, ocr: OcrResult | None = None,
                  folder: Path | None = None, blank: bool = False, separator: SeparatorPayload | None = None,
                  undecodable: bool = False, flags: list[str] | None = None, file: str | None = None) -> PageArtifact:
    """A processed page as the page stage hands it to structure and render."""
    record = PageRecord(source=PageSource(file=file or f"{position + 1:03d}.tif"), sha256=f"{position:064x}",
                        dpi=dpi, blank=blank, separator=separator is not None or undecodable, flags=flags or [])
    width = height = 0
    if image_path is not None:
        with Image.open(image_path) as img:
            width, height = img.size
    ocr_path = None
    if ocr is not None:
        assert folder is not None
        ocr_path = folder / f"ocr-{position}.json"
        ocr_path.write_text(json.dumps(ocr.to_dict(), ensure_ascii=False), encoding="utf-8")
    return PageArtifact(position, record, None if blank or separator or undecodable else image_path, width, height,
                        dpi, ocr_path, separator)
