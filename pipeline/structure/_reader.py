"""The OCR of a batch's pages as document finding reads it: each page loaded once, titles the page OCR dropped
re-read, fields snapped to names the batch declares."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

from pipeline.ocr import HeadingReader, OcrResult, read_ocr_result
from pipeline.pages import PageArtifact
from pipeline.structure._fields import Fields, read_fields
from pipeline.structure._headings import PageHeading, page_heading
from pipeline.structure._lexicon import levenshtein, normalise

OcrLoader = Callable[[PageArtifact], OcrResult | None]


def load_ocr(page: PageArtifact) -> OcrResult | None:
    """The OCR result of a page from its JSON file, or None when the page was not OCRed."""
    return read_ocr_result(page.ocr_path, _name(page))


def _name(page: PageArtifact) -> str:
    return f"{page.record.source.file}[{page.record.source.index}]"


class PageReader:
    """The OCR of a batch's pages as document finding needs it: each page loaded once, titles the page OCR dropped
    re-read, and fields snapped to names the batch declares (its agency and case number) when OCR garbled them."""

    def __init__(self, ocr: OcrLoader = load_ocr, headings: HeadingReader | None = None, known: Sequence[str] = ()):
        self._load = ocr
        self._headings = headings
        self._known = [(normalise(k), k) for k in known if k]
        self._cache: OrderedDict[int, OcrResult | None] = OrderedDict()

    CACHED_PAGES = 16
    """Pages are read in scan order, so a few recent ones are all that is worth keeping: memory stays flat."""

    def ocr(self, page: PageArtifact) -> OcrResult | None:
        """The page's OCR (with a re-read heading where needed), or None if it has none."""
        if page.position in self._cache:
            self._cache.move_to_end(page.position)
            return self._cache[page.position]
        result = self._load(page)
        if result is not None and self._headings is not None:
            result = self._headings.complete(page.image_path, page.dpi, _name(page), result)
        self._cache[page.position] = result
        if len(self._cache) > self.CACHED_PAGES:
            self._cache.popitem(last=False)
        return result

    def heading(self, page: PageArtifact) -> PageHeading | None:
        """The heading of a page, or None if it has no OCR."""
        result = self.ocr(page)
        return page_heading(result) if result is not None else None

    def fields(self, first: PageArtifact, last: PageArtifact | None) -> Fields | None:
        """Fields of a document from its first and last pages; None when the first page has no OCR."""
        first_ocr = self.ocr(first)
        if first_ocr is None:
            return None
        found = read_fields(first_ocr, self.ocr(last) if last is not None else None)
        return Fields(found.title, self._snap(found.doc_no), self._snap(found.author), found.date, found.flags)

    def _snap(self, value: str) -> str:
        """A value read by OCR replaced by a declared name it is one or two misread characters away from."""
        if not value:
            return value
        norm = normalise(value)
        for key, known in self._known:
            if len(key) >= 6 and levenshtein(norm, key) <= max(1, len(key) // 8):
                return known
        return value
