"""OCR through both engines of the seam (Tesseract and PP-OCR): words, lines, confidence, spacing of the page text;
Tesseract's settings key, errors and list mode (PP-OCR's own are in test_ppocr.py)."""

from __future__ import annotations

import re
import shutil
import unicodedata

import pytest
from PIL import Image, ImageDraw, ImageFont

from pipeline.errors import PageError
from pipeline.ocr import (
    ENGINE_CLASSES,
    OcrFile,
    OcrLine,
    OcrResult,
    OcrSettings,
    OcrWord,
    engine_for,
    join_words,
    ocr_image,
    ocr_images,
)
from pipeline.standard import load_profile
from pipeline.structure import levenshtein
from samples.synthetic import synthetic_page

HAN_SPACE_HAN = re.compile(r"[\u4e00-\u9fff][ \t\u3000]+[\u4e00-\u9fff]")
SHORT_PAGE = (210.0, 150.0)  # mm: half an A4 page (five lines), to keep tests fast


def squash(text: str) -> str:
    """Text for scoring: NFKC (full-width punctuation folded) and no whitespace."""
    return "".join(unicodedata.normalize("NFKC", text).split())


MAX_CER = {"tesseract": 0.15, "ppocr": 0.04}


@pytest.fixture(scope="module")
def settings() -> OcrSettings:
    """Tesseract, as a profile naming it reads pages."""
    return OcrSettings.from_policy(load_profile().ocr, engine="tesseract")


@pytest.fixture(scope="module", params=["tesseract", "ppocr"])
def engine_settings(request) -> OcrSettings:
    """Each engine, as the default profile's OCR policy sets it up."""
    return OcrSettings.from_policy(load_profile().ocr, engine=request.param)


@pytest.fixture(scope="module")
def judgment():
    return synthetic_page("judgment", seed=4242, paper=SHORT_PAGE)


@pytest.fixture(scope="module")
def judgment_ocr(judgment, engine_settings) -> OcrResult:
    return ocr_image(judgment.image, judgment.dpi, engine_settings, "judgment-strip")


def latin_image(text: str) -> Image.Image:
    """A clean line of Latin text at 300 dpi."""
    fnt = ImageFont.truetype("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 60)
    img = Image.new("L", (int(fnt.getlength(text)) + 200, 220), 255)
    ImageDraw.Draw(img).text((100, 70), text, font=fnt, fill=0)
    return img


def test_settings_follow_the_profile_ocr_policy():
    policy = load_profile().ocr
    s = OcrSettings.from_policy(policy)
    assert (s.engine, s.languages, s.psm, s.timeout) == ("ppocr", policy.languages, policy.psm, policy.timeout_seconds)


def test_chinese_page_is_read_close_to_its_ground_truth(judgment, judgment_ocr, engine_settings):
    truth = squash("".join(judgment.truth.lines))
    assert levenshtein(squash(judgment_ocr.text), truth) / len(truth) < MAX_CER[engine_settings.engine]


def test_lines_come_in_reading_order_with_word_boxes_inside_the_image(judgment_ocr):
    r = judgment_ocr
    assert len(r.lines) >= 4
    tops = [line.y0 for line in r.lines]
    assert tops == sorted(tops)
    for line in r.lines:
        assert line.words
        for w in line.words:
            assert 0 <= w.x0 < w.x1 <= r.width and 0 <= w.y0 < w.y1 <= r.height
            assert line.x0 <= w.x0 and w.x1 <= line.x1 and line.y0 <= w.y0 and w.y1 <= line.y1
            assert 0 <= w.conf <= 100


def test_mean_confidence_is_the_mean_of_word_confidences(judgment_ocr):
    confs = [w.conf for w in judgment_ocr.words]
    assert judgment_ocr.mean_confidence == pytest.approx(sum(confs) / len(confs))


def test_page_text_has_no_space_between_han_characters(judgment_ocr):
    assert HAN_SPACE_HAN.search(judgment_ocr.text) is None
    assert judgment_ocr.text.count("\n") == len(judgment_ocr.lines) - 1


def test_tesseract_splits_chinese_lines_into_words_joined_without_spaces(settings, judgment):
    r = ocr_image(judgment.image, judgment.dpi, settings, "judgment-strip")
    assert sum(len(line.words) - 1 for line in r.lines) >= 10
    assert HAN_SPACE_HAN.search(r.text) is None


@pytest.mark.parametrize("engine", ["tesseract", "ppocr"])
def test_latin_words_are_joined_by_single_spaces(engine):
    words = "Case file 2024 seized phone".split()
    r = ocr_image(latin_image(" ".join(words)), 300, OcrSettings("eng", 7, engine=engine), "latin-line")
    assert r.text == " ".join(words)


def test_spaces_go_only_between_latin_or_digit_words():
    assert join_words(["No.", "2024", "年", "人民", "法院", "，", "ID", "4107"]) == "No. 2024年人民法院，ID 4107"


def test_blank_page_has_no_text_and_no_confidence(engine_settings):
    r = ocr_image(Image.new("L", (1200, 800), 255), 300, engine_settings, "blank")
    assert (r.lines, r.text, r.mean_confidence) == ((), "", None)


def test_result_round_trips_through_its_dict_form(judgment_ocr):
    assert OcrResult.from_dict(judgment_ocr.to_dict()) == judgment_ocr


def test_result_records_the_settings_key_it_was_made_with(judgment_ocr, engine_settings):
    assert judgment_ocr.settings == engine_for(engine_settings).key


def test_each_engine_name_has_one_class_implementing_the_whole_protocol():
    from pipeline.ocr import OcrEngine

    members = [n for n in dir(OcrEngine) if not n.startswith("_")] + ["name", "batches", "reads_bits"]
    for name, cls in ENGINE_CLASSES.items():
        engine = engine_for(OcrSettings(engine=name))
        assert isinstance(engine, cls) and engine.name == name
        assert all(hasattr(engine, m) for m in members), name
    assert engine_for(OcrSettings(engine="ppocr")) is engine_for(OcrSettings(engine="ppocr"))


def test_no_code_outside_the_engine_choice_asks_which_engine_it_has():
    import pathlib

    root = pathlib.Path(__file__).resolve().parent.parent
    asking = re.compile(r"""engine\s*[!=]=\s*["'](ppocr|tesseract)["']|["'](ppocr|tesseract)["']\s*[!=]=\s*\S*engine""")
    found = [f"{p.relative_to(root)}:{n}" for folder in ("pipeline", "flows") for p in (root / folder).rglob("*.py")
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if asking.search(line)]
    assert found == []


def test_tesseract_settings_key_changes_with_languages_and_psm(settings):
    keys = {engine_for(s).key for s in (settings, OcrSettings("chi_sim+eng", settings.psm),
                                        OcrSettings(settings.languages, 6))}
    assert len(keys) == 3


def test_tesseract_settings_key_changes_when_a_model_file_changes(tmp_path, settings):
    from pipeline.ocr._tesseract import model_files

    shutil.copy(model_files(settings)[0], tmp_path / "chi_sim.traineddata")
    local = engine_for(OcrSettings("chi_sim", 3, tessdata=str(tmp_path)))
    before = local.key
    with open(tmp_path / "chi_sim.traineddata", "ab") as f:
        f.write(b"\0")
    assert local.key != before


def test_tesseract_timeout_raises_a_page_error_naming_the_page(judgment):
    with pytest.raises(PageError, match="judgment p.7") as err:
        ocr_image(judgment.image, 300, OcrSettings(timeout=0.05), "judgment p.7")
    assert err.value.page == "judgment p.7"


def test_tesseract_failure_raises_a_page_error_naming_the_page():
    with pytest.raises(PageError, match="scan-0003") as err:
        ocr_image(Image.new("L", (300, 300), 255), 300, OcrSettings(languages="no_such_lang"), "scan-0003")
    assert err.value.page == "scan-0003"


def test_list_mode_gives_the_same_results_as_one_process_per_page(settings):
    pages = [synthetic_page(k, seed=s, paper=(210.0, 100.0)) for k, s in (("indictment", 11), ("record", 12))]
    pages.append(synthetic_page("blank", seed=13, paper=(210.0, 100.0)))
    items = [(p.image, p.dpi, f"p{i}") for i, p in enumerate(pages)]
    assert ocr_images(items, settings) == [ocr_image(img, dpi, settings, label) for img, dpi, label in items]


def test_a_g4_file_handed_over_as_it_is_reads_like_its_pixels_in_memory(judgment, settings, tmp_path):
    bits = judgment.image.convert("L").point(lambda v: 255 if v > 128 else 0)
    g4 = tmp_path / "page.tif"
    bits.convert("1").save(g4, "TIFF", compression="group4", dpi=(judgment.dpi, judgment.dpi))
    from_file = ocr_image(OcrFile(g4, bits.width, bits.height), judgment.dpi, settings, "g4-file")
    assert from_file == ocr_image(bits, judgment.dpi, settings, "in-memory")
    assert from_file.words


def test_list_mode_reads_files_in_place_and_leaves_them(judgment, settings, tmp_path):
    g4 = tmp_path / "page.tif"
    judgment.image.convert("1").save(g4, "TIFF", compression="group4", dpi=(judgment.dpi, judgment.dpi))
    items = [(judgment.image, judgment.dpi, "in-memory"), (OcrFile(g4, *judgment.image.size), judgment.dpi, "file")]
    results = ocr_images(items, settings)
    assert results == [ocr_image(img, dpi, settings, label) for img, dpi, label in items]
    assert g4.exists()


def test_list_mode_failure_names_the_page():
    items = [(Image.new("L", (400, 300), 255), 300, "first-page"), (Image.new("L", (400, 300), 255), 200, "other")]
    with pytest.raises(PageError, match="first-page"):
        ocr_images(items, OcrSettings(languages="no_such_lang"))


def test_words_outside_one_line_are_kept_in_their_own_lines():
    a, b = OcrWord("人民", 0, 0, 10, 10, 90.0), OcrWord("法院", 0, 20, 10, 30, 80.0)
    r = OcrResult(100, 100, 300.0, (OcrLine((a,), 0, 0, 10, 10), OcrLine((b,), 0, 20, 10, 30)))
    assert r.text == "人民\n法院" and r.mean_confidence == pytest.approx(85.0)
