"""PP-OCR behind the OCR seam (:class:`PpocrEngine`): readers pooled one per page worker, results as lines of words
with per-character positions, the cache key, and the orientation check's reads.

Page workers are threads (the flow's task runner); each takes a :class:`~pipeline.ocr._ppocr.PpocrReader` from the
pool for a page and gives it back, so a process holds as many readers (two sessions, ~60 MB, ~100 MB more while one
reads) as pages it reads at once, each loaded once and reused for every later page and run. A reader is never used by
two threads at once.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.common import return_free_memory
from pipeline.errors import PageError
from pipeline.models import ModelFileEntry, OcrEngineEntry
from pipeline.ocr._ppocr import MARGIN, PpocrReader, RawChar, RawLine
from pipeline.ocr._ppocr_models import PP_OCR_V6, EngineMissing, ModelRelease, PpocrModels, ppocr_models
from pipeline.ocr._protocol import Glyph
from pipeline.ocr._results import OcrChar, OcrFile, OcrInput, OcrLine, OcrResult, OcrWord
from pipeline.ocr._settings import DET_SIDE, OcrSettings

PPOCR_CODE_VERSION = "3"
"""Bumped whenever the way pages are read or results are built changes, so cached results are not reused."""


class ReaderPool:
    """Idle PP-OCR readers by model release and detector size: a thread takes one (or has one made) and gives it
    back when done.

    Readers being made by :meth:`warm` count as on their way: a thread that finds none idle waits for one of them
    rather than making one more."""

    def __init__(self) -> None:
        """An empty pool."""
        self._idle: dict[tuple, list[PpocrReader]] = {}
        self._coming: dict[tuple, int] = {}
        self._changed = threading.Condition()
        self._closing = False
        self.made = 0

    def _take(self, kind: tuple) -> PpocrReader | None:
        """An idle reader (waiting for one being warmed), or None: the caller makes one."""
        with self._changed:
            idle = self._idle.setdefault(kind, [])
            while not idle and self._coming.get(kind, 0):
                self._changed.wait()
            if idle:
                return idle.pop()
            self.made += 1
            return None

    def _give(self, kind: tuple, reader: PpocrReader) -> None:
        with self._changed:
            self._idle.setdefault(kind, []).append(reader)
            self._changed.notify()

    @contextmanager
    def reader(self, det_side: int = DET_SIDE, release: ModelRelease = PP_OCR_V6,
               margin: float = MARGIN) -> Iterator[PpocrReader]:
        """A reader for the calling thread alone until the block ends."""
        kind = (release, det_side, margin)
        reader = self._take(kind) or PpocrReader(ppocr_models(release), det_side, margin)
        try:
            yield reader
        finally:
            self._give(kind, reader)

    def warm(self, count: int, det_side: int = DET_SIDE, release: ModelRelease = PP_OCR_V6,
             margin: float = MARGIN) -> None:
        """Have ``count`` readers made, one after the other, before pages need them (e.g. while a batch is hashed or
        a Prefect server starts)."""
        kind = (release, det_side, margin)
        while True:
            with self._changed:
                if self.made >= count or self._closing:
                    return
                self.made += 1
                self._coming[kind] = self._coming.get(kind, 0) + 1
            try:
                reader = PpocrReader(ppocr_models(release), det_side, margin)
            finally:
                with self._changed:
                    self._coming[kind] -= 1
                    self._changed.notify_all()
            self._give(kind, reader)

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


class PpocrEngine:
    """PP-OCR behind the OCR seam: RapidOCR's PP-OCRv6 small over onnxruntime, in-process, one pooled reader per
    page worker; pages are read as they come (the models stay loaded)."""

    name = "ppocr"
    batches = False
    reads_bits = False

    def __init__(self, settings: OcrSettings, release: ModelRelease = PP_OCR_V6, margin: float = MARGIN):
        """The engine for ``settings`` (detector size, the model files the profile names) over a release of the
        models (the product's is PP-OCRv6; bench/ocr_engines.py also runs the v4 reference through it), reading
        lines with ``margin`` of their height added above and below."""
        self.settings, self.model_release, self.margin = settings, release, margin

    def models(self) -> PpocrModels:
        """The installed models, checked against the ones the profile names."""
        models = ppocr_models(self.model_release)
        installed = {f.path.name: f.sha256 for f in models.read_with}
        for name, digest in self.settings.models:
            if installed.get(name) != digest:
                found = f"SHA-256 {installed[name]}" if name in installed else "no such file"
                raise EngineMissing(f"the profile reads pages with {name} (SHA-256 {digest}), but the installed "
                                    f"{models.distribution} {models.version} has {found}: install the models the "
                                    f"profile names with {self.model_release.install}")
        return models

    def _key(self, mode: str) -> str:
        models = self.models()
        digests = ";".join(f"{f.role}={f.sha256[:16]}" for f in models.read_with)
        return (f"ppocr{PPOCR_CODE_VERSION};{models.distribution} {models.version};onnxruntime {models.runtime};"
                f"{digests};det_side={self.settings.det_side};margin={self.margin};{mode}")

    @property
    def key(self) -> str:
        """Code and package versions, model digests, detector size, margin."""
        return self._key("page")

    @property
    def line_key(self) -> str:
        """The key of single-line reads (no detector)."""
        return self._key("line")

    @contextmanager
    def _reader(self, label: str) -> Iterator[PpocrReader]:
        try:
            with POOL.reader(self.settings.det_side, self.model_release, self.margin) as reader:
                yield reader
        except EngineMissing:
            raise
        except Exception as exc:
            raise PageError(f"PP-OCR of page {label} failed: {type(exc).__name__}: {exc}", label) from exc

    def _result(self, grey: np.ndarray, dpi: float, raws: list[RawLine], key: str) -> OcrResult:
        lines = tuple(ln for ln in (to_line(r) for r in raws) if ln is not None)
        return OcrResult(grey.shape[1], grey.shape[0], float(dpi), lines, key)

    def read_page(self, image: OcrInput, dpi: float, label: str) -> OcrResult:
        """One page image; raises PageError naming ``label`` on failure."""
        grey = _grey(image)
        with self._reader(label) as reader:
            raws = reader.read_page(grey)
        return self._result(grey, dpi, raws, self.key)

    def read_pages(self, items: Sequence[tuple[OcrInput, float, str]], scratch: Path | None = None) -> list[OcrResult]:
        """Pages one after another with this thread's reader."""
        return [self.read_page(image, dpi, label) for image, dpi, label in items]

    def read_line(self, image: Image.Image, dpi: float, label: str) -> OcrResult:
        """One line image read without the detector (its ink is the line's box)."""
        grey = _grey(image)
        with self._reader(label) as reader:
            one = reader.read_line(grey)
        return self._result(grey, dpi, [one] if one is not None else [], self.line_key)

    def read_glyphs(self, grey: np.ndarray, dpi: float, label: str) -> list[Glyph] | None:
        """Every character of the lines found in ``grey`` with its probability (0-100); None when the reader
        fails (the check is a hint: no answer rather than a failed page)."""
        try:
            with POOL.reader(self.settings.det_side, self.model_release, self.margin) as reader:
                lines = reader.read_page(np.ascontiguousarray(grey))
        except Exception:  # noqa: BLE001
            return None
        return [(c.text, 100 * c.prob, ln.y0, ln.y1 - ln.y0) for ln in lines for c in ln.chars if not c.text.isspace()]

    def entry(self) -> OcrEngineEntry:
        """rapidocr's version, onnxruntime's, and the detector and recogniser files with their SHA-256."""
        models = self.models()
        files = [ModelFileEntry(file=f.path.name, bytes=f.bytes, sha256=f.sha256) for f in models.read_with]
        return OcrEngineEntry(engine="ppocr", version=f"{models.distribution} {models.version}",
                              runtime=f"onnxruntime {models.runtime}", models=files)

    def check(self) -> None:
        """The models are installed and are the profile's."""
        self.models()

    def warm(self, workers: int) -> None:
        """Have one reader per page worker loaded (~0.5 s each)."""
        POOL.warm(workers, self.settings.det_side, self.model_release, self.margin)

    def release(self) -> int:
        """Unload this process's idle readers once a run's reading is over and give their memory back (two hold
        ~400 MB that the volume stage and its checks would otherwise stack on); returns how many."""
        dropped = POOL.release()
        return_free_memory()
        return dropped
