"""PP-OCR behind the OCR seam: readers pooled one per page worker, results as lines of words with per-character
positions, the cache key, and the orientation check's block reads.

Page workers are threads (the flow's task runner); each takes a :class:`~pipeline.ocr._ppocr.PpocrReader` from the
pool for a page and gives it back, so a process holds as many readers (two sessions, ~40 MB, ~100 MB more while one
reads) as pages it reads at once, each loaded once and reused for every later page and run. A reader is never used by
two threads at once.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from PIL import Image

from pipeline.errors import PageError
from pipeline.ocr._ppocr import DET_SIDE, MARGIN, PpocrReader, RawChar, RawLine
from pipeline.ocr._ppocr_models import EngineMissing, ppocr_models
from pipeline.ocr._results import OcrChar, OcrFile, OcrInput, OcrLine, OcrResult, OcrWord
from pipeline.ocr._settings import LINE_PSM, OcrSettings

PPOCR_CODE_VERSION = "2"
"""Bumped whenever the way pages are read or results are built changes, so cached results are not reused."""


class ReaderPool:
    """Idle PP-OCR readers by detector size: a thread takes one (or has one made) and gives it back when done.

    Readers being made by :meth:`warm` count as on their way: a thread that finds none idle waits for one of them
    rather than making one more."""

    def __init__(self) -> None:
        """An empty pool."""
        self._idle: dict[int, list[PpocrReader]] = {}
        self._coming: dict[int, int] = {}
        self._changed = threading.Condition()
        self._closing = False
        self.made = 0

    def _take(self, det_side: int) -> PpocrReader | None:
        """An idle reader (waiting for one being warmed), or None: the caller makes one."""
        with self._changed:
            idle = self._idle.setdefault(det_side, [])
            while not idle and self._coming.get(det_side, 0):
                self._changed.wait()
            if idle:
                return idle.pop()
            self.made += 1
            return None

    def _give(self, det_side: int, reader: PpocrReader) -> None:
        with self._changed:
            self._idle.setdefault(det_side, []).append(reader)
            self._changed.notify()

    @contextmanager
    def reader(self, det_side: int = DET_SIDE) -> Iterator[PpocrReader]:
        """A reader for the calling thread alone until the block ends."""
        reader = self._take(det_side) or PpocrReader(ppocr_models(), det_side)
        try:
            yield reader
        finally:
            self._give(det_side, reader)

    def warm(self, count: int, det_side: int = DET_SIDE) -> None:
        """Have ``count`` readers made, one after the other, before pages need them (e.g. while a batch is hashed or
        a Prefect server starts)."""
        while True:
            with self._changed:
                if self.made >= count or self._closing:
                    return
                self.made += 1
                self._coming[det_side] = self._coming.get(det_side, 0) + 1
            try:
                reader = PpocrReader(ppocr_models(), det_side)
            finally:
                with self._changed:
                    self._coming[det_side] -= 1
                    self._changed.notify_all()
            self._give(det_side, reader)

    def close(self) -> None:
        """Make no more readers by :meth:`warm` and wait for those being made: the process is ending. A thread still
        inside onnxruntime when the interpreter exits aborts the process ("terminate called without an active
        exception", exit -6) instead of letting it end with its own code."""
        with self._changed:
            self._closing = True
            self._changed.wait_for(lambda: not any(self._coming.values()))

    def release(self) -> int:
        """Drop the idle readers (their sessions and the memory their arenas grew to, ~200 MB each after a batch);
        returns how many. A later page has one made again."""
        with self._changed:
            dropped = sum(len(idle) for idle in self._idle.values())
            self._idle.clear()
            self.made = sum(self._coming.values())
        return dropped


POOL = ReaderPool()
"""The process's readers."""
atexit.register(POOL.close)  # the warm-up thread is a daemon: the process may end while it loads a reader


def warm_readers(count: int, det_side: int = DET_SIDE) -> None:
    """Have ``count`` PP-OCR readers loaded in this process (one per page worker)."""
    POOL.warm(count, det_side)


def release_readers() -> int:
    """Drop this process's idle PP-OCR readers; returns how many."""
    return POOL.release()


def ppocr_key(settings: OcrSettings) -> str:
    """The OCR cache key of PP-OCR settings: code and package versions, model digests, detector size, mode."""
    models = ppocr_models()
    digests = ";".join(f"{f.role}={f.sha256[:16]}" for f in models.files if f.role != "cls")
    mode = "line" if settings.psm == LINE_PSM else "page"
    return (f"ppocr{PPOCR_CODE_VERSION};rapidocr-onnxruntime {models.version};onnxruntime {models.runtime};"
            f"{digests};det_side={settings.det_side};margin={MARGIN};{mode}")


def _word(chars: list[RawChar], y0: int, y1: int) -> OcrWord:
    text = "".join(c.text for c in chars)
    placed = tuple(OcrChar(c.text, round(c.x0), max(round(c.x0) + 1, round(c.x1)), round(100 * c.prob, 1))
                   for c in chars)
    conf = round(100 * sum(c.prob for c in chars) / len(chars), 2)
    return OcrWord(text, placed[0].x0, y0, placed[-1].x1, y1, conf, placed)


def to_line(raw: RawLine) -> OcrLine | None:
    """A recognised line as words (split at the spaces the recogniser read) with their characters' positions."""
    words, current = [], []
    for c in raw.chars:
        if c.text.isspace():
            if current:
                words.append(_word(current, raw.y0, raw.y1))
            current = []
        else:
            current.append(c)
    if current:
        words.append(_word(current, raw.y0, raw.y1))
    if not words:
        return None
    return OcrLine(tuple(words), min(w.x0 for w in words), raw.y0, max(w.x1 for w in words), raw.y1)


def _grey(image: OcrInput) -> np.ndarray:
    if isinstance(image, OcrFile):
        with Image.open(image.path) as img:
            return np.asarray(img.convert("L"))
    return np.asarray(image if image.mode == "L" else image.convert("L"))


def ppocr_image(image: OcrInput, dpi: float, settings: OcrSettings, label: str) -> OcrResult:
    """Read one page image (or, with psm 7, one line image); raises PageError naming ``label`` on failure."""
    try:
        grey = _grey(image)
        with POOL.reader(settings.det_side) as reader:
            if settings.psm == LINE_PSM:
                one = reader.read_line(grey)
                raws = [one] if one is not None else []
            else:
                raws = reader.read_page(grey)
    except EngineMissing:
        raise
    except Exception as exc:
        raise PageError(f"PP-OCR of page {label} failed: {type(exc).__name__}: {exc}", label) from exc
    lines = tuple(ln for ln in (to_line(r) for r in raws) if ln is not None)
    return OcrResult(grey.shape[1], grey.shape[0], float(dpi), lines, settings.key)


def block_words(grey: np.ndarray, det_side: int, label: str) -> list[tuple[str, float, int, int]] | None:
    """The orientation check's read of a sample of lines (upright above, turned over below): per line (text,
    confidence 0-100, top, height); None when the reader fails."""
    try:
        with POOL.reader(det_side) as reader:
            lines = reader.read_page(np.ascontiguousarray(grey))
    except Exception:  # noqa: BLE001 - the check is a hint: no answer rather than a failed page
        return None
    return [(ln.text.replace(" ", ""), 100 * ln.score, ln.y0, ln.y1 - ln.y0) for ln in lines]
