"""Recognition behind one seam, and the OCR cache: the only code that runs an OCR engine (OSD, title and field line
re-reads, the orientation check's reads included). Two engines, one class each behind one protocol
(:class:`OcrEngine`): Tesseract and PP-OCR (RapidOCR's PP-OCRv6 small over onnxruntime); the profile's ``ocr.engine``
chooses once (:func:`profile_engine`)."""

from pipeline.ocr._cache import OcrCache, cached_line, cached_ocr, cached_ocr_images, image_digest
from pipeline.ocr._engines import (
    ENGINE_CLASSES,
    check_engine,
    engine_entry,
    engine_for,
    ocr_image,
    ocr_images,
    profile_engine,
    release_engine,
    warm_engine,
)
from pipeline.ocr._heading import HeadingReader
from pipeline.ocr._lines import LineReader, PageImage, ink_rows, line_ink, line_reader, render_line
from pipeline.ocr._ppocr_engine import PpocrEngine
from pipeline.ocr._ppocr_models import PP_OCR_V6, EngineMissing, ModelRelease
from pipeline.ocr._protocol import Glyph, OcrEngine
from pipeline.ocr._results import (
    OcrChar,
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
from pipeline.ocr._settings import DEFAULT_MIN_CONFIDENCE, DET_SIDE, ENGINES, OcrSettings, confidence_threshold
from pipeline.ocr._tesseract import TesseractEngine, osd_rotation

__all__ = [
    "DEFAULT_MIN_CONFIDENCE",
    "DET_SIDE",
    "ENGINES",
    "ENGINE_CLASSES",
    "PP_OCR_V6",
    "EngineMissing",
    "Glyph",
    "HeadingReader",
    "LineReader",
    "ModelRelease",
    "OcrCache",
    "OcrChar",
    "OcrEngine",
    "OcrFile",
    "OcrInput",
    "OcrLine",
    "OcrResult",
    "OcrSettings",
    "OcrWord",
    "PageImage",
    "PpocrEngine",
    "TesseractEngine",
    "cached_line",
    "cached_ocr",
    "cached_ocr_images",
    "check_engine",
    "confidence_threshold",
    "engine_entry",
    "engine_for",
    "image_digest",
    "ink_rows",
    "is_cjk",
    "join_words",
    "line_ink",
    "line_reader",
    "needs_space",
    "ocr_image",
    "ocr_images",
    "osd_rotation",
    "profile_engine",
    "read_ocr_result",
    "release_engine",
    "render_line",
    "warm_engine",
]
