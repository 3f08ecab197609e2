"""Processing pages: archival encodings, chunks in order, and the content-keyed page cache."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from pipeline.capture import list_pages
from pipeline.ocr import OcrCache, OcrFile, image_digest, profile_engine
from pipeline.pages import PageCache, PageEnvironment, chunked, encode_archive, process_pages
from pipeline.standard import load_profile
from pipeline.structure import has_title
from samples.synthetic import synthetic_page


def test_bitonal_pages_are_archived_as_single_strip_group4_tiff():
    data, suffix = encode_archive(Image.new("1", (800, 1100), 1), "bitonal", 300, 75)
    img = Image.open(io.BytesIO(data))
    assert suffix == ".tif" and img.info["compression"] == "group4"
    assert len(img.tag_v2[273]) == 1  # one strip: the G4 stream goes into the PDF as it is


@pytest.mark.parametrize(("colour", "mode"), [("grey", "L"), ("colour", "RGB")])
def test_grey_and_colour_pages_are_archived_as_jpeg_in_their_mode(colour, mode):
    data, suffix = encode_archive(Image.new("RGB", (400, 500), (200, 30, 30)), colour, 300, 75)
    img = Image.open(io.BytesIO(data))
    assert suffix == ".jpg" and img.format == "JPEG" and img.mode == mode and round(img.info["dpi"][0]) == 300


def test_chunks_cover_every_position_once_in_order():
    assert chunked(7, 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert chunked(0, 3) == []


def test_the_last_chunks_are_smaller_so_workers_finish_together():
    chunks = chunked(40, 8, workers=2)
    assert [p for c in chunks for p in c] == list(range(40))
    assert [len(c) for c in chunks] == [8, 8, 8] + [2] * 8


@pytest.fixture(scope="module")
def small_batch(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("batch")
    for i, kind in enumerate(["judgment", "blank", "record"]):
        page = synthetic_page(kind, 40 + i, dpi=200, specks=10, bleed=0.04 if kind == "blank" else 0.0)
        page.image.convert("L").save(folder / f"{i:03d}.jpg", "JPEG", quality=85, dpi=(200, 200))
    return folder


def environment(batch: Path, state: Path) -> PageEnvironment:
    return PageEnvironment(batch, load_profile(), PageCache(state / "pages"), state / "ocr", has_title=has_title)


def test_a_chunk_comes_back_in_batch_order_with_text_on_text_pages(small_batch, tmp_path):
    refs = list_pages(small_batch)
    results = process_pages(list(enumerate(refs)), environment(small_batch, tmp_path))
    assert [a.position for a, _ in results] == [0, 1, 2]
    assert [a.record.blank for a, _ in results] == [False, True, False]
    assert results[0][0].record.ocr_chars > 50 and results[2][0].record.ocr_chars > 50
    assert results[1][0].image_path is None and results[1][0].ocr_path is None
    assert not any(cached for _, cached in results)


def test_a_second_pass_takes_every_page_from_the_cache(small_batch, tmp_path):
    refs = list_pages(small_batch)
    env = environment(small_batch, tmp_path)
    first = process_pages(list(enumerate(refs)), env)
    second = process_pages(list(enumerate(refs)), env)
    assert all(cached for _, cached in second)
    assert [a.record for a, _ in first] == [a.record for a, _ in second]


def test_a_new_profile_version_does_not_reuse_page_results(small_batch, tmp_path):
    refs = list_pages(small_batch)[:1]
    env = environment(small_batch, tmp_path)
    process_pages([(0, refs[0])], env)
    newer = PageEnvironment(small_batch, env.profile.model_copy(update={"version": "9.9.9"}), env.cache,
                            env.ocr_cache_root, has_title=has_title)
    ((_, cached),) = process_pages([(0, refs[0])], newer)
    assert not cached


def test_each_archived_page_keeps_a_thumbnail_beside_its_image(small_batch, tmp_path):
    from pipeline.imaging._thumbnails import THUMB_BOX, thumbnail_path

    results = process_pages(list(enumerate(list_pages(small_batch))), environment(small_batch, tmp_path))
    for artifact, _ in results:
        if artifact.image_path is None:  # the blank page has no image, so no thumbnail
            continue
        with Image.open(thumbnail_path(artifact.image_path)) as thumb:
            assert thumb.format == "PNG" and thumb.width <= THUMB_BOX[0] and thumb.height <= THUMB_BOX[1]
            assert max(thumb.width / THUMB_BOX[0], thumb.height / THUMB_BOX[1]) > 0.9



def with_engine(env: PageEnvironment, engine: str) -> PageEnvironment:
    """The same environment under a profile that names another OCR engine (same id and version)."""
    profile = env.profile.model_copy(update={"ocr": env.profile.ocr.model_copy(update={"engine": engine})})
    return PageEnvironment(env.batch_dir, profile, env.cache, env.ocr_cache_root, has_title=has_title)


def test_with_tesseract_a_bitonal_page_is_ocred_from_its_archive_file(small_batch, tmp_path):
    env = with_engine(environment(small_batch, tmp_path), "tesseract")
    artifact, _ = process_pages([(0, list_pages(small_batch)[0])], env)[0]
    assert artifact.record.colour == "bitonal" and artifact.image_path.suffix == ".tif"
    digest = image_digest(OcrFile(artifact.image_path, artifact.width, artifact.height))
    key = f"{profile_engine(env.profile.ocr).key};dpi={artifact.dpi:g}"
    assert OcrCache(tmp_path / "ocr").get(digest, key).words


def test_with_ppocr_a_bitonal_page_is_ocred_from_the_grey_its_bits_were_cut_from(small_batch, tmp_path):
    from pipeline.capture import read_page
    from pipeline.imaging import prepare_page

    env = environment(small_batch, tmp_path)
    ref = list_pages(small_batch)[0]
    artifact, _ = process_pages([(0, ref)], env)[0]
    assert env.profile.ocr.engine == "ppocr" and artifact.record.colour == "bitonal"
    raw = read_page(small_batch, ref)
    grey = prepare_page(raw.image, raw.dpi or 200, env.profile, ref.label, reader=profile_engine(env.profile.ocr).read_glyphs).ocr
    key = f"{profile_engine(env.profile.ocr).key};dpi={artifact.dpi:g}"
    assert OcrCache(tmp_path / "ocr").get(image_digest(grey), key).words
    file_digest = image_digest(OcrFile(artifact.image_path, artifact.width, artifact.height))
    assert OcrCache(tmp_path / "ocr").get(file_digest, key) is None


def test_another_ocr_engine_does_not_reuse_page_results(small_batch, tmp_path):
    ref = list_pages(small_batch)[0]
    env = environment(small_batch, tmp_path)
    process_pages([(0, ref)], env)
    ((artifact, cached),) = process_pages([(0, ref)], with_engine(env, "tesseract"))
    assert not cached and "tesseract" in json.loads(artifact.ocr_path.read_text(encoding="utf-8"))["settings"]


def test_a_bitonal_page_with_a_seal_scanned_in_grey_keeps_its_grey_for_re_reading_lines(tmp_path):
    from PIL import ImageDraw

    folder = tmp_path / "batch"
    folder.mkdir()
    page = synthetic_page("judgment", 40, dpi=200).image.convert("L")
    page.save(folder / "000.jpg", "JPEG", quality=85, dpi=(200, 200))
    ImageDraw.Draw(page).ellipse((900, 1500, 1215, 1815), outline=110, width=8)  # a red seal 40 mm wide, in grey
    page.save(folder / "001.jpg", "JPEG", quality=85, dpi=(200, 200))
    env = environment(folder, tmp_path)
    refs = list(enumerate(list_pages(folder)))
    (plain, _), (sealed, _) = process_pages(refs, env)
    assert plain.record.colour == sealed.record.colour == "bitonal"
    assert plain.grey_path is None and sealed.grey_path is not None
    with Image.open(sealed.grey_path) as grey:
        assert grey.mode == "L" and grey.size == (sealed.width, sealed.height)
    (_, (again, cached)) = process_pages(refs, env)
    assert cached and again.grey_path == sealed.grey_path
