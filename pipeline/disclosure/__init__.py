"""Disclosure copies (阅卷版): personal data found on a case file's pages — numbers, detailed addresses, the names of
the people a profile hides — and burnt out of the page images and their text.

Pure functions over characters with boxes and page images: reading a published volume, rebuilding it as PDF/A,
signing and publishing the copy happen above (:mod:`pipeline.dossier`).
"""

from pipeline.disclosure._addresses import county_end, find_addresses
from pipeline.disclosure._burn import Burn, burn_image, burns, ink_mask
from pipeline.disclosure._detect import Finding, People, counts, detect_page, read_people, redacted_text
from pipeline.disclosure._layer import redacted_result
from pipeline.disclosure._numbers import Span, find_numbers, id_checksum_ok, luhn_ok
from pipeline.disclosure._page import Numbered, RedactedPage, redact_page
from pipeline.disclosure._text import Glyph, PageText, Stream, fold, page_text_from_ocr, stream

__all__ = [
    "Burn",
    "Finding",
    "Glyph",
    "Numbered",
    "PageText",
    "People",
    "RedactedPage",
    "Span",
    "Stream",
    "burn_image",
    "burns",
    "counts",
    "county_end",
    "detect_page",
    "find_addresses",
    "find_numbers",
    "fold",
    "id_checksum_ok",
    "ink_mask",
    "luhn_ok",
    "page_text_from_ocr",
    "read_people",
    "redact_page",
    "redacted_result",
    "redacted_text",
    "stream",
]
