"""Loading standard profiles."""

import pytest

from pipeline.errors import ProfileError
from pipeline.standard import load_profile


def test_a_profile_is_loaded_by_its_builtin_name():
    profile = load_profile("dat31-2017")
    assert profile.key == "DA/T 31-2017@1.1.0"  # 1.1.0 added the 卷内目录 review
    assert profile.review == "flagged"


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
