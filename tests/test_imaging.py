"""Page imaging on generated pages with known truth: skew, orientation, borders, blanks, colour, resolution."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
from PIL import Image

from pipeline.errors import PageError
from pipeline.imaging import (
    colour_decision,
    deskew_angle,
    infer_dpi,
    ink_grey,
    ink_mask,
    is_blank,
    line_bands,
    luminance,
    ocr_up_or_down,
    paper_region,
    paper_tone,
    reduce,
    rotate_expand,
    to_array,
)
from pipeline.imaging import prepare_page as prepare_page_with
from pipeline.ocr import OcrSettings, engine_for, ocr_image, profile_engine
from pipeline.standard import load_profile
from pipeline.structure import levenshtein
from samples.synthetic import mm_to_px, roundtrip, synthetic_page

PROFILE = load_profile()


def prepare_page(image, dpi, profile, label, use_ocr=True):
    """prepare_page with the profile's OCR engine reading for the orientation check, as the page stage calls it."""
    return prepare_page_with(image, dpi, profile, label, use_ocr=use_ocr, reader=profile_engine(profile.ocr).read_glyphs)


@lru_cache(maxsize=32)
def page(kind: str, seed: int = 1, dpi: int = 200, **kw):
    """A generated page, cached across tests (keyword values must be hashable)."""
    return synthetic_page(kind, seed, dpi=dpi, **kw)


def grey_of(image: Image.Image) -> np.ndarray:
    """Seal-suppressed grey of a page, as the skew search wants it."""
    return ink_grey(to_array(image))


# --- deskew -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind,skew,kw", [
    ("judgment", 7.3, {}),
    ("table", -4.2, {}),
    ("record", 11.6, {"page_in_doc": 1}),  # handwriting
    ("indictment", -13.9, {"page_in_doc": 1, "border": True}),  # seal and scanner bed
])
def test_skew_of_a_text_page_is_measured_within_a_tenth_of_a_degree(kind, skew, kw):
    p = page(kind, 3, 200, skew=skew, **kw)
    angle = deskew_angle(grey_of(p.image), 15.0, dpi=200)
    assert angle is not None
    assert abs(angle - p.truth.skew) <= 0.1


def test_skew_is_measured_at_600_dpi():
    p = page("judgment", 4, 600, skew=-2.45, page_in_doc=1, paper=(148.0, 210.0))
    angle = deskew_angle(grey_of(p.image), 15.0, dpi=600)
    assert angle is not None and abs(angle - p.truth.skew) <= 0.1


def test_sparse_text_page_skew_is_measured():
    p = page("photo", 5, 200, skew=3.1)  # a title and a caption around a photograph
    r = prepare_page(p.image, 200, PROFILE, "photo.tif[0]", use_ocr=False)
    assert "skew-unknown" not in r.flags
    assert abs(r.skew - p.truth.skew) <= 0.1


def test_page_without_lines_is_left_as_it_lies_and_flagged():
    p = page("page-number", 6, 200, skew=6.0, rotation_cw=180)
    r = prepare_page(p.image, 200, PROFILE, "p0001.tif[0]")
    assert "skew-unknown" in r.flags and "orientation-unsure" in r.flags
    assert r.skew == 0.0 and r.rotation == 0


def test_rotation_keeps_every_corner_of_the_image():
    arr = np.full((300, 200), 255, np.uint8)
    arr[:10, :10] = arr[-10:, -10:] = arr[:10, -10:] = arr[-10:, :10] = 0
    turned = rotate_expand(arr, 14.0)
    assert turned.shape[0] > 300 and turned.shape[1] > 200
    assert abs(int((turned < 128).sum()) - 400) <= 40  # all four dark corners are still there


# --- orientation --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rotation_cw", [90, 180, 270])
def test_turned_chinese_page_is_turned_upright(rotation_cw):
    p = page("judgment", 7, 200, skew=2.2, rotation_cw=rotation_cw, page_in_doc=1)
    r = prepare_page(p.image, 200, PROFILE, "p0002.tif[0]")
    assert r.rotation == p.truth.rotation
    assert "orientation-unsure" not in r.flags
    assert abs(r.skew - p.truth.skew) <= 0.1


def test_upright_page_is_left_upright():
    p = page("record", 8, 200, skew=-1.0)
    r = prepare_page(p.image, 200, PROFILE, "p0003.tif[0]")
    assert r.rotation == 0


def test_upside_down_table_page_is_turned_upright_without_ocr():
    p = page("table", 9, 200, rotation_cw=180)
    r = prepare_page(p.image, 200, PROFILE, "p0004.tif[0]", use_ocr=False)
    assert r.rotation == 180 and "orientation-unsure" not in r.flags


def test_ocr_check_tells_upright_lines_from_lines_turned_over():
    p = page("judgment", 10, 200)
    grey = grey_of(p.image)
    ink = ink_mask(grey, paper_tone(grey))
    reader = engine_for(OcrSettings(engine="tesseract")).read_glyphs
    side, up, down = ocr_up_or_down(grey, ink, 200, reader, "p0005.tif[0]")
    assert side == 0 and up > 2 * down
    side, up, down = ocr_up_or_down(grey[::-1, ::-1], ink[::-1, ::-1], 200, reader, "p0005.tif[0]")
    assert side == 180 and down > 2 * up


# --- borders --------------------------------------------------------------------------------------------------------


def test_scanner_bed_border_is_removed_and_the_paper_kept_whole():
    p = page("judgment", 11, 200, skew=4.0, border=True)
    r = prepare_page(p.image, 200, PROFILE, "p0006.tif[0]")
    arr = np.asarray(r.archive.convert("L"))
    edges = np.concatenate([arr[:3].ravel(), arr[-3:].ravel(), arr[:, :3].ravel(), arr[:, -3:].ravel()])
    assert edges.mean() > 250  # no dark bed left along the sides
    w, h = r.archive.size
    assert abs(w - mm_to_px(210, 200)) <= mm_to_px(3, 200)
    assert abs(h - mm_to_px(297, 200)) <= mm_to_px(3, 200)


def test_binding_holes_inside_the_paper_survive_border_cleanup():
    p = page("indictment", 12, 200, border=True, holes=True, page_in_doc=1)
    r = prepare_page(p.image, 200, PROFILE, "p0007.tif[0]")
    arr = np.asarray(r.archive.convert("L"))
    strip = arr[:, : mm_to_px(20, 200)]  # the left margin, where the holes are
    hole_area = 2 * np.pi * mm_to_px(3, 200) ** 2
    assert (strip < 100).sum() >= 0.7 * hole_area


def test_paper_region_leaves_dark_marks_inside_the_sheet_alone():
    grey = np.full((400, 300), 30, np.uint8)  # bed
    grey[20:380, 20:280] = 240  # sheet
    grey[150:200, 40:90] = 20  # a dark stain well inside the sheet
    paper = paper_region(grey, 50.0)
    assert paper[175, 65] and paper[100, 150]
    assert not paper[5, 5] and not paper[395, 295]


# --- blank pages ----------------------------------------------------------------------------------------------------


def test_blank_back_with_bleed_through_and_specks_is_blank():
    p = page("blank", 13, 200, bleed=0.1, specks=80, border=True)
    r = prepare_page(p.image, 200, PROFILE, "p0008.tif[0]")
    assert r.blank and r.ocr is None


def test_blank_sheet_with_binding_holes_is_blank():
    p = page("blank", 25, 200, holes=True, border=True, specks=30)
    r = prepare_page(p.image, 200, PROFILE, "p0019.tif[0]")
    assert r.blank


@pytest.mark.parametrize("kind", ["signature", "stamp", "page-number"])
def test_sparse_page_is_not_blank(kind):
    p = page(kind, 14, 200, bleed=0.08, specks=40)
    r = prepare_page(p.image, 200, PROFILE, "p0009.tif[0]")
    assert not r.blank and r.ocr is not None


def test_a_sparse_page_declared_at_a_resolution_that_shrinks_its_marks_away_is_not_blank():
    p = page("page-number", 14, 300, specks=40)
    r = prepare_page(p.image, 1200, PROFILE, "p0009.tif[0]", use_ocr=False)  # within the profile's range
    assert not r.blank and r.ocr is not None
    assert any(f.startswith("not-blank: marks at the scanned size") for f in r.flags)


@pytest.mark.slow  # 31 s at load 20
def test_a_blank_back_scanned_at_600_dpi_is_still_blank():
    p = page("blank", 13, 600, bleed=0.1, specks=80, border=True)
    r = prepare_page(p.image, 600, PROFILE, "p0008.tif[0]", use_ocr=False)
    assert r.blank and r.ocr is None


@pytest.mark.parametrize("declared", [1201, 65535, 4294967295, float("nan"), float("inf"), 0, -300])
def test_a_declared_resolution_outside_the_profiles_range_is_taken_as_absent(declared):
    p = page("record", 24, 300)
    r = prepare_page(p.image, declared, PROFILE, "p0030.tif", use_ocr=False)
    assert r.dpi == 300 and r.dpi_inferred and not r.blank
    assert r.archive.size[0] > 2000
    assert any(f.startswith("dpi-declared-ignored") for f in r.flags)


def test_isolated_specks_are_not_marks():
    marks = np.zeros((800, 600), dtype=bool)
    marks[100:102, 100:102] = marks[500:503, 300:303] = True
    assert is_blank(marks, 100.0)
    marks[600:640, 200:205] = True  # a 10 mm stroke
    assert not is_blank(marks, 100.0)


# --- colour -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind,kw,mode,reason,seal", [
    ("judgment", {"page_in_doc": 1}, "colour", "red seal", True),
    ("indictment", {"page_in_doc": 0}, "colour", "red-headed title", False),
    ("photo", {}, "colour", "colour photo", False),
    ("record", {}, "colour", "coloured ink", False),
    ("grey-photo", {}, "grey", "grey photo", False),
    ("judgment", {"page_in_doc": 0}, "bitonal", "black text", False),
])
def test_archive_mode_follows_the_content(kind, kw, mode, reason, seal):
    p = page(kind, 15, 200, **kw)
    r = prepare_page(p.image, 200, PROFILE, "p0010.tif[0]", use_ocr=False)
    assert (r.colour, r.colour_reason, r.seal) == (mode, reason, seal)
    assert r.archive.mode == {"colour": "RGB", "grey": "L", "bitonal": "1"}[mode]


def test_colour_decision_sees_the_seal_on_a_reduced_copy():
    p = page("stamp", 16, 200)
    small = reduce(to_array(p.image), 2)
    grey = luminance(small)
    d = colour_decision(small, np.ones(grey.shape, bool), 100.0, paper_tone(grey))
    assert d.seal and d.mode == "colour" and len(d.seal_boxes) == 1


def test_ocr_copy_fades_the_seal_but_keeps_the_text_under_it():
    p = page("judgment", 17, 200, page_in_doc=1)
    r = prepare_page(p.image, 200, PROFILE, "p0011.tif[0]", use_ocr=False)
    archive = np.asarray(r.archive)
    ocr = np.asarray(r.ocr)
    red = (archive[..., 0].astype(int) - archive[..., 1] > 80) & (archive[..., 0] > 150)
    assert red.sum() > 1000
    assert np.median(ocr[red]) > 180  # seal ink is light in the OCR copy
    black = archive.max(axis=2) < 80
    assert np.median(ocr[black]) < 80  # black text stays black


def test_a_bitonal_page_is_ocred_from_the_grey_its_bits_were_cut_from():
    p = page("judgment", 18, 200, bleed=0.1)
    r = prepare_page(p.image, 200, PROFILE, "p0012.tif[0]", use_ocr=False)
    assert r.archive.mode == "1" and r.ocr.mode == "L" and r.ocr.size == r.archive.size
    ocr = np.asarray(r.ocr)
    assert len(np.unique(ocr)) > 16  # grey levels, not bits
    bits = np.asarray(r.archive.convert("L")) < 128
    assert np.array_equal(bits, r.bits < 128)
    assert np.median(ocr[bits]) < 100 and np.median(ocr[~bits]) > 180  # the same ink and paper


def test_bitonal_archive_keeps_text_and_drops_bleed_through():
    p = page("judgment", 18, 200, bleed=0.1)
    r = prepare_page(p.image, 200, PROFILE, "p0012.tif[0]", use_ocr=False)
    assert r.archive.mode == "1"
    bits = np.asarray(r.archive.convert("L")) < 128
    grey = np.asarray(p.image.convert("L"))
    assert abs(int(bits.sum()) - int((grey < 128).sum())) <= 0.15 * (grey < 128).sum()


# --- inputs and resolution ------------------------------------------------------------------------------------------


def test_g4_tiff_page_is_prepared_as_bitonal_and_upright():
    p = page("judgment", 19, 200, skew=-3.0, rotation_cw=180)
    image = roundtrip(p.image, "g4", 200)
    assert image.mode == "1"
    r = prepare_page(image, 200, PROFILE, "p0013.tif[0]")
    assert r.colour == "bitonal" and r.archive.mode == "1"
    assert r.rotation == 180 and abs(r.skew - p.truth.skew) <= 0.1


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F"])
def test_every_pil_mode_decodes_to_8_bit(mode):
    base = Image.new("RGB", (40, 30), (240, 240, 240))
    base.paste((10, 10, 10), (5, 5, 20, 15))
    if mode in ("I;16", "I"):
        img = Image.fromarray(np.asarray(base.convert("L"), dtype=np.uint16) * 257)
        img = img if mode == "I;16" else img.convert("I")
    elif mode == "F":
        img = Image.fromarray(np.asarray(base.convert("L"), dtype=np.float32) / 255.0)
    else:
        img = base.convert(mode)
    arr = to_array(img)
    assert arr.dtype == np.uint8 and arr.shape[:2] == (30, 40)
    grey = arr if arr.ndim == 2 else arr.mean(axis=2)
    assert grey[10, 10] < 60 and grey[25, 35] > 200


@pytest.mark.parametrize("paper_mm,dpi,name", [
    ((210, 297), 300, "A4"), ((210, 297), 200, "A4"), ((297, 420), 300, "A3"), ((215.9, 279.4), 300, "Letter"),
    ((184, 260), 300, "16K"),
])
def test_resolution_is_inferred_from_paper_size(paper_mm, dpi, name):
    w, h = (round(v / 25.4 * dpi) for v in paper_mm)
    guess = infer_dpi(w, h)
    assert guess.dpi == dpi and guess.paper == name


def test_missing_resolution_is_inferred_and_flagged():
    p = page("judgment", 20, 200, skew=5.0, border=True)
    r = prepare_page(p.image, None, PROFILE, "p0014.jpg")
    assert r.dpi == 200 and r.dpi_inferred and "dpi-inferred" in r.flags


def test_page_below_minimum_resolution_is_refused_naming_it():
    p = page("judgment", 21, 150)
    with pytest.raises(PageError, match="p0015.tif\\[2\\]"):
        prepare_page(p.image, 150, PROFILE, "p0015.tif[2]")


def test_page_below_minimum_resolution_is_flagged_when_the_profile_says_so():
    profile = PROFILE.model_copy(update={"resolution": PROFILE.resolution.model_copy(update={"below_min": "flag"})})
    p = page("judgment", 21, 150)
    r = prepare_page(p.image, 150, profile, "p0016.tif[0]", use_ocr=False)
    assert "dpi-below-minimum" in r.flags and "dpi-below-ocr-minimum" in r.flags


def test_page_at_300_dpi_is_not_flagged_for_ocr_even_as_png_states_it():
    p = page("table", 22, 300)
    r = prepare_page(p.image, 299.9994, PROFILE, "p0017.png", use_ocr=False)  # PNG keeps pixels per metre
    assert not any(f.startswith("dpi-") for f in r.flags) and r.dpi == 300


def test_archive_above_the_maximum_is_downsampled():
    p = page("judgment", 23, 600, paper=(105.0, 148.0))
    r = prepare_page(p.image, 600, PROFILE, "p0018.tif[0]", use_ocr=False)
    assert r.dpi == 300
    assert abs(r.archive.width - p.image.width / 2) <= 0.01 * p.image.width and r.ocr.size == r.archive.size


def test_line_bands_find_the_lines_of_a_straight_page():
    p = page("record", 24, 200)
    grey = grey_of(p.image)
    bands = line_bands(ink_mask(grey, paper_tone(grey)), 200)
    assert len(bands) >= len(p.truth.lines) - 1


def test_plain_white_sheet_without_resolution_is_a_blank_a4_page():
    image = Image.new("L", (mm_to_px(210, 200), mm_to_px(297, 200)), 250)
    r = prepare_page(image, None, PROFILE, "p0020.png")
    assert r.blank and r.dpi == 200 and r.rotation == 0 and r.skew == 0


def test_image_too_small_to_be_a_page_is_refused_naming_it():
    with pytest.raises(PageError, match="p0021.png"):
        prepare_page(Image.new("RGB", (8, 8), "white"), 300, PROFILE, "p0021.png")


def test_seal_page_goes_bitonal_when_the_profile_does_not_keep_colour_for_seals():
    profile = PROFILE.model_copy(update={"imaging": PROFILE.imaging.model_copy(update={"keep_colour_for_seals": False})})
    p = page("judgment", 15, 200, page_in_doc=1)
    r = prepare_page(p.image, 200, profile, "p0023.tif[0]", use_ocr=False)
    assert r.seal and r.colour == "bitonal" and r.archive.mode == "1"


DROID = "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"


@pytest.mark.skipif(not __import__("os").path.exists(DROID), reason="Droid Sans Fallback not installed")
def test_stroke_evidence_holds_for_a_face_it_was_not_tuned_on():
    import random

    from PIL import ImageDraw, ImageFont

    from pipeline.imaging import stroke_score
    from samples.synthetic import CaseFacts, body_paragraphs, wrap

    rng = random.Random(5)
    fnt = ImageFont.truetype(DROID, 31)  # 15 pt at 150 dpi
    img = Image.new("L", (1240, 1754), 245)
    draw, y = ImageDraw.Draw(img), 200
    for para in body_paragraphs(CaseFacts.make(rng), rng, 4):
        for line in wrap(para, fnt, 1000, 62):
            draw.text((120, y), line, font=fnt, fill=20)
            y += 54
    ink = ink_mask(np.asarray(img), 245.0)
    up, lines = stroke_score(ink, 150)
    down, _ = stroke_score(ink[::-1, ::-1], 150)
    assert lines >= 8 and up >= 0.06 and down <= -0.06


# --- sparse last pages: a signature block, a date and a seal ----------------------------------------------------


@pytest.mark.parametrize("seed, skew, rotation_cw", [(1, -1.83, 0), (5, 0.61, 180), (7, -0.88, 270), (0, 1.72, 90)])
def test_a_sign_off_page_scanned_in_grey_is_turned_upright_and_straight_within_three_tenths(seed, skew, rotation_cw):
    p = synthetic_page("sign-off", seed, dpi=300, skew=skew, rotation_cw=rotation_cw)
    r = prepare_page(p.image.convert("L"), 300, PROFILE, f"sign-off-{seed}.tif[0]")
    assert "skew-unknown" not in r.flags and "orientation-unsure" not in r.flags
    assert r.rotation == p.truth.rotation and abs(r.skew - p.truth.skew) <= 0.3


@pytest.mark.parametrize("seed, skew, rotation_cw", [(9, -0.18, 180), (13, -1.2, 90)])
def test_a_sign_off_page_in_colour_is_turned_upright_by_the_side_with_more_characters_read_confidently(
        seed, skew, rotation_cw):
    p = synthetic_page("sign-off", seed, dpi=300, skew=skew, rotation_cw=rotation_cw)
    r = prepare_page(p.image, 300, PROFILE, f"sign-off-{seed}.jpg")
    assert "orientation-unsure" not in r.flags
    assert r.rotation == p.truth.rotation and abs(r.skew - p.truth.skew) <= 0.3


@pytest.mark.parametrize("seed", [4, 6])
def test_the_print_under_a_seal_scanned_in_grey_is_read_from_the_ocr_copy(seed):
    p = synthetic_page("sign-off", seed, dpi=300)
    r = prepare_page(p.image.convert("L"), 300, PROFILE, f"sign-off-{seed}.tif[0]", use_ocr=False)
    lines = ocr_image(r.ocr, 300, OcrSettings(engine="ppocr"), "sign-off").text.split("\n")
    truth = [ln.replace("　", "") for ln in p.truth.lines]
    assert len(lines) == 3 and lines[1] == truth[1]  # the date, under the seal
    assert levenshtein("".join(lines), "".join(truth)) <= 2  # where the ring crosses a stroke, a character may go


def _ring_and_middle(ink: np.ndarray, circle: tuple[float, float, float, float]) -> tuple[float, float]:
    """Share of ink along a seal's ring (centre x, centre y, inner and outer radius) and in a patch at its centre."""
    cx, cy, inner, outer = circle
    angles = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    mid = (inner + outer) / 2
    ring = ink[np.round(cy + mid * np.sin(angles)).astype(int), np.round(cx + mid * np.cos(angles)).astype(int)]
    return float(ring.mean()), float(ink[round(cy) - 8 : round(cy) + 9, round(cx) - 8 : round(cx) + 9].mean())


def test_a_seal_scanned_bitonal_loses_its_ring_and_star_in_the_ocr_copy_and_keeps_them_in_the_archive():
    from pipeline.imaging._red import ring_radii, seal_rings

    p = synthetic_page("sign-off", 4, dpi=300)
    r = prepare_page(roundtrip(p.image, "g4", 300), 300, PROFILE, "sign-off-4.tif[0]", use_ocr=False)
    archived = np.asarray(r.archive.convert("L")) < 128
    (cx, cy, radius), = seal_rings(archived, 300)
    circle = ring_radii(archived, cx, cy, radius)
    assert min(_ring_and_middle(archived, circle)) > 0.9  # the archived page is the scan, seal and all
    ocr = np.asarray(r.ocr) < 128
    ring, star = _ring_and_middle(ocr, circle)
    assert ring < 0.2 and star < 0.1  # where print crossed the ring, its strokes are carried over
    ys, xs = np.ogrid[: ocr.shape[0], : ocr.shape[1]]
    outside = (xs - circle[0]) ** 2 + (ys - circle[1]) ** 2 > (circle[3] + 30) ** 2
    assert (ocr[outside] == archived[outside]).mean() > 0.999  # the print around the seal is left as it was


def test_the_print_under_a_seal_scanned_bitonal_is_read_with_the_seals_ring_and_star_taken_out():
    lost = 0
    for seed in (4, 9, 11):
        p = synthetic_page("judgment", seed, dpi=300, page_in_doc=1)
        r = prepare_page(roundtrip(p.image, "g4", 300), 300, PROFILE, f"judgment-{seed}.tif[0]", use_ocr=False)
        text = ocr_image(r.ocr, 300, OcrSettings(engine="ppocr"), f"judgment-{seed}").text
        lost += levenshtein("".join(text.split()), "".join(ln.replace("　", "") for ln in p.truth.lines))
    # 37 characters were lost with the ring and star in (the date and 书记员 under the seal: 22 characters a page);
    # the seal's text along its arc still crosses the date: a bitonal scan has nothing to tell it from print by
    assert lost <= 24


@pytest.mark.parametrize("encoding, flagged", [("g4", "黑白扫描"), ("grey", "灰度扫描"), ("jpeg", None)])
def test_a_seal_scanned_without_colour_is_flagged_for_a_rescan_in_colour(encoding, flagged):
    p = page("sign-off", 4, 300)
    r = prepare_page(roundtrip(p.image, encoding, 300), 300, PROFILE, "sign-off-4", use_ocr=False)
    found = [f for f in r.flags if f.startswith("seal-not-in-colour")]
    assert found == ([f"seal-not-in-colour: {flagged}"] if flagged else [])


def test_the_side_with_more_characters_read_confidently_wins_over_a_few_read_with_a_higher_mean():
    p = page("judgment", 10, 200)
    grey = grey_of(p.image)
    ink = ink_mask(grey, paper_tone(grey))
    calls = []

    def reading(sample, dpi, label):
        """What an engine gave for a sign-off page: twelve characters upright at 88, two turned over at 97."""
        calls.append(sample.shape)
        turned_over = sample.shape[0] * 5 // 6  # the sample is the lines, a gap as tall, the lines turned over
        return [("审", 88.0, 10, 20)] * 12 + [("口", 97.0, turned_over, 20)] * 2

    side, up, down = ocr_up_or_down(grey, ink, 200, reading, "p0005.tif[0]")
    assert calls and side == 0 and (up, down) == (12, 2)
