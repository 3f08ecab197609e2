"""Pytest fixtures for the access database: Debian's PostgreSQL 15 started once per session (like SeaweedFS), and
a fresh database per test on SQLite or PostgreSQL.

- ``postgres`` (session): a private PostgreSQL server on 127.0.0.1 and a free port, its data in a temporary folder
  owned by the ``postgres`` user (``initdb`` refuses root, so the server runs as that user through ``runuser``),
  trust authentication for the role ``dossier``, stopped and removed at the end. Started only when a test asks.
- ``db_url`` (function, parametrised ``sqlite`` / ``postgresql``): the URL of a new, empty database.
- ``database`` (function): a :class:`pipeline.access.Database` at ``db_url``, migrated, disposed at the end.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")


@dataclass
class PostgresServer:
    """A running test server."""

    port: int
    folder: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://dossier@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database; its SQLAlchemy URL."""
        import psycopg

        name = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _as_postgres(args: list[str]) -> list[str]:
    return (["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []) + args


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres() -> PostgresServer:
    """Debian's PostgreSQL 15 in a temporary folder, for this session only."""
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError(f"PostgreSQL 15 is not installed ({PG_BIN}); scripts/bootstrap.sh installs postgresql-15")
    folder = Path(tempfile.mkdtemp(prefix="dossier-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", _free_port()
    run = dict(check=True, capture_output=True, timeout=120)
    subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "dossier", "-E",
                                 "UTF8", "--locale=C"]), **run)
    options = (f"-k {folder} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
               "-c full_page_writes=off -c max_connections=300")
    subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"),
                                 "-w", "-t", "60", "start"]), **run)
    try:
        yield PostgresServer(port, folder)
    finally:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "stop", "-m", "fast"]),
                       capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    """A new empty database on SQLite (a file) or PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'access.db'}"
    return request.getfixturevalue("postgres").new_database()


@pytest.fixture
def database(db_url):
    """A migrated access database (no earlier records to take over)."""
    from pipeline.access import Database

    db = Database.open(db_url)
    try:
        yield db
    finally:
        db.dispose()
