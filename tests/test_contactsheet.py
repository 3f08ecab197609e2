"""Contact sheets: thumbnails of a volume's pages, flagged pages outlined in red."""

from __future__ import annotations

import numpy as np
from PIL import Image

from pipeline.imaging._thumbnails import FLAG_COLOUR, Thumb, contact_sheet, write_contact_sheet
from tests.ops_fixtures import SAMPLE


def red_pixels(img: Image.Image, box: tuple[int, int, int, int]) -> int:
    a = np.asarray(img.crop(box).convert("RGB")).astype(int)
    return int(((a[..., 0] > 180) & (a[..., 1] < 60) & (a[..., 2] < 60)).sum())


def test_a_flagged_page_is_outlined_in_red_and_an_unflagged_one_is_not(tmp_path):
    thumbs = [Thumb("1", SAMPLE / "001.jpg"), Thumb("2", SAMPLE / "007.tif", ("ocr-confidence-low: 41 < 60",))]
    sheet = contact_sheet(thumbs, columns=2)
    half = sheet.width // 2
    assert red_pixels(sheet, (half, 0, sheet.width, sheet.height)) > 400
    assert red_pixels(sheet, (0, 0, half, sheet.height)) == 0
    assert FLAG_COLOUR == (220, 0, 0)


def test_the_sheet_holds_every_page_in_a_grid_and_is_written_as_png(tmp_path):
    thumbs = [Thumb(str(i), SAMPLE / "009.jpg") for i in range(1, 11)]
    path = write_contact_sheet(tmp_path / "v.png", thumbs, "（2024）豫0727刑初172号 第1卷 共1卷", columns=4)
    with Image.open(path) as img:
        assert img.format == "PNG"
        assert img.width >= 4 * 140 and img.height >= 3 * 190


def test_a_page_without_an_image_gets_a_grey_placeholder(tmp_path):
    sheet = contact_sheet([Thumb("1", None)], columns=1)
    assert (np.asarray(sheet) == (200, 200, 200)).all(axis=-1).any()


def test_a_kept_thumbnail_is_used_instead_of_decoding_the_page_again(tmp_path):
    from pipeline.imaging._thumbnails import THUMB_BOX, thumbnail, thumbnail_path

    image = tmp_path / "image.tif"
    Image.new("1", (2480, 3508), 1).save(image, "TIFF", compression="group4")
    Image.new("RGB", (100, 140), (0, 0, 255)).save(thumbnail_path(image), "PNG")
    assert thumbnail(image, THUMB_BOX).getpixel((50, 70)) == (0, 0, 255)
    assert thumbnail(image, (70, 95)).getpixel((30, 40)) == (255, 255, 255)  # another size: made from the page
