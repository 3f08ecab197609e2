"""The other sample batches through the whole flow: separator sheets drive the 卷内目录; without sheets or manifest
the documents and their titles come from the OCR."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipeline.models import Catalogue, DossierManifest

ROOT = Path(__file__).resolve().parent.parent


def truth(name: str) -> dict:
    return json.loads((ROOT / "samples" / "truth" / f"{name}.json").read_text(encoding="utf-8"))


def run(name: str, tmp_path_factory, case: str | None = None, agency: str | None = None
        ) -> tuple[DossierManifest, Catalogue]:
    from flows.process import process_batch

    work = tmp_path_factory.mktemp(name)
    batch = work / name
    shutil.copytree(ROOT / "samples" / name, batch)
    result = process_batch(str(batch), case_no=case, state=str(work / "state"), publish=False, review="never",
                           agency=agency)
    folder = Path(result["folder"])
    manifest = DossierManifest.model_validate_json((folder / "dossier.json").read_text(encoding="utf-8"))
    catalogue = Catalogue.model_validate_json((folder / "catalogue.json").read_text(encoding="utf-8"))
    assert manifest.report and manifest.report.passed, manifest.report
    return manifest, catalogue


@pytest.fixture(scope="module")
def sheets_run(tmp_path_factory, prefect_harness):
    return run("case-2019-172-sheets", tmp_path_factory)


@pytest.fixture(scope="module")
def unlabelled_run(tmp_path_factory, prefect_harness):
    # no batch.json: the case number and the owning agency come from the command, as `dossier process --agency`
    return run("case-2023-55-unlabelled", tmp_path_factory, case=truth("case-2023-55-unlabelled")["case_no"],
               agency="河南省封丘县人民法院")


def test_the_table_of_contents_equals_the_separator_sheets(sheets_run):
    _, catalogue = sheets_run
    entries = [e for v in catalogue.volumes for e in v.entries]
    expected = truth("case-2019-172-sheets")["documents"]
    assert [(e.title, e.doc_no, e.author, e.date) for e in entries] == \
        [(d["title"], d["doc_no"], d["author"], d["date"]) for d in expected]
    assert [e.last_page - e.first_page + 1 for e in entries] == [d["pages"] for d in expected]


def test_separator_sheets_are_left_out_of_the_volume(sheets_run):
    manifest, _ = sheets_run
    sheets = [p for p in manifest.pages if p.separator]
    assert len(sheets) == 1 + len(truth("case-2019-172-sheets")["documents"])
    assert all(p.volume is None and p.page is None for p in sheets)
    numbered = [p.page for p in manifest.pages if p.page is not None]
    assert numbered == list(range(1, len(numbered) + 1))
    assert manifest.volumes[0].pages == len(numbered)


def test_without_sheets_or_manifest_the_titles_come_from_the_ocr(unlabelled_run):
    manifest, _ = unlabelled_run
    assert [d.title for d in manifest.documents] == truth("case-2023-55-unlabelled")["titles"]
    assert all(d.boundary == "ocr" for d in manifest.documents)
