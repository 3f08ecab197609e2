"""Publication and supersession in the audit log: who published which manifest version, and what it replaced; the
entry is stored before dossier.json, and without it nothing is published."""

from __future__ import annotations

import hashlib

import pytest

from flows.publication import run_identity
from flows.tasks import publish_task
from pipeline.access import read_audit, verify_audit
from pipeline.errors import StoreError
from pipeline.standard import load_profile
from pipeline.storage import StoreConfig, dossier_prefix, load_manifest, normalise_case_no
from pipeline.storage._layout import MANIFEST_NAME
from tests.store_fixtures import make_dossier, unique_case_no


def _publish(config: StoreConfig, tmp_path, case_no: str, label: str, who: dict | None = None) -> dict:
    manifest, out, _ = make_dossier(tmp_path / label, case_no, label=label)
    return publish_task.fn(config, out, manifest, tmp_path / label / "batch-01", load_profile(None),
                           who or run_identity("process", "room-1"))


def _entries(store, case_no: str) -> list[dict]:
    wanted = normalise_case_no(case_no)
    return [e for e in read_audit(store) if e.get("case_no") == wanted and e.get("action", "").startswith("dossier.")]


def test_a_publication_is_audited_with_who_which_manifest_and_what_it_supersedes(embedded_store, tmp_path):
    store, case_no = embedded_store.store(), unique_case_no()
    first = _publish(embedded_store.config, tmp_path, case_no, "v1")
    second = _publish(embedded_store.config, tmp_path, case_no, "v2")
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
    assert verify_audit(store).ok


def test_the_publication_entry_is_stored_before_the_manifest_is_written(embedded_store, tmp_path, monkeypatch):
    from pipeline.storage import _publish as publishing

    store, case_no = embedded_store.store(), unique_case_no()
    seen = []
    real = publishing.write_manifest

    def write_manifest(store_, prefix, data, retention, *name):
        seen.append([e["action"] for e in _entries(store, case_no)])  # what the log holds at that moment
        return real(store_, prefix, data, retention, *name)

    monkeypatch.setattr(publishing, "write_manifest", write_manifest)
    _publish(embedded_store.config, tmp_path, case_no, "v1")
    assert seen == [["dossier.publish"]]


def test_nothing_is_published_when_the_publication_cannot_be_audited(embedded_store, tmp_path, monkeypatch):
    import flows.publication as publication
    from pipeline.storage import ObjectStore

    case_no = unique_case_no()
    dead = ObjectStore(StoreConfig(endpoint="127.0.0.1:9", access_key="x", secret_key="y", retries=0, timeout=1))
    monkeypatch.setattr(publication, "_audit_store", lambda config: dead)  # the audit log's store is unreachable
    with pytest.raises(StoreError, match="audit entry not stored"):
        _publish(embedded_store.config, tmp_path, case_no, "v1")
    with pytest.raises(StoreError):
        load_manifest(embedded_store.store(), case_no)  # no dossier.json: the dossier does not exist for readers
