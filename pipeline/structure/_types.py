"""Documents of a case and the volumes they are packed into, as the structure stage hands them on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """A document of the case: its catalogue fields and the batch positions of its numbered pages, in order."""

    index: int
    title: str
    positions: tuple[int, ...]
    doc_no: str = ""
    author: str = ""
    date: str = ""  # ISO 8601 when known, else as printed, else empty
    remark: str = ""
    boundary: str = "single"  # manifest | separator | ocr | single
    flags: tuple[str, ...] = ()


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
