"""The store commands of `dossier`, run in-process against the session's embedded store."""

import hashlib

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.cli.fetch import case_folder_name
from pipeline.access import Database, GrantStore, TokenStore, read_audit
from pipeline.errors import ExitCode
from pipeline.storage import EmbeddedStore, free_base_port, normalise_case_no, publish_dossier
from tests.store_fixtures import make_dossier, unique_case_no

runner = CliRunner()


@pytest.fixture
def run(embedded_store, monkeypatch):
    for name in ("DOSSIER_S3_ENDPOINT", "DOSSIER_S3_ACCESS_KEY", "DOSSIER_S3_SECRET_KEY", "DOSSIER_S3_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOSSIER_HOME", str(embedded_store.state_dir))
    monkeypatch.setenv("DOSSIER_S3_MAX_SECURITY", "confidential")

    def invoke(*args):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture
def cli_db(run, embedded_store):
    """The access database the commands use (the state folder's SQLite file), once a command has made it."""
    assert run("db", "upgrade").exit_code == 0
    db = Database(f"sqlite:///{embedded_store.state_dir / 'access.db'}")
    yield db
    db.dispose()


def test_token_create_prints_the_token_alone_on_the_last_line_and_it_authenticates(run, cli_db):
    result = run("token", "create", "--agency", "新封县人民检察院", "--label", "clerk 1", "--role", "clerk",
                 "--days", "30")
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    who = TokenStore(cli_db).authenticate(token)
    assert (who.agency, who.roles) == ("新封县人民检察院", {"clerk"})
    record = TokenStore(cli_db).get(who.token_id)
    assert 29 <= (record.expires - record.created).days <= 30


def test_token_list_never_shows_secrets_and_revoke_marks_the_token(run, cli_db):
    token = run("token", "create", "--agency", "开封市公安局").output.strip().splitlines()[-1]
    token_id = token.split("_")[1]
    listing = run("token", "list")
    assert token_id in listing.output and token.split("_", 2)[2] not in listing.output
    assert run("token", "revoke", token_id).exit_code == 0
    assert TokenStore(cli_db).get(token_id).revoked


def test_grant_and_revoke_grant_change_who_may_fetch_a_case(run, cli_db):
    case_no = unique_case_no()
    assert run("grant", case_no, "--agency", "开封市公安局").exit_code == 0
    record = GrantStore(cli_db).get(case_no, cached=False)
    assert record.granted(record.allowances[0].expires or GrantStore(cli_db).clock()) == ["开封市公安局"]
    assert run("revoke-grant", case_no, "--agency", "开封市公安局").exit_code == 0
    record = GrantStore(cli_db).get(case_no, cached=False)
    assert record.allowances == () and record.denied == {"开封市公安局"}


def test_fetch_writes_the_verified_dossier_and_is_audited(run, object_store, tmp_path):
    case_no = unique_case_no()
    manifest, out, originals = make_dossier(tmp_path / "src", case_no)
    publish_dossier(object_store, manifest, out, originals)
    result = run("fetch", case_no, "--out", tmp_path / "got", "--no-verify-signatures")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "got" / case_folder_name(case_no)
    assert folder.name == normalise_case_no(case_no).replace("(", "（").replace(")", "）")
    assert [p.name for p in (tmp_path / "got").iterdir()] == [folder.name]  # no staging folder left behind
    assert hashlib.sha256((folder / "volumes/002.pdf").read_bytes()).hexdigest() == manifest.volumes[1].sha256
    fetches = [e for e in read_audit(object_store) if e.get("action") == "fetch"
               and e.get("case_no") == normalise_case_no(case_no)]
    assert len(fetches) == 1 and fetches[0]["bytes"] > 0


def test_fetch_of_an_unknown_case_fails_with_a_message(run, tmp_path):
    result = runner.invoke(app, ["fetch", unique_case_no(), "--out", str(tmp_path), "--no-verify-signatures"])
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "no published dossier" in result.output


def test_audit_show_lists_the_latest_entries(run):  # verify: tests/test_audit_authenticity.py, on a store of its own
    run("grant", unique_case_no(), "--agency", "开封市公安局")
    shown = run("audit", "show", "--json", "--limit", "1")
    assert '"action": "grant.add"' in shown.output


def test_store_start_status_and_stop_a_separate_instance(tmp_path, monkeypatch):
    monkeypatch.delenv("DOSSIER_HOME", raising=False)
    state = tmp_path / "state"
    base = free_base_port()
    started = runner.invoke(app, ["store", "start", "--state", str(state), "--port", str(base)])
    try:
        assert started.exit_code == 0, started.output
        assert f"endpoint http://127.0.0.1:{base}" in started.output
        status = runner.invoke(app, ["store", "status", "--state", str(state)])
        assert status.exit_code == 0 and status.output.startswith("running")
    finally:
        stopped = runner.invoke(app, ["store", "stop", "--state", str(state), "--timeout", "5"])
    assert stopped.exit_code == 0 and "stopped" in stopped.output
    after = runner.invoke(app, ["store", "status", "--state", str(state)])
    assert after.exit_code == ExitCode.UNAVAILABLE and after.output.startswith("not running")
    assert not EmbeddedStore(state).pid_file.exists()
