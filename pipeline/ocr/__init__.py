"""Recognition behind one seam, and the OCR cache: the only code that runs an OCR engine (OSD and title re-reads
included)."""

from pipeline.ocr._cache import OcrCache, cached_ocr, cached_ocr_images, image_digest
from pipeline.ocr._heading import HeadingReader
from pipeline.ocr._tesseract import (
    BlockReader,
    OcrFile,
    OcrInput,
    OcrLine,
    OcrResult,
    OcrSettings,
    OcrWord,
    is_cjk,
    join_words,
    needs_space,
    ocr_image,
    ocr_images,
    osd_rotation,
    read_ocr_result,
)

__all__ = [
    "BlockReader",
    "HeadingReader",
    "osd_rotation",
    "read_ocr_result",
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
]
