"""Documents of a case and the volumes they are packed into, as the structure stage hands them on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pipeline.models import EntryEvidence, FieldEvidence

FIELDS: tuple[str, ...] = ("title", "doc_no", "author", "date")
"""The 卷内目录 fields a document carries, in the order of the contract."""


@dataclass(frozen=True)
class Document:
    """A document of the case: its catalogue fields and the batch positions of its numbered pages, in order."""

    index: int
    title: str
    positions: tuple[int, ...]
    doc_no: str = ""
    author: str = ""
    date: str = ""  # ISO 8601 when known (YYYY-MM when only year and month are printed), else empty
    remark: str = ""
    boundary: str = "single"  # manifest | separator | ocr | single
    flags: tuple[str, ...] = ()
    evidence: Mapping[str, FieldEvidence] = field(default_factory=dict)  # per field: source, confidence, flags

    def field_evidence(self, name: str) -> FieldEvidence:
        """The evidence of one field (an empty field nobody supplied when none was recorded)."""
        found = self.evidence.get(name)
        if found is not None:
            return found
        value = getattr(self, name)
        return FieldEvidence(flags=[] if value else ["missing"])

    def entry_evidence(self) -> EntryEvidence:
        """The evidence of the four fields as the catalogue contract holds it."""
        return EntryEvidence(**{name: self.field_evidence(name) for name in FIELDS})

    def doubts(self) -> list[str]:
        """``<field>-<flag>`` for every flag of every field, then the document's own notes (boundary, pages)."""
        out = [f"{name}-{flag}" for name in FIELDS for flag in self.field_evidence(name).flags]
        return list(dict.fromkeys(out + [f for f in self.flags if not f.startswith(FIELDS)]))


@dataclass(frozen=True)
class VolumePart:
    """A run of one document's pages placed in one volume (a document split across volumes has several parts)."""

    document: int
    positions: tuple[int, ...]
    continued: bool = False  # True when this part continues a document begun in an earlier volume


@dataclass(frozen=True)
class VolumePlan:
    """One volume: number N of M and the document parts in it, in order."""

    number: int
    of: int
    parts: tuple[VolumePart, ...]

    @property
    def positions(self) -> tuple[int, ...]:
        """Batch positions of the numbered pages, in volume order."""
        return tuple(p for part in self.parts for p in part.positions)

    @property
    def page_count(self) -> int:
        """Numbered pages in the volume."""
        return len(self.positions)
