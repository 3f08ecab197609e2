"""The access database (SQLAlchemy 2 + Alembic): SQLite in the state folder by default, PostgreSQL in production."""

from pipeline.access.db import _tables as tables
from pipeline.access.db._database import Database, DatabaseError, normalise_url

__all__ = ["Database", "DatabaseError", "normalise_url", "tables"]
