"""The store going away in the middle of a publish: a clear failure, no partial dossier, a rerun completes it."""

import time

import pytest

from pipeline.errors import StoreError
from pipeline.storage import DossierNotFound, fetch_dossier, publish_dossier, read_dossier_manifest
from tests.store_fixtures import make_dossier, unique_case_no


def test_store_stopped_mid_publish_fails_clearly_and_a_rerun_after_restart_publishes(embedded_store, tmp_path):
    store = embedded_store.store(retries=1, timeout=10.0)  # volume 1 must get through on a loaded machine
    case_no = unique_case_no()
    manifest, out, originals = make_dossier(tmp_path, case_no, volumes=3)
    written = []

    def stop_after_first_volume(key):
        written.append(key)
        if key == "volumes/001.pdf":
            embedded_store.server.stop(timeout=5.0)

    started = time.monotonic()
    try:
        with pytest.raises(StoreError) as failure:
            publish_dossier(store, manifest, out, originals, on_object_written=stop_after_first_volume)
        failed_after = time.monotonic() - started
    finally:
        embedded_store.restart()
    message = str(failure.value)
    assert "volumes/002.pdf" in message and embedded_store.config.endpoint in message
    assert written == ["volumes/001.pdf"]
    assert failed_after < 90, "retries must be bounded"  # a stopped store refuses at once: only the retries wait

    with pytest.raises(DossierNotFound):
        read_dossier_manifest(store, case_no)
    result = publish_dossier(store, manifest, out, originals)
    assert [o.key for o in result.objects if o.skipped] == ["volumes/001.pdf"]
    fetched = fetch_dossier(store, case_no, tmp_path / "fetched")
    assert (fetched / "volumes" / "003.pdf").read_bytes() == (out / "volumes" / "003.pdf").read_bytes()
