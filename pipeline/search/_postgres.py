"""The PostgreSQL backend: the same entries and terms as the embedded one, in a table of the database the access
service already runs on, with GIN indexes over two ``tsvector`` columns built from our own terms (Debian's
PostgreSQL has neither zhparser nor pg_bigm, and its text parser does not split Chinese).

Each ``tsvector`` is written as a literal, ``'张三':4 '三丰':5``, so positions are ours and a phrase is a ``tsquery``
with ``<->`` between its terms. The table is made by the backend itself: it holds only what ``dossier search
reindex`` can rebuild from the store.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

import psycopg

from pipeline.errors import StoreError
from pipeline.search._entries import Entry
from pipeline.search._scope import Filters, Scope, copy_kind
from pipeline.search._tokens import BIGRAM, Phrase, index_terms

TABLE = "search_entries"
_COLUMNS = ("uid", "case_key", "owner", "copy_kind", "title", "case_no", "copy", "source", "date_text",
            "manifest_version", "volume", "page", "date", "body", "boxes", "bigram", "unigram")
_DDL = [
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
        uid text PRIMARY KEY, case_key text NOT NULL, owner text NOT NULL, copy_kind text NOT NULL,
        title text NOT NULL, case_no text NOT NULL, copy text NOT NULL, source text NOT NULL, date_text text NOT NULL,
        manifest_version text NOT NULL, volume integer NOT NULL, page integer NOT NULL, date integer NOT NULL,
        body text NOT NULL, boxes bytea NOT NULL, bigram tsvector NOT NULL, unigram tsvector NOT NULL)""",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_bigram ON {TABLE} USING gin (bigram)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_unigram ON {TABLE} USING gin (unigram)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_case ON {TABLE} (case_key)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_owner ON {TABLE} (owner)",
]
MAX_POSITION = 16383  # tsvector positions stop here


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _lexeme(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(terms: str) -> str:
    """A ``tsvector`` literal of space-separated terms at positions 1, 2, …"""
    positions: dict[str, list[str]] = {}
    for k, term in enumerate(terms.split(), start=1):
        positions.setdefault(term, []).append(str(min(k, MAX_POSITION)))
    return " ".join(f"{_lexeme(t)}:{','.join(p)}" for t, p in positions.items())


def tsquery_literal(p: Phrase) -> str:
    """The ``tsquery`` of one phrase: its terms in a row."""
    return " <-> ".join(_lexeme(t) for t in p.terms)


class PostgresBackend:
    """The index in the ``search_entries`` table of a PostgreSQL database (``postgresql://`` URL)."""

    name = "postgresql"

    def __init__(self, url: str, timeout: float = 10.0, write_timeout: float = 0.0):
        self.url = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.timeout, self.write_timeout = timeout, write_timeout  # write_timeout 0: none (a rebuild)
        self._local = threading.local()
        with self._connection() as conn, conn.transaction():
            for ddl in _DDL:
                conn.execute(ddl)

    def _connection(self) -> _Borrowed:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            try:
                conn = psycopg.connect(self.url, autocommit=True, connect_timeout=int(self.timeout),
                                       options=f"-c statement_timeout={int(self.timeout * 1000)}")
            except psycopg.Error as exc:
                raise StoreError(f"search index (PostgreSQL): cannot connect: {_one_line(exc)}") from exc
            self._local.conn = conn
        return _Borrowed(conn)

    @staticmethod
    def _row(e: Entry) -> tuple:
        bigram, unigram = index_terms(e.text)
        return (e.uid, e.case_key, e.owner, copy_kind(e.copy), e.title, e.case_no, e.copy, e.source, e.date,
                e.manifest_version, e.volume, e.page, e.date_number, e.text, e.boxes, tsvector_literal(bigram),
                tsvector_literal(unigram))

    def _copy_in(self, conn: psycopg.Connection, entries: Iterable[Entry]) -> int:
        n = 0
        conn.execute(f"SET LOCAL statement_timeout = {int(self.write_timeout * 1000)}")
        with conn.cursor().copy(f"COPY {TABLE} ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
            for e in entries:
                copy.write_row(self._row(e))
                n += 1
        return n

    def replace_case(self, case_key: str, entries: Iterable[Entry], copy: str | None = None) -> int:
        """Drop every entry of a case (only those of one copy, when given) and add ``entries`` in one transaction;
        the number added."""
        try:
            with self._connection() as conn, conn.transaction():
                if copy is None:
                    conn.execute(f"DELETE FROM {TABLE} WHERE case_key = %s", (case_key,))
                else:
                    conn.execute(f"DELETE FROM {TABLE} WHERE case_key = %s AND copy = %s", (case_key, copy))
                return self._copy_in(conn, entries)
        except psycopg.Error as exc:
            raise StoreError(f"search index (PostgreSQL): case {case_key}: {_one_line(exc)}") from exc

    def add_many(self, entries: Iterable[Entry]) -> int:
        """Add entries of cases not in the index yet (a rebuild, the benchmark)."""
        with self._connection() as conn, conn.transaction():
            return self._copy_in(conn, entries)

    def drop_case(self, case_key: str) -> None:
        """Remove every entry of a case."""
        self.replace_case(case_key, ())

    def clear(self) -> None:
        """Remove every entry."""
        with self._connection() as conn:
            conn.execute(f"TRUNCATE {TABLE}")

    @staticmethod
    def _where(phrases: Sequence[Phrase], scope: Scope, filters: Filters) -> tuple[list[str], list, str]:
        clauses, args, ranks = [], [], []
        for p in phrases:
            column = "bigram" if p.field == BIGRAM else "unigram"
            clauses.append(f"{column} @@ %s::tsquery")
            args.append(tsquery_literal(p))
            ranks.append(f"ts_rank({column}, %s::tsquery)")
        if not scope.everything:
            scoped, scoped_args = [], []
            if scope.owner:
                scoped.append("(owner = %s AND copy_kind = 'original')")
                scoped_args.append(scope.owner)
            for g in scope.grants:
                volume = "" if g.volumes is None else " AND volume = ANY(%s)"
                scoped.append(f"(case_key = %s AND copy_kind = %s{volume})")
                scoped_args += [g.case_key, g.copy] + ([sorted(g.volumes)] if g.volumes is not None else [])
            clauses.append("(" + " OR ".join(scoped) + ")")
            args += scoped_args
        if filters.case_key:
            clauses.append("case_key = %s")
            args.append(filters.case_key)
        if filters.title:  # the title, or the title with more after it
            clauses.append("starts_with(title, %s)")
            args.append(filters.title)
        if filters.date_from or filters.date_to:
            clauses.append("date BETWEEN %s AND %s")
            args += [filters.date_from or 1, filters.date_to or 99991231]
        return clauses, args, " + ".join(ranks)

    def search(self, phrases: Sequence[Phrase], scope: Scope, filters: Filters,
               limit: int) -> tuple[int, list[tuple[float, Entry]]]:
        """The number of entries in scope that contain every phrase, and the best ``limit`` of them."""
        if not phrases or scope.empty:
            return 0, []
        clauses, args, rank = self._where(phrases, scope, filters)
        rank_args = [tsquery_literal(p) for p in phrases]
        columns = ", ".join(c for c in _COLUMNS if c not in ("bigram", "unigram"))
        sql = (f"SELECT {columns}, {rank} AS score, count(*) OVER () AS total FROM {TABLE} "
               f"WHERE {' AND '.join(clauses)} ORDER BY score DESC, uid LIMIT %s")
        try:
            with self._connection() as conn:
                rows = conn.execute(sql, [*rank_args, *args, limit]).fetchall()
        except psycopg.Error as exc:
            raise StoreError(f"search index (PostgreSQL): search failed: {_one_line(exc)}") from exc
        total = rows[0][-1] if rows else 0
        return total, [(float(r[-2]), self._entry(r)) for r in rows]

    @staticmethod
    def _entry(r: Sequence) -> Entry:
        (uid, case_key, owner, _kind, title, case_no, copy, source, date_text, version, volume, page, _date, body,
         boxes) = r[:15]
        return Entry(uid=uid, case_no=case_no, case_key=case_key, owner=owner, copy=copy, source=source,
                     volume=volume, page=page, title=title, date=date_text, text=body, boxes=bytes(boxes),
                     manifest_version=version)

    def entry(self, uid: str) -> Entry | None:
        """One entry by its uid."""
        columns = ", ".join(c for c in _COLUMNS if c not in ("bigram", "unigram"))
        with self._connection() as conn:
            row = conn.execute(f"SELECT {columns} FROM {TABLE} WHERE uid = %s", (uid,)).fetchone()
        return self._entry(row) if row else None

    def case_keys(self) -> set[str]:
        """The cases the index holds."""
        with self._connection() as conn:
            return {k for (k,) in conn.execute(f"SELECT DISTINCT case_key FROM {TABLE}")}

    def count(self) -> int:
        """Entries in the index."""
        with self._connection() as conn:
            return conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]

    def size_bytes(self) -> int:
        """Bytes the table and its indexes take."""
        with self._connection() as conn:
            return conn.execute(f"SELECT pg_total_relation_size('{TABLE}')").fetchone()[0]

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()


class _Borrowed:
    """A thread's connection used in a ``with`` block without closing it at the end."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def __enter__(self) -> psycopg.Connection:
        return self.conn

    def __exit__(self, *exc) -> None:
        return None
