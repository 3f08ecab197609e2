"""Checkpoints of each audit stream's head, and object lock on the audit log by default: the log cannot be shortened
from its end, or lose a whole stream, unnoticed."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

import pytest
from minio.error import S3Error
from typer.testing import CliRunner

from pipeline.access import AuditKey, AuditLog, verify_audit
from pipeline.access._audit import DEFAULT_LOCK_DAYS, canonical_json, entry_hash
from pipeline.common import utcnow

KEY = AuditKey(secrets.token_bytes(32), utcnow())  # the installation's audit key, made before any test writes


@pytest.fixture
def prefix():
    return f"system/audit-c{secrets.token_hex(4)}/"


def _write(store, prefix, n=6, lock_days=0, max_batch=2) -> AuditLog:
    """A stream of ``n`` entries in segments of ``max_batch`` (recorded while the writer waits for the log's lock)."""
    log = AuditLog(store, KEY, kind="test", prefix=prefix, max_batch=max_batch, lock_days=lock_days)
    with log._cond:
        pending = [log.record(actor=f"tok{i}", agency="新封县人民检察院", action="manifest", status=200, bytes=i)
                   for i in range(n)]
    for fut in pending:
        fut.result(timeout=30)
    log.close()
    return log


def _keys(store, prefix, suffix):
    return sorted(o.key for o in store.list_keys(prefix) if o.key.endswith(suffix))


def _purge(store, key):
    """What the bucket credential allows without object lock: every version of the object gone."""
    for info, _, _ in list(store.list_versions(key)):
        if info.key == key:
            store.client.remove_object(store.bucket, key, version_id=info.version_id)


def _rewrite(store, key, lines: list[bytes]):
    """Replace a segment's content and purge the original, as a forger without object lock would."""
    old = [info.version_id for info, _, _ in store.list_versions(key) if info.key == key]
    store.put_bytes(key, b"".join(line + b"\n" for line in lines))
    for version in old:
        store.client.remove_object(store.bucket, key, version_id=version)


def test_a_stream_keeps_a_checkpoint_after_every_segment_and_says_so_in_its_first_entry(object_store, prefix):
    log = _write(object_store, prefix, n=5)
    checkpoints = _keys(object_store, prefix, ".json")
    assert checkpoints[0].endswith(f"{log.stream}/checkpoint-000000000000.json")
    assert checkpoints[-1].endswith("checkpoint-000000000005.json")
    last = json.loads(object_store.get_bytes(checkpoints[-1]))
    segments = _keys(object_store, prefix, ".jsonl")
    final = json.loads(object_store.get_bytes(segments[-1]).splitlines()[-1])
    assert (last["entries"], last["head"], last["stream"]) == (5, final["hash"], log.stream)
    first = json.loads(object_store.get_bytes(segments[0]).splitlines()[0])
    assert first["checkpoints"] is True
    report = verify_audit(object_store, KEY, prefix)
    assert report.ok and report.checkpoints == len(checkpoints) and report.legacy == 0


def test_a_purged_newest_segment_is_found_by_the_checkpoint(object_store, prefix):
    _write(object_store, prefix)
    _purge(object_store, _keys(object_store, prefix, ".jsonl")[-1])
    report = verify_audit(object_store, KEY, prefix)
    assert any("records 6 entries, 4 found: its newest entries were removed" in p for p in report.problems)


def test_the_two_newest_segments_purged_are_found(object_store, prefix):
    _write(object_store, prefix)
    for key in _keys(object_store, prefix, ".jsonl")[-2:]:
        _purge(object_store, key)
    report = verify_audit(object_store, KEY, prefix)
    assert not report.ok and "newest entries were removed" in " ".join(report.problems)


def test_a_whole_stream_purged_is_found_by_its_checkpoints(object_store, prefix):
    kept = _write(object_store, prefix, n=2)
    gone = _write(object_store, prefix, n=3)
    for key in _keys(object_store, prefix + gone.stream + "/", ".jsonl"):
        _purge(object_store, key)
    report = verify_audit(object_store, KEY, prefix)
    assert any(f"stream {gone.stream}" in p and "the whole stream was deleted" in p for p in report.problems)
    assert not any(kept.stream in p for p in report.problems)


def test_a_stream_whose_checkpoints_were_purged_is_found(object_store, prefix):
    log = _write(object_store, prefix, n=3)
    for key in _keys(object_store, prefix, ".json"):
        _purge(object_store, key)
    report = verify_audit(object_store, KEY, prefix)
    assert any(f"stream {log.stream}: its checkpoints were removed" in p for p in report.problems)


def test_a_truncated_newest_segment_is_found(object_store, prefix):
    _write(object_store, prefix, n=6, max_batch=3)
    newest = _keys(object_store, prefix, ".jsonl")[-1]
    lines = object_store.get_bytes(newest).splitlines()
    _rewrite(object_store, newest, lines[:-1])  # the last access forgotten
    report = verify_audit(object_store, KEY, prefix)
    assert any("records 6 entries, 5 found" in p for p in report.problems)


def test_a_truncated_segment_rehashed_to_end_cleanly_is_found(object_store, prefix):
    _write(object_store, prefix, n=6, max_batch=3)
    newest = _keys(object_store, prefix, ".jsonl")[-1]
    entries = [json.loads(line) for line in object_store.get_bytes(newest).splitlines()]
    entries[1]["agency"] = "someone else"  # an edit, with every hash after it recomputed and the chain relinked
    entries[1]["hash"] = entry_hash(entries[1])
    entries[2]["prev"] = entries[1]["hash"]
    entries[2]["hash"] = entry_hash(entries[2])
    _rewrite(object_store, newest, [canonical_json(e) for e in entries])
    report = verify_audit(object_store, KEY, prefix)
    assert any("another hash than the checkpoint recorded" in p for p in report.problems)
    assert not any("chain broken" in p or "edited" in p for p in report.problems)


def test_reordered_segments_are_found(object_store, prefix):
    _write(object_store, prefix, n=6)
    first, second = _keys(object_store, prefix, ".jsonl")[:2]
    a, b = object_store.get_bytes(first).splitlines(), object_store.get_bytes(second).splitlines()
    _rewrite(object_store, first, b)
    _rewrite(object_store, second, a)
    report = verify_audit(object_store, KEY, prefix)
    assert any("the name says 0" in p for p in report.problems)
    assert any("chain broken" in p for p in report.problems)


def test_reordered_entries_within_a_segment_are_found(object_store, prefix):
    _write(object_store, prefix, n=6, max_batch=3)
    key = _keys(object_store, prefix, ".jsonl")[0]
    lines = object_store.get_bytes(key).splitlines()
    _rewrite(object_store, key, [lines[1], lines[0], lines[2]])
    report = verify_audit(object_store, KEY, prefix)
    assert any("chain broken" in p for p in report.problems)
    assert any("expected seq" in p for p in report.problems)


def test_by_default_the_audit_log_is_locked_where_the_bucket_has_object_lock(object_store, prefix):
    log = AuditLog(object_store, KEY, kind="test", prefix=prefix)  # no lock_days: the default
    log.record_and_wait(actor="a", action="manifest")
    log.close()
    assert log.retention is not None and log.retention.days == DEFAULT_LOCK_DAYS
    for key in _keys(object_store, prefix, ".jsonl") + _keys(object_store, prefix, ".json"):
        info = object_store.stat(key)
        assert object_store.has_retention(key, info.version_id), f"{key} is not locked"
        with pytest.raises(S3Error) as refused:
            object_store.client.remove_object(object_store.bucket, key, version_id=info.version_id)
        assert refused.value.code == "AccessDenied"


def test_under_the_lock_deleting_a_whole_stream_only_hides_it_and_verify_finds_it(object_store, prefix):
    log = AuditLog(object_store, KEY, kind="test", prefix=prefix, max_batch=1)
    for i in range(3):
        log.record_and_wait(actor=f"a{i}", action="manifest")
    log.close()
    for info in list(object_store.list_keys(prefix)):
        object_store.delete(info.key)  # a delete marker: the locked versions stay
    report = verify_audit(object_store, KEY, prefix)
    assert report.entries == 3  # still read from the history
    assert any("segment was deleted" in p for p in report.problems)
    assert any("checkpoint was deleted" in p for p in report.problems)


def test_on_a_bucket_without_object_lock_the_log_is_written_without_retention(embedded_store, prefix):
    unlocked = embedded_store.store(bucket=f"audit-nolock-{secrets.token_hex(3)}")
    unlocked.ensure_bucket(object_lock=False)
    log = AuditLog(unlocked, KEY, kind="test", prefix=prefix)
    log.record_and_wait(actor="a", action="manifest")
    log.close()
    assert log.retention is None
    assert verify_audit(unlocked, KEY, prefix).ok


def test_a_stream_written_before_checkpoints_is_reported_as_legacy_not_as_a_problem(object_store, prefix):
    entry = {"ts": "2026-01-01T00:00:00+00:00", "stream": "old-stream", "seq": 0, "prev": "0" * 64, "actor": "a"}
    entry["hash"] = entry_hash(entry)
    object_store.put_bytes(f"{prefix}old-stream/000000000000.jsonl", canonical_json(entry) + b"\n")
    made_later = AuditKey(KEY.secret, utcnow() + timedelta(seconds=5))  # the audit key came with a later upgrade
    report = verify_audit(object_store, made_later, prefix)
    assert report.ok and report.legacy == 1


def test_dossier_audit_verify_fails_when_the_newest_segment_of_a_stream_was_deleted(tmp_path, monkeypatch):
    from flows.cli import app
    from pipeline.storage import EmbeddedStore, ObjectStore, StoreConfig, free_base_port

    for name in ("DOSSIER_S3_ENDPOINT", "DOSSIER_S3_ACCESS_KEY", "DOSSIER_S3_SECRET_KEY", "DOSSIER_AUDIT_LOCK_DAYS"):
        monkeypatch.delenv(name, raising=False)
    state = tmp_path / "state"
    server = EmbeddedStore(state, base_port=free_base_port())
    server.start()
    try:
        runner = CliRunner()
        for agency in ("开封市公安局", "新封县人民检察院"):
            granted = runner.invoke(app, ["grant", "（2024）豫0727刑初9号", "--agency", agency, "--state", str(state)])
            assert granted.exit_code == 0, granted.output
        ok = runner.invoke(app, ["audit", "verify", "--state", str(state)])
        assert ok.exit_code == 0 and ok.output.startswith("OK") and "checkpoints" in ok.output
        store = ObjectStore(StoreConfig.embedded(state))
        newest = max((o for o in store.list_keys("system/audit/") if o.key.endswith(".jsonl")),
                     key=lambda o: o.key.split("/")[2])
        store.delete(newest.key)  # the default lock refuses a purge; a delete marker is all one can do
        failed = runner.invoke(app, ["audit", "verify", "--state", str(state)])
        assert failed.exit_code == 6
        assert "segment was deleted" in failed.output and failed.output.rstrip().splitlines()[-1].startswith("FAILED")
    finally:
        server.stop(timeout=3.0)
