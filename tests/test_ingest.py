"""Reading batch folders: page order, multi-page files, hashing, and bad input refused by name without change."""

import hashlib
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from pipeline.capture import list_pages, read_batch_manifest, read_page
from pipeline.capture._ingest import file_dpi
from pipeline.errors import BadInputError


def jpeg(path: Path, dpi=(300, 300), size=(240, 340), colour="white") -> None:
    Image.new("RGB", size, colour).save(path, "JPEG", dpi=dpi)


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_pages_are_listed_in_natural_scan_order(tmp_path):
    for name in ["p10.jpg", "p2.jpg", "p1.jpg"]:
        jpeg(tmp_path / name)
    assert [r.file for r in list_pages(tmp_path)] == ["p1.jpg", "p2.jpg", "p10.jpg"]


def test_page_names_with_circled_or_superscript_numbers_are_listed_in_number_order(tmp_path):
    for name in ["⑩.jpg", "②.jpg", "①1.jpg", "²1.jpg", "p¹⁰.jpg", "p².jpg"]:
        jpeg(tmp_path / name)
    assert [r.file for r in list_pages(tmp_path)] == ["②.jpg", "⑩.jpg", "①1.jpg", "²1.jpg", "p².jpg", "p¹⁰.jpg"]


def test_names_that_differ_only_in_leading_zeros_or_case_keep_one_order(tmp_path):
    for name in ["1.jpg", "01.jpg", "B.jpg", "b.jpg"]:
        jpeg(tmp_path / name)
    assert [r.file for r in list_pages(tmp_path)] == ["01.jpg", "1.jpg", "B.jpg", "b.jpg"]


def test_a_multi_page_tiff_yields_one_ref_per_page(tmp_path):
    frames = [Image.new("1", (200, 280), 1) for _ in range(3)]
    frames[0].save(tmp_path / "s.tif", compression="group4", save_all=True, append_images=frames[1:])
    refs = list_pages(tmp_path)
    assert [(r.file, r.index, r.label) for r in refs] == [("s.tif", i, f"s.tif[{i}]") for i in range(3)]


def test_a_single_page_file_is_hashed_by_its_bytes(tmp_path):
    jpeg(tmp_path / "a.jpg")
    page = read_page(tmp_path, list_pages(tmp_path)[0])
    assert page.sha256 == hashlib.sha256((tmp_path / "a.jpg").read_bytes()).hexdigest()
    assert page.dpi == 300


def test_a_non_image_file_stops_the_batch_naming_the_file_and_changes_nothing(tmp_path):
    jpeg(tmp_path / "a.jpg")
    (tmp_path / "notes.txt").write_text("hello")
    before = snapshot(tmp_path)
    with pytest.raises(BadInputError, match="notes.txt") as err:
        list_pages(tmp_path)
    assert err.value.file == "notes.txt"
    assert snapshot(tmp_path) == before


def test_a_truncated_jpeg_stops_the_batch_naming_the_file_and_changes_nothing(tmp_path):
    jpeg(tmp_path / "a.jpg", size=(800, 1100), colour="grey")
    data = (tmp_path / "a.jpg").read_bytes()
    (tmp_path / "b.jpg").write_bytes(data[: len(data) // 2])
    before = snapshot(tmp_path)
    with pytest.raises(BadInputError, match="b.jpg"):
        list_pages(tmp_path)
    assert snapshot(tmp_path) == before


def test_a_file_with_an_image_suffix_but_other_content_is_refused(tmp_path):
    (tmp_path / "x.tif").write_bytes(b"this is not a tiff")
    with pytest.raises(BadInputError, match="x.tif"):
        list_pages(tmp_path)


def test_scanner_litter_is_ignored(tmp_path):
    jpeg(tmp_path / "a.jpg")
    (tmp_path / "Thumbs.db").write_bytes(b"\0\1")
    (tmp_path / ".DS_Store").write_bytes(b"\0\1")
    (tmp_path / "READY").write_text("")
    assert [r.file for r in list_pages(tmp_path)] == ["a.jpg"]


def test_an_empty_batch_is_refused(tmp_path):
    with pytest.raises(BadInputError, match="no page images"):
        list_pages(tmp_path)


def test_an_implausible_72_dpi_default_counts_as_no_resolution():
    img = Image.new("L", (2480, 3508))
    img.info["dpi"] = (72, 72)
    assert file_dpi(img) is None
    img.info["dpi"] = (300, 300)
    assert file_dpi(img) == 300


def test_an_invalid_batch_manifest_is_refused_by_name(tmp_path):
    (tmp_path / "batch.json").write_text(json.dumps({"case_no": "x", "colour": "red"}), encoding="utf-8")
    with pytest.raises(BadInputError, match="batch.json"):
        read_batch_manifest(tmp_path)


@pytest.mark.parametrize("depth", [40, 100_000])
def test_a_batch_manifest_nested_too_deep_is_refused_by_name(tmp_path, depth):
    (tmp_path / "batch.json").write_text('{"case_no": ' + "[" * depth + "]" * depth + "}", encoding="utf-8")
    with pytest.raises(BadInputError, match="batch.json.*nested deeper than 32 levels") as err:
        read_batch_manifest(tmp_path)
    assert err.value.file == "batch.json"


def test_an_image_only_pdf_page_yields_its_embedded_image(tmp_path):
    import pymupdf

    img = Image.new("L", (1240, 1754), 255)
    buf = io.BytesIO()
    img.save(buf, "JPEG")
    doc = pymupdf.open()
    page = doc.new_page(width=595.28, height=841.89)
    page.insert_image(page.rect, stream=buf.getvalue())
    doc.save(tmp_path / "scan.pdf")
    raw = read_page(tmp_path, list_pages(tmp_path)[0])
    assert raw.image.size == (1240, 1754)
    assert raw.dpi == pytest.approx(150, abs=1)
