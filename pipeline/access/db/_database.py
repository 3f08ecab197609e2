"""The access database: one engine per process, short transactions, migrations applied by Alembic.

SQLite (the default, a file in the state folder, mode 0600 with its journal) runs in WAL mode; a write transaction
starts with ``BEGIN IMMEDIATE`` so that two writers never both read a row and then fail to upgrade their lock: the
second waits (up to the busy timeout) and then reads what the first committed. On PostgreSQL a write transaction
locks the rows it changes (``SELECT … FOR UPDATE``), and every statement has a timeout. Connection failures become
:class:`DatabaseError` (exit code 5, HTTP 503) naming the database without its password.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from pipeline.errors import DossierError, ExitCode

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_S = 30
_UPGRADE_LOCK = 7_271_727  # PostgreSQL advisory lock id held while migrating (several workers start at once)


class DatabaseError(DossierError):
    """The access database could not be reached or did not answer in time."""

    exit_code = ExitCode.UNAVAILABLE


def normalise_url(url: str) -> str:
    """The SQLAlchemy URL to connect with: ``postgresql://`` and ``postgres://`` use psycopg 3."""
    url = url.strip()
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def private_sqlite_file(path: Path) -> None:
    """The database file (password and token hashes, the service's keys) and its journal readable by its owner
    only: made 0600 before SQLite opens it (SQLite gives its -wal and -shm files the database's mode), and an
    earlier one opened wider made 0600."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            info = file.stat()
        except FileNotFoundError:
            continue
        if info.st_uid == os.getuid() and info.st_mode & 0o077:
            os.chmod(file, 0o600)


def _sqlite_engine(url: str) -> Engine:
    path = make_url(url).database
    if path and path != ":memory:":
        private_sqlite_file(Path(path))
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False},
                           pool_size=10, max_overflow=20)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun below, explicitly
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL",
                       f"busy_timeout={BUSY_TIMEOUT_S * 1000}"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("dossier_write") else "BEGIN")

    return engine


class Database:
    """The access database at one URL (SQLite file or PostgreSQL)."""

    def __init__(self, url: str):
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        self.display = parsed.render_as_string(hide_password=True)
        if self.dialect == "sqlite":
            self.engine = _sqlite_engine(self.url)
        else:
            args = {"connect_timeout": 10, "options": "-c statement_timeout=30000 -c lock_timeout=30000"} \
                if self.dialect == "postgresql" else {}
            self.engine = create_engine(self.url, pool_size=10, max_overflow=30, pool_pre_ping=True,
                                        pool_timeout=30, connect_args=args)

    @classmethod
    def open(cls, url: str, store=None) -> Database:
        """Connect and bring the schema up to date (``store``: where earlier tokens and grants are taken over from)."""
        db = cls(url)
        db.upgrade(store)
        return db

    @contextlib.contextmanager
    def _transaction(self, write: bool) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                if write:
                    conn = conn.execution_options(dossier_write=True)
                with conn.begin():
                    yield conn
        except DBAPIError as exc:  # integrity errors and the like are the caller's; lost connections are ours
            if not isinstance(exc, OperationalError) and not exc.connection_invalidated:
                raise
            raise DatabaseError(f"access database {self.display} failed: {str(exc.orig or exc).strip()[:300]}") \
                from exc

    def read(self) -> contextlib.AbstractContextManager[Connection]:
        """A read transaction (consistent snapshot; never blocks writers on PostgreSQL or SQLite WAL)."""
        return self._transaction(write=False)

    def write(self) -> contextlib.AbstractContextManager[Connection]:
        """A write transaction: committed when the block ends, rolled back when it raises."""
        return self._transaction(write=True)

    def revision(self) -> str | None:
        """The schema revision the database is at (None when empty)."""
        from alembic.runtime.migration import MigrationContext

        with self.read() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head(self) -> str:
        """The newest revision this code knows."""
        from alembic.script import ScriptDirectory

        return ScriptDirectory(str(MIGRATIONS)).get_current_head()

    def upgrade(self, store=None) -> tuple[str | None, str | None]:
        """Apply every migration not yet applied, in one transaction (one process at a time); returns
        (revision before, revision after). ``store`` lets the first migration take over the tokens and grants
        earlier versions kept in the object store."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.write() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _UPGRADE_LOCK})
            before = MigrationContext.configure(conn).get_current_revision()
            if before != self.head():
                config.attributes.update(connection=conn, store=store)
                command.upgrade(config, "head")
            after = MigrationContext.configure(conn).get_current_revision()
        return before, after

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
