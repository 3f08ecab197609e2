"""The OCR seam: one protocol — a page image in, lines out (text, box, per-character positions where the engine has
them, confidences) — and the two engines behind it, Tesseract and PP-OCR, chosen by the profile (``ocr.engine``).

Everything that reads text goes through here: page OCR (:func:`ocr_image`, :func:`ocr_images`), line re-reads
(:func:`read_line`), and the orientation check's block reads (:func:`text_reader`), so a profile that names PP-OCR
never runs Tesseract. :func:`engine_entry` says which engine, version and models (with their SHA-256) read a
dossier's pages, for its manifest; :func:`check_engine` is the start-up check that they are installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from pipeline.models import ModelFileEntry, OcrEngineEntry, OcrPolicy
from pipeline.ocr._results import OcrInput, OcrResult, OcrWord
from pipeline.ocr._settings import LINE_PSM, OcrSettings


class OcrEngine(Protocol):
    """Reads page images into lines of words: boxes and confidences, per-character positions where it has them."""

    def __call__(self, image: OcrInput, dpi: float, settings: OcrSettings, label: str) -> OcrResult:
        """One page image read; raises PageError naming ``label`` on failure."""
        ...


def _engine(settings: OcrSettings) -> OcrEngine:
    if settings.engine == "ppocr":
        from pipeline.ocr._ppocr_engine import ppocr_image

        return ppocr_image
    from pipeline.ocr._tesseract import tesseract_image

    return tesseract_image


def batches(settings: OcrSettings) -> bool:
    """Whether the engine reads a list of pages more cheaply than one page at a time (Tesseract loads its model once
    per run; PP-OCR's model stays loaded, so pages are read as they come and not held for a list)."""
    return settings.engine == "tesseract"


def ocr_image(image: OcrInput, dpi: float, settings: OcrSettings, label: str) -> OcrResult:
    """OCR one page image at its resolution with the settings' engine; raises PageError naming ``label``."""
    return _engine(settings)(image, dpi, settings, label)


def ocr_images(items: Sequence[tuple[OcrInput, float, str]], settings: OcrSettings,
               scratch: Path | None = None) -> list[OcrResult]:
    """OCR several pages ``(image, dpi, label)``: Tesseract in one process per resolution (its model loads once),
    PP-OCR one page after another with the worker's reader."""
    if settings.engine == "tesseract":
        from pipeline.ocr._tesseract import tesseract_images

        return tesseract_images(items, settings, scratch)
    return [ocr_image(image, dpi, settings, label) for image, dpi, label in items]


def read_line(image: Image.Image, dpi: float, settings: OcrSettings, label: str) -> list[OcrWord]:
    """The words of one line of text in a crop of a page (psm 7), with their boxes in the crop's pixels."""
    line = OcrSettings(**{**settings.__dict__, "psm": LINE_PSM})
    if settings.engine == "ppocr":
        return ocr_image(image, dpi, line, label).words
    from pipeline.ocr._tesseract import read_line_words

    return read_line_words(image, dpi, line, f"re-reading a line of {label}", label)


@dataclass(frozen=True)
class EngineTextReader:
    """The orientation check's reader (:data:`pipeline.imaging.TextReader`) through the profile's engine: reads a
    sample of lines in a grey image, per word or line (text, confidence 0-100, top, height); None for no answer."""

    settings: OcrSettings

    def __call__(self, grey: np.ndarray, dpi: float, label: str) -> list[tuple[str, float, int, int]] | None:
        """What the engine reads in ``grey`` (a 2-D uint8 array)."""
        if self.settings.engine == "ppocr":
            from pipeline.ocr._ppocr_engine import block_words

            return block_words(grey, self.settings.det_side, label)
        from pipeline.ocr._tesseract import BlockReader

        s = self.settings
        return BlockReader(s.languages, min(30.0, s.timeout), s.tesseract)(grey, dpi, label)


def text_reader(policy: OcrPolicy) -> EngineTextReader:
    """The orientation check's reader for a profile's OCR policy."""
    return EngineTextReader(OcrSettings.from_policy(policy))


def check_engine(policy: OcrPolicy) -> None:
    """The start-up check: the profile's OCR engine and every model file it loads are installed; raises an error
    naming the missing file and how to install it (exit code 8) before any page is read."""
    if policy.enabled:
        OcrSettings.from_policy(policy).key  # noqa: B018 - computing the key finds (and digests) every model file


def warm_engine(policy: OcrPolicy, workers: int) -> None:
    """Load the engine for ``workers`` page workers now, so that the first pages do not wait for it: PP-OCR's
    readers (~0.4 s each, one per worker); nothing for Tesseract, which starts per run. Meant for a thread beside
    work that leaves a core idle (a batch being hashed, a Prefect server starting)."""
    if policy.enabled and policy.engine == "ppocr":
        from pipeline.ocr._ppocr_engine import warm_readers

        warm_readers(workers, OcrSettings.from_policy(policy).det_side)


def release_engine() -> int:
    """Unload the OCR engine's readers once a run's reading is over (its pages and the 卷内目录's re-reads), and give
    the memory back: two PP-OCR readers hold ~400 MB that the volume stage and its checks (Java beside) would otherwise
    stack on. Returns the readers dropped (none for Tesseract, a child process per run)."""
    import sys

    if "pipeline.ocr._ppocr_engine" not in sys.modules:
        return 0
    from pipeline.common import return_free_memory
    from pipeline.ocr._ppocr_engine import release_readers

    dropped = release_readers()
    return_free_memory()
    return dropped


def engine_entry(policy: OcrPolicy) -> OcrEngineEntry | None:
    """Which engine reads pages under a profile: name, version, runtime and the SHA-256 of each model file (for
    dossier.json); None when the profile does not OCR."""
    if not policy.enabled:
        return None
    settings = OcrSettings.from_policy(policy)
    if settings.engine == "ppocr":
        from pipeline.ocr._ppocr_models import ppocr_models

        models = ppocr_models()
        files = [ModelFileEntry(file=f.path.name, bytes=f.bytes, sha256=f.sha256) for f in models.files
                 if f.role != "cls"]
        return OcrEngineEntry(engine="ppocr", version=f"rapidocr-onnxruntime {models.version}",
                              runtime=f"onnxruntime {models.runtime}", models=files)
    from pipeline.ocr._tesseract import tesseract_models

    version, found = tesseract_models(settings)
    return OcrEngineEntry(engine="tesseract", version=f"tesseract {version}", runtime="",
                          models=[ModelFileEntry(file=n, bytes=b, sha256=d) for n, b, d in found])
