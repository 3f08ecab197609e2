"""The four-property report on dossier folders and volumes, and the tampering it must catch."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pikepdf
import pytest
from archival_fixtures import build_dossier, write_manifest
from typer.testing import CliRunner

from flows.cli import app
from pipeline.archival import (
    SignerConfig,
    check_dossier,
    check_volume,
    declared_pdfa_level,
    development_certificate,
    ensure_development_signer,
    pdfa_level_of,
    sign_pdf,
)
from pipeline.archival._facts import inspect_volume, page_labels
from pipeline.archival._signer import make_self_signed
from pipeline.errors import ExitCode
from pipeline.models import DossierManifest, Report


@pytest.fixture(scope="module")
def state(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def roots(state) -> list[Path]:
    ensure_development_signer(state)
    return [development_certificate(state)]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, state) -> Path:
    folder = tmp_path_factory.mktemp("dossier") / "case"
    build_dossier(folder, ensure_development_signer(state))
    return folder


@pytest.fixture(scope="module")
def pristine_report(pristine, roots) -> Report:
    return check_dossier(pristine, roots)


@pytest.fixture
def dossier(pristine, tmp_path) -> Path:
    copy = tmp_path / "case"
    shutil.copytree(pristine, copy)
    return copy


def manifest_of(folder: Path) -> DossierManifest:
    return DossierManifest.model_validate_json((folder / "dossier.json").read_bytes())


def failures(report: Report, prop: str) -> list[str]:
    return [f"{c.subject}: {c.name}: {c.detail}" for c in report.checks if c.property == prop and not c.passed]


def failed_names(report: Report, prop: str, subject: str | None = None) -> set[str]:
    return {c.name for c in report.checks if c.property == prop and not c.passed
            and (subject is None or c.subject == subject)}


def test_untouched_dossier_passes_all_four_properties(pristine_report):
    report = pristine_report
    assert report.summary.passed, [f for p in ("authenticity", "completeness", "usability", "security")
                                   for f in failures(report, p)]
    for prop in ("authenticity", "completeness", "usability", "security"):
        assert any(c.property == prop for c in report.checks)
    names = {c.name for c in report.checks}
    assert {"signature", "signature-coverage", "signer-trusted", "sha256", "page-hash-root", "page-labels",
            "pages-accounted", "volume-set", "catalogue", "pdfa-1b", "pages-render", "text-layer", "active-content",
            "certificate-expiry"} <= names


def test_one_byte_changed_in_an_image_fails_authenticity(dossier, roots):
    path = dossier / "volumes" / "001.pdf"
    data = bytearray(path.read_bytes())
    with pikepdf.open(path) as pdf:
        raw = next(o.read_raw_bytes() for o in pdf.objects
                   if isinstance(o, pikepdf.Stream) and o.get("/Subtype") == "/Image")
    at = data.index(raw[:64]) + len(raw) // 2
    data[at] ^= 0x01
    path.write_bytes(bytes(data))

    volume = check_volume(path, "1b", roots)
    sig = next(c for c in volume if c.name == "signature")
    assert not sig.passed and "digest mismatch" in sig.detail

    report = check_dossier(dossier, roots)
    assert not report.summary.passed and not report.summary.authenticity.passed
    assert {"signature", "sha256"} <= failed_names(report, "authenticity", "volumes/001.pdf")
    assert not failed_names(report, "authenticity", "volumes/002.pdf")


def test_bytes_appended_after_eof_fail_on_coverage(dossier, roots):
    path = dossier / "volumes" / "002.pdf"
    with path.open("ab") as fh:
        fh.write(b"\n% a note added later\n")
    volume = check_volume(path, "1b", roots)
    coverage = next(c for c in volume if c.name == "signature-coverage")
    assert not coverage.passed and "ENTIRE_REVISION" in coverage.detail
    report = check_dossier(dossier, roots)
    assert {"signature-coverage", "sha256"} <= failed_names(report, "authenticity", "volumes/002.pdf")


def test_page_removed_and_resigned_with_another_key_fails(dossier, roots, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    path = dossier / "volumes" / "001.pdf"
    stripped = tmp_path / "stripped.pdf"
    with pikepdf.open(path) as pdf:
        del pdf.pages[3]  # numbered page 2
        del pdf.Root["/AcroForm"]
        del pdf.pages[0].obj["/Annots"]
        pdf.save(stripped, force_version="1.4", object_stream_mode=pikepdf.ObjectStreamMode.disable)
    key, cert = make_self_signed("forger", "elsewhere")
    p12 = tmp_path / "forger.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(b"f", key, cert, None, serialization.NoEncryption()))
    sign_pdf(stripped, path, SignerConfig(kind="pkcs12", pkcs12_path=p12), "volume 1")

    report = check_dossier(dossier, roots)
    assert {"signer-trusted", "signature-recorded", "sha256"} <= failed_names(report, "authenticity", "volumes/001.pdf")
    assert {"page-count", "page-labels"} & failed_names(report, "completeness", "volumes/001.pdf")
    detail = next(c.detail for c in report.checks if c.name == "page-count" and c.subject == "volumes/001.pdf")
    assert "manifest says" in detail


def test_changed_manifest_hash_fails_authenticity_naming_the_volume(dossier, roots):
    manifest = manifest_of(dossier)
    manifest.volumes[1].sha256 = "0" * 64
    write_manifest(dossier, manifest)
    report = check_dossier(dossier, roots)
    assert failed_names(report, "authenticity") == {"sha256"}
    assert [c.subject for c in report.checks if not c.passed] == ["volumes/002.pdf"]
    assert report.summary.completeness.passed and report.summary.usability.passed


def test_missing_volume_fails_completeness(dossier, roots):
    manifest = manifest_of(dossier)
    manifest.volumes = manifest.volumes[:1]
    write_manifest(dossier, manifest)
    report = check_dossier(dossier, roots)
    assert "volume-set" in failed_names(report, "completeness")
    assert any("of 1" in f for f in failures(report, "completeness"))


def test_missing_volume_file_fails_completeness(dossier, roots):
    (dossier / "volumes" / "002.pdf").unlink()
    report = check_dossier(dossier, roots)
    assert failed_names(report, "completeness", "volumes/002.pdf") == {"volume-present"}


def test_input_page_not_accounted_for_fails_completeness(dossier, roots):
    manifest = manifest_of(dossier)
    blank = next(p for p in manifest.pages if p.blank)
    blank.blank = False
    write_manifest(dossier, manifest)
    report = check_dossier(dossier, roots)
    assert "pages-accounted" in failed_names(report, "completeness")
    assert any(blank.source.file in f for f in failures(report, "completeness"))


def test_catalogue_disagreeing_with_the_volume_fails_completeness(dossier, roots):
    catalogue = json.loads((dossier / "catalogue.json").read_text(encoding="utf-8"))
    catalogue["volumes"][1]["entries"][1]["last_page"] = 5
    (dossier / "catalogue.json").write_text(json.dumps(catalogue, ensure_ascii=False), encoding="utf-8")
    report = check_dossier(dossier, roots)
    assert "catalogue" in failed_names(report, "completeness", "volumes/002.pdf")
    assert "sha256" in failed_names(report, "authenticity", "catalogue.json")


def test_a_catalogue_holding_an_impossible_date_fails_completeness(dossier, roots):
    catalogue = json.loads((dossier / "catalogue.json").read_text(encoding="utf-8"))
    catalogue["volumes"][0]["entries"][0]["date"] = "2024-13-45"
    (dossier / "catalogue.json").write_text(json.dumps(catalogue, ensure_ascii=False), encoding="utf-8")
    report = check_dossier(dossier, roots)
    assert not report.summary.passed and not report.summary.completeness.passed
    bad = [c for c in report.checks if c.name == "catalogue" and not c.passed]
    assert bad and "2024-13-45" in bad[0].detail and "calendar" in bad[0].detail


def test_a_catalogue_with_a_partial_date_passes_its_catalogue_check(pristine_report):
    from pipeline.archival._checks import calendar_date

    assert calendar_date("2024-03") and calendar_date("2024-02-29") and not calendar_date("2023-02-29")
    assert all(c.passed for c in pristine_report.checks if c.name == "catalogue")


def test_ocred_page_without_text_layer_fails_usability(dossier, roots):
    manifest = manifest_of(dossier)
    photo = next(p for p in manifest.pages if p.volume == 2 and p.ocr_chars == 0)
    photo.ocr_chars = 12
    write_manifest(dossier, manifest)
    report = check_dossier(dossier, roots)
    assert failed_names(report, "usability") == {"text-layer"}
    assert any(f"[{photo.page}]" in f for f in failures(report, "usability"))


def test_expired_signer_certificate_fails_security(pristine, roots):
    later = datetime.now(UTC) + timedelta(days=3650)
    checks = check_volume(pristine / "volumes" / "001.pdf", "1b", roots, now=later)
    expiry = next(c for c in checks if c.name == "certificate-expiry")
    assert expiry.property == "security" and not expiry.passed and "expired" in expiry.detail


def test_javascript_uri_and_attachments_are_found_as_active_content(pristine, tmp_path):
    import pymupdf

    path = tmp_path / "active.pdf"
    with pymupdf.open(pristine / "volumes" / "001.pdf") as doc:
        doc[2].insert_link({"kind": pymupdf.LINK_URI, "from": pymupdf.Rect(0, 0, 20, 20), "uri": "http://x.org"})
        doc.embfile_add("a.txt", b"a")
        doc.save(path)
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("1"))
        pdf.save(path)
    found = " | ".join(inspect_volume(path).active_content)
    assert "JavaScript" in found and "URI" in found and "embedded files" in found


def test_labels_are_read_from_pymupdf_raw_utf8_and_proper_text_strings(pristine):
    with pikepdf.open(pristine / "volumes" / "002.pdf") as pdf:
        assert page_labels(pdf) == ["封面", "目录-1", "1", "2", "备考表"]


def test_unreadable_manifest_is_a_failed_check_not_a_crash(dossier, roots):
    (dossier / "dossier.json").write_text("{not json", encoding="utf-8")
    report = check_dossier(dossier, roots)
    assert not report.summary.passed
    assert any("dossier.json" in c.detail for c in report.checks)


def _cli():
    return app


def test_cli_verify_passes_a_good_dossier_and_writes_report_json(pristine, pristine_report, roots, tmp_path):
    out = tmp_path / "report.json"
    result = CliRunner().invoke(_cli(), ["verify", str(pristine), "--trust-root", str(roots[0]), "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = Report.model_validate_json(out.read_bytes())
    assert report.summary.passed and report.case_no == manifest_of(pristine).case_no


def test_cli_verify_exits_nonzero_for_a_volume_without_trust_roots(pristine):
    result = CliRunner().invoke(_cli(), ["verify", str(pristine / "volumes" / "001.pdf"), "--level", "1b"])
    assert result.exit_code == ExitCode.VERIFICATION_FAILED
    assert "FAIL" in result.output and "signer-trusted" in result.output


@pytest.mark.parametrize(("part", "level"), [(None, "1b"), ("1", "1b"), ("2", "2b"), ("3", "2b")])
def test_the_pdfa_level_a_file_follows_is_read_from_its_xmp_part(part, level):
    assert declared_pdfa_level({} if part is None else {"pdfaid:part": part, "pdfaid:conformance": "B"}) == level


def test_a_volume_declaring_pdfa_3b_is_verified_by_the_pdfa_2_rules_it_is_signed_by(pristine, tmp_path):
    path = tmp_path / "declares-3b.pdf"
    with pikepdf.open(pristine / "volumes" / "001.pdf") as pdf:
        with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
            meta["pdfaid:part"] = "3"
        pdf.save(path)
    assert pdfa_level_of(path) == "2b"  # the level the signer stamps a file by
    out = tmp_path / "report.json"
    CliRunner().invoke(_cli(), ["verify", str(path), "--no-qpdf", "--json", str(out)])
    names = {c.name for c in Report.model_validate_json(out.read_bytes()).checks}
    assert "pdfa-2b" in names and "pdfa-1b" not in names
