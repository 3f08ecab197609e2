"""Recognition behind one seam, and the OCR cache: the only code that runs an OCR engine (OSD and title re-reads
included). Two engines, Tesseract and PP-OCR (RapidOCR over onnxruntime); the profile's ``ocr.engine`` chooses."""

from pipeline.ocr._cache import OcrCache, cached_ocr, cached_ocr_images, image_digest
from pipeline.ocr._engines import (
    EngineTextReader,
    OcrEngine,
    batches,
    check_engine,
    engine_entry,
    ocr_image,
    ocr_images,
    read_line,
    release_engine,
    text_reader,
    warm_engine,
)
from pipeline.ocr._heading import HeadingReader
from pipeline.ocr._ppocr_models import EngineMissing
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
from pipeline.ocr._settings import DEFAULT_MIN_CONFIDENCE, ENGINES, OcrSettings, confidence_threshold
from pipeline.ocr._tesseract import BlockReader, osd_rotation

__all__ = [
    "DEFAULT_MIN_CONFIDENCE",
    "ENGINES",
    "BlockReader",
    "EngineMissing",
    "EngineTextReader",
    "HeadingReader",
    "OcrCache",
    "OcrChar",
    "OcrEngine",
    "OcrFile",
    "OcrInput",
    "OcrLine",
    "OcrResult",
    "OcrSettings",
    "OcrWord",
    "batches",
    "cached_ocr",
    "cached_ocr_images",
    "check_engine",
    "confidence_threshold",
    "engine_entry",
    "image_digest",
    "is_cjk",
    "join_words",
    "needs_space",
    "ocr_image",
    "ocr_images",
    "osd_rotation",
    "read_line",
    "read_ocr_result",
    "release_engine",
    "text_reader",
    "warm_engine",
]
