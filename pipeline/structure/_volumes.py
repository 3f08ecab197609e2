"""Documents packed into volumes of at most ``max_pages`` numbered pages, and each volume's 卷内目录."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.models import (
    Catalogue,
    CatalogueEntry,
    VolumeCatalogue,
)
from pipeline.structure._types import Document, VolumePart, VolumePlan


def plan_volumes(documents: Sequence[Document], max_pages: int) -> list[VolumePlan]:
    """Pack documents, in order, into volumes of at most ``max_pages`` numbered pages.

    A document that does not fit in the space left in the current volume starts the next volume (documents are
    never split to fill a volume). A document longer than ``max_pages`` on its own also starts a fresh volume and
    is cut at page boundaries into full volumes; its later parts are ``continued`` (续), and documents after it
    fill the space its last part leaves. Documents without numbered pages take no place.
    """
    if max_pages < 1:
        raise ValueError(f"max_pages must be at least 1, got {max_pages}")
    volumes: list[list[VolumePart]] = []
    used = max_pages  # forces a first volume
    for doc in documents:
        n = len(doc.positions)
        if n == 0:
            continue
        if n <= max_pages:
            if used + n > max_pages:
                volumes.append([])
                used = 0
            volumes[-1].append(VolumePart(doc.index, tuple(doc.positions)))
            used += n
            continue
        if used > 0:
            volumes.append([])
            used = 0
        for k, start in enumerate(range(0, n, max_pages)):
            chunk = tuple(doc.positions[start : start + max_pages])
            if k > 0:
                volumes.append([])
            volumes[-1].append(VolumePart(doc.index, chunk, continued=k > 0))
            used = len(chunk)
    total = len(volumes)
    return [VolumePlan(number=i + 1, of=total, parts=tuple(parts)) for i, parts in enumerate(volumes)]


def volume_catalogue(plan: VolumePlan, documents: Sequence[Document]) -> VolumeCatalogue:
    """The 卷内目录 of one volume: one row per document part, with its first and last page number in the volume."""
    by_index = {d.index: d for d in documents}
    entries, page = [], 1
    for seq, part in enumerate(plan.parts, start=1):
        doc = by_index.get(part.document)
        if doc is None:
            raise ValueError(f"volume {plan.number} refers to document {part.document}, which is not in the list")
        remark = "；".join(r for r in (doc.remark, "续" if part.continued else "") if r)
        entries.append(CatalogueEntry(
            seq=seq, doc_no=doc.doc_no, author=doc.author, title=doc.title, date=doc.date, first_page=page,
            last_page=page + len(part.positions) - 1, remark=remark, continued=part.continued, document=doc.index,
            flags=doc.doubts(), evidence=doc.entry_evidence(),
        ))
        page += len(part.positions)
    return VolumeCatalogue(volume=plan.number, entries=entries)


def build_catalogue(case_no: str, plans: Sequence[VolumePlan], documents: Sequence[Document]) -> Catalogue:
    """catalogue.json: the 卷内目录 of every volume."""
    return Catalogue(case_no=case_no, volumes=[volume_catalogue(plan, documents) for plan in plans])
