"""The process-batch flow end to end on the sample case: real Tesseract, PDFBox Preflight, SeaweedFS and Prefect.

One flow run on the committed sample batch is shared by the first tests of this module; each checks one promise of
the spine on its result. The last ones check the safety limits: the per-case lock and the host's page slots.
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

from pipeline.errors import BadInputError
from pipeline.models import DossierManifest, Report
from pipeline.storage import case_key
from samples.synthetic import han_characters

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "case-2024-172"
TRUTH = json.loads((ROOT / "samples" / "truth" / "case-2024-172.json").read_text(encoding="utf-8"))
CASE_NO = TRUTH["case_no"]


@pytest.fixture(scope="module")
def store_env(embedded_store):
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
    result = process_batch(str(batch), state=str(state), review="never")
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


def test_the_manifest_names_the_ocr_engine_and_the_digests_of_its_models(sample_run):
    from pipeline.common import sha256_file
    from pipeline.ocr._ppocr_models import ppocr_models

    ocr = manifest_of(sample_run).ocr
    installed = ppocr_models()
    assert ocr.engine == "ppocr" and ocr.version == f"rapidocr {installed.version}" == "rapidocr 3.10.0"
    assert {(m.file, m.sha256) for m in ocr.models} == {
        (installed.path(r).name, sha256_file(installed.path(r))) for r in ("det", "rec")}


def test_search_finds_every_printed_occurrence_of_a_court_name_on_its_page(sample_run):
    import pymupdf

    manifest = manifest_of(sample_run)
    _, _, result = sample_run
    doc = pymupdf.open(Path(result["folder"]) / "volumes" / "001.pdf")
    by_label = {doc[i].get_label(): doc[i] for i in range(len(doc))}
    found = 0
    for record, truth in zip(manifest.pages, TRUTH["pages"]):
        if record.page is None:
            continue
        printed = sum(line.count("人民法院") for line in truth["lines"])
        hits = by_label[str(record.page)].search_for("人民法院")
        assert len(hits) >= printed, (record.source, len(hits), printed)
        if not truth["seal"]:  # a seal's ring reads 人民法院 too; elsewhere a hit is a printed occurrence
            assert len(hits) == printed, (record.source, len(hits), printed)
        found += len(hits)
    assert found >= 2


def test_the_publication_puts_every_page_of_the_dossier_in_the_search_index(sample_run):
    from pipeline.assembly import numbered_pages
    from pipeline.search import Filters, Scope, open_index

    state, _, result = sample_run
    manifest = manifest_of(sample_run)
    assert result["search_entries"] > sum(v.pages for v in manifest.volumes)
    index = open_index("tantivy", Path(state) / "search")
    try:
        for volume in manifest.volumes:
            for page in numbered_pages(Path(result["folder"]) / volume.key):
                for word in ("人民法院", "被告人"):
                    found = index.search(word, Scope(everything=True), Filters(case_key=manifest.case_key), 100)
                    pages = {(h.entry.volume, h.entry.page) for h in found.hits if h.entry.source == "page"}
                    assert ((volume.number, page.number) in pages) == (word in page.text), (word, page.number)
    finally:
        index.close()


def test_the_published_dossier_fetches_back_verified(sample_run, tmp_path):
    from pipeline.settings import StoreSettings
    from pipeline.storage import ObjectStore, StoreConfig, fetch_dossier

    state, _, result = sample_run
    store = ObjectStore(StoreConfig.from_settings(StoreSettings.from_environ(), state))
    folder = fetch_dossier(store, CASE_NO, tmp_path)
    assert folder.name == case_key(CASE_NO)
    local = Path(result["folder"]) / "volumes" / "001.pdf"
    fetched = folder / "volumes" / "001.pdf"
    assert hashlib.sha256(fetched.read_bytes()).digest() == hashlib.sha256(local.read_bytes()).digest()


def test_the_publication_is_in_the_audit_log_before_and_after_its_manifest(sample_run, store_env):
    from pipeline.access import read_audit
    from pipeline.storage import normalise_case_no

    _, _, result = sample_run
    mine = [e for e in read_audit(store_env.store()) if e.get("case_no") == normalise_case_no(CASE_NO)
            and e.get("action", "").startswith("dossier.")]
    announce = [e for e in mine if e["action"] == "dossier.publish" and e.get("flow_run") not in (None, "-")]
    confirmed = {e["confirms"]: e["manifest_version"] for e in mine if e["action"] == "dossier.published"}
    assert any(confirmed.get(e["hash"]) == result["manifest_version"] and e["run_kind"] == "process"
               for e in announce)


def test_a_second_run_takes_every_page_from_the_cache(sample_run, prefect_harness):
    from flows.process import process_batch

    state, batch, _ = sample_run
    result = process_batch(str(batch), state=str(state), publish=False, review="never")
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


# --------------------------------------------------------------------------------------------------------------------
# Safety: one run per case at a time, bounded page work per host


def test_two_runs_for_one_case_started_together_run_one_after_the_other(tmp_path, prefect_harness, store_env):
    import contextvars
    import threading
    import time

    from flows.process import process_batch
    from tests.ops_fixtures import make_batch, write_profile
    from tests.store_fixtures import unique_case_no

    case = unique_case_no()
    profile = write_profile(tmp_path)
    barrier = threading.Barrier(2)
    started, results, errors = {}, {}, []

    def run(name: str) -> None:
        batch = make_batch(tmp_path / name, case)
        barrier.wait()
        started[name] = time.time()
        try:
            results[name] = process_batch(str(batch), profile=str(profile), state=str(tmp_path / "state"))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=contextvars.copy_context().run, args=(run, n)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors and len(results) == 2, errors
    first, second = sorted(results.values(), key=lambda r: r["locked_at"])
    assert first["lock"] == second["lock"]
    assert first["unlocked_at"] <= second["locked_at"]
    assert max(started.values()) < first["unlocked_at"], "the second run did not start while the first held the lock"


def test_the_case_lock_is_a_global_concurrency_limit_of_one_created_before_use(prefect_harness):
    from prefect.client.orchestration import get_client

    from flows.safety import case_lock, case_lock_name
    from tests.store_fixtures import unique_case_no

    case = unique_case_no()
    with case_lock(case) as name:
        assert name == case_lock_name(case)
        with get_client(sync_client=True) as client:
            limit = client.read_global_concurrency_limit_by_name(name)
        assert (limit.limit, limit.active_slots) == (1, 1)
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(name).active_slots == 0


def test_host_page_slots_never_let_more_pages_run_at_once_than_there_are_slots(tmp_path):
    import threading
    import time

    from flows.safety import HostSlots

    slots = HostSlots("pages", count=2, folder=tmp_path, poll_seconds=0.005)
    lock, running, peak = threading.Lock(), [0], [0]

    def page() -> None:
        with slots.slot():
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            time.sleep(0.05)
            with lock:
                running[0] -= 1

    threads = [threading.Thread(target=page) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 2


def test_taking_a_free_page_slot_costs_far_less_than_a_page(tmp_path):
    import time

    from flows.safety import HostSlots

    slots = HostSlots("pages", count=2, folder=tmp_path)
    n = 500
    cpu = time.process_time()
    for _ in range(n):
        with slots.slot():
            pass
    per_page = (time.process_time() - cpu) / n
    assert per_page < 0.002, f"{per_page * 1000:.3f} ms CPU per slot"  # OCR of a page is ~2 s


def test_the_sample_catalogue_holds_every_field_its_documents_carry_and_flags_the_rest(sample_run):
    from pipeline.models import Catalogue

    _, _, result = sample_run
    catalogue = Catalogue.model_validate_json((Path(result["folder"]) / "catalogue.json").read_text(encoding="utf-8"))
    rows = [(e.title, e.doc_no, e.author, e.date, e.first_page, e.last_page) for e in catalogue.volumes[0].entries]
    assert rows == [
        ("起诉书", "封检公诉刑诉〔2024〕172号", "河南省封丘县人民检察院", "2024-05-27", 1, 2),
        ("询问笔录", "", "封丘县公安局", "2024-05-27", 3, 5),
        ("扣押物品清单", "", "", "", 6, 6),  # the list prints no authority and no date: left empty, flagged
        ("刑事判决书", "（2024）豫0727刑初172号", "河南省封丘县人民法院", "2024-05-27", 7, 9)]
    flagged = catalogue.volumes[0].entries[2].flags
    assert "author-missing" in flagged and "date-missing" in flagged
    assert all(not e.flags for k, e in enumerate(catalogue.volumes[0].entries) if k != 2)
