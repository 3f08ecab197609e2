"""Reading a volume's text layer back: each numbered page's OCR characters with their boxes, nothing else."""

from __future__ import annotations

import pytest
from PIL import Image
from structure_helpers import page_artifact, save_jpeg
from test_render import CASE, context_for

from pipeline.assembly import add_text_layer, build_volume, numbered_pages, page_image
from pipeline.errors import VolumeError
from pipeline.ocr import OcrLine, OcrResult, OcrWord
from pipeline.structure import Document, build_catalogue, plan_volumes

DPI = 100  # an A4 page of 827 x 1169 px
LINES = [[("被告人张三", 100, 400)], [("车牌豫A12345", 100, 600), ("已扣押", 640, 820)]]


def ocr_for(k: int) -> OcrResult:
    """Page k's OCR: two lines, the first naming the page."""
    lines = []
    for i, words in enumerate([[(f"第{k}页", 100, 260)], *LINES]):
        y0 = 200 + 80 * i
        ws = tuple(OcrWord(t, x0, y0, x1, y0 + 40, 95.0) for t, x0, x1 in words)
        lines.append(OcrLine(ws, ws[0].x0, y0, ws[-1].x1, y0 + 40))
    return OcrResult(827, 1169, DPI, tuple(lines))


@pytest.fixture(scope="module")
def volume(tmp_path_factory):
    folder = tmp_path_factory.mktemp("textread")
    image = save_jpeg(Image.new("RGB", (827, 1169), "white"), folder / "white.jpg", DPI)
    pages = {k: page_artifact(k, image, dpi=DPI, ocr=ocr_for(k + 1), folder=folder) for k in range(3)}
    docs = [Document(0, "起诉书", (0, 1, 2))]
    (plan,) = plan_volumes(docs, 200)
    (cat,) = build_catalogue(CASE, [plan], docs).volumes
    return build_volume(plan, pages, context_for(plan, cat), folder / "001.pdf", text_layer=add_text_layer).path


def test_every_numbered_page_is_read_with_its_stamped_number_and_only_its_ocr_text(volume):
    pages = list(numbered_pages(volume))
    assert [p.number for p in pages] == [1, 2, 3]
    assert pages[0].pdf_index == 2  # after the cover and one 卷内目录 page
    assert [p.text for p in pages] == [f"第{k}页\n被告人张三\n车牌豫A12345已扣押" for k in (1, 2, 3)]


def test_character_boxes_sit_where_the_ocr_saw_the_words(volume):
    page = next(numbered_pages(volume))
    pt = 72.0 / DPI
    first, last = page.lines[1][0], page.lines[1][-1]  # 被 … 三, spread evenly over 100..400 px
    assert (first.text, last.text) == ("被", "三")
    assert first.x0 == pytest.approx(100 * pt, abs=0.5) and last.x1 == pytest.approx(400 * pt, abs=0.5)
    assert first.y0 == pytest.approx(280 * pt, abs=1.0) and first.y1 == pytest.approx(320 * pt, abs=1.0)
    assert (page.width, page.height) == pytest.approx((827 * pt, 1169 * pt), abs=0.1)


def test_a_numbered_page_renders_as_the_png_of_that_page(volume):
    import io

    png = page_image(volume, 2, dpi=50)
    with Image.open(io.BytesIO(png)) as img:
        assert img.format == "PNG" and img.size == pytest.approx((827 * 50 / DPI, 1169 * 50 / DPI), abs=1)


def test_a_page_number_the_volume_does_not_have_is_refused_naming_the_volume(volume):
    with pytest.raises(VolumeError, match="no page numbered 9"):
        page_image(volume, 9)
