"""PP-OCR behind the seam, for real (PP-OCRv6 small from rapidocr 3.10.0's wheel in onnxruntime): models from the
installed wheel with their SHA-256 in the cache key and the manifest entry, checked against the profile's, a clear
error when one is missing, per-character positions, one reader per concurrent worker, line reads without the
detector, nothing fetched from the network."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import unicodedata
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from pipeline.common import sha256_file
from pipeline.errors import ExitCode, exit_code_of
from pipeline.models import EngineModel, OcrPolicy
from pipeline.ocr import (
    DEFAULT_MIN_CONFIDENCE,
    PP_OCR_V6,
    EngineMissing,
    OcrSettings,
    check_engine,
    confidence_threshold,
    engine_entry,
    engine_for,
    ocr_image,
    release_engine,
)
from pipeline.ocr import _ppocr_models as models
from pipeline.ocr._ppocr_engine import ReaderPool
from samples.synthetic import font, synthetic_page

PPOCR = OcrSettings(engine="ppocr")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def page():
    return synthetic_page("judgment", seed=4242, paper=(210.0, 150.0))


@pytest.fixture(scope="module")
def result(page):
    return ocr_image(page.image, page.dpi, PPOCR, "judgment-strip")


def printed_line(text: str, px: int = 67) -> Image.Image:
    """One clean line of text at 300 dpi in the generator's Song face."""
    fnt = font("song", px)
    img = Image.new("L", (int(fnt.getlength(text)) + 2 * px, 3 * px), 250)
    ImageDraw.Draw(img).text((px, px), text, font=fnt, fill=20)
    return img


def test_the_models_are_pp_ocr_v6_small_from_the_installed_rapidocr_3_10_wheel_with_their_sha256():
    found = models.ppocr_models()
    assert (found.distribution, found.version) == ("rapidocr", "3.10.0")
    assert {f.role: f.path.name for f in found.files} == {
        "det": "PP-OCRv6_det_small.onnx", "rec": "PP-OCRv6_rec_small.onnx", "cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx"}
    for f in found.files:
        assert f.path.parent.name == "models" and f.path.parent.parent.name == "rapidocr"
        assert f.sha256 == sha256_file(f.path) and f.bytes == f.path.stat().st_size


def test_the_pp_ocr_v4_package_is_not_what_the_product_reads_with():
    assert PP_OCR_V6.distribution == "rapidocr"
    assert not any("rapidocr_onnxruntime" in name for name in sys.modules if name.startswith("pipeline"))
    assert "rapidocr-onnxruntime" not in (ROOT / "requirements-ppocr.txt").read_text(encoding="utf-8")


def test_cv2_is_the_headless_build_alone():
    import importlib.metadata

    import cv2

    owners = {d.metadata["Name"].lower() for d in importlib.metadata.distributions()
              if any(str(f).startswith("cv2/") for f in (d.files or ()))}
    assert owners == {"opencv-python-headless"}, owners
    assert cv2.__file__.startswith(str(Path(importlib.metadata.distribution("opencv-python-headless").locate_file(""))))


def test_the_cache_key_names_the_version_and_the_models_digests():
    found = models.ppocr_models()
    key = engine_for(PPOCR).key
    assert f"rapidocr {found.version}" in key and f"onnxruntime {found.runtime}" in key
    for role in ("det", "rec"):
        assert f"{role}={sha256_file(found.path(role))[:16]}" in key
    assert engine_for(PPOCR).line_key != key
    assert engine_for(OcrSettings(engine="ppocr", det_side=736)).key != key


def test_the_manifest_entry_records_engine_version_and_model_digests():
    entry = engine_entry(OcrPolicy(engine="ppocr"))
    found = models.ppocr_models()
    assert entry.engine == "ppocr" and entry.version == f"rapidocr {found.version}"
    assert {(m.file, m.sha256) for m in entry.models} == {
        (found.path(r).name, sha256_file(found.path(r))) for r in ("det", "rec")}
    assert engine_entry(OcrPolicy(enabled=False)) is None


def test_the_profiles_model_digests_are_checked_against_the_installed_files():
    installed = {f.path.name: f.sha256 for f in models.ppocr_models().read_with}
    check_engine(OcrPolicy(engine="ppocr", models=[EngineModel(file=n, sha256=d) for n, d in installed.items()]))
    other = EngineModel(file="PP-OCRv6_rec_small.onnx", sha256="0" * 64)
    with pytest.raises(EngineMissing, match=r"PP-OCRv6_rec_small\.onnx.*0{64}.*requirements-ppocr\.txt") as err:
        check_engine(OcrPolicy(engine="ppocr", models=[other]))
    assert exit_code_of(err.value) == ExitCode.CONFIGURATION


def test_a_missing_model_file_stops_the_start_up_check_naming_it_and_the_install_command(tmp_path, monkeypatch):
    broken = tmp_path / "rapidocr"
    (broken / "models").mkdir(parents=True)
    installed = models.ppocr_models()
    for role in ("det", "cls"):  # the recogniser is missing
        (broken / "models" / installed.path(role).name).symlink_to(installed.path(role))
    monkeypatch.setattr(models, "_package_dir", lambda release: broken)
    with pytest.raises(EngineMissing, match=r"PP-OCRv6_rec_small\.onnx.*requirements-ppocr\.txt") as err:
        check_engine(OcrPolicy(engine="ppocr"))
    assert exit_code_of(err.value) == ExitCode.CONFIGURATION


def test_the_engine_reads_a_page_with_the_network_cut():
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare -n needs root (CI and this machine run as root)")
    script = ("from PIL import Image, ImageDraw; from samples.synthetic import font; "
              "from pipeline.ocr import OcrSettings, ocr_image; f = font('song', 67); "
              "img = Image.new('L', (900, 200), 250); ImageDraw.Draw(img).text((60, 60), '河南省封丘县人民法院', font=f, fill=20); "
              "print(ocr_image(img, 300, OcrSettings(engine='ppocr'), 'offline').text)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(["unshare", "-n", sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "河南省封丘县人民法院"


def test_the_low_confidence_threshold_is_the_profiles_or_else_the_engines_calibrated_one():
    assert confidence_threshold(OcrPolicy(engine="ppocr", min_confidence=75)) == 75
    assert confidence_threshold(OcrPolicy(engine="ppocr")) == DEFAULT_MIN_CONFIDENCE["ppocr"]
    assert confidence_threshold(OcrPolicy(engine="tesseract")) == DEFAULT_MIN_CONFIDENCE["tesseract"] == 60


def test_a_profile_without_ocr_needs_no_engine(monkeypatch):
    monkeypatch.setattr(models, "_package_dir", lambda release: Path("/nonexistent"))
    check_engine(OcrPolicy(engine="ppocr", enabled=False))


def test_every_word_carries_its_characters_tiling_the_word_box(result):
    words = result.words
    assert len(words) >= 5
    for w in words:
        assert "".join(c.text for c in w.chars) == w.text
        assert w.chars[0].x0 == w.x0 and w.chars[-1].x1 == w.x1
        assert all(a.x1 == b.x0 for a, b in zip(w.chars, w.chars[1:]))
        assert all(0 <= c.conf <= 100 for c in w.chars)


def test_line_boxes_hug_the_ink_rows_of_the_printed_lines(page, result):
    tops = sorted({g[2] for g in page.truth.glyphs})
    for line in result.lines:
        nearest = min(tops, key=lambda t: abs(t - line.y0))
        assert abs(nearest - line.y0) <= 6  # within a few pixels of the ink, not the detector's padded box


def test_a_line_image_is_read_without_the_detector():
    words = engine_for(PPOCR).read_line(printed_line("河南省封丘县人民法院"), 300, "title").words
    assert "".join(w.text for w in words) == "河南省封丘县人民法院"


def test_the_enumeration_comma_is_not_read_as_a_radical():
    text = engine_for(PPOCR).read_page(printed_line("被害人陈述、证人证言、被告人的供述"), 300, "line").text
    assert "丶" not in text and text.count("、") == 2


def test_traditional_forms_are_reported_as_the_simplified_characters_case_files_print_and_rare_name_characters_stay():
    from pipeline.ocr._ppocr import PpocrReader

    reader = PpocrReader(models.ppocr_models())
    index = {c: i for i, c in enumerate(reader.charset)}
    reported = {c: reader.charset[reader.simplified[index[c]]] for c in "盜說蕭黃喆堃翀洺昇乾著於盗"}
    assert reported == {"盜": "盗", "說": "说", "蕭": "萧", "黃": "黄", "喆": "喆", "堃": "堃", "翀": "翀", "洺": "洺",
                        "昇": "昇", "乾": "乾", "著": "著", "於": "於", "盗": "盗"}


def test_a_reader_is_made_once_per_concurrent_worker_and_reused():
    pool = ReaderPool()
    for _ in range(3):
        with pool.reader():
            pass
    assert pool.made == 1
    inside = threading.Barrier(2)

    def work():
        with pool.reader():
            inside.wait(timeout=30)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert pool.made == 2


def test_readers_warmed_beforehand_serve_the_workers_and_none_is_made_twice():
    pool = ReaderPool()
    warming = threading.Thread(target=pool.warm, args=(2,))
    warming.start()
    inside = threading.Barrier(2)

    def work():
        with pool.reader():  # may come before the warm-up has finished: waits for its readers
            inside.wait(timeout=60)

    workers = [threading.Thread(target=work) for _ in range(2)]
    for t in workers:
        t.start()
    for t in [warming, *workers]:
        t.join(timeout=120)
    assert pool.made == 2


def test_latin_and_digits_keep_their_spaces_and_case(page):
    text = ocr_image(printed_line("Case No. 2024 Xinxiang"), 300, PPOCR, "latin").text
    assert unicodedata.normalize("NFKC", text) == "Case No. 2024 Xinxiang"


def test_released_readers_free_their_memory_and_a_later_page_has_one_made_again():
    import gc

    import numpy as np
    import psutil

    from pipeline.common import return_free_memory

    pool, me = ReaderPool(), psutil.Process()
    page = np.asarray(printed_line("审判长陈玉书记员林磊").convert("L"))

    def read_and_release() -> tuple[int, int]:
        with pool.reader() as reader:
            assert reader.read_page(page)
        loaded = me.memory_info().rss
        del reader
        released = pool.release()
        gc.collect()
        return_free_memory()
        return loaded, released

    read_and_release()  # onnxruntime's libraries stay loaded: not the readers' memory
    before = me.memory_info().rss
    loaded, released = read_and_release()  # a new reader is made: the released one is gone
    assert released == 1 and pool.made == 0
    assert me.memory_info().rss - before < (loaded - before) / 4


def test_a_run_releasing_its_engines_drops_the_pp_ocr_readers_it_loaded():
    ocr_image(printed_line("审判长陈玉书记员林磊"), 300, PPOCR, "released")
    assert release_engine() >= 1
    assert release_engine() == 0


def test_the_cells_of_a_table_row_are_read_in_their_row_left_to_right():
    page = synthetic_page("table", seed=9)
    text = ocr_image(page.image, page.dpi, PPOCR, "table").text.replace("\n", "")
    rows = page.truth.lines[1:]  # 编号名称数量特征, 1手机1部黑色, 2现金3000元百元券, ...
    # the detector finds no box around the lone digit of the first row on this page: the later rows carry theirs
    assert [row for row in rows if row not in text] == [rows[1]] and rows[1][1:] in text


ENDING_WHILE_WARMING = """
import sys, threading

import onnxruntime

from pipeline.models import OcrPolicy
from pipeline.ocr import warm_engine

loading = threading.Event()
load = onnxruntime.InferenceSession.__init__


def announced(self, *args, **kwargs):
    loading.set()
    load(self, *args, **kwargs)


onnxruntime.InferenceSession.__init__ = announced
threading.Thread(target=warm_engine, args=(OcrPolicy(engine="ppocr"), 2), daemon=True).start()  # as `dossier process`
assert loading.wait(120), "no reader was being loaded"
sys.exit(3)  # e.g. the batch was refused while the readers load
"""


def test_a_process_ending_while_its_readers_are_warmed_ends_with_its_own_exit_code():
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", ENDING_WHILE_WARMING], cwd=root, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 3, done.stderr[-2000:]
