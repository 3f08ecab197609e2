"""Separator sheets on scans: decoded when skewed, rotated, bitonal at 200 dpi; ordinary pages pass a cheap check;
a sheet that cannot be read is reported as undecodable, never taken for an ordinary page."""

import json
import random
from functools import lru_cache

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw
from structure_helpers import bitonal

from pipeline.assembly import separator_page_image
from pipeline.capture import decode_payload, encode_payload, find_separator, qr_modules
from pipeline.models import SeparatorPayload
from samples.synthetic import scan, synthetic_page

DOCUMENT = SeparatorPayload(kind="document", case_no="（2019）豫0727刑初172号", title="起诉书",
                            doc_no="新封检公诉刑诉〔2019〕172号", author="河南省封丘县人民检察院", date="2019-04-12", pages=5)
BATCH = SeparatorPayload(kind="batch", case_no="（2019）豫0727刑初172号", case_title="周某盗窃案",
                         agency="河南省封丘县人民法院")


@lru_cache(maxsize=4)
def _printed(text: str) -> Image.Image:
    return separator_page_image(decode_payload(text), 200)


def printed(payload: SeparatorPayload) -> Image.Image:
    return _printed(encode_payload(payload))


def scanned(payload: SeparatorPayload, skew: float = 0.0, rotation: int = 0, border: bool = False,
            as_bitonal: bool = True, seed: int = 1) -> Image.Image:
    img = scan(printed(payload), random.Random(seed), 200, skew=skew, rotation_cw=rotation, border=border, specks=60)
    return bitonal(img) if as_bitonal else img


def test_payload_round_trips_with_chinese_intact():
    text = encode_payload(DOCUMENT)
    assert "新封检公诉刑诉〔2019〕172号" in text  # UTF-8 kept, not \u escapes
    assert decode_payload(text) == DOCUMENT


def test_payload_json_is_compact_and_leaves_empty_fields_out():
    text = encode_payload(SeparatorPayload(kind="document", title="收据"))
    assert text == '{"v":1,"kind":"document","title":"收据"}'


def test_qr_modules_decode_back_to_the_text():
    modules = qr_modules(encode_payload(DOCUMENT))
    image = np.where(modules, 0, 255).astype(np.uint8).repeat(6, axis=0).repeat(6, axis=1)
    assert cv2.QRCodeDetector().detectAndDecode(image)[0] == encode_payload(DOCUMENT)


@pytest.mark.parametrize(("skew", "rotation"), [(0, 0), (-10, 0), (10, 90), (-4, 180), (7, 270), (-8, 90)])
def test_sheet_scanned_skewed_and_rotated_in_bitonal_200_dpi_is_decoded(skew, rotation):
    found = find_separator(scanned(DOCUMENT, skew, rotation), "batch/007.tif")
    assert found.kind == "separator", found.reason
    assert found.payload == DOCUMENT


def test_sheet_scanned_in_grey_on_a_dark_scanner_bed_is_decoded():
    found = find_separator(scanned(DOCUMENT, skew=3, border=True, as_bitonal=False).convert("L"), "p")
    assert found.payload == DOCUMENT


def test_a_sheet_scanned_in_16_bit_grey_is_decoded():
    grey16 = Image.fromarray(np.asarray(scanned(DOCUMENT, skew=5, as_bitonal=False).convert("L")).astype(np.uint16)
                              * 257)
    assert grey16.mode == "I;16"
    assert find_separator(grey16, "p").payload == DOCUMENT


def test_batch_cover_sheet_is_decoded_as_a_batch_payload():
    found = find_separator(scanned(BATCH, skew=-2), "p")
    assert found.kind == "separator" and found.payload == BATCH


@pytest.mark.parametrize("kind", ["indictment", "judgment", "record", "table", "photo", "grey-photo", "signature",
                                  "stamp", "page-number", "blank"])
def test_ordinary_pages_are_not_separators(kind):
    page = synthetic_page(kind, 31, dpi=200, specks=80).image
    for image in (page, bitonal(page)):
        found = find_separator(image, kind)
        assert found.kind == "none", found.reason


@pytest.mark.parametrize("kind", ["judgment", "table"])
def test_skewed_pages_on_a_dark_scanner_bed_are_not_separators(kind):
    page = synthetic_page(kind, 32, dpi=200, skew=-2.5, border=True, specks=80).image
    for image in (page, bitonal(page)):
        assert find_separator(image, kind).kind == "none"


def _erase(image: Image.Image, box: tuple[float, float, float, float]) -> Image.Image:
    img = image.copy()
    w, h = img.size
    ImageDraw.Draw(img).rectangle([box[0] * w, box[1] * h, box[2] * w, box[3] * h], fill=255)
    return img


def test_sheet_with_a_damaged_qr_code_is_undecodable_and_names_the_page():
    damaged = _erase(scanned(DOCUMENT, skew=4), (0.36, 0.30, 0.62, 0.44))  # a stain across the code's middle
    found = find_separator(damaged, "batch-7/012.tif[0]")
    assert found.kind == "undecodable"
    assert found.payload is None
    assert "batch-7/012.tif[0]" in found.reason


def test_sheet_whose_qr_code_is_lost_but_banner_remains_is_undecodable():
    found = find_separator(_erase(scanned(DOCUMENT, skew=-3), (0.2, 0.19, 0.8, 0.57)), "p9")
    assert found.kind == "undecodable"
    assert "banner" in found.reason


def _page_with_qr(text: str, side_mm: float) -> Image.Image:
    page = synthetic_page("judgment", 8, dpi=200, page_in_doc=1).image.convert("L")
    modules = qr_modules(text)
    px = round(side_mm / 25.4 * 200)
    code = Image.fromarray(np.where(modules, 0, 255).astype(np.uint8)).resize((px, px), Image.NEAREST)
    page.paste(code, (page.width - px - 150, page.height - px - 150))
    return bitonal(page)


def test_a_page_carrying_someone_elses_qr_code_is_not_a_separator():
    found = find_separator(_page_with_qr("https://ssfw.example.gov.cn/verify?id=4107270120190172", 30), "p")
    assert found.kind == "none", found.reason


def _sheet_with_qr(text: str) -> Image.Image:
    """A printed separator sheet whose QR code is replaced by the code of ``text``."""
    from pipeline.assembly._sheets import QR_BOX_MM

    page = printed(DOCUMENT).convert("L")
    x, y, side = (round(v / 25.4 * 200) for v in QR_BOX_MM)
    code = Image.fromarray(np.where(qr_modules(text), 0, 255).astype(np.uint8)).resize((side, side), Image.NEAREST)
    page.paste(255, (x, y, x + side, y + side))
    page.paste(code, (x, y))
    return bitonal(page)


def test_a_qr_code_in_our_format_with_an_invalid_payload_on_a_sheet_is_undecodable():
    found = find_separator(_sheet_with_qr(json.dumps({"v": 2, "kind": "document"})), "p3")
    assert found.kind == "undecodable"
    assert "payload invalid" in found.reason


@pytest.mark.parametrize("side_mm", [60, 95])
def test_a_content_page_carrying_a_valid_separator_payload_stays_a_content_page(side_mm):
    found = find_separator(_page_with_qr(encode_payload(DOCUMENT), side_mm), "p4")
    assert found.kind == "none", found.reason
    assert "not laid out like a separator sheet" in found.reason


def test_a_content_page_with_an_invalid_payload_in_our_format_is_not_sent_to_review():
    found = find_separator(_page_with_qr(json.dumps({"v": 2, "kind": "document"}), 60), "p5")
    assert found.kind == "none", found.reason


def test_a_black_band_without_the_sheets_text_does_not_make_a_separator():
    page = printed(DOCUMENT).convert("L")
    from pipeline.assembly._sheets import BANNER_MM

    for x0, y0, x1, y1 in BANNER_MM:  # banners printed solid, without 分隔页 — 不计页数 in them
        page.paste(0, tuple(round(v / 25.4 * 200) for v in (x0, y0, x1, y1)))
    found = find_separator(bitonal(page), "p6")
    assert found.kind == "none" and "text" in found.reason


def test_a_qr_text_nested_deeper_than_any_payload_is_not_a_payload():
    with pytest.raises(ValueError, match="nested deeper"):
        decode_payload("[" * 100_000)
