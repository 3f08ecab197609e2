"""The text layer from each engine's lines: search and copy land on the printed characters of a synthetic page whose
every glyph position is known (samples/synthetic.py records them)."""

from __future__ import annotations

import re

import pymupdf
import pytest

from pipeline.assembly._pieces import char_pieces
from pipeline.ocr import OcrChar, OcrLine, OcrSettings, OcrWord, ocr_image
from samples.synthetic import synthetic_page
from tests.test_textlayer import DPI, image_pdf, layer_chars, pdftotext, pt

HAN_SPACE_HAN = re.compile(r"[\u4e00-\u9fff][ \t\u3000]+[\u4e00-\u9fff]")
WORDS = ("人民法院", "刑事判决书", "检察院", "户籍所在地", "2024")
COVER = {"ppocr": (0.7, 0.6), "tesseract": (0.5, 0.4)}
"""Share of the hit on the true box, and of the true box under the hit: PP-OCR places each character where it saw it;
Tesseract's words are spread evenly between the ends of their ink, up to half a character off (measured)."""


@pytest.fixture(scope="module")
def page():
    return synthetic_page("judgment", 4242, paper=(210.0, 150.0))


def layer(page, engine: str, folder):
    """The page's OCR by an engine and a PDF of the page with its text layer."""
    result = ocr_image(page.image, page.dpi, OcrSettings(engine=engine), f"synthetic-{engine}")
    path = folder / f"{engine}.pdf"
    image_pdf([(page.image, result)]).save(path)
    return engine, result, path


@pytest.fixture(scope="module", params=["ppocr", "tesseract"])
def layered(request, page, tmp_path_factory):
    return layer(page, request.param, tmp_path_factory.mktemp(request.param))


@pytest.fixture(scope="module")
def ppocr_layered(page, tmp_path_factory):
    return layer(page, "ppocr", tmp_path_factory.mktemp("ppocr-only"))


def true_boxes(glyphs, word: str) -> list[tuple[float, float, float, float]]:
    """The ink box of every occurrence of ``word`` among the drawn glyphs (pixels)."""
    text = "".join(g[0] for g in glyphs)
    out = []
    for m in re.finditer(re.escape(word), text):
        cells = glyphs[m.start() : m.end()]
        out.append((cells[0][1], min(c[2] for c in cells), cells[-1][3], max(c[4] for c in cells)))
    return out


def overlap(a, b) -> float:
    """The share of box ``b`` that box ``a`` covers."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(0.0, w) * max(0.0, h) / ((b[2] - b[0]) * (b[3] - b[1]))


def test_search_hits_cover_the_printed_words_they_find(page, layered):
    engine, result, path = layered
    doc = pymupdf.open(path)
    checked = 0
    for word in WORDS:
        truth = true_boxes(page.truth.glyphs, word)
        hits = [tuple(v * DPI / 72 for v in (r.x0, r.y0, r.x1, r.y1)) for r in doc[0].search_for(word)]
        assert len(hits) == result.text.count(word)  # every occurrence the OCR read is found
        for hit in hits:
            best = max(truth, key=lambda t: overlap(hit, t))
            on, under = COVER[engine]
            assert overlap(hit, best) > on and overlap(best, hit) > under, (engine, word, hit, best)
            checked += 1
    assert checked >= 5


def test_ppocr_characters_sit_on_their_glyphs(page, ppocr_layered):
    _, _, path = ppocr_layered
    chars = layer_chars(path)
    cells = {}
    for ch, x0, _, x1, _ in page.truth.glyphs:
        cells.setdefault(ch, []).append((x0, x1))
    inside = total = 0
    for ch, left, right in chars:
        centre = (left + right) / 2 * DPI / 72
        if ch in cells and len(cells[ch]) == 1:  # characters printed once: no doubt which glyph is meant
            x0, x1 = cells[ch][0]
            inside += x0 <= centre <= x1
            total += 1
    assert total >= 30 and inside / total >= 0.95


def test_copied_text_has_no_space_between_han_characters(page, layered):
    _, result, path = layered
    text = pdftotext(path)
    assert HAN_SPACE_HAN.search(text) is None
    assert "".join(text.split()) == "".join(result.text.split())


def test_characters_on_a_regular_pitch_make_one_piece_and_a_gap_starts_another():
    def char_word(text: str, x0: float, pitch: float) -> OcrWord:
        chars = tuple(OcrChar(c, round(x0 + i * pitch), round(x0 + (i + 1) * pitch), 99.0) for i, c in enumerate(text))
        return OcrWord(text, chars[0].x0, 100, chars[-1].x1, 160, 99.0, chars)

    words = (char_word("审判长", 300, 60), char_word("王伟", 900, 60), char_word("Case", 1100, 30),
             char_word("No.", 1250, 30))
    pieces = char_pieces(OcrLine(words, 300, 100, 1340, 160))
    assert [(p.text, p.x0, p.x1, p.space_after) for p in pieces] == [
        ("审判长", 300, 480, False), ("王伟", 900, 1020, False), ("Case", 1100, 1220, True), ("No.", 1250, 1340, False)]


def test_copied_latin_words_keep_single_spaces_from_per_character_positions(tmp_path):
    from PIL import Image

    from pipeline.ocr import OcrResult

    line = []
    for text, x0 in (("Case", 300), ("No.", 460), ("2024", 580), ("年", 700)):
        chars = tuple(OcrChar(c, x0 + 28 * i, x0 + 28 * (i + 1), 98.0) for i, c in enumerate(text))
        line.append(OcrWord(text, chars[0].x0, 100, chars[-1].x1, 160, 98.0, chars))
    result = OcrResult(2480, 600, DPI, (OcrLine(tuple(line), 300, 100, 728, 160),))
    path = tmp_path / "latin.pdf"
    image_pdf([(Image.new("L", (2480, 600), 255), result)]).save(path)
    assert pdftotext(path).strip() == "Case No. 2024年"
    assert [round(x0 * DPI / 72) for c, x0, _ in layer_chars(path) if c != " "][:4] == [300, 328, 356, 384]
    assert pt(728) == pytest.approx(layer_chars(path)[-1][2], abs=0.2)
