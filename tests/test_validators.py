"""The validators themselves: Preflight's report parsed into codes, qpdf --check, the pikepdf-based 2b checker."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pikepdf
import pytest
from archival_fixtures import ScanSpec, build_volume

from pipeline.archival import ArchivalMetadata, finish_pdfa
from pipeline.archival._validators import (
    extension_schema_problems,
    parse_preflight_xml,
    pdfa_check,
    preflight_pdfa1b,
    qpdf_check,
    structure_check,
    structure_check_in_child,
)


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("validators")
    return build_volume(folder / "raw.pdf", [ScanSpec("indictment", "bitonal", ("起诉书",))]).path


@pytest.fixture(scope="module")
def finished_2b(raw) -> Path:
    meta = ArchivalMetadata(title="t", author="a", subject="s", case_no="（2024）豫0727刑初172号", volume=1, volumes=1,
                            standard_id="DA/T 31-2017", standard_version="1.0.0", pipeline_version="0.1.0",
                            page_hash_root="00" * 32, created=datetime(2024, 1, 1, tzinfo=UTC))
    dst = raw.with_name("v-2b.pdf")
    finish_pdfa(raw, dst, "2b", meta)
    return dst


def test_preflight_names_the_pymupdf_font_and_metadata_defects_of_a_raw_volume(raw):
    result = preflight_pdfa1b(raw)
    codes = {e.code for e in result.errors}
    assert not result.valid
    assert {"3.1.9", "3.1.11", "7.1"} <= codes, result.summary(20)
    assert any(e.page for e in result.errors if e.code.startswith("2.4"))
    assert result.cpu_seconds > 0


def test_preflight_that_times_out_is_a_failure_not_a_pass(raw):
    result = preflight_pdfa1b(raw, timeout=0.05)
    assert not result.valid
    assert result.errors[0].code == "tool-error" and "timed out" in result.errors[0].message


def test_preflight_that_cannot_start_is_a_failure_naming_the_file(raw):
    result = preflight_pdfa1b(raw, java="/nonexistent/java")
    assert not result.valid and "raw.pdf" in result.errors[0].message


def test_preflight_xml_report_is_parsed_into_codes_messages_and_pages():
    report = """<?xml version="1.0" encoding="UTF-8"?><preflight name="x.pdf"><isValid type="PDF/A1-b">false</isValid>
    <errors count="2"><error count="1"><code>2.4.3</code><details>Invalid Color space</details><page>4</page></error>
    <error count="1"><code>7.1</code><details>Metadata is not a stream</details></error></errors></preflight>"""
    valid, errors = parse_preflight_xml("log noise\n" + report)
    assert not valid
    assert [(e.code, e.page) for e in errors] == [("2.4.3", 5), ("7.1", None)]


@pytest.fixture
def cut(raw, tmp_path) -> Path:
    """The first two thirds of the raw volume: a file cut short in transfer."""
    path = tmp_path / "cut.pdf"
    data = raw.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


def test_qpdf_check_passes_a_sound_file_and_fails_a_truncated_one(raw, cut):
    assert qpdf_check(raw).valid
    result = qpdf_check(cut)
    assert not result.valid and result.errors


def test_in_process_structure_check_agrees_with_qpdf_on_sound_and_truncated_files(raw, cut):
    assert structure_check(raw).valid
    result = structure_check(cut)
    assert not result.valid and any("damaged" in e.message for e in result.errors)


def test_the_structure_check_in_a_child_process_gives_the_in_process_verdicts(raw, cut):
    assert structure_check_in_child(raw).valid
    child, here = structure_check_in_child(cut), structure_check(cut)
    assert not child.valid and [str(e) for e in child.errors] == [str(e) for e in here.errors]


def test_pikepdf_checker_sets_aside_only_a_declared_extension_schema(finished_2b):
    result = pdfa_check(finished_2b, "2b")
    assert result.valid, result.summary(20)
    assert all("dossier" in i.message or "pdfa" in i.message for i in result.ignored)


def test_pikepdf_checker_fails_a_2b_file_without_output_intent(finished_2b, tmp_path):
    bad = tmp_path / "no-oi.pdf"
    with pikepdf.open(finished_2b) as pdf:
        del pdf.Root["/OutputIntents"]
        pdf.save(bad)
    result = pdfa_check(bad, "2b")
    assert not result.valid


def test_pikepdf_checker_fails_an_undeclared_custom_xmp_property(finished_2b, tmp_path):
    bad = tmp_path / "undeclared.pdf"
    with pikepdf.open(finished_2b) as pdf:
        xmp = pdf.Root.Metadata.read_bytes().replace(
            b"<dossier:caseNumber>", b"<dossier:secretNote>x</dossier:secretNote><dossier:caseNumber>")
        pdf.Root.Metadata = pdf.make_stream(xmp, Type=pikepdf.Name.Metadata, Subtype=pikepdf.Name.XML)
        pdf.save(bad)
    result = pdfa_check(bad, "2b")
    assert not result.valid
    assert any("secretNote" in e.message for e in result.errors)


def test_extension_schema_check_finds_a_namespace_used_without_declaration():
    xmp = b"""<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
    <rdf:Description rdf:about="" xmlns:foo="https://example.org/foo/"><foo:bar>1</foo:bar></rdf:Description>
    </rdf:RDF></x:xmpmeta>"""
    problems, declared = extension_schema_problems(xmp)
    assert declared == set()
    assert problems and "https://example.org/foo/" in problems[0]
