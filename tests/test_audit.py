"""The audit log in the real object store: a gapless hash chain, and every kind of tampering detected.

Tampering tests write their log without object lock (``lock_days=0``), as on a bucket without it: what someone
holding the bucket's credentials can do there (purge versions) must still be found. With the lock, the default
wherever the bucket has it, purging is refused by the store itself."""

import json
import secrets
import threading

import pytest

from pipeline.access import AuditKey, AuditLog, read_audit, verify_audit
from pipeline.access._audit import canonical_json, entry_hash
from pipeline.common import utcnow

KEY = AuditKey(secrets.token_bytes(32), utcnow())  # the installation's audit key, made before any test writes


@pytest.fixture
def prefix():
    return f"system/audit-t{secrets.token_hex(4)}/"


def _log(object_store, prefix, n=5, lock_days=0):
    log = AuditLog(object_store, KEY, kind="test", prefix=prefix, max_batch=2, lock_days=lock_days)
    for i in range(n):
        log.record_and_wait(actor=f"tok{i}", agency="豫0727法院", action="manifest", status=200, result="allowed",
                            bytes=100 + i)
    log.close()
    return log


def _segment_keys(object_store, prefix):
    return [o.key for o in object_store.list_keys(prefix) if o.key.endswith(".jsonl")]


def test_entries_form_a_gapless_chain_that_verifies(object_store, prefix):
    log = _log(object_store, prefix)
    entries = list(read_audit(object_store, prefix))
    assert [e["seq"] for e in entries] == [0, 1, 2, 3, 4]
    assert entries[0]["prev"] == "0" * 64
    assert all(b["prev"] == a["hash"] for a, b in zip(entries, entries[1:]))
    assert all(e["stream"] == log.stream and e["agency"] == "豫0727法院" for e in entries)
    report = verify_audit(object_store, KEY, prefix)
    assert report.ok and (report.streams, report.entries) == (1, 5)


class PagedListing:
    """The store, its version listing read in pages of ``page`` keys, each page a fresh listing after the last key
    read (as S3 pages a listing), with ``between()`` called once after the first page."""

    def __init__(self, store, page: int, between):
        self.store, self.page, self.between = store, page, between

    def __getattr__(self, name):
        return getattr(self.store, name)

    def list_versions(self, prefix):
        last = ""
        while True:
            items = [item for item in self.store.list_versions(prefix) if item[0].key > last]
            keys = sorted({item[0].key for item in items})[: self.page]
            if not keys:
                return
            yield from (item for item in items if item[0].key in keys)
            last = keys[-1]
            if self.between is not None:
                self.between()
                self.between = None


def test_a_stream_appended_to_while_it_is_verified_is_not_reported_cut_short(object_store, prefix):
    log = AuditLog(object_store, KEY, kind="test", prefix=prefix, max_batch=1, lock_days=0)
    for i in range(3):  # segments 0, 1, 2; checkpoints 0 to 3
        log.record_and_wait(actor=f"tok{i}", agency="豫0727法院", action="manifest", status=200, result="allowed")

    def a_request_meanwhile():  # the service records a fourth entry: segment 3, then checkpoint 4
        log.record_and_wait(actor="tok3", agency="豫0727法院", action="manifest", status=200, result="allowed")

    # the first page ends among the checkpoints: the new segment sorts before it, the new checkpoint after it
    report = verify_audit(PagedListing(object_store, page=5, between=a_request_meanwhile), KEY, prefix)
    log.close()
    assert report.ok, report.problems
    assert report.entries >= 3


def test_an_edited_entry_is_detected(object_store, prefix):
    _log(object_store, prefix)
    key = _segment_keys(object_store, prefix)[1]
    lines = object_store.get_bytes(key).decode().splitlines()
    entry = json.loads(lines[0])
    entry["result"] = "denied"  # an insider rewrites history
    lines[0] = json.dumps(entry, ensure_ascii=False)
    object_store.put_bytes(key, ("\n".join(lines) + "\n").encode())
    report = verify_audit(object_store, KEY, prefix)
    assert not report.ok
    assert any("edited" in p and f"seq {entry['seq']}" in p for p in report.problems)


def test_an_edit_with_recomputed_hashes_is_detected_by_the_object_history(object_store, prefix):
    _log(object_store, prefix)
    keys = _segment_keys(object_store, prefix)
    prev = None
    for key in keys:  # rewrite the whole chain consistently, as a careful forger would
        lines = []
        for line in object_store.get_bytes(key).decode().splitlines():
            entry = json.loads(line)
            if entry["seq"] == 2:
                entry["agency"] = "someone else"
            if prev is not None:
                entry["prev"] = prev
            entry["hash"] = entry_hash(entry)
            prev = entry["hash"]
            lines.append(canonical_json(entry))
        object_store.put_bytes(key, b"\n".join(lines) + b"\n")
    report = verify_audit(object_store, KEY, prefix)
    assert not any("edited" in p or "chain" in p for p in report.problems)
    assert any("rewritten" in p for p in report.problems)


def test_a_deleted_segment_is_detected_and_its_entries_still_read_from_the_history(object_store, prefix):
    _log(object_store, prefix)
    object_store.delete(_segment_keys(object_store, prefix)[1])
    report = verify_audit(object_store, KEY, prefix)
    assert any("deleted" in p for p in report.problems)
    assert report.entries == 5


def test_a_purged_segment_leaves_a_gap_in_the_sequence(object_store, prefix):
    _log(object_store, prefix)
    key = _segment_keys(object_store, prefix)[1]
    version = object_store.stat(key).version_id
    object_store.client.remove_object(object_store.bucket, key, version_id=version)  # no retention: possible
    report = verify_audit(object_store, KEY, prefix)
    assert any("entries missing" in p for p in report.problems)
    assert any("chain broken" in p for p in report.problems)


def test_concurrent_writers_in_one_process_make_one_gapless_chain_in_few_segments(object_store, prefix):
    log = AuditLog(object_store, KEY, kind="test", prefix=prefix, lock_days=0)
    errors = []

    def client(n):
        try:
            for i in range(20):
                log.record_and_wait(actor=f"c{n}", action="manifest", seq_in_client=i)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    assert errors == []
    report = verify_audit(object_store, KEY, prefix)
    assert report.ok and report.entries == 320
    assert report.segments < 320, "entries recorded while a segment is written must share the next segment"


def test_an_entry_recorded_while_the_store_is_unreachable_is_stored_once_it_is_back(object_store, prefix):
    from pipeline.errors import StoreError
    from pipeline.storage import ObjectStore, StoreConfig

    log = AuditLog(object_store, KEY, kind="test", prefix=prefix, lock_days=0)
    log.store = ObjectStore(StoreConfig(endpoint="127.0.0.1:9", access_key="x", secret_key="y", retries=0))
    with pytest.raises(StoreError):
        log.record_and_wait(timeout=10, action="manifest", actor="a")
    log.store = object_store
    log.record_and_wait(timeout=30, action="manifest", actor="b")
    log.close()
    assert [e["actor"] for e in read_audit(object_store, prefix)] == ["a", "b"]
    assert verify_audit(object_store, KEY, prefix).ok


def test_separate_writers_keep_separate_streams_that_all_verify(object_store, prefix):
    _log(object_store, prefix, n=2)
    _log(object_store, prefix, n=3)
    report = verify_audit(object_store, KEY, prefix)
    assert report.ok and (report.streams, report.entries) == (2, 5)


def test_with_audit_lock_days_a_segment_cannot_be_purged(object_store, prefix):
    from minio.error import S3Error

    log = AuditLog(object_store, KEY, kind="test", prefix=prefix, lock_days=1)
    log.record_and_wait(actor="a", action="manifest")
    log.close()
    key = _segment_keys(object_store, prefix)[0]
    with pytest.raises(S3Error) as refused:
        object_store.client.remove_object(object_store.bucket, key, version_id=object_store.stat(key).version_id)
    assert refused.value.code == "AccessDenied"
