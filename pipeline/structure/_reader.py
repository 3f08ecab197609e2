"""The OCR of a batch's pages as document finding reads it: each page loaded once, titles the page OCR dropped
re-read, lines that decide a field read again from the page image, fields snapped to names the batch declares."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pipeline.models import FieldEvidence
from pipeline.ocr import HeadingReader, LineReader, OcrResult, PageImage, read_ocr_result
from pipeline.pages import PageArtifact
from pipeline.structure._fields import Fields, PageView, read_fields
from pipeline.structure._heads import Head
from pipeline.structure._layout import PageLayout
from pipeline.structure._lexicon import levenshtein, normalise

OcrLoader = Callable[[PageArtifact], OcrResult | None]
T = TypeVar("T")
R = TypeVar("R")


def load_ocr(page: PageArtifact) -> OcrResult | None:
    """The OCR result of a page from its JSON file, or None when the page was not OCRed."""
    return read_ocr_result(page.ocr_path, page_label(page))


def page_label(page: PageArtifact) -> str:
    """How a page is named in messages: its file and the page's index in it, ``scan.tif[3]``."""
    return f"{page.record.source.file}[{page.record.source.index}]"


class PageReader:
    """The OCR of a batch's pages as document finding needs it: each page loaded once, titles the page OCR dropped
    re-read (``headings``), lines that decide a field read again (``lines``), and fields snapped to names the batch
    declares (its agency and case number) when OCR garbled them. With ``workers`` > 1, :meth:`map` reads pages in
    that many threads (the OCR engine keeps a reader per thread; its sessions release the interpreter)."""

    CACHED_PAGES = 16
    """Pages are read in scan order, so a few recent ones are all that is worth keeping: memory stays flat."""

    CACHED_IMAGES = 2
    """Page images held for re-reads (a colour A4 page is ~25 MB): the first and last page of one document."""

    def __init__(self, ocr: OcrLoader = load_ocr, headings: HeadingReader | None = None, known: Sequence[str] = (),
                 lines: LineReader | None = None, workers: int = 1):
        self._load = ocr
        self.workers = max(1, workers)
        self._lock = threading.Lock()
        self._headings = headings
        self._lines = lines
        self._known = [(normalise(k), k) for k in known if k]
        self._cache: OrderedDict[int, PageView | None] = OrderedDict()
        self._images: OrderedDict[int, PageImage] = OrderedDict()

    def ocr(self, page: PageArtifact) -> OcrResult | None:
        """The page's OCR (with a re-read heading where needed), or None if it has none."""
        view = self.view(page)
        return view.layout.ocr if view is not None else None

    def view(self, page: PageArtifact) -> PageView | None:
        """The page as field reading sees it, or None when it has no OCR."""
        with self._lock:
            if page.position in self._cache:
                self._cache.move_to_end(page.position)
                return self._cache[page.position]
        result = self._load(page)
        if result is not None and self._headings is not None:
            result = self._headings.complete(page.image_path, page.dpi, page_label(page), result)
        view = None
        if result is not None:
            view = PageView(PageLayout(result))
            if self._lines is not None and page.image_path is not None:
                view.reread = lambda box, drop_red, p=page, r=result: self._lines.readings(self._image(p, r), box,
                                                                                         drop_red)
                view.find_lines = lambda region, p=page, r=result: self._lines.find_lines(self._image(p, r), region)
        with self._lock:
            self._cache[page.position] = view
            if len(self._cache) > self.CACHED_PAGES:
                self._cache.popitem(last=False)
        return view

    def _image(self, page: PageArtifact, result: OcrResult) -> PageImage:
        with self._lock:
            image = self._images.get(page.position)
            if image is not None:
                self._images.move_to_end(page.position)
                return image
        # a bitonal page's grey where it was kept: a seal over a date is mid-grey there, black in the bits
        image = PageImage.open(page.grey_path or page.image_path, result, page.dpi, page_label(page))
        with self._lock:
            self._images[page.position] = image
            if len(self._images) > self.CACHED_IMAGES + self.workers:
                self._images.popitem(last=False)
        return image

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``fn`` over ``items`` in order, in ``workers`` threads (pages' re-reads run side by side)."""
        if self.workers == 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(self.workers, thread_name_prefix="fields") as pool:
            return list(pool.map(fn, items))

    def heading(self, page: PageArtifact) -> Head | None:
        """The head block of a page, or None if it has no OCR."""
        view = self.view(page)
        return view.head if view is not None else None

    def fields(self, first: PageArtifact, last: PageArtifact | None) -> Fields | None:
        """Fields of a document from its first and last pages; None when the first page has no OCR."""
        first_view = self.view(first)
        if first_view is None:
            return None
        found = read_fields(first_view, self.view(last) if last is not None else None)
        evidence = dict(found.evidence)
        values = {"doc_no": found.doc_no, "author": found.author}
        for name, value in values.items():
            snapped = self._snap(value)
            if snapped != value:
                values[name] = snapped
                evidence[name] = FieldEvidence(source="ocr", confidence=0.8, flags=["corrected"], read=value)
        flags = tuple(f"{n}-{f}" for n in ("title", "doc_no", "author", "date") for f in evidence[n].flags)
        return Fields(found.title, values["doc_no"], values["author"], found.date, flags, evidence)

    def _snap(self, value: str) -> str:
        """A value read by OCR replaced by a declared name it is one or two misread characters away from."""
        if not value:
            return value
        norm = normalise(value)
        for key, known in self._known:
            if key != norm and len(key) >= 6 and levenshtein(norm, key) <= max(1, len(key) // 8):
                return known
        return value
