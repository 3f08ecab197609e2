"""How a page is read: which engine, and its settings (plain data: the engines compute their keys themselves)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.models import OcrPolicy

ENGINES = ("tesseract", "ppocr")
"""The recognition engines: Tesseract (a child process per run) and PP-OCR (RapidOCR's PP-OCRv6 over onnxruntime,
in-process)."""

DEFAULT_MIN_CONFIDENCE = {"tesseract": 60.0, "ppocr": 92.0}
"""The mean word confidence below which a page is flagged, by engine, when the profile sets none: each engine's
scores have their own scale (bench/ocr_engines.py measures where good and bad pages fall)."""

DET_SIDE = 960
"""PP-OCR's detector reads the page scaled so that its long side is at most this many pixels (bench/ocr_engines.py:
PP-OCRv6 small reads as well at 960 as at 1280 and costs less)."""


@dataclass(frozen=True)
class OcrSettings:
    """How a page is read: the engine; for Tesseract the language list, page segmentation mode, binary, model folder
    and the timeout (seconds) of a run (PP-OCR reads in-process, one bounded page at a time); for PP-OCR the
    detector's input size and the model files the profile names (file name → SHA-256; empty: whatever is installed).
    ``languages`` and ``psm`` are Tesseract's: PP-OCR's model reads Chinese and Latin and finds lines itself."""

    languages: str = "chi_sim"
    psm: int = 3
    timeout: float = 180.0
    tesseract: str = ""  # binary; empty = pytesseract's tesseract_cmd
    tessdata: str = ""  # model folder; empty = tesseract's default
    engine: str = "tesseract"
    det_side: int = DET_SIDE
    models: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"unknown OCR engine {self.engine!r}: one of {', '.join(ENGINES)}")

    @classmethod
    def from_policy(cls, policy: OcrPolicy, **overrides: object) -> OcrSettings:
        """Settings from a profile's OCR policy (``profile.ocr``); keyword overrides win."""
        values: dict[str, object] = {"engine": policy.engine, "languages": policy.languages, "psm": policy.psm,
                                     "timeout": policy.timeout_seconds,
                                     "models": tuple((m.file, m.sha256) for m in policy.models)}
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def confidence_threshold(policy: OcrPolicy) -> float:
    """The mean word confidence below which a page is flagged: the profile's, else its engine's calibrated one."""
    return policy.min_confidence if policy.min_confidence is not None else DEFAULT_MIN_CONFIDENCE[policy.engine]
