"""Loading standard profiles."""

import pytest

from pipeline.errors import ProfileError
from pipeline.standard import load_profile


def test_a_profile_is_loaded_by_its_builtin_name():
    profile = load_profile("dat31-2017")
    # 1.1.0 added the 卷内目录 review, 1.2.0 the input limits, 1.3.0 PP-OCR as the engine, 1.4.0 PP-OCRv6's models,
    # 1.5.0 WORM publication, 1.5.1 a seal scanned without colour loses its ring and star in the OCR copy and is flagged
    assert profile.key == "DA/T 31-2017@1.5.1"
    assert profile.review == "flagged"


def test_the_default_profile_reads_pages_with_ppocr_and_its_calibrated_threshold():
    ocr = load_profile().ocr
    assert ocr.engine == "ppocr" and ocr.min_confidence is not None


def test_the_default_profile_names_the_pp_ocr_v6_model_files_and_their_digests():
    models = {m.file: m.sha256 for m in load_profile().ocr.models}
    assert set(models) == {"PP-OCRv6_det_small.onnx", "PP-OCRv6_rec_small.onnx"}
    assert all(len(digest) == 64 for digest in models.values())


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


def test_a_profile_error_names_the_fields_not_the_values_of_the_file(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text('id: "X"\nversion: "1"\naccess_key: SECRET-91ab\nvolumes:\n  max_pages: many\n', encoding="utf-8")
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert "access_key" in str(err.value) and "max_pages" in str(err.value) and "SECRET-91ab" not in str(err.value)
    assert "many" not in str(err.value)
