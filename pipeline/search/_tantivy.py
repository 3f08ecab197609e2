"""The embedded backend: a Tantivy index in a folder (PyPI ``tantivy``), terms made by ``_tokens`` and split on
spaces by Tantivy's whitespace tokenizer, so positions are ours.

One writer at a time across processes (Tantivy's lock file): a publishing run waits for the lock up to
``lock_timeout`` seconds, then fails naming the case. Readers see a commit when they next search (``reload``).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import tantivy
from tantivy import FieldType, Occur, Query

from pipeline.common import write_atomic
from pipeline.errors import StoreError
from pipeline.search._entries import Entry
from pipeline.search._scope import Filters, Scope, copy_kind
from pipeline.search._tokens import Phrase, index_terms

SCHEMA_VERSION = "1"
_RAW = ("uid", "case_key", "owner", "copy_kind", "title")
_STORED = ("case_no", "copy", "source", "date_text", "manifest_version")


def _schema() -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    for name in _RAW:
        b.add_text_field(name, stored=True, tokenizer_name="raw", index_option="basic")
    for name in _STORED:
        b.add_text_field(name, stored=True, tokenizer_name="raw", index_option="basic")
    b.add_integer_field("volume", stored=True, indexed=True, fast=True)
    b.add_integer_field("page", stored=True)
    b.add_integer_field("date", indexed=True, fast=True)
    b.add_bytes_field("text", stored=True)
    b.add_bytes_field("boxes", stored=True)
    b.add_text_field("bigram", tokenizer_name="whitespace", index_option="position")
    b.add_text_field("unigram", tokenizer_name="whitespace", index_option="position")
    return b.build()


class TantivyBackend:
    """The index in ``folder`` (created when missing; a folder of another schema version must be rebuilt)."""

    name = "tantivy"

    def __init__(self, folder: Path, heap_bytes: int = 128_000_000, lock_timeout: float = 120.0,
                 rebuild: bool = False):
        """Open (or create) the index; one of another schema version is refused, or with ``rebuild`` emptied."""
        self.folder, self.heap_bytes, self.lock_timeout = Path(folder), heap_bytes, lock_timeout
        self.folder.mkdir(parents=True, exist_ok=True)
        marker = self.folder / "dossier-search.json"
        if marker.exists() and json.loads(marker.read_text()).get("schema") != SCHEMA_VERSION:
            if not rebuild:
                raise StoreError(f"search index {self.folder} is of another version: run `dossier search reindex`")
            shutil.rmtree(self.folder)
            self.folder.mkdir(parents=True)
        self.schema = _schema()
        self.index = tantivy.Index(self.schema, path=str(self.folder))
        if not marker.exists():
            write_atomic(marker, json.dumps({"schema": SCHEMA_VERSION,
                                             "engine": f"tantivy {tantivy.__version__}"}).encode())

    # ------------------------------------------------------------------------------------------------------------
    # writing

    def _writer(self, what: str) -> tantivy.IndexWriter:
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                return self.index.writer(heap_size=self.heap_bytes, num_threads=1)
            except ValueError as exc:
                if time.monotonic() > deadline:
                    raise StoreError(f"search index {self.folder}: {what}: another process holds the writer "
                                     f"lock for over {self.lock_timeout:.0f} s ({exc})") from exc
                time.sleep(0.1)

    def _document(self, e: Entry) -> tantivy.Document:
        bigram, unigram = index_terms(e.text)
        return tantivy.Document(
            uid=e.uid, case_key=e.case_key, owner=e.owner, copy_kind=copy_kind(e.copy), title=e.title,
            case_no=e.case_no, copy=e.copy, source=e.source, date_text=e.date, manifest_version=e.manifest_version,
            volume=e.volume, page=e.page, date=e.date_number, text=e.text.encode("utf-8"), boxes=e.boxes,
            bigram=bigram, unigram=unigram)

    def replace_case(self, case_key: str, entries: Iterable[Entry], copy: str | None = None) -> int:
        """Drop every entry of a case (only those of one copy, when given) and add ``entries`` in one commit; the
        number added."""
        writer = self._writer(f"case {case_key}")
        try:
            if copy is None:
                writer.delete_documents_by_term("case_key", case_key)
            else:
                writer.delete_documents_by_query(Query.boolean_query([
                    (Occur.Must, self._term("case_key", case_key)), (Occur.Must, self._term("copy", copy))]))
            n = 0
            for e in entries:
                writer.add_document(self._document(e))
                n += 1
            writer.commit()
        except BaseException:
            writer.rollback()
            raise
        finally:
            writer.wait_merging_threads()
        return n

    def add_many(self, entries: Iterable[Entry]) -> int:
        """Add entries of cases not in the index yet, committing every 20,000 (a rebuild, the benchmark)."""
        writer = self._writer("bulk load")
        n = 0
        try:
            for e in entries:
                writer.add_document(self._document(e))
                n += 1
                if n % 20_000 == 0:
                    writer.commit()
            writer.commit()
        finally:
            writer.wait_merging_threads()
        return n

    def drop_case(self, case_key: str) -> None:
        """Remove every entry of a case."""
        self.replace_case(case_key, ())

    def clear(self) -> None:
        """Remove every entry."""
        writer = self._writer("clear")
        try:
            writer.delete_all_documents()
            writer.commit()
        finally:
            writer.wait_merging_threads()

    # ------------------------------------------------------------------------------------------------------------
    # reading

    def _searcher(self) -> tantivy.Searcher:
        self.index.reload()
        return self.index.searcher()

    def _term(self, field: str, value) -> Query:
        return Query.term_query(self.schema, field, value)

    def _phrase(self, p: Phrase) -> Query:
        if len(p.terms) == 1:
            return self._term(p.field, p.terms[0])
        return Query.phrase_query(self.schema, p.field, list(p.terms))

    def _scope(self, scope: Scope) -> Query | None:
        if scope.everything:
            return None
        should: list[tuple[Occur, Query]] = []
        if scope.owner:
            should.append((Occur.Should, Query.boolean_query([(Occur.Must, self._term("owner", scope.owner)),
                                                              (Occur.Must, self._term("copy_kind", "original"))])))
        for g in scope.grants:
            parts = [(Occur.Must, self._term("case_key", g.case_key)), (Occur.Must, self._term("copy_kind", g.copy))]
            if g.volumes is not None:
                parts.append((Occur.Must, Query.term_set_query(self.schema, "volume", sorted(g.volumes))))
            should.append((Occur.Should, Query.boolean_query(parts)))
        return Query.boolean_query(should) if should else Query.empty_query()

    def _filters(self, filters: Filters) -> list[Query]:
        out = []
        if filters.case_key:
            out.append(self._term("case_key", filters.case_key))
        if filters.title:  # a kind of document: its title, or the title with more after it (询问笔录（张某某）)
            out.append(Query.regex_query(self.schema, "title", re.escape(filters.title) + ".*"))
        if filters.date_from or filters.date_to:
            out.append(Query.range_query(self.schema, "date", FieldType.Integer, filters.date_from or 1,
                                         filters.date_to or 99991231))
        return out

    def search(self, phrases: Sequence[Phrase], scope: Scope, filters: Filters,
               limit: int) -> tuple[int, list[tuple[float, Entry]]]:
        """The number of entries in scope that contain every phrase, and the best ``limit`` of them."""
        if not phrases or scope.empty:
            return 0, []
        musts = [self._phrase(p) for p in phrases]
        scoped = self._scope(scope)
        filtering = ([scoped] if scoped is not None else []) + self._filters(filters)
        if filtering:
            musts.append(Query.const_score_query(Query.boolean_query([(Occur.Must, q) for q in filtering]), 0.0))
        query = Query.boolean_query([(Occur.Must, q) for q in musts])
        searcher = self._searcher()
        result = searcher.search(query, limit=max(1, limit), count=True)
        return result.count, [(score, self._entry(searcher.doc(addr))) for score, addr in result.hits]

    @staticmethod
    def _entry(doc: tantivy.Document) -> Entry:
        first = doc.get_first
        return Entry(uid=first("uid"), case_no=first("case_no"), case_key=first("case_key"), owner=first("owner"),
                     copy=first("copy"), source=first("source"), volume=first("volume"), page=first("page"),
                     title=first("title"), date=first("date_text"), text=bytes(first("text")).decode("utf-8"),
                     boxes=bytes(first("boxes") or b""), manifest_version=first("manifest_version"))

    def entry(self, uid: str) -> Entry | None:
        """One entry by its uid."""
        searcher = self._searcher()
        hits = searcher.search(self._term("uid", uid), limit=1).hits
        return self._entry(searcher.doc(hits[0][1])) if hits else None

    def case_keys(self) -> set[str]:
        """The cases the index holds (from their case entries)."""
        searcher = self._searcher()
        query = self._term("source", "case")
        hits = searcher.search(query, limit=max(1, searcher.num_docs)).hits if searcher.num_docs else []
        return {searcher.doc(addr).get_first("case_key") for _, addr in hits}

    def count(self) -> int:
        """Entries in the index."""
        return self._searcher().num_docs

    def size_bytes(self) -> int:
        """Bytes the index takes on disk."""
        return sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())

    def close(self) -> None:
        """Nothing to release: readers and writers live only for a call."""
