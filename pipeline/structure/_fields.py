"""The 卷内目录 fields of a document read from its pages: 题名, 文号 and 责任者 from the head of its first page,
日期 from the signature block of its last page (a 笔录's from its 时间 line), each with its evidence.

Where documents carry them: official documents after GB/T 9704-2012 (发文机关标志 → 责任者, 发文字号 → 文号,
标题 → 题名, 成文日期 → 日期), court documents (court name over the title, case number, date at the end), police
and procuratorate documents, 笔录 (no 文号; the recording unit; the 时间 line), and documents outside the lexicon
(the largest centred line at the top). A field nobody could read stays empty and is flagged ``missing``: nothing
is invented.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.models import FieldEvidence
from pipeline.ocr import OcrResult
from pipeline.structure._evidence import MISSING, NOT_PRINTED, Found
from pipeline.structure._heads import Head, Reread, read_head
from pipeline.structure._layout import PageLayout
from pipeline.structure._lexicon import DATE_LABELS, expects_doc_no
from pipeline.structure._numbers import find_doc_no
from pipeline.structure._signature_block import (
    FindLines,
    labelled_author,
    labelled_date,
    signature_authority,
    signature_date,
)
from pipeline.structure._types import FIELDS

__all__ = ["Fields", "PageView", "find_doc_no", "read_fields"]


@dataclass
class PageView:
    """A page as field reading sees it: its layout, and (when its image can be had) line re-reads."""

    layout: PageLayout
    reread: Reread | None = None
    find_lines: FindLines | None = None

    @classmethod
    def of(cls, ocr: OcrResult | PageView | None) -> PageView | None:
        """A view of an OCR result without re-reads (or the view itself)."""
        if ocr is None or isinstance(ocr, PageView):
            return ocr
        return cls(PageLayout(ocr))

    @property
    def head(self) -> Head:
        """The page's head block, read once."""
        if not hasattr(self, "_head"):
            self._head = read_head(self.layout, self.reread)
        return self._head


@dataclass(frozen=True)
class Fields:
    """Catalogue fields read from a document's pages, with each field's evidence."""

    title: str = ""
    doc_no: str = ""
    author: str = ""
    date: str = ""
    flags: tuple[str, ...] = ()  # <field>-<flag> for every flag of every field
    evidence: dict[str, FieldEvidence] = field(default_factory=dict)


def _is_record(view: PageView, head: Head) -> bool:
    if head.title.value.endswith("笔录"):
        return True
    return any(ln.norm.startswith(DATE_LABELS) for ln in view.layout.lines[:8])


def _date(first: PageView, last: PageView, head: Head, record: bool) -> Found:
    if record:
        found = labelled_date(first.layout, first.reread)
        if found.value:
            return found
    found = signature_date(last.layout, last.reread, last.find_lines)
    if not found.value and last is not first:
        found = signature_date(first.layout, first.reread, first.find_lines)
    if not found.value and head.date.value:
        found = head.date
    if not found.value and not record:
        found = labelled_date(first.layout)
    return found


def _author(first: PageView, last: PageView, head: Head, record: bool) -> Found:
    if head.authority.value:
        return head.authority
    if record:
        found = labelled_author(first.layout)
        if found.value:
            return found
    found = signature_authority(last.layout, last.reread)
    return found if found.value else labelled_author(first.layout)


def _doc_no(head: Head) -> Found:
    if head.doc_no.value:
        return head.doc_no
    official = "关于" in head.title.value and expects_doc_no(head.title.value)  # (…)关于…的通知 (GB/T 9704)
    expected = expects_doc_no(head.title.value) if head.in_lexicon else head.red_head or official
    return MISSING if expected or not head.title.value else NOT_PRINTED


def read_fields(first: OcrResult | PageView | None, last: OcrResult | PageView | None = None) -> Fields:
    """题名, 文号, 责任者 and 日期 of a document from its first page (and its last page for the 落款)."""
    first_view = PageView.of(first)
    if first_view is None:
        evidence = {name: FieldEvidence(flags=["missing", "no-ocr"]) for name in FIELDS}
        return Fields(flags=tuple(f"{n}-{f}" for n in FIELDS for f in ("missing", "no-ocr")), evidence=evidence)
    last_view = PageView.of(last) or first_view
    head = first_view.head
    record = _is_record(first_view, head)
    found = {"title": head.title, "doc_no": NOT_PRINTED if record and not head.doc_no.value else _doc_no(head),
             "author": _author(first_view, last_view, head, record),
             "date": _date(first_view, last_view, head, record)}
    evidence = {name: f.evidence() for name, f in found.items()}
    flags = tuple(f"{name}-{flag}" for name in FIELDS for flag in found[name].flags)
    return Fields(found["title"].value, found["doc_no"].value, found["author"].value, found["date"].value, flags,
                  evidence)
