"""A generated case file with planted personal data through the whole pipeline, then `dossier disclose`: the
lawyer's copy waits for the review of what is in doubt, is published beside the original once accepted, and holds
nothing that was planted — not in its text, not in its bytes — while the original stays byte for byte."""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import pikepdf
import pymupdf
import pytest
from typer.testing import CliRunner

from flows.cli import app
from pipeline.errors import ExitCode
from pipeline.models import Catalogue, DisclosureManifest
from pipeline.storage import disclosure_prefix, dossier_prefix, load_disclosure, load_manifest
from samples.personal import make_case

runner = CliRunner()


@dataclass
class Run:
    """What the module's one pass through process and disclose left behind."""

    case: object
    state: Path
    before: dict[str, str]
    first: object
    tampered: object
    kept_run: object
    kept: DisclosureManifest
    kept_id: int
    again: object
    accepted: object
    final: DisclosureManifest
    folder: Path


def _digests(store, case_no: str) -> dict[str, str]:
    manifest = load_manifest(store, case_no).manifest
    return {v.key: store.hash_object(dossier_prefix(case_no) + v.key, manifest.object_versions.get(v.key))[0]
            for v in manifest.volumes}


def _disclose(*args):
    """`dossier disclose` as the named archivist who makes the copy (an unnamed account is refused on main)."""
    return runner.invoke(app, ["disclose", *args, "--profile", "lawyer", "--by", "王档案"], catch_exceptions=False)


@pytest.fixture(scope="module")
def disclosed(tmp_path_factory, prefect_harness, embedded_store):
    """Process a generated case into the session's store, then disclose it: a first run that stops for the
    review, an --accept against a changed review (refused), an --accept keeping one detection visible, and a
    final review and --accept."""
    from flows.process import process_batch

    mp = pytest.MonkeyPatch()
    for name in ("DOSSIER_S3_ENDPOINT", "DOSSIER_S3_ACCESS_KEY", "DOSSIER_S3_SECRET_KEY", "DOSSIER_S3_BUCKET"):
        mp.delenv(name, raising=False)
    mp.setenv("DOSSIER_HOME", str(embedded_store.state_dir))
    work = tmp_path_factory.mktemp("disclosure")
    case = make_case(work / "batch", 27_001, number=random.randint(10_000, 99_999))
    try:
        process_batch(str(case.folder), state=str(embedded_store.state_dir), review="never")
        store = embedded_store.store()
        before = _digests(store, case.case_no)
        base = embedded_store.state_dir / "disclosure" / load_manifest(store, case.case_no).manifest.case_key
        first = _disclose(case.case_no)
        reviewed = base / "lawyer" / "reviewed.json"
        original = reviewed.read_bytes()
        data = json.loads(original)
        data["detections"] = [d for d in data["detections"] if d["certain"]]
        reviewed.write_text(json.dumps(data), encoding="utf-8")
        tampered = _disclose(case.case_no, "--accept", "--reviewer", "陈案管")
        reviewed.write_bytes(original)
        kept_id = next(d["id"] for d in json.loads(original)["detections"] if not d["certain"])
        kept_run = _disclose(case.case_no, "--accept", "--reviewer", "陈案管", "--keep", str(kept_id))
        kept = load_disclosure(store, case.case_no, "lawyer").manifest
        again = _disclose(case.case_no)
        accepted = _disclose(case.case_no, "--accept", "--reviewer", "陈案管", "--comment", "已核对")
        final = load_disclosure(store, case.case_no, "lawyer").manifest
        folder = work / "fetched"
        from pipeline.storage import fetch_disclosure

        fetched = fetch_disclosure(store, case.case_no, "lawyer", folder)
        yield Run(case, embedded_store.state_dir, before, first, tampered, kept_run, kept, kept_id, again,
                  accepted, final, fetched)
    finally:
        mp.undo()
        shutil.rmtree(work, ignore_errors=True)


def test_a_copy_with_doubtful_detections_waits_for_a_review_and_is_not_published(disclosed):
    assert disclosed.first.exit_code == ExitCode.REVIEW_NEEDED, disclosed.first.output
    assert "存疑项" in disclosed.first.output and "校验码不符" in disclosed.first.output


def test_accepting_when_what_is_in_doubt_is_not_what_was_reviewed_is_refused(disclosed):
    assert disclosed.tampered.exit_code == ExitCode.BAD_INPUT
    assert "not what was reviewed" in disclosed.tampered.output


def test_a_detection_the_reviewer_keeps_stays_visible_and_the_decision_is_recorded(disclosed):
    assert disclosed.kept_run.exit_code == 0, disclosed.kept_run.output
    kept = [d for d in disclosed.kept.detections if d.id == disclosed.kept_id]
    assert [d.action for d in kept] == ["kept"]
    assert disclosed.kept.review.kept == [disclosed.kept_id] and disclosed.kept.approved_by == "陈案管"


def test_the_accepted_copy_is_published_beside_the_original_and_supersedes_the_earlier_one(disclosed):
    assert disclosed.accepted.exit_code == 0, disclosed.accepted.output
    final = disclosed.final
    assert final.supersedes and final.review.comment == "已核对" and final.approved_by == "陈案管"
    assert disclosure_prefix(disclosed.case.case_no, "lawyer").endswith("/disclosure/lawyer/")
    assert {p.name for p in (disclosed.folder / "volumes").iterdir()} == {"001.pdf"}


def test_the_original_volumes_are_byte_identical_after_the_copies_were_made(disclosed, embedded_store):
    after = _digests(embedded_store.store(), disclosed.case.case_no)
    assert after == disclosed.before
    assert [v.source_sha256 for v in disclosed.final.volumes] == list(disclosed.before.values())


def _decoded(stream: pikepdf.Stream) -> bytes:
    try:
        return stream.read_bytes()
    except pikepdf.PdfError:  # an image's CCITT or JPEG data: searched as it is stored
        return stream.read_raw_bytes()


def test_nothing_planted_is_left_in_the_copys_text_or_bytes(disclosed):
    pdf = disclosed.folder / "volumes" / "001.pdf"
    with pymupdf.open(pdf) as doc:
        text = "".join(page.get_text() for page in doc).replace(" ", "").replace("\n", "")
    raw = pdf.read_bytes()
    with pikepdf.open(pdf) as doc:
        streams = b"".join(_decoded(obj) for obj in doc.objects if isinstance(obj, pikepdf.Stream))
    hidden = {item.value for _, item in disclosed.case.items() if item.hide}
    assert hidden and not [v for v in hidden if v in text]
    for value in hidden:
        for form in (value.encode(), value.encode("utf-16-be"), value.encode("utf-16-be").hex().upper().encode()):
            assert form not in raw and form not in streams, value


def test_the_copy_passes_preflight_qpdf_and_its_signature_check(disclosed):
    from flows.cli.fetch import trust_roots
    from pipeline.archival import check_volume, qpdf_cli_checks

    pdf = disclosed.folder / "volumes" / "001.pdf"
    checks = check_volume(pdf, "1b", trust_roots([], disclosed.state)) + qpdf_cli_checks([("001", pdf)])
    assert [c for c in checks if not c.passed] == []
    assert {c.name for c in checks} >= {"pdfa-1b", "signature", "qpdf-check"}


def test_the_record_sheet_states_what_was_removed_under_which_profile(disclosed):
    with pymupdf.open(disclosed.folder / "volumes" / "001.pdf") as doc:
        sheet = doc[doc.page_count - 1].get_text().replace("\n", "")
    counts = disclosed.final.volumes[0].counts
    assert f"阅卷版：依 阅卷版（律师） 1.0.0 遮蔽 {sum(counts.values())} 处" in sheet
    assert f"身份证号 {counts['id_number']}" in sheet and f"姓名 {counts['name']}" in sheet


def test_the_copys_catalogue_and_cover_name_hidden_people_by_their_mou_form(disclosed):
    catalogue = Catalogue.model_validate_json((disclosed.folder / "catalogue.json").read_text(encoding="utf-8"))
    titles = [e.title for v in catalogue.volumes for e in v.entries]
    victim = disclosed.case.people.victim
    assert f"被害人{victim[0]}{'某' * (len(victim) - 1)}询问笔录" in titles
    with pymupdf.open(disclosed.folder / "volumes" / "001.pdf") as doc:
        front = doc[0].get_text() + doc[1].get_text()
    assert victim not in front and disclosed.case.people.defendant in front


def test_the_copys_xmp_carries_its_provenance(disclosed):
    from pipeline.archival import read_xmp

    with pikepdf.open(disclosed.folder / "volumes" / "001.pdf") as doc:
        xmp = read_xmp(doc)
    assert xmp["dossier:sourceVolumeSha256"] == disclosed.final.volumes[0].source_sha256
    assert xmp["dossier:disclosureProfile"] == "lawyer" and xmp["dossier:disclosureProfileVersion"] == "1.0.0"
    assert xmp["dossier:disclosureApprovedBy"] == "陈案管"
    assert xmp["dossier:disclosureCounts"] == ";".join(
        f"{k}={v}" for k, v in sorted(disclosed.final.volumes[0].counts.items()))
