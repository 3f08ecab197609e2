"""Painting findings out of a page image: in the pixels themselves, where the characters really are (snapped to the
gaps between them), a given name replaced by 某, the page's text without what was painted; and what a second
reading of the painted page still finds painted too."""

from __future__ import annotations

import io
import random
from dataclasses import replace

import numpy as np
from PIL import Image

from pipeline.disclosure import Glyph, PageText, ink_mask, read_people, redact_page
from pipeline.disclosure._burn import PAD
from pipeline.ocr import OcrSettings
from pipeline.standard import load_disclosure_profile
from samples.personal import (
    NAME_KEPT,
    PageBuilder,
    changed_share,
    checksum,
    ink_overlap,
    painted_share,
    plant,
    plant_name,
)
from samples.synthetic import draw_seal, mm_to_px

LAWYER = load_disclosure_profile("lawyer")
BODY = "41072719850603123"
ID = BODY + checksum(BODY)


def rendered(*lines, shift: tuple[str, float] = ("", 0.0)):
    """A clean page with the lines drawn, and its text as a recogniser would give it: the boundary before the first
    character ``shift[0]`` moved ``shift[1]`` ems to the left (the text layer spreads a run of Han characters and
    digits evenly: where they meet, the boundary can be half an em off)."""
    b = PageBuilder("test")
    for pieces in lines:
        b.line(*pieces)
    image, planted = b.render(random.Random(1))
    rows: dict[float, int] = {}
    glyphs: list[Glyph] = []
    moved = False
    for ch, x0, y0, x1, y1 in b.glyphs:
        if ch.isspace():
            continue
        line = rows.setdefault(y0, len(rows))
        if ch == shift[0] and not moved and glyphs:
            moved, edge = True, x0 - shift[1] * (y1 - y0)
            glyphs[-1] = Glyph(glyphs[-1].text, glyphs[-1].x0, glyphs[-1].y0, edge, glyphs[-1].y1, line)
            x0 = edge
        glyphs.append(Glyph(ch, x0, y0, x1, y1, line))
    return image, PageText(1, 1, tuple(glyphs), image.width, image.height), planted


def redacted(image, text, settings=None):
    people = read_people([text], [], LAWYER)
    return redact_page(text, image, 300.0, LAWYER, people, 1, set(), settings)


def test_a_number_is_painted_out_of_the_pixels_and_the_original_image_is_untouched():
    item = plant("id_number", ID)
    image, text, planted = rendered(("身份证号码", item, "，汉族"))
    before = image.copy()
    result = redacted(image, text)
    assert all(painted_share(image, result.image, b) == 1.0 for b in planted[0].boxes)
    assert np.array_equal(np.asarray(image), np.asarray(before))
    dark = np.asarray(result.image.convert("L"))[planted[0].boxes[5][1] + 5, planted[0].boxes[5][0] + 5]
    assert dark < 40


def test_an_edge_half_an_em_off_snaps_to_the_gap_between_the_characters():
    label = plant("decoy", "身份证号码", hide=False)
    item = plant("id_number", ID)
    image, text, planted = rendered((label, item, "，汉族"), shift=(ID[0], 0.45))
    result = redacted(image, text)
    assert all(painted_share(image, result.image, b) == 1.0 for b in planted[1].boxes)
    assert changed_share(image, result.image, planted[0].boxes[-1]) == 0.0  # 码 stays whole


def test_a_given_name_becomes_mou_in_the_pixels_and_the_surname_stays():
    name = plant_name("周雪霞", True)
    image, text, planted = rendered(("被询问人：", name, "　性别：女"), ("答：我叫", plant_name("周雪霞", True), "。"))
    result = redacted(image, text)
    for item in planted:
        surname, *given = item.boxes
        assert changed_share(image, result.image, surname) == 0.0
        assert all(ink_overlap(image, result.image, b) <= NAME_KEPT for b in given)
    assert [n.finding.cells for n in result.findings] == [("某", "某"), ("某", "某")]


def test_the_text_of_a_painted_page_leaves_out_what_was_painted():
    image, text, _ = rendered(("被询问人：", plant_name("周雪霞", True), "　性别：女"),
                              ("身份证号码", plant("id_number", ID), "，联系电话：13803731234"))
    page = redacted(image, text).text.text
    assert "周某某" in page and "雪霞" not in page
    assert ID not in page and "13803731234" not in page and "身份证号码" in page


def test_what_a_second_reading_of_the_painted_page_still_finds_is_painted_and_doubtful():
    image, text, planted = rendered(("联系电话：", plant("phone", "13803731234"), "，请核实。"))
    misread = PageText(1, 1, tuple(Glyph("?" if g.text.isdigit() else g.text, g.x0, g.y0, g.x1, g.y1, g.line)
                                   for g in text.glyphs), text.width, text.height)
    assert redacted(image, misread).findings == ()
    result = redacted(image, misread, OcrSettings(engine="ppocr"))
    assert [(n.finding.kind, n.finding.certain, n.finding.found_by) for n in result.findings] == \
        [("phone", False, "ocr")]
    assert all(painted_share(image, result.image, b) == 1.0 for b in planted[0].boxes)


def test_a_number_a_seals_ring_crosses_is_painted_out_whole_after_jpeg_blurred_the_rings_red():
    label = plant("decoy", "附：被害人联系电话", hide=False)
    item = plant("phone", "03738050424", "0373-8050424")
    image, text, planted = rendered((label, item))
    gap = (planted[0].boxes[-1][2] + planted[1].boxes[0][0]) // 2  # the ring passes between 话 and 0, over both
    middle = (planted[1].boxes[0][1] + planted[1].boxes[0][3]) // 2
    draw_seal(image, (gap + mm_to_px(21, 300), middle), 300, "河南省封丘县人民检察院", random.Random(3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)  # as scanned: colour subsampling greys the ring where it meets print
    scanned = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    result = redacted(scanned, text)
    assert all(painted_share(scanned, result.image, b) >= 0.95 for b in planted[1].boxes)


def test_a_plate_whose_first_han_character_the_recogniser_boxed_too_narrow_is_painted_whole():
    label = plant("decoy", "KK11418977", hide=False)
    item = plant("plate", "鄂D9958挂")
    image, text, planted = rendered(("04　", label, "　", item, "　挂车"), shift=("鄂", -0.45))
    result = redacted(image, text)
    assert all(painted_share(image, result.image, b) >= 0.95 for b in planted[1].boxes)



def test_a_last_digits_hairline_foot_past_its_stem_is_painted_to_its_tip():
    # bench/disclosure.py --seed 28, case 308 page 7: the foot of a full-width １ thins to one row of pixels for its
    # last columns, further than the box's blank margin (PAD), and a column of one ink pixel alone counts as blank
    # where a gap between two characters is looked for (so that a speck does not close one)
    item = plant("phone", "13563949001", "１３５６３９４９００１")
    image, text, planted = rendered(("手机：", item))
    x0, y0, x1, y1 = planted[0].boxes[-1]
    pixels = np.asarray(image.convert("L"))[y0:y1, x0:x1] < 128
    rows, cols = np.nonzero(pixels)
    bottom, right = y0 + rows.max(), x0 + cols.max()
    tipped = image.copy()
    tipped.paste(0, (right + 1, bottom, right + 2 + int(PAD * (y1 - y0)) + 2, bottom + 1))
    result = redacted(tipped, text)
    assert painted_share(tipped, result.image, planted[0].boxes[-1]) == 1.0


def test_a_last_digit_the_recogniser_boxed_an_em_into_the_next_word_leaves_that_word_whole():
    # bench/disclosure.py's 协助查询财产回执: 预留手机：15298267395余额 — PP-OCR gives the last digit of a word a box
    # running an em on to the next word (1616-1687 for a 25-pixel digit), and the bar bit into 余
    item = plant("phone", "15298267395")
    after = plant("decoy", "余额", hide=False)
    image, text, planted = rendered(("预留手机：", item, after, "：72836.35元"), shift=("余", -1.0))
    result = redacted(image, text)
    assert all(painted_share(image, result.image, b) == 1.0 for b in planted[0].boxes)
    assert changed_share(image, result.image, planted[1].boxes[0]) == 0.0


def test_a_first_digit_boxed_wide_to_the_right_is_painted_whole():
    # bench/disclosure.py --seed 29, case 304 page 7: 号码：18447645910, the 1's ink at 831-857, its box 826-872
    item = plant("phone", "18447645910")
    image, text, planted = rendered(("机主：黄明艳号码：", item))
    first = next(k for k, g in enumerate(text.glyphs) if g.text == "1")
    g = text.glyphs[first]
    widened = replace(g, x1=g.x1 + (g.x1 - g.x0) * 0.9)
    glyphs = (*text.glyphs[:first], widened, *text.glyphs[first + 1 :])
    result = redacted(image, replace(text, glyphs=glyphs))
    assert all(painted_share(image, result.image, b) == 1.0 for b in planted[0].boxes)


def test_print_under_a_seal_that_jpeg_tinted_deep_red_is_ink_and_the_seals_own_red_is_not():
    # pixels of bench/disclosure.py --seed 27's case 300, page 9: an ID's first digit under a bank's seal ring
    pixels = [(75, 0, 0), (96, 15, 14), (205, 30, 35), (170, 114, 113), (25, 25, 28), (245, 245, 240)]
    image = Image.new("RGB", (len(pixels), 1))
    image.putdata(pixels)
    assert ink_mask(image)[0].tolist() == [True, True, False, False, True, False]
