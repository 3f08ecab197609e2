"""The 卷内目录 review against a real Prefect server, SeaweedFS store and the `dossier` CLI: a run with a field in
doubt pauses before building its volumes, the operator's input (from `dossier catalogue review`) resumes it, and the
volume, the manifest and the audit log show the correction; `review: never` publishes with the flags instead."""

from __future__ import annotations

import contextvars
import json
import subprocess
import threading
from pathlib import Path

import pymupdf
import pytest

from pipeline.errors import ExitCode
from pipeline.models import Catalogue, DossierManifest
from tests.ops_fixtures import DOSSIER, ROOT, SAMPLE, store_environment, subprocess_env, wait_for
from tests.store_fixtures import unique_case_no

JUDGMENT_NO = "（2024）豫0727刑初172号"


def review_batch(folder: Path, case_no: str) -> Path:
    """Two sample pages declared in batch.json, the judgment's 日期 left out: with OCR off it stays in doubt."""
    folder.mkdir(parents=True)
    for name in ("001.jpg", "009.jpg"):
        (folder / name).write_bytes((SAMPLE / name).read_bytes())
    docs = [{"title": "起诉书", "doc_no": "封检公诉刑诉〔2024〕172号", "author": "河南省封丘县人民检察院",
             "date": "2024-05-27", "pages": 1},
            {"title": "刑事判决书", "doc_no": JUDGMENT_NO, "author": "河南省封丘县人民法院", "pages": 1}]
    (folder / "batch.json").write_text(json.dumps({"case_no": case_no, "agency": "河南省封丘县人民法院", "documents": docs},
                                                  ensure_ascii=False),
                                       encoding="utf-8")
    return folder


def profile(folder: Path, review: str) -> Path:
    """A test profile: OCR off (the declared fields are the point), the given review mode."""
    path = folder / f"profile-review-{review}.yaml"
    path.write_text(f'id: "DA/T 31-2017"\nversion: "1.1.0-test-review-{review}"\nocr:\n  enabled: false\n'
                    f"review: {review}\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def store_env(embedded_store):
    mp = pytest.MonkeyPatch()
    for k, v in store_environment(embedded_store).items():
        mp.setenv(k, v)
    yield store_environment(embedded_store)
    mp.undo()


def paused_run(case_no: str):
    """The case's flow run waiting for review on the server, or None."""
    from flows.cli.catalogue import find_paused

    return find_paused(case_no)


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([*DOSSIER, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory, prefect_harness, store_env):
    """One run paused for review, looked at while paused, then reviewed from the CLI and finished."""
    from flows.process import process_batch

    base = tmp_path_factory.mktemp("review")
    case_no = unique_case_no()
    batch = review_batch(base / "batch", case_no)
    state = base / "state"
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = process_batch(str(batch), profile=str(profile(base, "flagged")), state=str(state))
        except BaseException as exc:  # noqa: BLE001 - reported by the tests
            outcome["error"] = exc

    thread = threading.Thread(target=contextvars.copy_context().run, args=(run,))
    thread.start()
    paused = wait_for(lambda: paused_run(case_no) or outcome.get("error"), 300, "the run to pause for review")
    assert not isinstance(paused, BaseException), paused
    env = subprocess_env({**store_env, "DOSSIER_HOME": str(state)})
    while_paused = {
        "work": sorted(p.name for p in state.rglob("*.pdf")),
        "status": cli(["status", case_no], env).stdout,
        "entries": paused.entries,
        "unaccepted": cli(["catalogue", "review", case_no, "--reviewer", "张三"], env),  # no --accept, no terminal
        "nothing_waits": cli(["catalogue", "review", unique_case_no(), "--accept", "--reviewer", "张三"], env),
    }
    done = cli(["catalogue", "review", case_no, "--set", "2.日期=二〇二四年五月二十八日", "--accept",
                "--reviewer", "张三"], env)
    thread.join(timeout=600)
    assert done.returncode == 0, done.stderr
    assert "error" not in outcome, outcome.get("error")
    return case_no, state, outcome["result"], while_paused, done


def test_a_run_with_a_field_in_doubt_pauses_before_building_its_volumes(reviewed):
    _, _, _, while_paused, _ = reviewed
    assert while_paused["work"] == []  # no volume was built while the catalogue waited
    judgment = next(e for e in while_paused["entries"] if e["seq"] == 2)
    assert judgment["date"] == "" and "日期 缺失" in judgment["doubt"]
    assert "处理运行：等待审核" in while_paused["status"]  # dossier status shows the run waiting, in Chinese


def test_the_operators_input_resumes_the_run_and_it_is_published(reviewed):
    _, _, result, _, done = reviewed
    assert result["published"] and result["report_passed"]
    assert "第 1 卷：张三 已审核" in done.stdout and "已继续" in done.stdout


def test_a_review_that_is_not_accepted_leaves_the_run_waiting_and_says_why_in_chinese(reviewed):
    _, _, _, while_paused, _ = reviewed
    unaccepted = while_paused["unaccepted"]
    assert unaccepted.returncode == ExitCode.REVIEW_NEEDED
    assert "未继续运行：请加 --accept" in unaccepted.stderr and "not resumed" not in unaccepted.stderr


def test_a_review_of_a_case_with_no_run_waiting_says_so_in_chinese(reviewed):
    _, _, _, while_paused, _ = reviewed
    nothing = while_paused["nothing_waits"]
    assert nothing.returncode == ExitCode.NOT_FOUND
    assert "没有等待审核卷内目录的运行" in nothing.stderr and "no run of case" not in nothing.stderr


def test_the_volume_shows_the_corrected_catalogue(reviewed):
    _, _, result, _, _ = reviewed
    with pymupdf.open(Path(result["folder"]) / "volumes" / "001.pdf") as pdf:
        toc = pdf[1].get_text()
    assert "卷内目录" in toc and "20240528" in toc and "20240527" in toc


def test_the_manifest_records_who_corrected_what_and_when(reviewed):
    _, _, result, _, _ = reviewed
    manifest = DossierManifest.model_validate_json((Path(result["folder"]) / "dossier.json").read_text("utf-8"))
    corrected = [c for c in manifest.corrections if c.action == "corrected"]
    assert [(c.seq, c.field, c.before, c.after, c.by) for c in corrected] == [(2, "date", "", "2024-05-28", "张三")]
    assert "missing" in corrected[0].flags_before and corrected[0].run
    assert manifest.documents[1].date == "2024-05-28"
    catalogue = Catalogue.model_validate_json((Path(result["folder"]) / "catalogue.json").read_text("utf-8"))
    row = catalogue.volumes[0].entries[1]
    assert row.evidence.date.source == "operator" and row.flags == []


def test_the_audit_log_records_the_correction(reviewed, embedded_store):
    from pipeline.access import read_audit
    from pipeline.storage import ObjectStore, normalise_case_no

    case_no = reviewed[0]
    entries = [e for e in read_audit(ObjectStore(embedded_store.config))
               if e.get("case_no") == normalise_case_no(case_no)]
    corrections = [e for e in entries if e.get("action") == "catalogue.correct"]
    assert len(corrections) == 1 and corrections[0]["actor"] == "张三"
    assert "2024-05-28" in corrections[0]["detail"] and "row 2 date" in corrections[0]["target"]


def test_review_never_publishes_with_the_flags_in_the_catalogue(tmp_path, prefect_harness, store_env):
    from flows.process import process_batch

    case_no = unique_case_no()
    batch = review_batch(tmp_path / "batch", case_no)
    result = process_batch(str(batch), profile=str(profile(tmp_path, "flagged")), state=str(tmp_path / "state"),
                           review="never")
    assert result["published"]
    catalogue = Catalogue.model_validate_json((Path(result["folder"]) / "catalogue.json").read_text("utf-8"))
    row = catalogue.volumes[0].entries[1]
    assert row.date == "" and "date-missing" in row.flags and "missing" in row.evidence.date.flags
    assert row.evidence.doc_no.source == "manifest" and row.evidence.doc_no.confidence == 1.0
