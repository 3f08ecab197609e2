"""How a page is read: which engine, and its settings; and the key naming everything that changes the output."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.models import OcrPolicy

ENGINES = ("tesseract", "ppocr")
"""The recognition engines: Tesseract (a child process per run) and PP-OCR (RapidOCR over onnxruntime, in-process)."""

LINE_PSM = 7
"""The page segmentation mode that reads an image as one line of text (Tesseract's; PP-OCR reads it without its
detector)."""

DEFAULT_MIN_CONFIDENCE = {"tesseract": 60.0, "ppocr": 92.0}
"""The mean word confidence below which a page is flagged, by engine, when the profile sets none: each engine's
scores have their own scale (bench/ocr_engines.py measures where good and bad pages fall)."""


@dataclass(frozen=True)
class OcrSettings:
    """How a page is read: the engine; for Tesseract the language list, page segmentation mode, binary, model folder
    and the timeout (seconds) of a run (PP-OCR reads in-process, one bounded page at a time); for PP-OCR the
    detector's input size.

    ``psm`` means the same for both engines where they can: 7 reads the image as one text line, anything else finds
    the lines first (PP-OCR has no other modes; ``languages`` is Tesseract's, PP-OCR's model reads Chinese and
    Latin)."""

    languages: str = "chi_sim"
    psm: int = 3
    timeout: float = 180.0
    tesseract: str = ""  # binary; empty = pytesseract's tesseract_cmd
    tessdata: str = ""  # model folder; empty = tesseract's default
    engine: str = "tesseract"
    det_side: int = 960  # PP-OCR: the detector reads the page scaled to at most this many pixels

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"unknown OCR engine {self.engine!r}: one of {', '.join(ENGINES)}")

    @classmethod
    def from_policy(cls, policy: OcrPolicy, **overrides: object) -> OcrSettings:
        """Settings from a profile's OCR policy (``profile.ocr``); keyword overrides win."""
        values: dict[str, object] = {"engine": policy.engine, "languages": policy.languages, "psm": policy.psm,
                                     "timeout": policy.timeout_seconds}
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def cmd(self) -> str:
        """The tesseract binary to run."""
        from pipeline.ocr._tesseract import tesseract_cmd

        return self.tesseract or tesseract_cmd()

    @property
    def model_dir(self) -> Path:
        """The folder Tesseract reads its traineddata files from."""
        from pipeline.ocr._tesseract import default_tessdata

        return Path(self.tessdata or default_tessdata(self.cmd))  # tesseract itself honours TESSDATA_PREFIX

    def model_files(self) -> list[Path]:
        """The traineddata files Tesseract loads with these settings (OSD too when the psm uses it)."""
        names = [n for n in self.languages.split("+") if n]
        if self.psm in (0, 1):
            names.append("osd")
        return [self.model_dir / f"{n}.traineddata" for n in names]

    @property
    def key(self) -> str:
        """A stable string naming everything that changes the OCR output (engine, its version, the SHA-256 of its
        models, the settings); the OCR cache keys results by it. Raises when the engine or a model is missing."""
        if self.engine == "ppocr":
            from pipeline.ocr._ppocr_engine import ppocr_key

            return ppocr_key(self)
        from pipeline.ocr._tesseract import tesseract_key

        return tesseract_key(self)



def confidence_threshold(policy: OcrPolicy) -> float:
    """The mean word confidence below which a page is flagged: the profile's, else its engine's calibrated one."""
    return policy.min_confidence if policy.min_confidence is not None else DEFAULT_MIN_CONFIDENCE[policy.engine]
