"""A fetched volume marked for its recipient: the line on every page, the copy identifier in the XMP, PDF/A, the
service's certification — and why not an incremental stamp after the archival signature; `dossier trace` naming who
fetched a copy from the audit log."""

from __future__ import annotations

import io
import shutil
from datetime import UTC, datetime

import pikepdf
import pymupdf
import pytest
from archival_fixtures import build_dossier
from typer.testing import CliRunner

from flows.cli import app
from pipeline.access import AuditLog, audit_key
from pipeline.archival import check_volume, ensure_development_signer, validate_signature
from pipeline.dossier import Recipient, copy_for_recipient, new_copy_id, read_copy
from pipeline.errors import ExitCode

runner = CliRunner()
WHEN = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def volume(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dossier")
    signer = ensure_development_signer(folder / "signing")
    build_dossier(folder, signer)
    return folder / "volumes" / "001.pdf", signer, folder / "signing" / "development-signer.pem"


@pytest.fixture(scope="module")
def copy(volume, tmp_path_factory):
    src, signer, _ = volume
    recipient = Recipient(new_copy_id(), "新封县律师事务所", "张律师", 12, WHEN, "原件")
    dst = tmp_path_factory.mktemp("copy") / "copy.pdf"
    digest = copy_for_recipient(src, dst, recipient, signer)
    return dst, recipient, digest


def test_every_page_of_a_fetched_copy_carries_its_recipients_line(copy):
    dst, recipient, _ = copy
    with pymupdf.open(dst) as doc:
        pages = [page.get_text().replace("\n", "") for page in doc]
    assert pages and all(recipient.line in text for text in pages)
    assert "新封县律师事务所 张律师 · 调卷函第12号 · 2026-12-06 17:30 · 副本编号 C-" in recipient.line


def test_the_copy_identifier_and_recipient_are_in_the_xmp(copy, volume):
    dst, recipient, _ = copy
    from pipeline.common import sha256_file

    found = read_copy(dst)
    assert found["copyId"] == recipient.copy_id and found["copyRequest"] == "12"
    assert found["copyAgency"] == "新封县律师事务所" and found["copySourceSha256"] == sha256_file(volume[0])


def test_a_fetched_copy_is_pdfa_and_certified_by_the_service_permitting_no_change(copy, volume):
    dst, _, _ = copy
    assert [c.name for c in check_volume(dst, "1b", [volume[2]]) if not c.passed] == []
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import MDPPerm

    with dst.open("rb") as fh:
        sig = PdfFileReader(fh).embedded_signatures[0]
        assert sig.docmdp_level == MDPPerm.NO_CHANGES


def test_taking_the_line_out_of_a_copy_breaks_its_certification(copy, volume, tmp_path):
    dst, _, _ = copy
    data = dst.read_bytes()
    changed = tmp_path / "changed.pdf"
    tampered = data.replace(b"/Copy", b"/Cop0", 1)  # the band's form no longer drawn on that page
    assert tampered != data
    changed.write_bytes(tampered)
    assert not validate_signature(changed, [volume[2]]).passed


def test_a_stamp_appended_after_the_archival_signature_is_an_illegal_modification(volume, tmp_path):
    """The road not taken: pyHanko's modification analysis refuses page content added after an approval
    signature, and the file cut back to its signed revision would be a valid, unmarked original."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from pipeline.archival._signature_check import load_trust_roots

    src = volume[0]
    with src.open("rb") as fh:
        writer = IncrementalPdfFileWriter(fh, strict=False)
        stream = writer.add_object(generic.StreamObject(stream_data=b"q 1 1 1 rg 0 0 595 12 re f Q\n"))
        writer.add_stream_to_page(2, stream)
        out = io.BytesIO()
        writer.write(out)
    stamped = tmp_path / "incremental.pdf"
    stamped.write_bytes(out.getvalue())
    with stamped.open("rb") as fh:
        sig = PdfFileReader(fh, strict=False).embedded_signatures[0]
        status = validate_pdf_signature(sig, ValidationContext(trust_roots=load_trust_roots([volume[2]])))
    assert status.intact and status.trusted and not status.docmdp_ok and not status.bottom_line
    assert out.getvalue()[: src.stat().st_size] == src.read_bytes()  # the signed original, cut back out whole


@pytest.fixture
def trace_cli(embedded_store, monkeypatch):
    for name in ("DOSSIER_S3_ENDPOINT", "DOSSIER_S3_ACCESS_KEY", "DOSSIER_S3_SECRET_KEY", "DOSSIER_S3_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOSSIER_HOME", str(embedded_store.state_dir))
    return lambda *args: runner.invoke(app, ["trace", *map(str, args)], catch_exceptions=False)


def test_dossier_trace_names_who_fetched_a_copy_when_and_under_which_request(volume, embedded_store, trace_cli,
                                                                            tmp_path, database):
    src, _, _ = volume
    signer = ensure_development_signer(embedded_store.state_dir / "signing")
    recipient = Recipient(new_copy_id(), "新封县律师事务所", "张律师", 4711, WHEN, "阅卷版（律师）")
    dst = tmp_path / "fetched.pdf"
    digest = copy_for_recipient(src, dst, recipient, signer)
    log = AuditLog(embedded_store.store(), audit_key(database), kind="test")
    log.record_and_wait(10.0, action="volume", actor="user:7", actor_name="张律师", agency="新封县律师事务所",
                        case_no="（2024）豫0727刑初172号", volume=1, request_id=4711, copy_id=recipient.copy_id,
                        copy_sha256=digest, copy_of="阅卷版（律师）", status=200, bytes=0, result="ok")
    log.close(10.0)
    result = trace_cli(dst)
    assert result.exit_code == 0, result.output
    for expected in (recipient.copy_id, "张律师", "新封县律师事务所", "第4711号", "签章完好", "文件与调阅时完全一致"):
        assert expected in result.output


def test_dossier_trace_reads_the_identifier_from_the_printed_line_when_the_xmp_is_gone(copy, trace_cli, tmp_path):
    dst, recipient, _ = copy
    stripped = tmp_path / "stripped.pdf"
    with pikepdf.open(dst) as pdf:
        del pdf.Root["/Metadata"]
        pdf.save(stripped)
    from flows.cli.trace import copy_id_of

    assert copy_id_of(stripped) == (recipient.copy_id, "printed line")


def test_dossier_trace_of_a_file_that_was_not_fetched_through_the_service_is_not_found(volume, trace_cli, tmp_path):
    plain = tmp_path / "plain.pdf"
    shutil.copyfile(volume[0], plain)
    result = trace_cli(plain)
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "no copy identifier" in result.output


def test_the_margin_line_gives_the_time_of_the_fetch_in_beijing_time_as_the_pages_do():
    late = Recipient("C-000000000001", "河南明德律师事务所", "刘律师", 12, datetime(2026, 12, 6, 16, 30, tzinfo=UTC))
    assert "2026-12-07 00:30" in late.line
