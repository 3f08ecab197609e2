"""Loading standard profiles."""

import pytest

from pipeline.errors import ProfileError
from pipeline.standard import load_profile


def test_a_profile_is_loaded_by_its_builtin_name():
    assert load_profile("dat31-2017").key == "DA/T 31-2017@1.1.0"


def test_the_default_profile_reads_pages_with_ppocr_and_its_calibrated_threshold():
    ocr = load_profile().ocr
    assert ocr.engine == "ppocr" and ocr.min_confidence is not None


def test_a_profile_may_choose_tesseract(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text('id: "X"\nversion: "1"\nocr:\n  engine: tesseract\n', encoding="utf-8")
    assert load_profile(path).ocr.engine == "tesseract"


def test_an_unknown_ocr_engine_is_refused_with_the_file_named(tmp_path):
    path = tmp_path / "e.yaml"
    path.write_text('id: "X"\nversion: "1"\nocr:\n  engine: abbyy\n', encoding="utf-8")
    with pytest.raises(ProfileError, match="e.yaml"):
        load_profile(path)


def test_a_profile_from_a_file_overrides_defaults(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text('id: "X"\nversion: "2"\nvolumes:\n  max_pages: 50\n', encoding="utf-8")
    profile = load_profile(path)
    assert profile.volumes.max_pages == 50
    assert profile.key == "X@2"


def test_a_misspelt_field_is_refused_with_the_file_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text('id: "X"\nversion: "1"\nvolumes:\n  max_page: 50\n', encoding="utf-8")
    with pytest.raises(ProfileError, match="bad.yaml"):
        load_profile(path)


def test_an_unknown_profile_name_is_refused():
    with pytest.raises(ProfileError, match="not found"):
        load_profile("no-such-standard")
