"""Case numbers: equivalent spellings reach one key, keys round-trip, implausible input is refused."""

import re

import pytest

from pipeline.errors import CaseNumberError
from pipeline.storage import case_key, case_no_from_key, normalise_case_no
from pipeline.storage._casekey import MAX_CASE_NO_CHARS


@pytest.mark.parametrize("a, b", [
    ("（2019）豫0727刑初172号", "(2019)豫0727刑初172号"),
    ("新封检公诉刑诉〔2019〕172号", "新封检公诉刑诉[2019]172号"),
    ("新封检公诉刑诉〔2019〕172号", "新封检公诉刑诉［2019］172号"),
    ("新封检公诉刑诉【2019】172号", "新封检公诉刑诉〔2019〕172号"),
    ("（２０１９）豫０７２７刑初１７２号", "(2019)豫0727刑初172号"),
    (" （2019） 豫0727 刑初172号\u3000", "(2019)豫0727刑初172号"),
])
def test_equivalent_spellings_of_a_case_number_reach_the_same_key(a, b):
    assert normalise_case_no(a) == normalise_case_no(b)
    assert case_key(a) == case_key(b)


def test_different_case_numbers_get_different_keys():
    assert case_key("（2019）豫0727刑初172号") != case_key("（2019）豫0727刑初173号")


def test_normalised_form_uses_ascii_brackets_and_keeps_the_chinese_text():
    assert normalise_case_no("新封检公诉刑诉〔2019〕172号") == "新封检公诉刑诉(2019)172号"


def test_normalisation_is_idempotent():
    once = normalise_case_no("（２０１９）豫0727刑初172号")
    assert normalise_case_no(once) == once


@pytest.mark.parametrize("case_no", ["（2019）豫0727刑初172号", "新封检公诉刑诉〔2019〕172号", "(2020)京01民终1-2号"])
def test_key_is_lowercase_base32_and_round_trips_to_the_normalised_number(case_no):
    key = case_key(case_no)
    assert re.fullmatch(r"[a-z2-7]+", key)
    assert case_no_from_key(key) == normalise_case_no(case_no)


@pytest.mark.parametrize("bad, reason", [
    ("", "empty"),
    ("   ", "empty"),
    ("刑初号", "no digits"),
    ("../../etc/passwd1", "path separator"),
    ("2019\\172号", "path separator"),
    ("(2019)..172号", "'..'"),
    ("(2019)刑初\n172号", "control"),
    ("(2019)刑初\x00172号", "control"),
    ("(2019)刑初\u200b172号", "invisible"),
    ("(2019)刑初\u202e172号", "invisible"),
    ("(2019)刑初172号\u3164", "U+3164 HANGUL FILLER"),
    ("(2019)刑初\u115f172号", "U+115F HANGUL CHOSEONG FILLER"),
    ("(2019)刑初172\uffa0号", "U+FFA0 HALFWIDTH HANGUL FILLER"),
    ("(2019)刑初172号\ufe0f", "VARIATION SELECTOR"),
    ("(2019)刑初172号\u2800", "BRAILLE PATTERN BLANK"),
    ("(२०१९)刑初172号", "digit other than 0-9"),
    ("(2019)刑初١٧٢号", "digit other than 0-9"),
    ("(2019)刑初172号;rm", "not used in case numbers"),
    ("(2019)刑初%2F172号", "not used in case numbers"),
    ("(2019刑初172号", "unbalanced"),
    ("1" * (MAX_CASE_NO_CHARS + 1), "too long"),
    ("号" * 10_000 + "1", "too long"),
])
def test_implausible_case_numbers_are_refused_with_a_reason(bad, reason):
    with pytest.raises(CaseNumberError, match=re.escape(reason)):
        case_key(bad)


def test_non_text_is_refused():
    with pytest.raises(CaseNumberError):
        normalise_case_no(2019)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad_key", ["", "ABC", "a/b", "fazd=", "a" * 3000, "aa"])
def test_strings_that_are_not_keys_are_refused(bad_key):
    with pytest.raises(CaseNumberError):
        case_no_from_key(bad_key)


def test_a_key_of_a_non_canonical_number_is_refused():
    import base64
    raw = base64.b32encode("（2019）豫0727刑初172号".encode()).decode().rstrip("=").lower()
    with pytest.raises(CaseNumberError, match="canonical"):
        case_no_from_key(raw)
