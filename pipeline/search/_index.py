"""The search index behind one interface, whichever backend holds it: index a dossier, drop one, search within a
scope, open a hit with its characters' boxes.

Query parsing, snippets and the hit's boxes are computed here from the stored text, the same for every backend.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pipeline.models import Catalogue, DossierManifest
from pipeline.search._entries import ORIGINAL, Entry, dossier_entries, unpack_boxes
from pipeline.search._scope import Filters, Scope, copy_kind
from pipeline.search._tokens import Phrase, occurrences, parse_query

SNIPPET_CONTEXT = 30  # characters shown before and after the first hit
MAX_LIMIT = 100


class Backend(Protocol):
    """What a backend does (``TantivyBackend``, ``PostgresBackend``)."""

    name: str

    def replace_case(self, case_key: str, entries: Iterable[Entry], copy: str | None = None) -> int: ...
    def add_many(self, entries: Iterable[Entry]) -> int: ...
    def drop_case(self, case_key: str) -> None: ...
    def clear(self) -> None: ...
    def search(self, phrases: Sequence[Phrase], scope: Scope, filters: Filters,
               limit: int) -> tuple[int, list[tuple[float, Entry]]]: ...
    def entry(self, uid: str) -> Entry | None: ...
    def case_keys(self) -> set[str]: ...
    def count(self) -> int: ...
    def size_bytes(self) -> int: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Hit:
    """One result: where it is, how well it matched, and a snippet whose marked pieces are the hit."""

    entry: Entry
    score: float
    snippet: tuple[tuple[str, bool], ...]  # (text, marked) pieces

    @property
    def snippet_text(self) -> str:
        """The snippet with the hit in 【】, for terminals and logs."""
        return "".join(f"【{t}】" if marked else t for t, marked in self.snippet)


@dataclass(frozen=True)
class Results:
    """How many entries in scope matched, and the best of them, by relevance."""

    query: str
    total: int
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class PageHit:
    """An opened hit: the entry and the boxes (shares of the page: x0, y0, x1, y1) of each occurrence."""

    entry: Entry
    boxes: tuple[tuple[tuple[float, float, float, float], ...], ...]


def in_scope(entry: Entry, scope: Scope) -> bool:
    """The scope rule the backends apply, for one entry (a hit being opened)."""
    if scope.everything:
        return True
    kind = copy_kind(entry.copy)
    if scope.owner and entry.owner == scope.owner and kind == ORIGINAL:
        return True
    return any(g.case_key == entry.case_key and g.copy == kind and (g.volumes is None or entry.volume in g.volumes)
               for g in scope.grants)


def snippet(text: str, spans: Sequence[tuple[int, int]],
            context: int = SNIPPET_CONTEXT) -> tuple[tuple[str, bool], ...]:
    """A window of ``text`` around its first span, every span inside marked; newlines shown as spaces only between
    letters or digits (Chinese lines run on)."""
    if not spans:
        head = text[: 2 * context]
        return ((_flat(head) + ("…" if len(text) > len(head) else ""), False),)
    start = max(0, spans[0][0] - context)
    end = min(len(text), spans[0][1] + context)
    pieces: list[tuple[str, bool]] = [("…", False)] if start > 0 else []
    at = start
    for s, e in spans:
        if s < at or e > end:
            continue
        if s > at:
            pieces.append((_flat(text[at:s]), False))
        pieces.append((_flat(text[s:e]), True))
        at = e
    if at < end:
        pieces.append((_flat(text[at:end]), False))
    if end < len(text):
        pieces.append(("…", False))
    return tuple(pieces)


def _flat(text: str) -> str:
    out = []
    for i, ch in enumerate(text):
        if ch != "\n":
            out.append(ch)
        elif 0 < i < len(text) - 1 and text[i - 1].isascii() and text[i + 1].isascii():
            out.append(" ")
    return "".join(out)


class SearchIndex:
    """The index: writes go through the publication path, reads through the access layer with a scope."""

    def __init__(self, backend: Backend):
        self.backend = backend

    def index_dossier(self, manifest: DossierManifest, catalogue: Catalogue | None,
                      volumes: Iterable[tuple[int, Path]], manifest_version: str = "", copy: str = ORIGINAL) -> int:
        """Replace what the index holds of the case by this dossier's entries: a published (or superseding)
        original replaces every copy of the case (copies made from the original it replaces are stale); a
        disclosure copy (``copy="disclosure/<profile>"``) replaces only itself."""
        entries = dossier_entries(manifest, catalogue, volumes, manifest_version, copy)
        return self.backend.replace_case(manifest.case_key, entries, None if copy == ORIGINAL else copy)

    def drop_case(self, case_key: str) -> None:
        """Forget a case (its dossier was withdrawn)."""
        self.backend.drop_case(case_key)

    def search(self, query: str, scope: Scope, filters: Filters | None = None, limit: int = 20) -> Results:
        """Entries in scope that contain every part of the query, best first."""
        phrases = parse_query(query)
        total, found = self.backend.search(phrases, scope, filters or Filters(), max(1, min(limit, MAX_LIMIT)))
        hits = tuple(Hit(e, score, snippet(e.text, occurrences(e.text, phrases))) for score, e in found)
        return Results(query, total, hits)

    def open_hit(self, uid: str, query: str, scope: Scope) -> PageHit | None:
        """A hit's entry and its occurrences' boxes; None when it is not in the index or not in scope (the same
        answer, so a caller learns nothing of entries it may not read)."""
        entry = self.backend.entry(uid)
        if entry is None or not in_scope(entry, scope):
            return None
        spans = occurrences(entry.text, parse_query(query))
        return PageHit(entry, tuple(tuple(unpack_boxes(entry.boxes, s, e)) for s, e in spans))

    def close(self) -> None:
        """Release the backend's connections."""
        self.backend.close()
