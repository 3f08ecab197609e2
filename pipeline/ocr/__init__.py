"""Recognition behind one seam, and the OCR cache: the only code that runs an OCR engine (OSD and title re-reads
included)."""

from pipeline.ocr._cache import OcrCache, cached_ocr, cached_ocr_images, image_digest
from pipeline.ocr._heading import HeadingReader
from pipeline.ocr._results import (
    OcrFile,
    OcrInput,
    OcrLine,
    OcrResult,
    OcrWord,
    is_cjk,
    join_words,
    needs_space,
    read_ocr_result,
)
from pipeline.ocr._tesseract import BlockReader, OcrSettings, ocr_image, ocr_images, osd_rotation

__all__ = [
    "BlockReader",
    "HeadingReader",
    "OcrCache",
    "OcrFile",
    "OcrInput",
    "OcrLine",
    "OcrResult",
    "OcrSettings",
    "OcrWord",
    "cached_ocr",
    "cached_ocr_images",
    "image_digest",
    "is_cjk",
    "join_words",
    "needs_space",
    "ocr_image",
    "ocr_images",
    "osd_rotation",
    "read_ocr_result",
]
