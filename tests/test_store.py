"""Publishing and fetching dossiers against the real embedded SeaweedFS."""

import hashlib
import json
from datetime import UTC, datetime

import pytest
from minio.error import S3Error

from pipeline.errors import CaseNumberError, StoreError
from pipeline.models import RetentionPolicy
from pipeline.storage import (
    DossierNotFound,
    IntegrityError,
    case_key,
    dossier_prefix,
    fetch_dossier,
    load_manifest,
    manifest_versions,
    publish_dossier,
    read_dossier_manifest,
)
from tests.store_fixtures import make_dossier, unique_case_no


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_published_dossier_lands_in_the_documented_layout(object_store, tmp_path):
    case_no = unique_case_no()
    manifest, out, originals = make_dossier(tmp_path, case_no)
    publish_dossier(object_store, manifest, out, originals)
    prefix = f"cases/{case_key(case_no)}/"
    keys = {o.key[len(prefix):] for o in object_store.list_keys(prefix)}
    assert keys == {"volumes/001.pdf", "volumes/002.pdf", "catalogue.json", "report.json", "dossier.json",
                    "originals/batch-01/扫描_0000.tif", "originals/batch-01/扫描_0001.tif"}


def test_every_stored_object_carries_its_sha256(object_store, tmp_path):
    case_no = unique_case_no()
    manifest, out, originals = make_dossier(tmp_path, case_no)
    result = publish_dossier(object_store, manifest, out, originals)
    prefix = dossier_prefix(case_no)
    for obj in result.objects:
        assert object_store.stat(prefix + obj.key).sha256 == obj.sha256
    for original in result.manifest.originals:
        assert object_store.stat(prefix + original.key).sha256 == original.sha256 == _sha(
            tmp_path / "batch-01" / original.file)


def test_manifest_is_written_after_every_other_object(object_store, tmp_path):
    manifest, out, originals = make_dossier(tmp_path, unique_case_no())
    order = []
    publish_dossier(object_store, manifest, out, originals, on_object_written=order.append)
    assert order[-1] == "dossier.json"
    assert len(order) == 7 and order.count("dossier.json") == 1


def test_failure_halfway_leaves_no_manifest_and_a_rerun_completes_without_rewriting(object_store, tmp_path):
    case_no = unique_case_no()
    manifest, out, originals = make_dossier(tmp_path, case_no)

    def fail_after_two(key, written=[]):
        written.append(key)
        if len(written) == 2:
            raise RuntimeError("injected failure")

    with pytest.raises(RuntimeError, match="injected"):
        publish_dossier(object_store, manifest, out, originals, on_object_written=fail_after_two)
    with pytest.raises(DossierNotFound):
        read_dossier_manifest(object_store, case_no)
    result = publish_dossier(object_store, manifest, out, originals)
    skipped = [o.key for o in result.objects if o.skipped]
    assert skipped == ["volumes/001.pdf", "volumes/002.pdf"]
    assert read_dossier_manifest(object_store, case_no).volumes == manifest.volumes


def test_fetch_downloads_the_dossier_and_every_hash_matches_the_manifest(object_store, tmp_path):
    case_no = unique_case_no()
    manifest, out, originals = make_dossier(tmp_path / "src", case_no)
    publish_dossier(object_store, manifest, out, originals)
    folder = fetch_dossier(object_store, "(2024)" + case_no[6:], tmp_path / "fetched")  # another spelling
    assert folder == tmp_path / "fetched" / case_key(case_no)
    fetched = json.loads((folder / "dossier.json").read_text(encoding="utf-8"))
    assert fetched["case_no"] == case_no
    for vol in manifest.volumes:
        assert _sha(folder / vol.key) == vol.sha256 == _sha(out / vol.key)
    assert _sha(folder / "catalogue.json") == _sha(out / "catalogue.json") == fetched["catalogue_sha256"]
    assert _sha(folder / "report.json") == fetched["report_sha256"]


def test_fetch_calls_the_pdf_verifier_on_each_volume_and_stops_on_its_failure(object_store, tmp_path):
    case_no = unique_case_no()
    manifest, out, originals = make_dossier(tmp_path / "src", case_no, volumes=3)
    publish_dossier(object_store, manifest, out, originals)
    seen = []
    fetch_dossier(object_store, case_no, tmp_path / "ok", verify_pdf=lambda p: seen.append(p.name))
    assert seen == ["001.pdf", "002.pdf", "003.pdf"]

    def reject_second(path):
        if path.name == "002.pdf":
            raise ValueError("signature broken")

    with pytest.raises(StoreError, match=r"volumes/002\.pdf.*signature broken"):
        fetch_dossier(object_store, case_no, tmp_path / "bad", verify_pdf=reject_second)
    assert not (tmp_path / "bad" / case_key(case_no)).exists()


def test_fetch_names_the_file_whose_hash_does_not_match(object_store, tmp_path):
    case_no = unique_case_no()
    manifest, out, originals = make_dossier(tmp_path / "src", case_no)
    result = publish_dossier(object_store, manifest, out, originals)
    forged = result.manifest.model_copy(deep=True)
    forged.volumes[1].sha256 = "0" * 64
    object_store.put_bytes(dossier_prefix(case_no) + "dossier.json", forged.model_dump_json().encode())
    with pytest.raises(IntegrityError, match=r"volumes/002\.pdf.*0{64}"):
        fetch_dossier(object_store, case_no, tmp_path / "fetched")
    assert not (tmp_path / "fetched" / case_key(case_no)).exists()


def test_republish_writes_new_versions_and_the_older_manifest_still_reads_its_own_volumes(object_store, tmp_path):
    case_no = unique_case_no()
    m1, out1, orig1 = make_dossier(tmp_path / "one", case_no, label="first")
    r1 = publish_dossier(object_store, m1, out1, orig1)
    m2, out2, orig2 = make_dossier(tmp_path / "two", case_no, label="second")
    r2 = publish_dossier(object_store, m2, out2, orig2)

    assert r2.manifest.supersedes == r1.manifest_version_id != r2.manifest_version_id
    assert read_dossier_manifest(object_store, case_no).supersedes == r1.manifest_version_id
    assert read_dossier_manifest(object_store, case_no, version_id=r1.manifest_version_id).volumes == m1.volumes
    versions = manifest_versions(object_store, case_no)
    assert [v for v, _, _ in versions] == [r2.manifest_version_id, r1.manifest_version_id]

    old = fetch_dossier(object_store, case_no, tmp_path / "old", version_id=r1.manifest_version_id)
    new = fetch_dossier(object_store, case_no, tmp_path / "new")
    assert _sha(old / "volumes/001.pdf") == _sha(out1 / "volumes/001.pdf")
    assert _sha(new / "volumes/001.pdf") == _sha(out2 / "volumes/001.pdf") != _sha(out1 / "volumes/001.pdf")


def test_a_rerun_whose_checks_ran_again_finds_its_dossier_published_and_writes_nothing(object_store, tmp_path):
    case_no = unique_case_no()
    manifest, out, originals = make_dossier(tmp_path, case_no)
    first = publish_dossier(object_store, manifest, out, originals)
    # the run died after writing dossier.json; run again, it checked the same dossier again: a new report.json
    (out / "report.json").write_text('{"passed": true, "checked_at": "a minute later"}', encoding="utf-8")
    again = publish_dossier(object_store, manifest.model_copy(update={"created": datetime.now(UTC)}), out, originals)
    assert again.unchanged and again.manifest_version_id == first.manifest_version_id and not again.objects
    assert len(manifest_versions(object_store, case_no)) == 1
    fetched = fetch_dossier(object_store, case_no, tmp_path / "fetched")
    assert (fetched / "report.json").read_bytes() != (out / "report.json").read_bytes()  # the published one


def test_publishing_the_same_dossier_again_writes_nothing_new(object_store, tmp_path):
    case_no = unique_case_no()
    manifest, out, originals = make_dossier(tmp_path, case_no)
    first = publish_dossier(object_store, manifest, out, originals)
    rerun = manifest.model_copy(update={"created": datetime.now(UTC)})  # a rerun stamps a new time
    again = publish_dossier(object_store, rerun, out, originals)
    assert again.unchanged and again.manifest_version_id == first.manifest_version_id
    assert all(o.skipped for o in again.objects)
    assert len(manifest_versions(object_store, case_no)) == 1


@pytest.mark.parametrize("mode", ["COMPLIANCE", "GOVERNANCE"])
def test_retention_refuses_deleting_a_published_volume_and_keeps_its_bytes_when_overwritten(
        object_store, tmp_path, mode):
    case_no = unique_case_no()
    manifest, out, originals = make_dossier(tmp_path, case_no, volumes=1)
    result = publish_dossier(object_store, manifest, out, originals, RetentionPolicy(mode=mode, days=1))
    key = dossier_prefix(case_no) + "volumes/001.pdf"
    version = result.manifest.object_versions["volumes/001.pdf"]
    assert object_store.client.get_object_retention(object_store.bucket, key, version_id=version).mode == mode

    with pytest.raises(S3Error) as refused:
        object_store.client.remove_object(object_store.bucket, key, version_id=version)
    assert refused.value.code == "AccessDenied"
    object_store.put_bytes(key, b"%PDF-1.4 forged replacement")
    assert object_store.hash_object(key, version) == (manifest.volumes[0].sha256, manifest.volumes[0].bytes)
    fetched = fetch_dossier(object_store, case_no, tmp_path / "fetched")  # the manifest still pins the original
    assert _sha(fetched / "volumes/001.pdf") == manifest.volumes[0].sha256


def test_dossier_above_the_buckets_security_level_is_refused_before_anything_is_written(embedded_store, tmp_path):
    store = embedded_store.store(max_security_level="internal")
    case_no = unique_case_no()
    manifest, out, originals = make_dossier(tmp_path, case_no, security_level="secret")
    with pytest.raises(StoreError, match="'secret'.*at most 'internal'"):
        publish_dossier(store, manifest, out, originals)
    assert list(store.list_keys(dossier_prefix(case_no))) == []


def test_volume_that_does_not_match_the_manifest_is_refused_before_anything_is_written(object_store, tmp_path):
    case_no = unique_case_no()
    manifest, out, originals = make_dossier(tmp_path, case_no)
    (out / "volumes" / "002.pdf").write_bytes(b"%PDF-1.4 something else")
    with pytest.raises(IntegrityError, match=r"volume 2 .*002\.pdf"):
        publish_dossier(object_store, manifest, out, originals)
    assert list(object_store.list_keys(dossier_prefix(case_no))) == []


def test_original_changed_since_it_was_received_fails_the_fixity_check(object_store, tmp_path):
    manifest, out, originals = make_dossier(tmp_path, unique_case_no())
    originals[1][2].write_bytes(b"II*\x00 edited after ingest")
    with pytest.raises(IntegrityError, match="fixity.*扫描_0001.tif"):
        publish_dossier(object_store, manifest, out, originals)


def test_original_outside_its_batch_folder_is_refused(object_store, tmp_path):
    manifest, out, originals = make_dossier(tmp_path, unique_case_no(), originals=0)
    outside = tmp_path / "elsewhere.tif"
    outside.write_bytes(b"II*\x00")
    with pytest.raises(StoreError, match="not inside its batch folder"):
        publish_dossier(object_store, manifest, out, [("batch-01", tmp_path / "batch-01", outside)])


def test_manifest_with_a_wrong_case_key_is_refused(object_store, tmp_path):
    manifest, out, originals = make_dossier(tmp_path, unique_case_no())
    with pytest.raises(StoreError, match="case_key"):
        publish_dossier(object_store, manifest.model_copy(update={"case_key": "abc"}), out, originals)


def test_fetching_an_unknown_or_invalid_case_says_so(object_store, tmp_path):
    with pytest.raises(DossierNotFound, match="no published dossier"):
        fetch_dossier(object_store, unique_case_no(), tmp_path)
    with pytest.raises(CaseNumberError):
        fetch_dossier(object_store, "../../x1", tmp_path)


def test_loaded_manifest_bytes_are_checked_against_their_stored_hash(object_store, tmp_path):
    case_no = unique_case_no()
    manifest, out, originals = make_dossier(tmp_path, case_no)
    publish_dossier(object_store, manifest, out, originals)
    ref = load_manifest(object_store, case_no)
    assert hashlib.sha256(ref.data).hexdigest() == object_store.stat(dossier_prefix(case_no) + "dossier.json").sha256


def test_a_failed_republish_leaves_readers_on_the_previous_dossier_and_its_own_bytes(object_store, tmp_path):
    case_no = unique_case_no()
    m1, out1, o1 = make_dossier(tmp_path / "one", case_no, label="first")
    first = publish_dossier(object_store, m1, out1, o1)
    m2, out2, o2 = make_dossier(tmp_path / "two", case_no, label="second")

    def fail_after_volumes(key):
        if key == "volumes/002.pdf":
            raise RuntimeError("crash after the new volumes were written")

    with pytest.raises(RuntimeError):
        publish_dossier(object_store, m2, out2, o2, on_object_written=fail_after_volumes)
    assert object_store.stat(dossier_prefix(case_no) + "volumes/001.pdf").sha256 == m2.volumes[0].sha256
    assert load_manifest(object_store, case_no).version_id == first.manifest_version_id
    fetched = fetch_dossier(object_store, case_no, tmp_path / "fetched")
    assert _sha(fetched / "volumes/001.pdf") == m1.volumes[0].sha256
