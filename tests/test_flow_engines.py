"""A dossier built with the Tesseract engine (a profile may choose it) passes the same checks as one built with
PP-OCR, the default (tests/test_flow.py): PDF/A Preflight, signature, the four properties; its text layer has no
space between Han characters and its manifest names Tesseract."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from pipeline.models import DossierManifest, Report
from pipeline.standard import load_profile

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "case-2024-172"


@pytest.fixture(scope="module")
def tesseract_run(tmp_path_factory, prefect_harness):
    """The sample batch through the flow under a profile naming Tesseract (not published)."""
    from flows.process import process_batch

    work = tmp_path_factory.mktemp("tesseract-flow")
    data = load_profile().model_dump(mode="json")
    data["version"] += "-tesseract"
    data["ocr"].update(engine="tesseract", min_confidence=None)
    profile = work / "tesseract.yaml"
    profile.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    batch = work / "case-2024-172"
    shutil.copytree(SAMPLE, batch)
    result = process_batch(str(batch), profile=str(profile), state=str(work / "state"), publish=False,
                           review="never")
    folder = Path(result["folder"])
    manifest = DossierManifest.model_validate_json((folder / "dossier.json").read_text(encoding="utf-8"))
    report = Report.model_validate_json((folder / "report.json").read_text(encoding="utf-8"))
    return folder, manifest, report, work / "state"


def test_a_tesseract_dossier_passes_preflight_signing_and_the_four_property_checks(tesseract_run):
    _, manifest, report, _ = tesseract_run
    assert report.summary.passed, [c for c in report.checks if not c.passed]
    names = {c.name for c in report.checks if c.passed}
    assert "pdfa-1b" in names and any("signature" in n for n in names)
    assert {c.property for c in report.checks} == {"authenticity", "completeness", "usability", "security"}
    assert manifest.report and manifest.report.passed


def test_a_tesseract_dossier_names_its_engine_and_model_in_the_manifest(tesseract_run):
    from pipeline.ocr import OcrSettings
    from pipeline.ocr._tesseract import model_files

    _, manifest, _, state = tesseract_run
    settings = OcrSettings(engine="tesseract")
    assert manifest.ocr.engine == "tesseract" and manifest.ocr.version.startswith("tesseract ")
    assert [m.file for m in manifest.ocr.models] == [p.name for p in model_files(settings)]
    pages = [json.loads(p.read_text(encoding="utf-8")) for p in (state / "cache" / "pages").rglob("ocr.json")]
    assert pages and all(p["settings"].startswith("ocr1;tesseract") for p in pages)


def test_a_tesseract_dossier_text_layer_has_no_space_between_han_characters(tesseract_run):
    folder = tesseract_run[0]
    text = subprocess.run(["pdftotext", str(folder / "volumes" / "001.pdf"), "-"], capture_output=True, text=True,
                          timeout=60).stdout
    assert "人民法院" in text
    assert not re.search(r"[\u4e00-\u9fff] +[\u4e00-\u9fff]", text)
