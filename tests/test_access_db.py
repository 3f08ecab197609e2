"""The access database on SQLite and PostgreSQL: migrations, taking over the object store's old token and grant
records, tokens (hashed, with an expiry), users (scrypt) and their sessions, administrators' grants."""

import hashlib
import json
import secrets

import pytest
from sqlalchemy import select

from pipeline.access import AuthError, Database, DatabaseError, GrantStore, TokenStore, UserStore
from pipeline.access.db import normalise_url, tables
from pipeline.errors import BadInputError, ExitCode
from pipeline.storage import case_key, normalise_case_no
from tests.access_fixtures import MovableClock
from tests.store_fixtures import unique_case_no


def test_migrations_make_the_schema_and_a_second_upgrade_changes_nothing(database):
    assert database.revision() == database.head()
    assert database.upgrade() == (database.head(), database.head())


def _old_token(object_store, revoked: bool = False) -> str:
    """A token record as versions before the database stored them; returns the token."""
    token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    record = {"id": token_id, "agency": "新封县人民检察院", "secret_sha256": hashlib.sha256(secret.encode()).hexdigest(),
              "created": "2025-11-02T08:00:00+00:00", "label": "old", "revoked": "2025-12-01T00:00:00+00:00"
              if revoked else None}
    object_store.put_bytes(f"system/tokens/{token_id}.json", json.dumps(record).encode(), "application/json")
    return f"dos_{token_id}_{secret}"


def test_the_first_migration_takes_over_the_tokens_and_grants_of_the_object_store(db_url, object_store):
    token, revoked = _old_token(object_store), _old_token(object_store, revoked=True)
    case_no = normalise_case_no(unique_case_no())
    grant = {"case_no": case_no, "granted": ["开封市公安局"], "revoked": ["郑州市中级人民法院"], "updated": "2025-11-03T00:00:00+00:00"}
    object_store.put_bytes(f"system/grants/{case_key(case_no)}.json", json.dumps(grant, ensure_ascii=False).encode(),
                           "application/json")
    db = Database(db_url)
    try:
        assert db.upgrade(object_store) == (None, db.head())
        who = TokenStore(db).authenticate(token)
        assert (who.agency, who.roles) == ("新封县人民检察院", frozenset())  # it could only read, and still only can
        with pytest.raises(AuthError, match="revoked"):
            TokenStore(db).authenticate(revoked)
        access = GrantStore(db).get(case_no)
        assert [(a.agency, a.source, a.expires) for a in access.allowances] == [("开封市公安局", "migrated", None)]
        assert access.denied == {"郑州市中级人民法院"}
        assert object_store.stat(f"system/tokens/{token.split('_')[1]}.json") is not None  # nothing deleted
    finally:
        db.dispose()


def test_an_unreadable_old_record_stops_the_takeover_and_names_the_object(db_url, object_store):
    key = f"system/tokens/{secrets.token_hex(6)}.json"
    object_store.put_bytes(key, b"{not json", "application/json")
    db = Database(db_url)
    try:
        with pytest.raises(RuntimeError, match=key):
            db.upgrade(object_store)
        assert db.revision() is None  # one transaction: nothing half done
    finally:
        object_store.delete(key)
        db.dispose()


def test_tokens_are_stored_as_the_sha256_of_their_secret(database):
    token, record = TokenStore(database).create("新封县人民检察院", roles=("clerk",))
    with database.read() as conn:
        row = conn.execute(select(tables.tokens).where(tables.tokens.c.id == record.id)).one()
    secret = token.split("_", 2)[2]
    assert row.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(tuple(row))


def test_a_token_expires_on_time_even_from_the_cache(database):
    clock = MovableClock()
    tokens = TokenStore(database, cache_ttl=3600, clock=clock)
    token, _ = tokens.create("新封县人民检察院", days=2)
    assert tokens.authenticate(token).agency == "新封县人民检察院"
    clock.advance(days=2, seconds=1)
    with pytest.raises(AuthError, match="expired"):
        tokens.authenticate(token)


def test_a_token_acting_as_a_user_has_their_agency_and_some_of_their_roles(database):
    UserStore(database).create("wang", "a long password", "新封县人民检察院", ("reviewer",), "王主任", "第一检察部")
    tokens = TokenStore(database)
    token, _ = tokens.create("新封县人民检察院", roles=("reviewer",), username="wang")
    who = tokens.authenticate(token)
    assert (who.id.startswith("user:"), who.name, who.department) == (True, "王主任", "第一检察部")
    with pytest.raises(BadInputError):
        tokens.create("新封县人民检察院", roles=("approver",), username="wang")
    with pytest.raises(BadInputError):
        tokens.create("开封市公安局", roles=("reviewer",), username="wang")


def test_a_disabled_user_cannot_sign_in_and_their_tokens_stop_working(database):
    users = UserStore(database)
    users.create("zhao", "a long password", "新封县人民检察院", ("clerk",))
    token, _ = TokenStore(database, cache_ttl=0).create("新封县人民检察院", roles=("clerk",), username="zhao")
    users.disable("zhao")
    assert users.verify("zhao", "a long password") is None
    with pytest.raises(AuthError, match="disabled"):
        TokenStore(database, cache_ttl=0).authenticate(token)


@pytest.mark.parametrize("filler", ["\u3164", "\u115f", "\uffa0"])
def test_an_agency_name_ending_in_a_hangul_filler_gets_neither_a_user_nor_a_token(database, filler):
    look_alike = "新封县人民检察院" + filler  # renders exactly like the real agency
    with pytest.raises(BadInputError, match=f"invisible character U\\+{ord(filler):04X}"):
        UserStore(database).create("qian", "a long password", look_alike, ("clerk",))
    with pytest.raises(BadInputError, match="invisible character"):
        TokenStore(database).create(look_alike, roles=("clerk",))


def test_passwords_are_hashed_with_scrypt_and_only_the_right_one_signs_in(database):
    users = UserStore(database)
    users.create("li", "correct horse battery", "新封县人民检察院", ("clerk",))
    with database.read() as conn:
        stored = conn.execute(select(tables.users.c.password_hash).where(tables.users.c.username == "li")).scalar()
    assert stored.startswith("scrypt$32768$8$1$") and "correct horse" not in stored
    assert users.verify("li", "correct horse battery").username == "li"
    assert users.verify("li", "wrong horse battery") is None
    assert users.verify("nobody", "correct horse battery") is None
    with pytest.raises(BadInputError):
        users.create("short", "12345", "新封县人民检察院", ())


def test_a_session_ends_when_signed_out_and_when_its_time_is_up(database):
    clock = MovableClock()
    users = UserStore(database, clock=clock)
    user = users.create("qian", "a long password", "新封县人民法院", ("registrar",))
    first, second = users.start_session(user, hours=8), users.start_session(user, hours=8)
    assert users.session_user(first).username == "qian"
    users.end_session(first)
    assert users.session_user(first) is None and users.session_user(second) is not None
    clock.advance(hours=8, seconds=1)
    assert users.session_user(second) is None


def test_an_administrators_grant_has_no_end_and_a_revocation_overrides_it(database):
    grants, case_no = GrantStore(database, cache_ttl=0), unique_case_no()
    granted = grants.grant(case_no, "开封市公安局", by="cli:test")
    assert [(a.agency, a.expires, a.source) for a in granted.allowances] == [("开封市公安局", None, "admin")]
    revoked = grants.revoke(case_no, "开封市公安局")
    assert revoked.allowances == () and revoked.denied == {"开封市公安局"}
    assert grants.grant(case_no, "开封市公安局").denied == frozenset()


def test_postgresql_urls_use_psycopg_3():
    assert normalise_url("postgresql://u:p@db/x") == "postgresql+psycopg://u:p@db/x"
    assert normalise_url("postgres://db/x") == "postgresql+psycopg://db/x"
    assert normalise_url("sqlite:///a.db") == "sqlite:///a.db"


def test_a_database_that_does_not_answer_is_a_clear_error_without_its_password():
    db = Database("postgresql://dossier:s3cret@127.0.0.1:9/nothing")
    with pytest.raises(DatabaseError) as caught:
        db.revision()
    assert caught.value.exit_code == ExitCode.UNAVAILABLE
    assert "127.0.0.1:9" in str(caught.value) and "s3cret" not in str(caught.value)


def test_the_migrations_make_exactly_the_tables_the_code_declares(database):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with database.read() as conn:
        assert compare_metadata(MigrationContext.configure(conn), tables.metadata) == []
