"""Hostile and broken files in a batch: refused by name before they are opened or decoded, never blocking, and the
tricky pages a real scanner makes decoded right (the real capture code and page stage, on files made here)."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.capture import list_pages, read_page
from pipeline.errors import BadInputError
from pipeline.models import InputPolicy
from pipeline.pages import PageCache, PageEnvironment, process_pages
from pipeline.standard import load_profile
from samples import hostile, hostile_pages
from samples.synthetic import synthetic_page

CASE = "（2024）豫0727刑初7101号"
LIMITS = InputPolicy()


def batch(tmp_path: Path, build=hostile.good) -> Path:
    folder = tmp_path / "batch"
    folder.mkdir()
    build(folder, CASE)
    return folder


def listed_within(folder: Path, seconds: float = 20.0):
    """list_pages in a thread: its result or error, or AssertionError when it blocks (a pipe opened for reading
    blocks until a writer comes: the test then plays the writer so that the thread ends)."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(list_pages(folder, 2))
        except Exception as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        for entry in folder.parent.rglob("*"):
            if entry.is_fifo():
                os.close(os.open(entry, os.O_WRONLY | os.O_NONBLOCK))
        raise AssertionError(f"listing the batch blocked for {seconds:g} s")
    return outcome[0]


def refused(folder: Path, *names: str) -> BadInputError:
    got = listed_within(folder)
    assert isinstance(got, BadInputError), got
    for name in names:
        assert name in str(got), str(got)
    return got


def no_ocr():
    profile = load_profile()
    return profile.model_copy(update={"ocr": profile.ocr.model_copy(update={"enabled": False})})


def processed(folder: Path, tmp_path: Path):
    """Every page of a batch through the real page stage (no OCR): the artifacts."""
    env = PageEnvironment(folder, no_ocr(), PageCache(tmp_path / "cache"), tmp_path / "ocr")
    return [a for a, _ in process_pages(list(enumerate(list_pages(folder))), env)]


# --------------------------------------------------------------------------------------------------------------------
# what a file is


def test_a_named_pipe_called_002_jpg_is_refused_by_name_without_blocking(tmp_path):
    refused(batch(tmp_path, hostile.fifo("002.jpg")), "002.jpg", "named pipe")


def test_a_link_to_a_named_pipe_is_refused_without_blocking(tmp_path):
    refused(batch(tmp_path, hostile.link_to_fifo), "002.jpg", "symbolic link")


def test_a_page_that_is_a_link_to_a_file_outside_the_batch_is_refused(tmp_path):
    refused(batch(tmp_path, hostile.link_to_page_outside), "002.jpg", "symbolic link")


def test_a_page_with_a_second_name_outside_the_batch_is_refused(tmp_path):
    refused(batch(tmp_path, hostile.hard_link), "002.jpg", "hard link")


@pytest.mark.parametrize(("name", "data"), [("002.png", hostile.eps()), ("002.jpg", hostile.psd()),
                                            ("002.jpg", hostile.fits()), ("002.png", hostile.svg())],
                         ids=["eps", "psd", "fits", "svg"])
def test_other_formats_under_page_names_are_refused_by_their_first_bytes(tmp_path, name, data):
    refused(batch(tmp_path, hostile.with_file(name, data)), name, "not a TIFF, JPEG, PNG or PDF")


@pytest.mark.parametrize(("raw", "shown"), [(b"002\x1b[2J.jpg", "\\x1b"), ("002\u202egpj.jpg".encode(), "\\u202e"),
                                            (b"a\\002.jpg", "backslash"), (b"002\xff.jpg", "\\udcff")],
                         ids=["escape", "bidi-override", "backslash", "not-utf8"])
def test_page_names_with_control_or_bidi_characters_backslashes_or_undecodable_bytes_are_refused(tmp_path, raw,
                                                                                                   shown):
    refused(batch(tmp_path, hostile.named(raw)), shown)


# --------------------------------------------------------------------------------------------------------------------
# limits, checked before decoding


def test_every_frame_of_a_tiff_is_checked_against_the_pixel_limit(tmp_path):
    build = hostile.with_file("002.tif", hostile.tiff_frames([(2480, 3508), (13000, 13000)]))
    refused(batch(tmp_path, build), "002.tif[1]", f"{LIMITS.max_pixels:,}")


def test_a_tiff_with_more_frames_than_the_profile_allows_is_refused(tmp_path):
    frames = hostile.tiff_frames([(32, 32)] * (LIMITS.max_frames + 1))
    refused(batch(tmp_path, hostile.with_file("002.tif", frames)), "002.tif", f"at most {LIMITS.max_frames}")


def test_a_pdf_with_more_pages_than_the_profile_allows_is_refused(tmp_path):
    pdf = hostile.pdf_bytes(hostile.pdf_pages(LIMITS.max_frames + 1))()
    refused(batch(tmp_path, hostile.with_file("002.pdf", pdf)), "002.pdf", f"at most {LIMITS.max_frames}")


def test_an_oversized_image_inside_a_pdf_is_refused_naming_the_file_and_the_limit(tmp_path):
    got = refused(batch(tmp_path, hostile.with_file("002.pdf", hostile.pdf_big_image())), "002.pdf",
                  f"{LIMITS.max_pixels:,}", "13000x13000")
    assert "FzError" not in str(got) and "code=" not in str(got)


@pytest.mark.parametrize("make", [hostile.pdf_javascript, hostile.pdf_launch, hostile.pdf_embedded],
                         ids=["javascript", "launch", "embedded-file"])
def test_a_pdf_carrying_active_content_is_refused(tmp_path, make):
    refused(batch(tmp_path, hostile.with_file("002.pdf", hostile.pdf_bytes(make)())), "002.pdf", "a PDF carrying")


# --------------------------------------------------------------------------------------------------------------------
# decoding bombs inside the limits: every decoder runs in a child with a CPU budget

TIGHT = InputPolicy(max_decode_cpu_seconds=2)


def with_page(name: str, data: bytes):
    def build(folder: Path, case_no: str) -> None:
        hostile.good(folder, case_no)
        (folder / name).write_bytes(data)
    return build


def test_a_pdf_page_of_16384_page_long_lines_is_refused_by_name_when_its_cpu_budget_is_spent(tmp_path):
    folder = batch(tmp_path, with_page("002.pdf", hostile_pages.pdf_line_bomb()))
    refs = list_pages(folder, limits=TIGHT)  # its structure is sound: only rendering it costs minutes
    with pytest.raises(BadInputError, match=r"002\.pdf：解码超过 2 CPU 秒.*decoding took more than 2 CPU-seconds"):
        read_page(folder, refs[1], TIGHT)
    assert read_page(folder, refs[0], TIGHT).image.size == (2480, 3508)  # the next page is read by a fresh child


def test_a_pdf_whose_forms_draw_a_billion_lines_is_refused_while_the_batch_is_listed(tmp_path):
    folder = batch(tmp_path, with_page("002.pdf", hostile_pages.pdf_forms_bomb()))
    with pytest.raises(BadInputError, match=r"002\.pdf：解码超过 2 CPU 秒"):
        list_pages(folder, limits=TIGHT)


def test_a_progressive_jpeg_repeating_one_scan_20000_times_is_refused_before_it_is_decoded(tmp_path):
    folder = batch(tmp_path, with_page("002.jpg", hostile_pages.jpeg_scan_bomb()))
    with pytest.raises(BadInputError, match=r"002\.jpg: JPEG 含超过 100 个扫描段.*more than 100 scans"):
        list_pages(folder, limits=TIGHT)


def test_a_progressive_jpeg_of_ordinary_scans_is_read(tmp_path):
    page = Image.open(hostile.SAMPLE / "009.jpg")
    folder = batch(tmp_path, with_page("002.jpg", hostile.image_bytes(page, "JPEG", progressive=True)))
    raw = read_page(folder, list_pages(folder, limits=TIGHT)[1], TIGHT)
    assert raw.image.size == page.size and raw.dpi is None


def test_a_jpeg_is_decoded_once_when_its_page_is_read_not_while_the_batch_is_listed(tmp_path):
    folder = batch(tmp_path, with_page("002.jpg", hostile_pages.jpeg_bad_component()))
    refs = list_pages(folder)  # markers walked, pixels not decoded
    with pytest.raises(BadInputError, match=r"002\.jpg: cannot be decoded"):
        read_page(folder, refs[1])


def test_a_decoding_child_killed_from_outside_is_replaced_and_the_page_read(tmp_path):
    from pipeline.capture._child import _POOL

    folder = batch(tmp_path)
    ref = list_pages(folder)[0]
    for child in list(_POOL.idle):
        os.kill(child.proc.pid, signal.SIGKILL)
    assert read_page(folder, ref).image.size == (2480, 3508)


# --------------------------------------------------------------------------------------------------------------------
# pages decoded right


def test_a_page_is_hashed_from_the_very_bytes_that_were_decoded(tmp_path):
    folder = batch(tmp_path)
    ref = list_pages(folder)[0]
    versions = {hashlib.sha256(data).hexdigest(): data for data in (
        (hostile.SAMPLE / hostile.GOOD_PAGE).read_bytes(), hostile.image_bytes(
            Image.open(hostile.SAMPLE / hostile.GOOD_PAGE).transpose(Image.Transpose.ROTATE_180), "JPEG"))}
    stop = threading.Event()

    def swap() -> None:  # the file is replaced again and again while its page is read
        while not stop.is_set():
            for data in versions.values():
                (tmp_path / "next.jpg").write_bytes(data)
                os.replace(tmp_path / "next.jpg", folder / hostile.GOOD_PAGE)

    swapper = threading.Thread(target=swap, daemon=True)
    swapper.start()
    try:
        pages = [read_page(folder, ref) for _ in range(6)]
    finally:
        stop.set()
        swapper.join()
    for page in pages:
        decoded = Image.open(io.BytesIO(versions[page.sha256]))
        assert np.array_equal(np.asarray(page.image), np.asarray(decoded))


def test_a_pdf_page_whose_image_is_devicen_is_decoded_as_the_page_and_kept(tmp_path):
    folder = batch(tmp_path, hostile.devicen_page)
    raw = read_page(folder, list_pages(folder)[0])
    assert np.asarray(raw.image.convert("L")).mean() > 180  # paper, not the dark field of its raw ink values
    [page] = processed(folder, tmp_path)
    assert not page.record.blank and page.image_path is not None


@pytest.mark.parametrize("tag", sorted(hostile_pages.RESOLUTION_TAGS))
def test_a_text_page_whose_resolution_tag_no_scanner_writes_is_kept_at_its_real_size(tmp_path, tag):
    folder = batch(tmp_path, lambda f, _: (f / "001.tif").write_bytes(hostile_pages.tiff_resolution(tag)))
    [page] = processed(folder, tmp_path)
    assert not page.record.blank and page.image_path is not None
    assert page.record.dpi == 300 and page.record.dpi_inferred
    assert (page.width, page.height) > (2400, 3400)


def test_a_dark_field_page_is_never_called_blank(tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    page = synthetic_page("judgment", 3, dpi=300).image.convert("L")
    inverted = Image.fromarray(255 - np.asarray(page))  # a page read with its ink inverted: white text on black
    inverted.save(folder / "001.png", dpi=(300, 300))
    [page] = processed(folder, tmp_path)
    assert not page.record.blank and page.image_path is not None
    assert any(f.startswith("not-blank") for f in page.record.flags)


def test_an_ordinary_page_carrying_a_separator_qr_code_stays_in_the_volume(tmp_path):
    [page] = processed(batch(tmp_path, hostile.qr_page), tmp_path)
    assert not page.record.separator and page.separator is None and page.image_path is not None
