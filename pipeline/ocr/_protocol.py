"""The OCR seam: the one protocol every recognition engine implements (one class per engine, ``_engines.py`` picks
it from the profile). Everything that reads text goes through it: page OCR, single-line re-reads (titles, fields,
lines under seals), the orientation check's reads, the cache key, and giving the memory back."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from pipeline.models import OcrEngineEntry
from pipeline.ocr._results import OcrInput, OcrResult

Glyph = tuple[str, float, int, int]
"""What the orientation check is given per character read: (character, confidence 0-100, top, height)."""


class OcrEngine(Protocol):
    """A recognition engine: reads page images into lines of words (boxes, confidences, per-character positions)."""

    name: str
    batches: bool
    """Whether a list of pages costs less read together (Tesseract loads its model once per run) than one by one."""
    reads_bits: bool
    """Whether the engine reads a bitonal page's bits (its G4 archive file, :class:`OcrFile`) better than the grey
    they were cut from (Tesseract: CER 10.7 % against 12.3 %; PP-OCR reads the grey with half the errors)."""

    @property
    def key(self) -> str:
        """A stable string naming everything that changes a page's reading (engine, version, model SHA-256s,
        settings): the OCR cache keys results by it. Raises when the engine or a model is missing."""
        ...

    @property
    def line_key(self) -> str:
        """The same for single-line reads (:meth:`read_line`)."""
        ...

    def read_page(self, image: OcrInput, dpi: float, label: str) -> OcrResult:
        """One page image read; raises PageError naming ``label`` on failure."""
        ...

    def read_pages(self, items: Sequence[tuple[OcrInput, float, str]], scratch: Path | None = None) -> list[OcrResult]:
        """Several pages ``(image, dpi, label)``, as cheaply as the engine can."""
        ...

    def read_line(self, image: Image.Image, dpi: float, label: str) -> OcrResult:
        """An image holding one line of text read as that line (no layout analysis, no detector)."""
        ...

    def read_glyphs(self, grey: np.ndarray, dpi: float, label: str) -> list[Glyph] | None:
        """The orientation check's read of a small grey image: every character with its confidence; None when the
        engine has no answer."""
        ...

    def entry(self) -> OcrEngineEntry:
        """Which engine, version, runtime and model files (with SHA-256) read a dossier's pages, for its manifest."""
        ...

    def check(self) -> None:
        """The start-up check: the engine and the model files it loads are installed (and are the ones the profile
        names); raises an error naming what is missing and how to install it."""
        ...

    def warm(self, workers: int) -> None:
        """Load what the engine keeps loaded for ``workers`` page workers now (nothing where it starts per run)."""
        ...

    def release(self) -> int:
        """Unload what the engine keeps loaded once a run's reading is over; returns the readers dropped."""
        ...
