"""Who wrote the audit log: every entry and checkpoint carries a MAC made with the installation's audit key, which
lives in the access database and not in the bucket. Whatever someone holding only the bucket credential writes — a
whole stream with correct hashes and checkpoints, entries appended to a real stream, a checkpoint — is found by
``verify``; streams stored before the key existed are legacy, not problems."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from pipeline.access import AuditKey, AuditLog, verify_audit
from pipeline.access._audit import canonical_json, entry_hash
from pipeline.common import utcnow

KEY = AuditKey(secrets.token_bytes(32), utcnow())  # the installation's, made before any test writes


@pytest.fixture
def prefix():
    return f"system/audit-a{secrets.token_hex(4)}/"


def forger_key() -> AuditKey:
    """Someone with the code and the bucket credential, without the access database: any key but the real one."""
    return AuditKey(secrets.token_bytes(32), utcnow())


def _stream(store, prefix, key: AuditKey, n: int = 3) -> AuditLog:
    log = AuditLog(store, key, kind="test", prefix=prefix, max_batch=1, lock_days=0)
    for i in range(n):
        log.record_and_wait(actor=f"token:{i}", agency="新封县人民检察院", action="volume", status=200,
                            result="allowed", case_no="（2024）豫0727刑初9号")
    log.close()
    return log


def test_a_genuine_stream_verifies(object_store, prefix):
    _stream(object_store, prefix, KEY)
    report = verify_audit(object_store, KEY, prefix)
    assert report.ok and report.entries == 3 and report.legacy == 0


def test_a_whole_stream_fabricated_with_the_bucket_credential_is_found(object_store, prefix):
    _stream(object_store, prefix, KEY)
    fake = _stream(object_store, prefix, forger_key())  # correct hashes, links, checkpoints: only the MACs differ
    report = verify_audit(object_store, KEY, prefix)
    assert not report.ok
    assert any(fake.stream in p and "not authenticated" in p for p in report.problems)
    assert not any("chain" in p or "edited" in p for p in report.problems)


def test_entries_appended_to_a_genuine_stream_are_found(object_store, prefix):
    log = _stream(object_store, prefix, KEY)
    last = json.loads(object_store.get_bytes(f"{prefix}{log.stream}/{2:012d}.jsonl").splitlines()[-1])
    added = {"ts": utcnow().isoformat(), "stream": log.stream, "seq": 3, "prev": last["hash"], "actor": "token:x",
             "agency": "开封市公安局", "action": "volume", "status": 200, "result": "allowed"}
    added["hash"] = entry_hash(added)
    added["mac"] = forger_key().entry_mac(added)
    object_store.put_bytes(f"{prefix}{log.stream}/{3:012d}.jsonl", canonical_json(added) + b"\n")
    report = verify_audit(object_store, KEY, prefix)
    assert any(f"{3:012d}.jsonl" in p and "not authenticated" in p for p in report.problems)


def test_a_checkpoint_written_with_the_bucket_credential_is_found(object_store, prefix):
    log = _stream(object_store, prefix, KEY)
    body = json.loads(object_store.get_bytes(f"{prefix}{log.stream}/checkpoint-{3:012d}.json"))
    body["ts"] = utcnow().isoformat()
    body["mac"] = forger_key().checkpoint_mac(body)
    object_store.put_bytes(f"{prefix}{log.stream}/checkpoint-{3:012d}.json", json.dumps(body).encode())
    report = verify_audit(object_store, KEY, prefix)
    assert any("checkpoint not authenticated" in p for p in report.problems)


def test_a_stream_stored_before_the_audit_key_existed_is_legacy_not_a_problem(object_store, prefix):
    _stream(object_store, prefix, forger_key())  # what an earlier version wrote (its MACs mean nothing)
    made_later = AuditKey(KEY.secret, utcnow() + timedelta(seconds=5))
    report = verify_audit(object_store, made_later, prefix)
    assert report.ok and report.legacy == 1


@pytest.fixture(scope="module")
def own_state(tmp_path_factory):
    """A state folder with its own embedded store: the CLI verifies a whole bucket, which no other test writes."""
    from pipeline.storage import EmbeddedStore, free_base_port

    state = tmp_path_factory.mktemp("audit-cli") / "state"
    server = EmbeddedStore(state, base_port=free_base_port())
    server.start()
    try:
        yield state
    finally:
        server.stop(timeout=3.0)


@pytest.fixture
def cli(own_state, monkeypatch):
    from flows.cli import app

    for name in ("DOSSIER_S3_ENDPOINT", "DOSSIER_S3_ACCESS_KEY", "DOSSIER_S3_SECRET_KEY", "DOSSIER_AUDIT_LOCK_DAYS",
                 "DOSSIER_DB_URL", "DOSSIER_HOME"):
        monkeypatch.delenv(name, raising=False)
    return lambda *args: CliRunner().invoke(app, [*map(str, args), "--state", str(own_state)])


def test_dossier_audit_verify_fails_on_a_stream_written_with_the_bucket_credential_alone(cli, own_state):
    from pipeline.storage import ObjectStore, StoreConfig

    assert cli("grant", "（2024）豫0727刑初9号", "--agency", "开封市公安局").exit_code == 0
    ok = cli("audit", "verify")
    assert ok.exit_code == 0 and ok.output.startswith("OK"), ok.output
    _stream(ObjectStore(StoreConfig.embedded(own_state)), "system/audit/", forger_key())
    failed = cli("audit", "verify")
    assert failed.exit_code == 6 and "not authenticated" in failed.output
    assert failed.output.rstrip().splitlines()[-1].startswith("FAILED")
