"""Published dossiers are write once, read many by default: with the default profile every object a publication
writes (volumes, originals, catalogue, report, dossier.json) is under COMPLIANCE retention for ten years, so no
version can be deleted, not even with the bucket credential; a republication still supersedes it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from minio.error import S3Error

from pipeline.common import utcnow
from pipeline.storage import dossier_prefix, load_manifest, manifest_versions
from tests.publication_helpers import publish_with_task
from tests.store_fixtures import unique_case_no


def _versions(store, case_no: str) -> list[tuple[str, str]]:
    prefix = dossier_prefix(case_no)
    return [(info.key, info.version_id) for info, _, marker in store.list_versions(prefix) if not marker]


def test_no_version_of_a_dossier_published_with_the_default_profile_can_be_deleted(embedded_store, tmp_path):
    store, case_no = embedded_store.store(), unique_case_no()
    publish_with_task(embedded_store.config, tmp_path, case_no, "v1")
    stored = _versions(store, case_no)
    assert {key.rsplit("/", 1)[-1] for key, _ in stored} >= {"001.pdf", "002.pdf", "catalogue.json", "report.json",
                                                             "dossier.json", "扫描_0000.tif"}
    for key, version in stored:
        retention = store.client.get_object_retention(store.bucket, key, version_id=version)
        assert retention.mode == "COMPLIANCE", key
        assert retention.retain_until_date > utcnow() + timedelta(days=3649), key
        with pytest.raises(S3Error) as refused:
            store.client.remove_object(store.bucket, key, version_id=version)
        assert refused.value.code == "AccessDenied", key


def test_a_locked_dossier_is_republished_and_the_new_manifest_supersedes_the_old(embedded_store, tmp_path):
    store, case_no = embedded_store.store(), unique_case_no()
    first = publish_with_task(embedded_store.config, tmp_path, case_no, "v1")
    second = publish_with_task(embedded_store.config, tmp_path, case_no, "v2")
    assert second["published"] and not second["unchanged"] and second["supersedes"] == first["manifest_version"]
    assert load_manifest(store, case_no).version_id == second["manifest_version"]
    assert [v for v, _, _ in manifest_versions(store, case_no)] == [second["manifest_version"],
                                                                     first["manifest_version"]]
