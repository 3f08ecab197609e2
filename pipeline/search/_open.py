"""Which backend holds the index: Tantivy in a folder by default, PostgreSQL when asked for or when the access
database is PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import SettingsError
from pipeline.search._index import SearchIndex

BACKENDS = ("auto", "tantivy", "postgresql")


def backend(name: str, folder: Path, db_url: str = "", rebuild: bool = False):
    """The backend itself: ``tantivy`` in ``folder``, ``postgresql`` in the database at ``db_url``; ``auto`` picks
    PostgreSQL when ``db_url`` is a PostgreSQL URL, else Tantivy. ``rebuild``: an index of another schema version
    is emptied rather than refused (``dossier search reindex``)."""
    if name not in BACKENDS:
        raise SettingsError(f"DOSSIER_SEARCH_BACKEND={name!r}: use one of {', '.join(BACKENDS)}")
    postgres = db_url.startswith(("postgresql", "postgres:"))
    if name == "postgresql" or (name == "auto" and postgres):
        if not postgres:
            raise SettingsError("DOSSIER_SEARCH_BACKEND=postgresql needs DOSSIER_DB_URL to name a PostgreSQL "
                                "database")
        from pipeline.search._postgres import PostgresBackend

        return PostgresBackend(db_url)
    from pipeline.search._tantivy import TantivyBackend

    return TantivyBackend(folder, rebuild=rebuild)


def open_index(name: str, folder: Path, db_url: str = "", rebuild: bool = False) -> SearchIndex:
    """The index over :func:`backend`."""
    return SearchIndex(backend(name, folder, db_url, rebuild))
