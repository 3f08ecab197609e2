"""The engine a profile reads with, chosen once: one class per engine (:class:`TesseractEngine`,
:class:`PpocrEngine`), each implementing the protocol of ``_protocol.py``. Nothing else in the code asks which engine
it has."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from pipeline.models import OcrEngineEntry, OcrPolicy
from pipeline.ocr._ppocr_engine import PpocrEngine
from pipeline.ocr._protocol import OcrEngine
from pipeline.ocr._results import OcrInput, OcrResult
from pipeline.ocr._settings import OcrSettings
from pipeline.ocr._tesseract import TesseractEngine

ENGINE_CLASSES: dict[str, type] = {TesseractEngine.name: TesseractEngine, PpocrEngine.name: PpocrEngine}
"""The class of each engine name a profile may give (``ocr.engine``)."""


_MADE: dict[OcrSettings, OcrEngine] = {}
_MAKING = threading.Lock()


def engine_for(settings: OcrSettings) -> OcrEngine:
    """The engine that reads with ``settings`` (one object per settings in a process, so that what it keeps loaded
    is shared and released together)."""
    with _MAKING:
        engine = _MADE.get(settings)
        if engine is None:
            engine = _MADE[settings] = ENGINE_CLASSES[settings.engine](settings)
        return engine


def profile_engine(policy: OcrPolicy) -> OcrEngine:
    """The engine of a profile's OCR policy."""
    return engine_for(OcrSettings.from_policy(policy))


def ocr_image(image: OcrInput, dpi: float, settings: OcrSettings, label: str) -> OcrResult:
    """OCR one page image at its resolution with the settings' engine; raises PageError naming ``label``."""
    return engine_for(settings).read_page(image, dpi, label)


def ocr_images(items: Sequence[tuple[OcrInput, float, str]], settings: OcrSettings,
               scratch: Path | None = None) -> list[OcrResult]:
    """OCR several pages ``(image, dpi, label)`` as cheaply as the settings' engine can."""
    return engine_for(settings).read_pages(items, scratch)


def check_engine(policy: OcrPolicy) -> None:
    """The start-up check: the profile's OCR engine and every model file it loads are installed (and are the ones
    the profile names); raises an error naming the missing file and how to install it (exit code 8) before any page
    is read."""
    if policy.enabled:
        profile_engine(policy).check()


def warm_engine(policy: OcrPolicy, workers: int) -> None:
    """Load the engine for ``workers`` page workers now, so that the first pages do not wait for it. Meant for a
    thread beside work that leaves a core idle (a batch being hashed, a Prefect server starting)."""
    if policy.enabled:
        profile_engine(policy).warm(workers)


def release_engine() -> int:
    """Unload what the engines made in this process keep loaded, once a run's reading is over (its pages and the
    卷内目录's re-reads), and give the memory back. Returns the readers dropped."""
    with _MAKING:
        made = list(_MADE.values())
    return sum(engine.release() for engine in made)


def engine_entry(policy: OcrPolicy) -> OcrEngineEntry | None:
    """Which engine reads pages under a profile: name, version, runtime and the SHA-256 of each model file (for
    dossier.json); None when the profile does not OCR."""
    return profile_engine(policy).entry() if policy.enabled else None
