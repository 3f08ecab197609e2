"""G4 TIFF encoding of bitonal pages: lossless, one strip, the resolution kept, the same with or without libtiff."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pipeline.imaging import _g4 as g4
from pipeline.imaging import g4_tiff


def bitonal_page(width: int = 1203, height: int = 517, seed: int = 5) -> np.ndarray:
    """Text-like blocks of black on white, with a width that is not a multiple of 8."""
    rng = np.random.default_rng(seed)
    page = np.full((height, width), 255, np.uint8)
    for _ in range(400):
        x, y = rng.integers(0, width - 20), rng.integers(0, height - 20)
        page[y : y + rng.integers(2, 20), x : x + rng.integers(2, 20)] = 0
    return page


def decoded(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def test_a_g4_tiff_decodes_to_exactly_the_pixels_it_was_made_from():
    page = bitonal_page()
    img = decoded(g4_tiff(page, 300))
    assert img.size == (page.shape[1], page.shape[0])
    assert np.array_equal(np.asarray(img.convert("L")), page)


def test_a_g4_tiff_is_one_group4_strip_with_the_page_resolution():
    img = decoded(g4_tiff(bitonal_page(), 200))
    assert img.info["compression"] == "group4" and len(img.tag_v2[273]) == 1
    assert tuple(round(v) for v in img.info["dpi"]) == (200, 200)


def test_without_libtiff_pillow_writes_the_same_image(monkeypatch):
    page = bitonal_page(seed=9)
    assert g4.g4_available()  # the fast path is what runs here
    fast = decoded(g4_tiff(page, 300))
    monkeypatch.setattr(g4, "_libtiff", lambda: None)
    slow = decoded(g4_tiff(page, 300))
    assert slow.info["compression"] == "group4"
    assert np.array_equal(np.asarray(fast.convert("L")), np.asarray(slow.convert("L")))


@pytest.mark.parametrize("pixels", [np.zeros((10, 10, 3), np.uint8), np.zeros((10, 10), np.float32)])
def test_anything_but_a_grey_byte_array_is_refused(pixels):
    with pytest.raises(ValueError, match="2-D uint8"):
        g4_tiff(pixels, 300)
