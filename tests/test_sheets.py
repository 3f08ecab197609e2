"""Printing separator sheets: a PDF a clerk can read and a scanner can decode, from `dossier sheets`."""

import pikepdf
import pymupdf
import pytest
from structure_helpers import bitonal
from typer.testing import CliRunner

from flows.cli import app
from pipeline.assembly import SheetError, load_sheet_list, sheet_payloads, write_sheets
from pipeline.assembly._sheets import BANNER_TEXT
from pipeline.capture import find_separator
from pipeline.errors import ExitCode
from pipeline.models import SeparatorPayload

CASE = "（2024）豫0727刑初172号"
DOCS = [
    {"title": "起诉书", "doc_no": "封检公诉刑诉〔2024〕172号", "author": "河南省封丘县人民检察院", "date": "2024-03-20",
     "pages": 2},
    {"title": "询问笔录", "author": "封丘县公安局", "date": "2024-03-02", "pages": 3},
]


@pytest.fixture(scope="module")
def sheets_pdf(tmp_path_factory):
    payloads = sheet_payloads(CASE, DOCS, "林某盗窃案", "河南省封丘县人民法院")
    return payloads, write_sheets(payloads, tmp_path_factory.mktemp("sheets") / "sheets.pdf")


def test_sheets_are_a_batch_cover_then_one_sheet_per_document(sheets_pdf):
    payloads, path = sheets_pdf
    assert [p.kind for p in payloads] == ["batch", "document", "document"]
    assert payloads[1].title == "起诉书" and payloads[1].case_no == CASE and payloads[1].pages == 2
    with pymupdf.open(path) as doc:
        assert doc.page_count == 3


def test_each_sheet_shows_its_banner_and_fields_as_text(sheets_pdf):
    _, path = sheets_pdf
    with pymupdf.open(path) as doc:
        cover, first = doc[0].get_text(), doc[1].get_text()
    assert BANNER_TEXT in cover and "批次封面" in cover and CASE in cover and "林某盗窃案" in cover
    assert BANNER_TEXT in first and "文件分隔页" in first
    for value in ("起诉书", "封检公诉刑诉〔2024〕172号", "河南省封丘县人民检察院", "2024-03-20"):
        assert value in first


@pytest.mark.parametrize("index", [0, 1])
def test_a_printed_sheet_scanned_bitonal_at_200_dpi_decodes_to_its_payload(sheets_pdf, index):
    payloads, path = sheets_pdf
    with pymupdf.open(path) as doc:
        pix = doc[index].get_pixmap(dpi=200, colorspace=pymupdf.csGRAY)
    from PIL import Image

    image = bitonal(Image.frombytes("L", (pix.width, pix.height), pix.samples))
    found = find_separator(image, f"sheet {index}")
    assert found.kind == "separator" and found.payload == payloads[index]


def test_the_sheets_embed_only_the_cjk_truetype_font(sheets_pdf):
    _, path = sheets_pdf
    with pikepdf.open(path) as pdf:
        fonts = [f for page in pdf.pages for f in page.Resources.get("/Font", {}).values()]
        assert fonts
        for font in fonts:
            descriptor = font.DescendantFonts[0].FontDescriptor
            assert "WenQuanYi" in str(descriptor.FontName)
            assert "/FontFile2" in descriptor


@pytest.mark.parametrize("repeat", [45, 200])  # modules too small to scan; more than a QR code holds
def test_a_payload_too_long_for_a_readable_code_is_refused(tmp_path, repeat):
    payload = SeparatorPayload(kind="document", case_no=CASE, title="很长的题名" * repeat)
    with pytest.raises(SheetError, match="shorten"):
        write_sheets([payload], tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()


def test_a_sheet_list_with_an_unknown_field_is_refused():
    with pytest.raises(SheetError, match="unknown field"):
        sheet_payloads(CASE, [{"title": "起诉书", "pagse": 2}])


def test_a_batch_json_serves_as_sheet_list(tmp_path):
    path = tmp_path / "batch.json"
    path.write_text('{"case_no": "%s", "case_title": "林某盗窃案", "documents": [{"title": "收据", "pages": 1}]}' % CASE,
                    encoding="utf-8")
    documents, case = load_sheet_list(path)
    assert documents == [{"title": "收据", "pages": 1}]
    assert case == {"case_no": CASE, "case_title": "林某盗窃案"}


def test_dossier_sheets_writes_the_pdf_from_a_yaml_list(tmp_path):
    listing = tmp_path / "docs.yaml"
    listing.write_text("agency: 河南省封丘县人民法院\ndocuments:\n  - title: 起诉书\n    date: 2024-03-20\n    pages: 2\n",
                       encoding="utf-8")
    out = tmp_path / "sheets.pdf"
    result = CliRunner().invoke(app, ["sheets", "--case", CASE, "--from", str(listing), "--out", str(out),
                                      "--blank", "2"])
    assert result.exit_code == 0, result.output
    with pymupdf.open(out) as doc:
        assert doc.page_count == 4
        assert "2024-03-20" in doc[1].get_text()  # a YAML date comes out as ISO 8601


def test_dossier_sheets_refuses_a_list_for_another_case(tmp_path):
    listing = tmp_path / "docs.yaml"
    listing.write_text("case_no: （2023）豫0727刑初1号\ndocuments: []\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["sheets", "--case", CASE, "--from", str(listing), "--out", str(tmp_path / "x.pdf")])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert not (tmp_path / "x.pdf").exists()
