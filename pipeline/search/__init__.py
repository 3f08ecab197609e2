"""The full-text index: Chinese tokens (Han bigrams), backends (embedded Tantivy, PostgreSQL), scoped queries."""

from pipeline.search._entries import CASE, CATALOGUE, ORIGINAL, PAGE, Entry, dossier_entries, pack_boxes, unpack_boxes
from pipeline.search._index import Backend, Hit, PageHit, Results, SearchIndex, in_scope, snippet
from pipeline.search._open import BACKENDS, backend, open_index
from pipeline.search._scope import DISCLOSURE, CaseGrant, Filters, Scope
from pipeline.search._tokens import index_terms, occurrences, parse_query

__all__ = [
    "BACKENDS",
    "CASE",
    "CATALOGUE",
    "DISCLOSURE",
    "ORIGINAL",
    "PAGE",
    "Backend",
    "CaseGrant",
    "Entry",
    "Filters",
    "Hit",
    "PageHit",
    "Results",
    "Scope",
    "SearchIndex",
    "dossier_entries",
    "backend",
    "in_scope",
    "index_terms",
    "occurrences",
    "open_index",
    "pack_boxes",
    "parse_query",
    "snippet",
    "unpack_boxes",
]
