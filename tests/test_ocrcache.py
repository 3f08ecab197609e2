"""The OCR cache: digests, round trips, misses, corrupt entries, concurrent writers, one OCR per page."""

from __future__ import annotations

import multiprocessing
import resource
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from pipeline.ocr import (
    OcrCache,
    OcrFile,
    OcrLine,
    OcrResult,
    OcrSettings,
    OcrWord,
    cached_ocr,
    cached_ocr_images,
    engine_for,
    image_digest,
)
from samples.synthetic import synthetic_page

DIGEST = "ab" + "0" * 62
KEY = "ocr1;tesseract 5.3.0;l=chi_sim;psm=3"


def result(tag: str = "人民法院", conf: float = 91.5) -> OcrResult:
    words = (OcrWord(tag, 10, 20, 110, 60, conf), OcrWord("2024", 120, 20, 200, 60, 88.0))
    return OcrResult(2480, 3508, 300.0, (OcrLine(words, 10, 20, 200, 60),), KEY)


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def test_image_digest_depends_on_pixels_mode_and_size():
    base = Image.new("L", (40, 30), 255)
    dot = base.copy()
    dot.putpixel((3, 4), 0)
    digests = {image_digest(base), image_digest(dot), image_digest(base.convert("1")),
               image_digest(Image.new("L", (30, 40), 255))}
    assert len(digests) == 4
    assert image_digest(base) == image_digest(Image.new("L", (40, 30), 255))


def test_a_file_handed_to_tesseract_is_digested_by_its_bytes(tmp_path):
    a, b = tmp_path / "a.tif", tmp_path / "b.tif"
    Image.new("1", (40, 30), 1).save(a, "TIFF", compression="group4")
    dot = Image.new("1", (40, 30), 1)
    dot.putpixel((3, 4), 0)
    dot.save(b, "TIFF", compression="group4")
    digest_a = image_digest(OcrFile(a, 40, 30))
    assert digest_a != image_digest(OcrFile(b, 40, 30))
    assert digest_a != image_digest(Image.open(a))
    assert digest_a == image_digest(OcrFile(a, 40, 30))


def test_stored_result_is_returned(tmp_path):
    cache = OcrCache(tmp_path)
    cache.put(DIGEST, KEY, result())
    assert cache.get(DIGEST, KEY) == result()


def test_other_settings_key_is_a_miss(tmp_path):
    cache = OcrCache(tmp_path)
    cache.put(DIGEST, KEY, result())
    assert cache.get(DIGEST, KEY + ";psm=6") is None
    assert cache.get("cd" + "0" * 62, KEY) is None


@pytest.mark.parametrize("garbage", [b"", b"{\"version\": 1, \"image_sha", b"\xff\xfe\x00", b"[1, 2]",
                                     b"{\"version\": 1}"])
def test_corrupt_entry_is_a_miss(tmp_path, garbage):
    cache = OcrCache(tmp_path)
    cache.put(DIGEST, KEY, result())
    cache.path(DIGEST, KEY).write_bytes(garbage)
    assert cache.get(DIGEST, KEY) is None


def test_entry_of_another_image_under_the_same_name_is_a_miss(tmp_path):
    cache = OcrCache(tmp_path)
    other = "ab" + "1" * 62
    cache.put(other, KEY, result())
    cache.path(other, KEY).replace(cache.path(DIGEST, KEY))
    assert cache.get(DIGEST, KEY) is None


def _writer(folder: str, n: int, rounds: int) -> None:
    cache = OcrCache(Path(folder))
    for i in range(rounds):
        cache.put(DIGEST, KEY, result(f"人民法院{n}", float(i)))
        cache.get(DIGEST, KEY)


def test_concurrent_writers_leave_one_whole_entry_and_no_temporary_files(tmp_path):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), n, 40)) for n in range(4)]
    threads = [threading.Thread(target=_writer, args=(str(tmp_path), 10 + n, 40)) for n in range(2)]
    for w in procs + threads:
        w.start()
    seen = set()
    cache = OcrCache(tmp_path)
    while any(p.is_alive() for p in procs):
        hit = cache.get(DIGEST, KEY)
        if hit is not None:
            seen.add(hit.words[0].text)
        time.sleep(0.001)
    for w in procs + threads:
        w.join()
    assert all(p.exitcode == 0 for p in procs)
    final = cache.get(DIGEST, KEY)
    assert final is not None and final.words[0].text.startswith("人民法院")
    assert all(t.startswith("人民法院") for t in seen)  # a reader never saw a torn entry
    assert [p.name for p in tmp_path.rglob("*") if p.is_file() and p.suffix not in (".json", ".lock")] == []


def _compute_once(folder: str, log: str) -> None:
    def compute() -> OcrResult:
        with open(log, "a") as f:
            f.write("x\n")
        time.sleep(0.2)
        return result()

    OcrCache(Path(folder)).get_or_compute(DIGEST, KEY, compute)


def test_concurrent_callers_compute_an_entry_once(tmp_path):
    log = tmp_path / "computed.log"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_compute_once, args=(str(tmp_path / "c"), str(log))) for _ in range(3)]
    threads = [threading.Thread(target=_compute_once, args=(str(tmp_path / "c"), str(log))) for _ in range(3)]
    for w in procs + threads:
        w.start()
    for w in procs + threads:
        w.join()
    assert log.read_text().count("x") == 1
    assert OcrCache(tmp_path / "c").get(DIGEST, KEY) == result()


def test_rerun_reads_the_cache_and_runs_no_tesseract(tmp_path):
    page = synthetic_page("record", seed=77, paper=(210.0, 100.0))
    settings, cache = engine_for(OcrSettings()), OcrCache(tmp_path)
    first = cached_ocr(page.image, page.dpi, settings, "record-1", cache)
    before = children_cpu()
    again = cached_ocr(page.image, page.dpi, settings, "record-1", OcrCache(tmp_path))
    assert children_cpu() == before
    assert again == first and first.words


def test_same_pixels_at_another_resolution_are_not_served_from_the_cache(tmp_path):
    img = Image.new("L", (600, 300), 255)
    cache = OcrCache(tmp_path)
    a = cached_ocr(img, 300, engine_for(OcrSettings()), "a", cache)
    b = cached_ocr(img, 200, engine_for(OcrSettings()), "b", cache)
    assert (a.dpi, b.dpi) == (300.0, 200.0)


def test_list_mode_through_the_cache_reuses_hits_and_stores_the_misses(tmp_path):
    pages = [synthetic_page(k, seed=s, paper=(210.0, 100.0)) for k, s in (("indictment", 21), ("record", 22))]
    a, b = ((p.image, p.dpi, f"p{i}") for i, p in enumerate(pages))
    cache, settings = OcrCache(tmp_path), engine_for(OcrSettings())
    first = cached_ocr(a[0], a[1], settings, a[2], cache)
    results = cached_ocr_images([a, b, b], settings, cache)
    assert results[0] == first and results[1] == results[2] and results[1].words
    assert len(list(tmp_path.rglob("*.json"))) == 2
    before = children_cpu()
    assert cached_ocr_images([b, a], settings, cache) == [results[1], first]
    assert children_cpu() == before
