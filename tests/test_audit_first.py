"""The audit entry comes first: a volume is recorded before its first byte leaves (and not served at all when it
cannot be), and an administrator's change takes effect only once its entry is stored."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time

import httpx
import pytest

from pipeline.access import Database, GrantStore, TokenStore, UserStore, create_app, read_audit
from pipeline.storage import ObjectStore, StoreConfig, publish_dossier
from tests.access_fixtures import copy_signer, enc
from tests.store_fixtures import make_dossier, serve_in_thread, unique_case_no

OWNER = "新封县人民法院"
VOLUME_BYTES = 12_000_000  # more than loopback socket buffers hold: the server waits for the client to read


@pytest.fixture(scope="module")
def big_case(embedded_store, tmp_path_factory):
    case_no = unique_case_no()
    manifest, out, originals = make_dossier(tmp_path_factory.mktemp("big"), case_no, volumes=1,
                                            volume_bytes=VOLUME_BYTES, agency=OWNER)
    publish_dossier(embedded_store.store(), manifest, out, originals)
    return case_no, manifest


@pytest.fixture
def served(embedded_store, tmp_path, big_case):
    db = Database.open(f"sqlite:///{tmp_path / 'access.db'}")
    GrantStore(db).claim(big_case[0], OWNER)  # recorded by the publication
    token, _ = TokenStore(db).create(OWNER)
    prefix = f"system/audit-first-{secrets.token_hex(4)}/"
    app = create_app(embedded_store.config, database=db, cache_ttl=0, manifest_ttl=0, audit_prefix=prefix,
                     audit_wait=5, copy_signer=copy_signer(embedded_store))
    with serve_in_thread(app) as url:
        yield url, app, token, prefix
    db.dispose()


def _volume_entries(store, prefix):
    return [e for e in read_audit(store, prefix) if e.get("action") == "volume"]


def test_a_volume_download_is_in_the_audit_log_before_its_first_byte_arrives(served, big_case, object_store):
    url, _, token, prefix = served
    case_no, manifest = big_case
    with httpx.stream("GET", f"{url}/dossiers/{enc(case_no)}/volumes/1", headers={"Authorization": f"Bearer {token}"},
                      timeout=60) as response:
        assert response.status_code == 200
        chunks = response.iter_raw(64 * 1024)
        first = next(chunks)
        assert first.startswith(b"%PDF")
        # the client has read one chunk of 12 MB; the server is held back by the socket: the entry is stored already
        recorded = _volume_entries(object_store, prefix)
        size = int(response.headers["content-length"])  # the copy made for this reader
        assert [(e["status"], e["result"], e["bytes"]) for e in recorded] == [(200, "allowed", size)]
        received = len(first) + sum(len(c) for c in chunks)
    assert received == size and size > 11_000_000


def test_a_volume_is_not_served_at_all_when_its_audit_entry_cannot_be_stored(served, big_case, object_store):
    url, app, token, _ = served
    case_no, _ = big_case
    dead = ObjectStore(StoreConfig(endpoint="127.0.0.1:9", access_key="x", secret_key="y", retries=0, timeout=1))
    app.state.audit.store = dead  # the audit log's store is unreachable; the dossier's store is fine
    try:
        r = httpx.get(f"{url}/dossiers/{enc(case_no)}/volumes/1", headers={"Authorization": f"Bearer {token}"},
                      timeout=60)
    finally:
        app.state.audit.store = object_store  # let the queued entries through before shutdown
    assert r.status_code == 503 and r.json()["error"] == "audit-unavailable"
    assert b"%PDF" not in r.content and len(r.content) < 1000


def test_a_download_the_client_abandons_is_recorded_as_aborted_with_the_bytes_sent(served, big_case, object_store):
    url, app, token, prefix = served
    case_no, manifest = big_case
    with httpx.stream("GET", f"{url}/dossiers/{enc(case_no)}/volumes/1", headers={"Authorization": f"Bearer {token}"},
                      timeout=60) as response:
        chunks = response.iter_raw(64 * 1024)
        next(chunks)
        chunks.close()  # the client reads one chunk and hangs up
    for _ in range(100):  # the server notices the closed connection on its next write
        app.state.audit.flush()
        entries = _volume_entries(object_store, prefix)
        if len(entries) == 2:
            break
        time.sleep(0.1)
    assert [e["result"] for e in entries] == ["allowed", "aborted"]
    assert 0 < entries[1]["bytes"] < manifest.volumes[0].bytes


# ------------------------------------------------------------------------------------------------ administrators


@pytest.fixture
def cli_state(embedded_store, tmp_path):
    """A state folder whose access database is migrated, and the environment of a `dossier` whose object store (and
    with it the audit log) is unreachable: nothing listens on 127.0.0.1:9."""
    db_url = f"sqlite:///{tmp_path / 'access.db'}"
    db = Database.open(db_url)
    UserStore(db).create("wang", "correct horse battery", "新封县人民检察院", ["reviewer"], "王主任")
    token, record = TokenStore(db).create("新封县人民检察院", label="existing")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
    env.update(DOSSIER_HOME=str(tmp_path / "state"), DOSSIER_DB_URL=db_url, DOSSIER_S3_ENDPOINT="127.0.0.1:9",
               DOSSIER_S3_ACCESS_KEY="x", DOSSIER_S3_SECRET_KEY="y", DOSSIER_S3_RETRIES="0",
               DOSSIER_S3_TIMEOUT="2")
    yield db, env, record
    db.dispose()


def _dossier(env, *args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=180)


@pytest.mark.parametrize("args, stdin", [
    (("token", "create", "--agency", "开封市公安局", "--role", "clerk"), None),
    (("token", "revoke", "{token}"), None),
    (("token", "expire", "{token}", "--days", "0"), None),
    (("grant", "（2024）豫0727刑初17号", "--agency", "开封市公安局"), None),
    (("grant", "（2024）豫0727刑初17号", "--agency", "开封市公安局", "--revoke"), None),
    (("user", "add", "li", "--agency", "新封县人民检察院", "--role", "clerk", "--password-stdin", "--new-agency"),
     "correct horse battery\n"),
    (("user", "roles", "wang", "--role", "admin"), None),
    (("user", "rooms", "wang", "--room", "room-1"), None),
    (("user", "add", "zhao", "--agency", "新封县人民检察院", "--role", "operator", "--room", "room-2",
      "--password-stdin"), "correct horse battery\n"),
    (("user", "passwd", "wang", "--password-stdin"), "another long password\n"),
    (("user", "disable", "wang"), None),
])
def test_an_admin_change_whose_audit_entry_cannot_be_stored_does_not_happen(cli_state, args, stdin):
    db, env, existing = cli_state
    with db.read() as conn:
        before = {t: conn.exec_driver_sql(f"SELECT * FROM {t} ORDER BY 1").all()
                  for t in ("tokens", "token_roles", "users", "user_roles", "user_rooms", "grants",
                          "grant_denials")}
    done = _dossier(env, *(a.format(token=existing.id) for a in args), stdin=stdin)
    assert done.returncode == 5, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    with db.read() as conn:
        after = {t: conn.exec_driver_sql(f"SELECT * FROM {t} ORDER BY 1").all() for t in before}
    assert after == before, f"{' '.join(args)} changed the database although its audit entry was not stored"


def test_a_token_made_while_the_audit_log_is_down_never_works(cli_state):
    db, env, _ = cli_state
    done = _dossier(env, "token", "create", "--agency", "开封市公安局")
    assert done.returncode == 5
    printed = [line for line in done.stdout.splitlines() if line.startswith("dos_")]
    assert printed == []  # no token is shown, and none was stored
    assert all(r.label == "existing" for r in TokenStore(db).list())


def test_an_admin_change_is_in_the_audit_log_once_it_has_taken_effect(embedded_store, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_S3_")}
    env.update(DOSSIER_HOME=str(embedded_store.state_dir), DOSSIER_DB_URL=f"sqlite:///{tmp_path / 'access.db'}")
    case_no = unique_case_no()
    done = _dossier(env, "grant", case_no, "--agency", "开封市公安局")
    assert done.returncode == 0, done.stderr
    db = Database(env["DOSSIER_DB_URL"])
    assert GrantStore(db).get(case_no, cached=False).granted(GrantStore(db).clock()) == ["开封市公安局"]
    entries = [e for e in read_audit(embedded_store.store()) if e.get("action") == "grant.add"
               and e.get("detail") == "agency=开封市公安局" and e.get("case_no", "").endswith(case_no[-12:])]
    assert len(entries) == 1 and entries[0]["actor"].startswith("cli:")
    db.dispose()
