"""Reruns and reprocessing on a real Prefect server and store.

A hot-folder batch is run in this process (the watcher's in-process mode) with volume 2 of 2 made to fail; the batch
lands in quarantine. `dossier rerun` then rebuilds volume 2 alone from cached pages, publishes, and moves the batch
to done; `reprocess-case` rebuilds the published dossier from its archived originals under a new profile version.
"""

from __future__ import annotations

import subprocess

import pytest

from pipeline.dossier import find_runs, load_run
from pipeline.operations import HotFolder, Intake, Ledger
from pipeline.settings import StoreSettings
from tests.faults import FAULT_ENV, fail_volumes, heal_volumes
from tests.ops_fixtures import (
    DOSSIER,
    ROOT,
    file_digests,
    make_batch,
    store_environment,
    subprocess_env,
    wait_for,
    write_profile,
    write_rooms,
)
from tests.store_fixtures import unique_case_no


@pytest.fixture(scope="module")
def failed_batch(embedded_store, prefect_harness, tmp_path_factory):
    """A batch taken from a hot folder whose volume 2 failed: (hot, state, case, source digests, profile path)."""
    from flows.inprocess import InProcessSubmitter

    env = store_environment(embedded_store)
    mp = pytest.MonkeyPatch()
    for k, v in env.items():
        mp.setenv(k, v)
    base = tmp_path_factory.mktemp("rerun")
    hot, state = base / "hot", base / "state"
    profile = write_profile(base)
    room = hot / "room-1"
    room.mkdir(parents=True)
    (room / "room.yaml").write_text("settle_seconds: 0\n", encoding="utf-8")
    rooms = write_rooms(base / "admin" / "rooms.yaml", profile=profile)
    case = unique_case_no()
    originals = file_digests(make_batch(room / "b1", case, marker=True))
    fail_volumes({2})
    intake = Intake(HotFolder(hot, rooms), Ledger(state), InProcessSubmitter(state), log=lambda m: None, status_seconds=0)

    def quarantined() -> bool:  # claims, runs the flow here (it fails), then follows it to quarantine
        intake.tick(full_scan=True)
        return (hot / "quarantine" / "room-1" / "b1").is_dir()

    wait_for(quarantined, 300, "the batch whose volume 2 failed to be quarantined", interval=0.2)
    heal_volumes()
    yield hot, state, case, originals, base
    mp.undo()


def test_a_failed_volume_quarantines_the_batch_and_keeps_the_volume_that_was_built(failed_batch):
    hot, state, case, originals, _ = failed_batch
    folder = hot / "quarantine" / "room-1" / "b1"
    reason = (folder / "reason.txt").read_text(encoding="utf-8")
    assert "volume(s) 2 of 2 failed" in reason and FAULT_ENV in reason
    got = file_digests(folder)
    got.pop("reason.txt")
    assert got == originals
    [(work, record)] = find_runs(state, case)
    assert record.status == "failed" and record.failed_volumes == [2]
    assert (work / "volumes" / "001.pdf").is_file() and not (work / "volumes" / "002.pdf").exists()


@pytest.fixture(scope="module")
def rerun_output(failed_batch):
    """`dossier rerun CASE --volume 2` as an admin runs it; returns (its output, volume 1 before, work folder)."""
    hot, state, case, _, _ = failed_batch
    [(work, _)] = find_runs(state, case)
    vol1 = work / "volumes" / "001.pdf"
    before = (vol1.read_bytes(), vol1.stat().st_mtime_ns)
    env = subprocess_env(store_environment_from_env())
    done = subprocess.run([*DOSSIER, "rerun", case, "--volume", "2", "--state", str(state)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr, before, work


def store_environment_from_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k.startswith("DOSSIER_S3_")}


def test_dossier_rerun_rebuilds_only_the_failed_volume_and_its_pages_come_from_cache(failed_batch, rerun_output):
    output, (vol1_bytes, vol1_mtime), work = rerun_output
    assert "pages: 0 processed, 3 from cache" in output
    assert "volumes: built [2], reused [1], failed none" in output
    vol1 = work / "volumes" / "001.pdf"
    assert vol1.read_bytes() == vol1_bytes and vol1.stat().st_mtime_ns == vol1_mtime
    assert (work / "volumes" / "002.pdf").is_file()
    assert load_run(work).status == "published"


def test_after_the_rerun_the_dossier_is_published_and_the_batch_moves_to_done(failed_batch, rerun_output):
    from pipeline.storage import ObjectStore, StoreConfig, read_dossier_manifest

    hot, state, case, originals, _ = failed_batch
    _, (vol1_bytes, _), _ = rerun_output
    manifest = read_dossier_manifest(ObjectStore(StoreConfig.from_settings(StoreSettings.from_environ(), state)), case)
    assert [v.number for v in manifest.volumes] == [1, 2] and manifest.batches == ["b1"]
    import hashlib

    assert manifest.volumes[0].sha256 == hashlib.sha256(vol1_bytes).hexdigest()
    done = hot / "done" / "room-1" / "b1"
    got = file_digests(done)
    assert "已解决" in (note := got.pop("reason.txt").decode("utf-8")) and "由重做运行" in note  # reason.txt: how it was resolved
    assert got == originals
    [entry] = Ledger(state).entries()
    assert entry.state == "done"


@pytest.fixture(scope="module")
def reprocessed(failed_batch, rerun_output):
    """The published case reprocessed under a new profile: (manifest before, manifest after, flow result)."""
    from flows.rerun import reprocess_case
    from pipeline.storage import ObjectStore, StoreConfig, load_manifest

    _, state, case, _, base = failed_batch
    store = ObjectStore(StoreConfig.from_settings(StoreSettings.from_environ(), state))
    old = load_manifest(store, case)
    profile = write_profile(base, version="1.1.0-test-noocr", max_pages=3)
    result = reprocess_case(case, profile=str(profile), state=str(state))
    return old, load_manifest(store, case), result


def test_reprocessing_rebuilds_from_the_archived_originals_under_a_new_profile_and_supersedes(reprocessed):
    old, new, result = reprocessed
    assert new.version_id != old.version_id and new.manifest.supersedes == old.version_id
    assert new.manifest.standard == "DA/T 31-2017@1.1.0-test-noocr" != old.manifest.standard
    assert len(new.manifest.volumes) == 1 and result["volumes_built"] == [1]
    assert [(o.file, o.sha256) for o in new.manifest.originals] == [(o.file, o.sha256) for o in old.manifest.originals]


def test_reprocessing_and_the_publication_it_makes_are_in_the_audit_log(failed_batch, reprocessed):
    from pipeline.access import read_audit
    from pipeline.storage import ObjectStore, StoreConfig, normalise_case_no

    _, state, case, _, _ = failed_batch
    old, new, _ = reprocessed
    store = ObjectStore(StoreConfig.from_settings(StoreSettings.from_environ(), state))
    mine = [e for e in read_audit(store) if e.get("case_no") == normalise_case_no(case)
            and e.get("action", "").startswith("dossier.")]
    asked = [e for e in mine if e["action"] == "dossier.reprocess"]
    assert len(asked) == 1 and asked[0]["supersedes"] == old.version_id and asked[0]["profile"].endswith(".yaml")
    publishes = [e for e in mine if e["action"] == "dossier.publish" and e["run_kind"] == "reprocess"]
    assert len(publishes) == 1 and publishes[0]["supersedes"] == old.version_id
    assert mine.index(asked[0]) < mine.index(publishes[0])
    confirmed = [e for e in mine if e["action"] == "dossier.published" and e["confirms"] == publishes[0]["hash"]]
    assert [e["manifest_version"] for e in confirmed] == [new.version_id]
    reruns = [e for e in mine if e["action"] == "dossier.publish" and e["run_kind"] == "rerun"]
    assert len(reruns) == 1  # the rerun that finished the failed batch published once, audited too
