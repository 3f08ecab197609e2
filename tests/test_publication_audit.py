"""Publication and supersession in the access database and the audit log: the owner recorded at the first
publication (and another agency refused after it), who published which manifest version and what it replaced; the
entry is stored before dossier.json, and without it nothing is published."""

from __future__ import annotations

import hashlib
import json

import pytest

from pipeline.access import Database, GrantStore, audit_key, read_audit, verify_audit
from pipeline.errors import RefusedError, StoreError
from pipeline.storage import StoreConfig, dossier_prefix, load_manifest, normalise_case_no
from pipeline.storage._layout import MANIFEST_NAME
from tests.publication_helpers import database_url, publish_with_task
from tests.store_fixtures import unique_case_no


def _key(tmp_path):
    db = Database.open(database_url(tmp_path))
    try:
        return audit_key(db)
    finally:
        db.dispose()


def _entries(store, case_no: str) -> list[dict]:
    wanted = normalise_case_no(case_no)
    return [e for e in read_audit(store) if e.get("case_no") == wanted and e.get("action", "").startswith("dossier.")]


def test_a_publication_is_audited_with_who_which_manifest_and_what_it_supersedes(embedded_store, tmp_path):
    store, case_no = embedded_store.store(), unique_case_no()
    first = publish_with_task(embedded_store.config, tmp_path, case_no, "v1")
    second = publish_with_task(embedded_store.config, tmp_path, case_no, "v2")
    entries = _entries(store, case_no)
    assert [e["action"] for e in entries] == ["dossier.publish", "dossier.published"] * 2
    announce, published = entries[2], entries[3]
    stored = store.get_bytes(dossier_prefix(case_no) + MANIFEST_NAME, second["manifest_version"])
    assert announce["manifest_sha256"] == hashlib.sha256(stored).hexdigest()
    assert announce["supersedes"] == first["manifest_version"] == second["supersedes"]
    assert (announce["run_kind"], announce["room"], announce["agency"]) == ("process", "room-1", "豫0727法院")
    assert announce["actor"].startswith("process:") and announce["batches"] == ["batch-01"]
    assert published["manifest_version"] == second["manifest_version"] and published["confirms"] == announce["hash"]
    assert entries[0]["supersedes"] == "-"
    streams = {e["stream"] for e in entries}
    report = verify_audit(store, _key(tmp_path))
    assert not [p for p in report.problems if any(s in p for s in streams)]  # the session store has other tests'


def test_the_first_publication_records_the_owner_in_the_access_database(embedded_store, tmp_path):
    case_no = unique_case_no()
    publish_with_task(embedded_store.config, tmp_path, case_no, "v1", agency="新封县人民法院")
    db = Database.open(database_url(tmp_path))
    try:
        assert GrantStore(db).get(case_no, cached=False).owner == "新封县人民法院"
    finally:
        db.dispose()


def test_a_publication_by_another_agency_is_refused_even_when_the_stored_manifest_names_it(embedded_store,
                                                                                            tmp_path):
    store, case_no = embedded_store.store(), unique_case_no()
    first = publish_with_task(embedded_store.config, tmp_path, case_no, "v1", agency="新封县人民法院")
    key = dossier_prefix(case_no) + MANIFEST_NAME
    forged = json.loads(store.get_bytes(key)) | {"agency": "开封市公安局"}  # written with the bucket credential
    forged_version = store.put_bytes(key, json.dumps(forged, ensure_ascii=False).encode(), "application/json")
    with pytest.raises(RefusedError, match="first published by another agency"):
        publish_with_task(embedded_store.config, tmp_path, case_no, "v2", agency="开封市公安局")
    assert load_manifest(store, case_no).version_id == forged_version != first["manifest_version"]
    assert [e["action"] for e in _entries(store, case_no)] == ["dossier.publish", "dossier.published"]


def test_the_publication_entry_is_stored_before_the_manifest_is_written(embedded_store, tmp_path, monkeypatch):
    from pipeline.storage import _publish as publishing

    store, case_no = embedded_store.store(), unique_case_no()
    seen = []
    real = publishing.write_manifest

    def write_manifest(store_, prefix, data, retention, *name):
        seen.append([e["action"] for e in _entries(store, case_no)])  # what the log holds at that moment
        return real(store_, prefix, data, retention, *name)

    monkeypatch.setattr(publishing, "write_manifest", write_manifest)
    publish_with_task(embedded_store.config, tmp_path, case_no, "v1")
    assert seen == [["dossier.publish"]]


def test_nothing_is_published_when_the_publication_cannot_be_audited(embedded_store, tmp_path, monkeypatch):
    import flows.publication as publication
    from pipeline.storage import ObjectStore

    case_no = unique_case_no()
    dead = ObjectStore(StoreConfig(endpoint="127.0.0.1:9", access_key="x", secret_key="y", retries=0, timeout=1))
    monkeypatch.setattr(publication, "_audit_store", lambda config: dead)  # the audit log's store is unreachable
    with pytest.raises(StoreError, match="audit entry not stored"):
        publish_with_task(embedded_store.config, tmp_path, case_no, "v1")
    with pytest.raises(StoreError):
        load_manifest(embedded_store.store(), case_no)  # no dossier.json: the dossier does not exist for readers
