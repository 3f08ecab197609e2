"""A person's review of the 卷内目录 before the volumes are built: which volumes need one, and what a review changes.

The flow pauses (that is Prefect's business, in ``flows``); this module only decides and applies. A reviewed value
is the operator's (source ``operator``, confidence 1, no flags); a value the operator left as it was is confirmed
(its flags cleared, its source kept). Every field of a reviewed row is recorded as a
:class:`pipeline.models.CatalogueCorrection`: who, when, before and after.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from pipeline.errors import BadInputError
from pipeline.messages import N_, said, say
from pipeline.models import CatalogueCorrection, CatalogueEntry, FieldEvidence, VolumeCatalogue
from pipeline.structure._dates import FIRST_YEAR, read_date_line
from pipeline.structure._lexicon import normalise
from pipeline.structure._types import FIELDS, Document

LABELS = {"title": "题名", "doc_no": "文号", "author": "责任者", "date": "日期"}
"""The 卷内目录's column names of the fields, as clerks and ``--set 2.日期=…`` name them."""

DOUBT_WORDS = {
    "missing": N_("missing"), "corrected": N_("corrected"), "ambiguous": N_("ambiguous"),
    "unverified": N_("not verified"), "low-confidence": N_("read with low confidence"), "conflict": N_("conflicting"),
    "repaired": N_("repaired from a damaged reading"), "partial": N_("partial"), "truncated": N_("cut off"),
    "no-ocr": N_("not read (OCR off)"),
}
"""Why a 卷内目录 field is in doubt (its flags: catalogue.json keeps these codes), in the reviewer's words: the one
vocabulary of the review station, the Prefect review form and the CLI's review."""


def doubt_words(flags: Iterable[str]) -> str:
    """A field's flags as a reviewer reads them, in the current language: 缺失、识别把握不大 (an unknown code as is)."""
    return say(N_(", ")).join(said(DOUBT_WORDS, f) for f in flags)


def entry_in_doubt(entry: CatalogueEntry) -> bool:
    """Whether a row holds a field in doubt (or a boundary or page-count note); a value a reviewer typed is decided,
    even when it is flagged as odd."""
    return bool(entry.flags) or any(getattr(entry.evidence, name).flags and
                                    getattr(entry.evidence, name).source != "operator" for name in FIELDS)


def volumes_to_review(catalogues: Sequence[VolumeCatalogue], mode: str) -> list[int]:
    """The volumes a person must check before they are built: none (``never``), every one (``always``), or those
    with a field in doubt (``flagged``)."""
    if mode == "never":
        return []
    if mode == "always":
        return [c.volume for c in catalogues]
    if mode != "flagged":
        raise ValueError(f"unknown review mode {mode!r} (flagged | always | never)")
    return [c.volume for c in catalogues if any(entry_in_doubt(e) for e in c.entries)]


def field_name(text: str) -> str:
    """title/doc_no/author/date from either the contract's name or the 卷内目录's column (题名, 文号, 责任者, 日期)."""
    for name, label in LABELS.items():
        if text in (name, label):
            return name
    names = ", ".join(f"{k}/{v}" for k, v in LABELS.items())
    raise BadInputError(f"no field {text!r} in the 卷内目录 (fields: {names})")


LATEST_OFFSET = timedelta(hours=14)
"""The furthest ahead of UTC any place's date is: "not after today" holds for a reviewer anywhere."""


def reviewed_date(text: str, now: datetime | None = None) -> str:
    """An operator's date as ISO 8601: 2022-01-04, 2022-01 (year and month, kept partial), 二〇二二年一月四日,
    2022年1月, or empty. A date that is not on the calendar (2024-13-45, 2023-02-29) or lies after today is refused
    (BadInputError)."""
    s = normalise(text)
    if not s:
        return ""
    found = read_date_line(s)
    iso = found.iso if found is not None and not found.repaired else s
    if not re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", iso) or not _on_calendar(iso):
        raise BadInputError(f"date {text!r} is not a date on the calendar: write it as 2022-01-04, 2022-01 or "
                            f"二〇二二年一月四日")
    today = ((now or datetime.now(UTC)).astimezone(UTC) + LATEST_OFFSET).date()
    if iso > today.isoformat()[: len(iso)]:
        raise BadInputError(f"date {text!r} lies after today ({today.isoformat()}): a document cannot be dated "
                            f"later than it was reviewed")
    return iso


def _on_calendar(iso: str) -> bool:
    year, month, *day = (int(p) for p in iso.split("-"))
    try:
        date(year, month, day[0] if day else 1)
    except ValueError:
        return False
    return FIRST_YEAR <= year


def reviewed_flags(name: str, value: str) -> list[str]:
    """What is odd in a value a reviewer typed, checked like the values read from the pages: a 责任者 the lexicon
    does not know (``unverified``) or knows by another spelling (``corrected``: the name it knows is suggested), a
    文号 that does not read as one (``unverified``). An odd value is kept as typed, and flagged."""
    from pipeline.structure._divisions import check_authority
    from pipeline.structure._numbers import find_doc_no

    if not value.strip():
        return []
    if name == "author":
        status = check_authority(value).status
        return [] if status == "exact" else ["unverified" if status != "corrected" else "corrected"]
    if name == "doc_no":
        found = find_doc_no(value)
        return [] if found is not None and found[1] > 0.8 else ["unverified"]
    return []


@dataclass(frozen=True)
class ReviewedRow:
    """One row as the reviewer left it: the four values by 顺序号."""

    seq: int
    title: str
    doc_no: str
    author: str
    date: str


def apply_review(catalogue: VolumeCatalogue, rows: Iterable[ReviewedRow], by: str, at: datetime,
                 run: str | None = None) -> tuple[VolumeCatalogue, list[CatalogueCorrection]]:
    """The volume's 卷内目录 after a review, and the record of every field reviewed (corrected or confirmed)."""
    if not by.strip():
        raise BadInputError("a review needs the reviewer's name")
    given = {r.seq: r for r in rows}
    unknown = sorted(set(given) - {e.seq for e in catalogue.entries})
    if unknown:
        raise BadInputError(f"volume {catalogue.volume} has no row {unknown[0]}")
    entries, records = [], []
    for entry in catalogue.entries:
        row = given.get(entry.seq)
        if row is None:
            entries.append(entry)
            continue
        values, evidence = {}, {}
        for name in FIELDS:
            before, after = getattr(entry, name), getattr(row, name).strip()
            if name == "date":
                after = reviewed_date(after, at)
            old = getattr(entry.evidence, name)
            changed = normalise(after) != normalise(before)
            values[name] = after if changed else before
            evidence[name] = FieldEvidence(source="operator", confidence=1.0, flags=reviewed_flags(name, after)) \
                if changed else old.model_copy(update={"flags": [], "confidence": 1.0})
            records.append(CatalogueCorrection(
                volume=catalogue.volume, seq=entry.seq, document=entry.document, field=name,
                action="corrected" if changed else "confirmed", before=before, after=values[name],
                source_before=old.source, flags_before=list(old.flags), by=by.strip(), at=at, run=run))
        entries.append(entry.model_copy(update={**values, "flags": [], "evidence": entry.evidence.model_copy(
            update=evidence)}))
    return catalogue.model_copy(update={"entries": entries}), records


def reapply(catalogues: Sequence[VolumeCatalogue], earlier: Sequence[CatalogueCorrection]
            ) -> tuple[list[VolumeCatalogue], list[CatalogueCorrection]]:
    """Reviews made on an earlier run of the same batch applied again where the row still reads as it did then
    (a rerun of a failed volume must not ask again); returns the catalogues and the reviews that still hold."""
    by_row: dict[tuple[int, int], list[CatalogueCorrection]] = {}
    for c in earlier:
        by_row.setdefault((c.volume, c.seq), []).append(c)
    out, kept = [], []
    for catalogue in catalogues:
        entries = []
        for entry in catalogue.entries:
            found = by_row.get((catalogue.volume, entry.seq), [])
            holds = {c.field for c in found if c.document == entry.document and getattr(entry, c.field) == c.before}
            if found and holds == set(FIELDS):
                last = {c.field: c for c in found}
                row = ReviewedRow(entry.seq, *(last[name].after for name in FIELDS))
                single = VolumeCatalogue(volume=catalogue.volume, entries=[entry])
                reviewed, _ = apply_review(single, [row], last["title"].by, last["title"].at, last["title"].run)
                entries.append(reviewed.entries[0])
                kept.extend(last.values())
            else:
                entries.append(entry)
        out.append(catalogue.model_copy(update={"entries": entries}))
    return out, kept


def reviewed_documents(documents: Sequence[Document], catalogues: Sequence[VolumeCatalogue]) -> list[Document]:
    """The documents with their reviewed values and evidence (from the first row of each in the catalogues)."""
    rows: dict[int, CatalogueEntry] = {}
    for catalogue in catalogues:
        for entry in catalogue.entries:
            rows.setdefault(entry.document, entry)
    out = []
    for doc in documents:
        row = rows.get(doc.index)
        if row is None:
            out.append(doc)
            continue
        evidence = {name: getattr(row.evidence, name) for name in FIELDS}
        out.append(replace(doc, title=row.title, doc_no=row.doc_no, author=row.author, date=row.date,
                           evidence=evidence, flags=doc.flags if row.flags else ()))
    return out
