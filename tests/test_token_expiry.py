"""Every token expires: those taken over from the object store get an end by migration, none can be made without
one, the administrator sets it; and a token record written into the bucket (the old way) grants nothing."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from pipeline.access import AuthError, Database, TokenStore, create_app
from pipeline.access.db import tables
from pipeline.access.db._database import MIGRATIONS
from pipeline.errors import BadInputError
from pipeline.storage import publish_dossier
from tests.access_fixtures import enc
from tests.store_fixtures import make_dossier, serve_in_thread, unique_case_no


def _old_token_record(object_store) -> str:
    """A token record as versions before the database kept them (system/tokens/<id>.json); returns the token."""
    token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    record = {"id": token_id, "agency": "开封市公安局", "secret_sha256": hashlib.sha256(secret.encode()).hexdigest(),
              "created": "2025-11-02T08:00:00+00:00", "label": "old", "revoked": None}
    object_store.put_bytes(f"system/tokens/{token_id}.json", json.dumps(record).encode(), "application/json")
    return f"dos_{token_id}_{secret}"


def _upgrade_to(db: Database, revision: str, store=None) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.write() as conn:
        config.attributes.update(connection=conn, store=store)
        command.upgrade(config, revision)


def test_tokens_taken_over_from_the_store_expire_90_days_after_the_upgrade(db_url, object_store):
    token = _old_token_record(object_store)
    db = Database(db_url)
    try:
        db.upgrade(object_store)
        record = TokenStore(db).get(token.split("_")[1])
        soon = datetime.now(UTC) + timedelta(days=90)
        assert record.source == "migrated" and abs((record.expires - soon).total_seconds()) < 3600
        assert TokenStore(db).authenticate(token).agency == "开封市公安局"
        with db.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM tokens WHERE expires_at IS NULL")).scalar() == 0
    finally:
        db.dispose()


def test_a_token_without_an_expiry_cannot_be_stored(database):
    with pytest.raises(IntegrityError), database.write() as conn:
        conn.execute(tables.tokens.insert().values(id=secrets.token_hex(6), agency="x", label="", secret_sha256="0" * 64,
                                                   source="cli", created_at=datetime.now(UTC), expires_at=None))
    with pytest.raises(BadInputError, match="a token must expire"):
        TokenStore(database).create("新封县人民检察院", days=None)  # type: ignore[arg-type]


def test_the_migration_keeps_every_tokens_roles(db_url):
    db = Database(db_url)
    try:
        _upgrade_to(db, "0002")
        now = datetime.now(UTC).replace(tzinfo=None)
        with db.write() as conn:
            for token_id, expires in (("aaaaaaaaaaaa", None), ("bbbbbbbbbbbb", now + timedelta(days=5))):
                conn.execute(text("INSERT INTO tokens (id, agency, label, secret_sha256, source, created_at, "
                                  "expires_at) VALUES (:id, 'x', '', :sha, 'cli', :now, :exp)"),
                             {"id": token_id, "sha": "0" * 64, "now": now, "exp": expires})
                conn.execute(text("INSERT INTO token_roles (token_id, role) VALUES (:id, 'clerk'), (:id, 'admin')"),
                             {"id": token_id})
        assert db.upgrade() == ("0002", db.head())
        with db.read() as conn:
            roles = sorted(conn.execute(select(tables.token_roles.c.token_id, tables.token_roles.c.role)).all())
            expiries = dict(conn.execute(select(tables.tokens.c.id, tables.tokens.c.expires_at)).all())
        assert roles == [("aaaaaaaaaaaa", "admin"), ("aaaaaaaaaaaa", "clerk"), ("bbbbbbbbbbbb", "admin"),
                         ("bbbbbbbbbbbb", "clerk")]
        assert expiries["aaaaaaaaaaaa"] is not None
        assert abs((expiries["bbbbbbbbbbbb"] - (now + timedelta(days=5)).replace(tzinfo=UTC)).total_seconds()) < 1
    finally:
        db.dispose()


def test_a_token_record_written_into_the_bucket_grants_nothing(embedded_store, object_store, tmp_path):
    case_no = unique_case_no()
    manifest, out, originals = make_dossier(tmp_path, case_no, agency="开封市公安局")
    publish_dossier(object_store, manifest, out, originals)
    db_url = f"sqlite:///{tmp_path / 'access.db'}"
    Database.open(db_url, store=object_store).dispose()  # the access database exists (as it does in service)
    minted = _old_token_record(object_store)  # someone with only the bucket credential mints a token
    for _ in range(2):  # a running service, and one started after the record was written (it migrates at start)
        db = Database.open(db_url, store=object_store)
        app = create_app(embedded_store.config, database=db, cache_ttl=0, audit_prefix="system/audit-minted/")
        with serve_in_thread(app) as url:
            r = httpx.get(f"{url}/dossiers/{enc(case_no)}", headers={"Authorization": f"Bearer {minted}"}, timeout=30)
        db.dispose()
        assert r.status_code == 401
        with pytest.raises(AuthError, match="unknown token"):
            TokenStore(Database(db_url)).authenticate(minted)


def test_the_administrator_sets_a_tokens_expiry(embedded_store, tmp_path, monkeypatch):
    from flows.cli import app

    for name in ("DOSSIER_S3_ENDPOINT", "DOSSIER_S3_ACCESS_KEY", "DOSSIER_S3_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    db_url = f"sqlite:///{tmp_path / 'access.db'}"
    monkeypatch.setenv("DOSSIER_HOME", str(embedded_store.state_dir))
    monkeypatch.setenv("DOSSIER_DB_URL", db_url)
    runner = CliRunner()
    token = runner.invoke(app, ["token", "create", "--agency", "开封市公安局"]).output.strip().splitlines()[-1]
    token_id = token.split("_")[1]
    later = runner.invoke(app, ["token", "expire", token_id, "--until", "2031-05-01"])
    assert later.exit_code == 0, later.output
    db = Database(db_url)
    assert TokenStore(db).get(token_id).expires == datetime(2031, 5, 1, tzinfo=UTC)
    assert runner.invoke(app, ["token", "expire", token_id, "--days", "0"]).exit_code == 0
    with pytest.raises(AuthError, match="expired"):
        TokenStore(db).authenticate(token)
    no_end = runner.invoke(app, ["token", "create", "--agency", "开封市公安局", "--days", "0"])
    assert no_end.exit_code == 2  # below the minimum of 1 day: a usage error
    db.dispose()
