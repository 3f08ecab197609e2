"""The process-batch flow end to end on the sample case: real Tesseract, PDFBox Preflight, SeaweedFS and Prefect.

One flow run on the committed sample batch is shared by the tests of this module; each test checks one promise of
the spine on its result.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from pipeline.casekey import case_key
from pipeline.errors import BadInputError
from pipeline.models import DossierManifest, Report
from pipeline.synthetic import han_characters

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "case-2024-172"
TRUTH = json.loads((ROOT / "samples" / "truth" / "case-2024-172.json").read_text(encoding="utf-8"))
CASE_NO = TRUTH["case_no"]


@pytest.fixture(scope="module")
def store_env(embedded_store):  # noqa: F811
    """Environment pointing the flow at the test store."""
    cfg = embedded_store.config
    env = {"DOSSIER_S3_ENDPOINT": cfg.endpoint, "DOSSIER_S3_ACCESS_KEY": cfg.access_key,
           "DOSSIER_S3_SECRET_KEY": cfg.secret_key, "DOSSIER_S3_BUCKET": cfg.bucket}
    mp = pytest.MonkeyPatch()
    for k, v in env.items():
        mp.setenv(k, v)
    yield embedded_store
    mp.undo()


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory, prefect_harness, store_env):
    """Copy the sample batch, run the flow on it once, and return (state folder, batch copy, flow result)."""
    from flows.process import process_batch

    work = tmp_path_factory.mktemp("flow")
    batch = work / "case-2024-172"
    shutil.copytree(SAMPLE, batch)
    state = work / "state"
    result = process_batch(str(batch), state=str(state))
    return state, batch, result


def manifest_of(sample_run) -> DossierManifest:
    _, _, result = sample_run
    return DossierManifest.model_validate_json((Path(result["folder"]) / "dossier.json").read_text(encoding="utf-8"))


def test_the_sample_batch_is_published_with_a_passing_report(sample_run):
    _, _, result = sample_run
    assert result["published"] and result["report_passed"]
    report = Report.model_validate_json((Path(result["folder"]) / "report.json").read_text(encoding="utf-8"))
    assert report.summary.passed, [c for c in report.checks if not c.passed]
    assert any(c.name == "pdfa-1b" and c.passed for c in report.checks)


def test_every_input_page_has_its_record(sample_run):
    manifest = manifest_of(sample_run)
    assert [(p.source.file, p.source.index) for p in manifest.pages] == [(t["file"], i) for t, i in zip(
        TRUTH["pages"], [0, 0, 0, 1, 2, 0, 0, 0, 0, 0])]
    for page, truth in zip(manifest.pages, TRUTH["pages"]):
        assert page.blank == truth["blank"], page.source
        assert page.rotation == truth["rotation"], page.source
        if not page.blank:
            assert abs(page.skew - truth["skew"]) <= 0.3, (page.source, page.skew, truth["skew"])
            assert page.volume == 1 and page.page is not None
        else:
            assert page.volume is None and page.page is None
        assert len(page.sha256) == 64


def test_page_numbers_run_from_one_without_gaps(sample_run):
    manifest = manifest_of(sample_run)
    numbers = [p.page for p in manifest.pages if p.page is not None]
    assert numbers == list(range(1, len(numbers) + 1))


def test_the_sealed_pages_stay_in_colour(sample_run):
    manifest = manifest_of(sample_run)
    sealed = {t["file"] for t in TRUTH["pages"] if t["seal"]} & {"002.jpg", "010.jpg"}
    for page in manifest.pages:
        if page.source.file in sealed:
            assert page.colour == "colour" and page.seal, page


def test_the_text_layer_holds_the_chinese_text_without_spaces(sample_run):
    _, _, result = sample_run
    pdf = Path(result["folder"]) / "volumes" / "001.pdf"
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, timeout=60).stdout
    truth = Counter(c for t in TRUTH["pages"] for line in t["lines"] for c in han_characters(line))
    got = Counter(han_characters(text))
    found = sum(min(n, got[c]) for c, n in truth.items())
    assert found / sum(truth.values()) >= 0.85
    assert not re.search(r"[\u4e00-\u9fff] +[\u4e00-\u9fff]", text)


def test_the_published_dossier_fetches_back_verified(sample_run, tmp_path):
    from pipeline.store import ObjectStore, StoreConfig, fetch_dossier

    state, _, result = sample_run
    store = ObjectStore(StoreConfig.from_env(state))
    folder = fetch_dossier(store, CASE_NO, tmp_path)
    assert folder.name == case_key(CASE_NO)
    local = Path(result["folder"]) / "volumes" / "001.pdf"
    fetched = folder / "volumes" / "001.pdf"
    assert hashlib.sha256(fetched.read_bytes()).digest() == hashlib.sha256(local.read_bytes()).digest()


def test_a_second_run_takes_every_page_from_the_cache(sample_run, prefect_harness):
    from flows.process import process_batch

    state, batch, _ = sample_run
    result = process_batch(str(batch), state=str(state), publish=False)
    assert result["pages_from_cache"] == len(TRUTH["pages"])


def test_a_corrupt_page_stops_the_batch_by_name_and_changes_nothing(tmp_path, prefect_harness):
    from flows.process import process_batch

    batch = tmp_path / "b"
    shutil.copytree(SAMPLE, batch)
    data = (batch / "008.jpg").read_bytes()
    (batch / "008.jpg").write_bytes(data[: len(data) // 3])
    before = {p.name: p.read_bytes() for p in batch.iterdir()}
    with pytest.raises(BadInputError, match="008.jpg"):
        process_batch(str(batch), state=str(tmp_path / "state"), publish=False)
    assert {p.name: p.read_bytes() for p in batch.iterdir()} == before
