"""Chinese-correct tokens: Han characters one position each, Latin letters and digits in runs, punctuation nothing.

Two streams are indexed over the same positions, one per field:

- ``bigram``: a Han character followed by another Han character of its run gives the pair (张三 三丰 …); the last of
  a run gives itself. A run is broken by punctuation and spaces, never by a line break (a name wrapped over two
  lines is still one run). A run of letters and digits gives itself, lower-cased (豫A12345 → 豫 a12345).
- ``unigram``: every Han character and every run of letters and digits.

A query of two or more Han characters is a phrase of pairs in ``bigram`` (张三 is one term: fast and exact; 张三丰 is
张三 then 三丰); the last character of a run that ends the query is covered by the pair before it. A query with a
lone Han character (人, 豫A12345, 〔2024〕74号) is a phrase in ``unigram``. Text is NFKC-normalised first, so
full-width letters, digits and brackets read as their ASCII forms; offsets always point into the text as given.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

BIGRAM, UNIGRAM = "bigram", "unigram"
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f〇"
_UNIT = re.compile(rf"([{_HAN}])|([^\W_{_HAN}]+)")
_JOINER = re.compile(r"\n*")  # what may stand between two Han characters of one run


@dataclass(frozen=True)
class Unit:
    """One position: a Han character or a run of letters/digits, with its offsets in the original text."""

    text: str  # normalised
    han: bool
    start: int
    end: int
    joined: bool = False  # a Han character that continues the run of the Han character before it


def _normalised(text: str) -> tuple[str, list[int] | None]:
    """NFKC + lower-case text, and for each of its characters the offset it came from (None: the same offsets)."""
    norm = unicodedata.normalize("NFKC", text).lower()
    if len(norm) == len(text):
        return norm, None
    out, origin = [], []
    for i, ch in enumerate(text):
        n = unicodedata.normalize("NFKC", ch).lower()
        out.append(n)
        origin.extend([i] * len(n))
    origin.append(len(text))
    return "".join(out), origin


def units(text: str) -> list[Unit]:
    """The positions of a text, in order."""
    norm, origin = _normalised(text)
    found: list[Unit] = []
    previous_han_end = -1
    for m in _UNIT.finditer(norm):
        start, end = m.span()
        han = m.group(1) is not None
        joined = han and previous_han_end >= 0 and _JOINER.fullmatch(norm, previous_han_end, start) is not None
        if origin is not None:
            start, end = origin[start], origin[end - 1] + 1
        found.append(Unit(m.group(0), han, start, end, joined))
        previous_han_end = m.end() if han else -1
    return found


def bigram_terms(found: list[Unit]) -> list[str]:
    """The ``bigram`` field's term at each position."""
    terms = []
    for i, u in enumerate(found):
        nxt = found[i + 1] if i + 1 < len(found) else None
        terms.append(u.text + nxt.text if u.han and nxt is not None and nxt.joined else u.text)
    return terms


def unigram_terms(found: list[Unit]) -> list[str]:
    """The ``unigram`` field's term at each position."""
    return [u.text for u in found]


def index_terms(text: str) -> tuple[str, str]:
    """Both fields of a text as space-separated terms (one per position), ready for a whitespace tokenizer."""
    found = units(text)
    return " ".join(bigram_terms(found)), " ".join(unigram_terms(found))


@dataclass(frozen=True)
class Phrase:
    """One part of a query: consecutive terms of one field, and the units they were read from."""

    field: str
    terms: tuple[str, ...]
    units: tuple[str, ...]


def phrase(part: str) -> Phrase | None:
    """The phrase a query part (no spaces) searches for; None when it has no letter, digit or Han character."""
    found = units(part)
    if not found:
        return None
    lone_han = any(u.han and not u.joined and (i + 1 == len(found) or not found[i + 1].joined)
                   for i, u in enumerate(found))
    unit_texts = tuple(u.text for u in found)
    if lone_han:
        return Phrase(UNIGRAM, tuple(unigram_terms(found)), unit_texts)
    terms = bigram_terms(found)
    if found[-1].han:  # the last character is covered by the pair before it
        terms = terms[:-1]
    return Phrase(BIGRAM, tuple(terms), unit_texts)


def parse_query(query: str, max_parts: int = 8, max_chars: int = 64) -> tuple[Phrase, ...]:
    """The phrases of a query: its space-separated parts, each of which a hit must contain (at most ``max_parts``
    parts of at most ``max_chars`` characters; the rest is ignored)."""
    parts = [p[:max_chars] for p in query.split()[:max_parts]]
    return tuple(p for p in (phrase(part) for part in parts) if p is not None)


def occurrences(text: str, phrases: tuple[Phrase, ...]) -> list[tuple[int, int]]:
    """Where in ``text`` each phrase's units occur in a row: (start, end) offsets, sorted, for snippets and boxes."""
    found = units(text)
    texts = [u.text for u in found]
    spans = []
    for p in phrases:
        n = len(p.units)
        for i in range(len(found) - n + 1):
            if texts[i] == p.units[0] and texts[i : i + n] == list(p.units):
                spans.append((found[i].start, found[i + n - 1].end))
    return sorted(set(spans))
