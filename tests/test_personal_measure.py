"""The disclosure bench's measure of a planted item removed from a copy's page (samples/personal.py): every character
that carries a number's value painted black, judged by that character's own ink; every character of a given name no
longer the shape it was."""

from __future__ import annotations

import random

from PIL import Image, ImageDraw, ImageFont

from pipeline.common import cjk_font_file
from samples.personal import PageBuilder, plant, plant_name, removed

SEAL_INK = (205, 40, 45)  # a seal's red as scanned


def page_with(item, label="电话："):
    """A clean page with ``item`` on one line, and the item as placed (its characters' boxes)."""
    b = PageBuilder("test")
    b.line(label, item)
    image, planted = b.render(random.Random(1))
    return image, planted[0]


def painted(image: Image.Image, boxes) -> Image.Image:
    """The page with each box filled black, as a copy paints a character out."""
    out = image.copy()
    draw = ImageDraw.Draw(out)
    for x0, y0, x1, y1 in boxes:
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=(0, 0, 0))
    return out


def test_a_number_with_every_digit_painted_is_removed_though_its_brackets_are_left():
    image, item = page_with(plant("phone", "03736083974", "（0373）6083974"))
    digits = [b for c, b in zip(item.printed, item.boxes) if c.isdigit()]
    assert removed(item, image, painted(image, digits), item.boxes)


def test_a_number_with_one_digit_left_is_not_removed():
    image, item = page_with(plant("phone", "03736083974", "（0373）6083974"))
    digits = [b for c, b in zip(item.printed, item.boxes) if c.isdigit()]
    assert not removed(item, image, painted(image, digits[:-1]), item.boxes)


def test_a_seals_red_lettering_in_a_digits_cell_is_not_counted_as_that_digits_ink():
    image, item = page_with(plant("phone", "03736006894", "0373-6006894"))
    x0, y0, x1, y1 = item.boxes[0]
    strip = y0 + (y1 - y0) // 8  # above the digit's ink: where a seal's lettering can reach into its cell
    ImageDraw.Draw(image).rectangle((x0, y0, x1 - 1, strip), fill=SEAL_INK)
    after = painted(image, [(x0, strip + 1, x1, y1), *item.boxes[1:]])
    assert removed(item, image, after, item.boxes)


def test_dark_print_in_a_digits_cell_left_unpainted_still_counts_against_it():
    image, item = page_with(plant("phone", "03736006894", "0373-6006894"))
    x0, y0, x1, y1 = item.boxes[0]
    strip = y0 + (y1 - y0) // 8
    ImageDraw.Draw(image).rectangle((x0, y0, x1 - 1, strip), fill=(100, 100, 100))  # print, grey enough to tell from paint
    after = painted(image, [(x0, strip + 1, x1, y1), *item.boxes[1:]])
    assert not removed(item, image, after, item.boxes)


def mou_drawn(image: Image.Image, boxes, stroke: int) -> Image.Image:
    """The page with each box papered over and a 某 drawn in it, its strokes ``stroke`` pixels bolder than print."""
    out = image.copy()
    draw = ImageDraw.Draw(out)
    for x0, y0, x1, y1 in boxes:
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=(255, 255, 255))
        font = ImageFont.truetype(str(cjk_font_file()), int((y1 - y0) * 0.85))
        draw.text(((x0 + x1) / 2, (y0 + y1) / 2), "某", font=font, fill=(0, 0, 0), anchor="mm", stroke_width=stroke,
                  stroke_fill=(0, 0, 0))
    return out


def test_a_given_name_under_a_bold_mou_sharing_most_of_its_strokes_is_replaced():
    # bench/disclosure.py --seed 29, case 300 page 3: the 某 drawn over 宇 covers its 宀's bar and its hook, and only
    # 40 % of 宇's ink turned paper; its shape is gone all the same
    image, item = page_with(plant_name("曹东宇", True), "被害人")
    assert removed(item, image, mou_drawn(image, item.boxes[1:], stroke=2), item.boxes)


def test_a_given_name_left_as_it_was_but_for_one_character_is_not_replaced():
    image, item = page_with(plant_name("曹东宇", True), "被害人")
    assert not removed(item, image, mou_drawn(image, item.boxes[1:2], stroke=0), item.boxes)
