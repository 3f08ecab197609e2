"""A field as found, with what speaks for it: value, confidence, the flags that put it in doubt, what OCR read.

Readings of one line (the page OCR and its re-reads) are combined by agreement: two readings that say the same thing
are worth more than one that a lexicon accepts, and a value no reading agrees on is flagged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.models import FieldEvidence

LOW_CONFIDENCE = 55.0
"""Lowest word confidence (0-100) of a line below which a reading nothing else confirms is flagged."""


@dataclass(frozen=True)
class Found:
    """A field value read from the pages: its confidence (0-1), flags, and the OCR text when it differs."""

    value: str
    confidence: float
    flags: tuple[str, ...] = ()
    read: str = ""

    def evidence(self, source: str = "ocr") -> FieldEvidence:
        """The contract's form of it."""
        confidence = round(min(1.0, max(0.0, self.confidence)), 2)
        return FieldEvidence(source=source if self.value else None, confidence=confidence,
                             flags=list(self.flags), read=self.read if self.read != self.value else "")


MISSING = Found("", 0.0, ("missing",))
NOT_PRINTED = Found("", 0.9)  # a field the document type does not carry (a 笔录's 文号)


def declared(value: str, source: str) -> FieldEvidence:
    """A value a person declared (batch.json, a separator sheet, a review)."""
    return FieldEvidence(source=source, confidence=1.0)


@dataclass(frozen=True)
class Vote:
    """What the readings of one line agree on."""

    value: str
    votes: int
    of: int
    conf: float  # best lowest-word-confidence among the readings that gave the value


def vote(values: Sequence[tuple[str, float]]) -> Vote | None:
    """The value most readings give (ties: the one read with the higher confidence); empty values ignored."""
    given = [(v, c) for v, c in values if v]
    if not given:
        return None
    counts = Counter(v for v, _ in given)
    best = max(counts, key=lambda v: (counts[v], max(c for x, c in given if x == v)))
    return Vote(best, counts[best], len(given), max(c for x, c in given if x == best))


def from_vote(result: Vote | None, checked: bool = False) -> Found:
    """A field from the readings' vote: agreed by two readings or checked by a lexicon → confident; else flagged."""
    if result is None:
        return MISSING
    agreed = result.votes >= 2 and result.votes * 2 > result.of
    alone_and_clear = result.of == 1 and result.conf >= 85  # no second reading to be had (no page image)
    if agreed or alone_and_clear or (checked and result.conf >= LOW_CONFIDENCE):
        return Found(result.value, min(1.0, 0.6 + 0.1 * result.votes + result.conf / 400))
    flags = ("conflict",) if result.of > result.votes else ("low-confidence",)
    if checked:
        flags = ("low-confidence",)
    return Found(result.value, min(0.6, result.conf / 150), flags)
