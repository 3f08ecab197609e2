"""The invisible text layer: extraction without spurious spaces, search over the printed words, PDF/A-1b fonts."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import numpy as np
import pikepdf
import pikepdf.pdfa
import pymupdf
import pytest
from pikepdf import Array, Dictionary, Name
from PIL import Image, ImageDraw, ImageFont

from pipeline.assembly import _textlayer as textlayer
from pipeline.assembly import add_text_layer
from pipeline.assembly._textlayer import (
    FONT_NAME,
    UNITS_PER_EM,
    _read_mapping,
    build_glyphless_font,
    glyphless_font_bytes,
    write_font_asset,
)
from pipeline.ocr import OcrLine, OcrResult, OcrSettings, OcrWord, ocr_image

DPI = 300
FONT_PX = 67  # 16 pt at 300 dpi
HAN_SPACE_HAN = re.compile(r"[\u4e00-\u9fff][ \t]+[\u4e00-\u9fff]")
PRINTED = [
    "河南省封丘县人民法院",
    "刑事判决书",
    "本案由封丘县人民法院依法审理，现已审理终结。",
    "被告人不服本判决的，可上诉于新乡市中级人民法院。",
    "扣押手机一部、现金三千元，均已发还被害人。",
]
JAVA = "/usr/share/java"
PREFLIGHT_CP = ":".join(f"{JAVA}/{j}" for j in ("preflight.jar", "pdfbox2.jar", "fontbox2.jar", "xmpbox.jar",
                                                "commons-logging.jar", "javax.activation.jar", "jaxb-api.jar"))


def printed_page(lines: list[str]) -> tuple[Image.Image, list[tuple[int, int]], list[list[float]]]:
    """A clean 300-dpi page strip with the lines printed in a CJK font; returns it, each line's pixel rows and the
    left edge of each character."""
    fnt = ImageFont.truetype("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", FONT_PX)
    img = Image.new("RGB", (2480, 220 + 130 * len(lines)), (246, 246, 242))
    draw = ImageDraw.Draw(img)
    rows, lefts = [], []
    for i, text in enumerate(lines):
        y = 120 + 130 * i
        draw.text((330, y), text, font=fnt, fill=(20, 20, 24))
        box = draw.textbbox((330, y), text, font=fnt)
        rows.append((box[1], box[3]))
        lefts.append([330 + fnt.getlength(text[:k]) for k in range(len(text))])
    return img, rows, lefts


def pt(px: float) -> float:
    return px * 72.0 / DPI


def image_pdf(pages: list[tuple[Image.Image, OcrResult]]) -> pikepdf.Pdf:
    """A PDF with one JPEG image page per entry and the text layer over it."""
    pdf = pikepdf.new()
    for img, res in pages:
        buf = io.BytesIO()
        img.convert("RGB").save(buf, format="JPEG", quality=75)
        w, h = pt(img.width), pt(img.height)
        xo = pikepdf.Stream(pdf, buf.getvalue(), Type=Name.XObject, Subtype=Name.Image, Width=img.width,
                            Height=img.height, ColorSpace=Name.DeviceRGB, BitsPerComponent=8, Filter=Name.DCTDecode)
        page = pdf.add_blank_page(page_size=(w, h))
        page.add_resource(xo, Name.XObject, Name.Im0)
        page.contents_add(pikepdf.Stream(pdf, f"q {w:.4f} 0 0 {h:.4f} 0 0 cm /Im0 Do Q".encode()))
        add_text_layer(pdf, page, res, w, h)
    return pdf


def make_pdfa(pdf: pikepdf.Pdf, path: Path, part: int = 1) -> Path:
    """The minimum that makes a PDF/A-1b (2b) file: sRGB v2 OutputIntent, pdfaid XMP matching /Info; 1b: 1.4, no xref
    streams."""
    icc = pikepdf.Stream(pdf, Path("/usr/share/color/icc/sRGB.icc").read_bytes(), N=3)
    pdf.Root.OutputIntents = Array([Dictionary(Type=Name.OutputIntent, S=Name.GTS_PDFA1, DestOutputProfile=icc,
                                               OutputConditionIdentifier=pikepdf.String("sRGB IEC61966-2.1"))])
    xmp = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
           '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           '<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/" '
           f'xmlns:dc="http://purl.org/dc/elements/1.1/"><pdfaid:part>{part}</pdfaid:part>'
           '<pdfaid:conformance>B</pdfaid:conformance><dc:title><rdf:Alt><rdf:li xml:lang="x-default">卷宗</rdf:li>'
           '</rdf:Alt></dc:title></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')
    pdf.Root.Metadata = pikepdf.Stream(pdf, xmp.encode("utf-8"), Type=Name.Metadata, Subtype=Name.XML)
    pdf.docinfo[Name.Title] = "卷宗"
    if part == 1:
        pdf.save(path, object_stream_mode=pikepdf.ObjectStreamMode.disable, force_version="1.4")
    else:
        pdf.save(path)
    return path


def pdftotext(path: Path) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True,
                          timeout=60, check=True).stdout


def hand_result(lines: list[list[tuple[str, int, int]]], width: int = 2480, height: int = 600) -> OcrResult:
    """An OcrResult from words given as (text, x0, x1), one list per line, lines 100 px apart and 60 px high."""
    out = []
    for i, words in enumerate(lines):
        y0 = 100 + 100 * i
        ws = tuple(OcrWord(t, x0, y0, x1, y0 + 60, 90.0) for t, x0, x1 in words)
        out.append(OcrLine(ws, ws[0].x0, y0, ws[-1].x1, y0 + 60))
    return OcrResult(width, height, DPI, tuple(out))


@pytest.fixture(scope="module")
def printed():
    img, rows, lefts = printed_page(PRINTED)
    res = ocr_image(img, DPI, OcrSettings(), "printed-strip")
    return img, rows, res, lefts


@pytest.fixture(scope="module")
def printed_pdf(printed, tmp_path_factory) -> Path:
    img, _, res, _ = printed
    path = tmp_path_factory.mktemp("layer") / "printed.pdf"
    image_pdf([(img, res)]).save(path)
    return path


def test_pdftotext_reads_chinese_without_spaces_between_han_characters(printed, printed_pdf):
    text = pdftotext(printed_pdf)
    assert "人民法院" in text
    assert HAN_SPACE_HAN.search(text) is None
    assert "".join(text.split()) == "".join(printed[2].text.split())


def test_pymupdf_reads_chinese_without_spaces_between_han_characters(printed, printed_pdf):
    text = pymupdf.open(printed_pdf)[0].get_text()
    assert HAN_SPACE_HAN.search(text) is None
    assert "".join(text.split()) == "".join(printed[2].text.split())


def test_search_finds_every_occurrence_over_the_printed_words(printed, printed_pdf):
    img, rows, res, _ = printed
    expected = sum(line.count("人民法院") for line in PRINTED)
    assert res.text.count("人民法院") == expected  # the OCR read them all; the layer must keep them findable
    page = pymupdf.open(printed_pdf)[0]
    hits = page.search_for("人民法院")
    assert len(hits) == expected
    ink = np.asarray(img.convert("L")) < 128
    lines_hit = []
    for rect in hits:
        centre = (rect.y0 + rect.y1) / 2 * DPI / 72
        lines_hit.append(next(i for i, (top, bottom) in enumerate(rows) if top <= centre <= bottom))
        x0, y0, x1, y1 = (round(v * DPI / 72) for v in (rect.x0, rect.y0, rect.x1, rect.y1))
        assert ink[y0:y1, x0:x1].mean() > 0.05  # the box lies on printed characters
        assert (x1 - x0) == pytest.approx(4 * FONT_PX, rel=0.25)  # four square characters wide
    assert sorted(lines_hit) == [i for i, line in enumerate(PRINTED) for _ in range(line.count("人民法院"))]


def test_latin_words_stay_separated_by_single_spaces(tmp_path):
    res = hand_result([[("Case", 300, 420), ("No.", 440, 520), ("2024", 545, 660), ("年", 665, 725),
                        ("Xinxiang", 760, 980), ("Court", 1000, 1140)]])
    path = tmp_path / "latin.pdf"
    image_pdf([(Image.new("L", (2480, 600), 255), res)]).save(path)
    assert pdftotext(path).strip() == "Case No. 2024年Xinxiang Court"
    assert pymupdf.open(path)[0].get_text().strip() == "Case No. 2024年Xinxiang Court"


def layer_chars(path: Path, page: int = 0) -> list[tuple[str, float, float]]:
    """(character, left, right) in points of every character PyMuPDF extracts from a page."""
    blocks = pymupdf.open(path)[page].get_text("rawdict")["blocks"]
    return [(c["c"], c["bbox"][0], c["bbox"][2]) for b in blocks for ln in b.get("lines", ()) for s in ln["spans"]
            for c in s["chars"]]


def test_cjk_words_are_spread_evenly_and_each_piece_reaches_the_next(tmp_path):
    res = hand_result([[("人民", 300, 420), ("法院", 450, 570), ("ABC", 700, 800)]])
    path = tmp_path / "stretch.pdf"
    image_pdf([(Image.new("L", (2480, 600), 255), res)]).save(path)
    chars = layer_chars(path)
    assert "".join(c for c, _, _ in chars) == "人民法院ABC"
    lefts = [pytest.approx(pt(x), abs=0.1) for x in (300, 367.5, 435, 502.5, 700)]
    assert [x0 for _, x0, _ in chars[:5]] == lefts
    assert chars[3][2] == pytest.approx(pt(700), abs=0.1) and chars[-1][2] == pytest.approx(pt(800), abs=0.1)


def test_a_wide_gap_ends_a_run_of_cjk_words(tmp_path):
    res = hand_result([[("审判长", 300, 500), ("王伟", 900, 1030)]])
    path = tmp_path / "gap.pdf"
    image_pdf([(Image.new("L", (2480, 600), 255), res)]).save(path)
    chars = layer_chars(path)
    assert "".join(c for c, _, _ in chars) == "审判长王伟"
    assert [x0 for _, x0, _ in chars] == [pytest.approx(pt(x), abs=0.1) for x in (300, 366.67, 433.33, 900, 965)]


def test_characters_sit_over_their_printed_characters(printed, printed_pdf):
    _, _, res, lefts = printed
    got = layer_chars(printed_pdf)
    errors = []
    for line, text, xs in zip(res.lines, PRINTED, lefts):
        layer = got[: len(line.text)]
        got = got[len(line.text):]
        if line.text == text:  # compare lines read exactly, character by character
            errors += [abs(x0 * DPI / 72 - x) / FONT_PX for (_, x0, _), x in zip(layer, xs)]
    assert len(errors) >= 20
    assert sum(errors) / len(errors) < 0.15  # in ems (measured 0.02; tesseract's own boxes are off by ~0.5)


def test_text_layer_draws_nothing_visible(tmp_path):
    res = hand_result([[("人民法院", 300, 600), ("ABC", 640, 800)]])
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(pt(2480), pt(600)))
    add_text_layer(pdf, page, res, pt(2480), pt(600))
    pdf.save(tmp_path / "invisible.pdf")
    doc = pymupdf.open(tmp_path / "invisible.pdf")
    assert "人民法院" in doc[0].get_text()
    pix = doc[0].get_pixmap(dpi=72)
    assert set(pix.samples) == {255}


def test_page_content_that_leaves_a_transform_does_not_move_the_layer(tmp_path):
    res = hand_result([[("人民法院", 300, 600)]])
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(pt(2480), pt(600)))
    page.contents_add(pikepdf.Stream(pdf, b"0.5 0 0 0.5 100 100 cm"))  # unbalanced: no q/Q
    add_text_layer(pdf, page, res, pt(2480), pt(600))
    pdf.save(tmp_path / "cm.pdf")
    rect = pymupdf.open(tmp_path / "cm.pdf")[0].search_for("人民法院")[0]
    assert (rect.x0, rect.x1) == (pytest.approx(pt(300), abs=0.1), pytest.approx(pt(600), abs=0.1))


def test_characters_outside_the_bmp_are_extracted(tmp_path):
    res = hand_result([[("𠀀人民", 300, 480), ("法院𪚥", 480, 660)], [("𠀀𡃁", 300, 420)]])
    path = tmp_path / "supplementary.pdf"
    pdf = image_pdf([(Image.new("L", (2480, 600), 255), res)])
    page = pdf.add_blank_page(page_size=(pt(2480), pt(600)))
    add_text_layer(pdf, page, hand_result([[("𡃁𠀀𫠠", 300, 480)]]), pt(2480), pt(600))
    pdf.save(path)
    doc = pymupdf.open(path)
    assert doc[0].get_text().split() == ["𠀀人民法院𪚥", "𠀀𡃁"]
    assert doc[1].get_text().split() == ["𡃁𠀀𫠠"]
    assert pdftotext(path).split() == ["𠀀人民法院𪚥", "𠀀𡃁", "𡃁𠀀𫠠"]


def test_all_pages_share_one_font(tmp_path):
    res = hand_result([[("人民法院", 300, 600)]])
    pdf = image_pdf([(Image.new("L", (2480, 600), 255), res)] * 3)
    pdf.save(tmp_path / "three.pdf")
    pdf = pikepdf.open(tmp_path / "three.pdf")
    page = pdf.add_blank_page(page_size=(pt(2480), pt(600)))
    add_text_layer(pdf, page, res, pt(2480), pt(600))  # after reopening, the existing font is found again
    pdf.save(tmp_path / "four.pdf")
    doc = pymupdf.open(tmp_path / "four.pdf")
    fonts = {f[0] for i in range(len(doc)) for f in doc.get_page_fonts(i)}
    assert len(doc) == 4 and len(fonts) == 1
    assert doc.get_page_fonts(3)[0][3] == FONT_NAME


def test_the_tounicode_map_lists_only_the_characters_used_and_survives_reopening(tmp_path):
    pdf = image_pdf([(Image.new("L", (2480, 600), 255), hand_result([[("人民法院", 300, 600)]]))])
    pdf.save(tmp_path / "one.pdf")
    pdf = pikepdf.open(tmp_path / "one.pdf")
    page = pdf.add_blank_page(page_size=(pt(2480), pt(600)))
    add_text_layer(pdf, page, hand_result([[("人民审判", 300, 600)]]), pt(2480), pt(600))
    pdf.save(tmp_path / "two.pdf")
    doc = pymupdf.open(tmp_path / "two.pdf")
    assert [doc[i].get_text().split() for i in range(2)] == [["人民法院"], ["人民审判"]]
    with pikepdf.open(tmp_path / "two.pdf") as reopened:
        font = next(f for _, f in reopened.pages[1].Resources.Font.items() if f.BaseFont == "/" + FONT_NAME)
        mapped, supplementary = _read_mapping(font.ToUnicode)
    # PDFBox Preflight expands every mapping each time a page names the font: the whole BMP cost ~22 ms a page
    assert mapped == {ord(c) for c in "人民法院审判"} and not supplementary


def test_font_widths_agree_with_the_font_program():
    font = pymupdf.Font(fontbuffer=glyphless_font_bytes())
    pdf = pikepdf.new()
    page = pdf.add_blank_page()
    add_text_layer(pdf, page, hand_result([[("人", 10, 20)]]), 595, 842)
    cid = next(iter(page.Resources.Font.values())).DescendantFonts[0]
    assert int(cid.DW) == round(font.glyph_advance(32) * UNITS_PER_EM)
    assert "/W" not in cid


def test_shipped_font_is_the_one_the_generator_builds():
    pytest.importorskip("fontTools")
    assert build_glyphless_font() == glyphless_font_bytes()


def test_the_regenerated_font_is_written_to_the_file_the_text_layer_reads():
    pytest.importorskip("fontTools")
    shipped = Path(str(resources.files("pipeline") / "fonts" / "glyphless.ttf"))
    wrong_folder = Path(textlayer.__file__).parent / "fonts"
    before, wrong_existed = shipped.read_bytes(), wrong_folder.exists()
    try:
        written = write_font_asset()
    finally:  # the shipped file keeps its bytes, and a folder the function should not have made goes again
        shipped.write_bytes(before)
        if not wrong_existed:
            shutil.rmtree(wrong_folder, ignore_errors=True)
    assert written == shipped


def test_pdfa_1b_file_with_the_text_layer_passes_preflight(printed, tmp_path):
    img, _, res, _ = printed
    path = make_pdfa(image_pdf([(img, res), (img, hand_result([[("𠀀人民", 300, 480), ("ABC", 500, 600)]]))]),
                        tmp_path / "pdfa.pdf")
    out = subprocess.run(["java", "-Xmx1g", "-cp", PREFLIGHT_CP, "org.apache.pdfbox.preflight.Validator_A1b",
                          str(path)], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "is a valid PDF/A-1b file" in out.stdout


def test_pdfa_2b_file_with_the_text_layer_has_no_findings(printed, tmp_path):
    img, _, res, _ = printed
    path = make_pdfa(image_pdf([(img, res)]), tmp_path / "pdfa2b.pdf", part=2)
    assert pikepdf.pdfa.check(pikepdf.open(path), "2b").findings == []


