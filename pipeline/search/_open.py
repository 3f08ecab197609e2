"""Which backend holds the index: Tantivy in a folder by default, PostgreSQL when asked for or when the access
database is PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import SettingsError
from pipeline.search._index import SearchIndex

BACKENDS = ("auto", "tantivy", "postgresql")


def open_index(backend: str, folder: Path, db_url: str = "") -> SearchIndex:
    """The index: ``tantivy`` in ``folder``, ``postgresql`` in the database at ``db_url``; ``auto`` picks
    PostgreSQL when ``db_url`` is a PostgreSQL URL, else Tantivy."""
    if backend not in BACKENDS:
        raise SettingsError(f"DOSSIER_SEARCH_BACKEND={backend!r}: use one of {', '.join(BACKENDS)}")
    postgres = db_url.startswith(("postgresql", "postgres:"))
    if backend == "postgresql" or (backend == "auto" and postgres):
        if not postgres:
            raise SettingsError("DOSSIER_SEARCH_BACKEND=postgresql needs DOSSIER_DB_URL to name a PostgreSQL "
                                "database")
        from pipeline.search._postgres import PostgresBackend

        return SearchIndex(PostgresBackend(db_url))
    from pipeline.search._tantivy import TantivyBackend

    return SearchIndex(TantivyBackend(folder))
