"""Case numbers (案号) as identities: normalisation, validation and the reversible object-store key.

A case number reaches us typed by people and printed by courts and procuratorates in several equivalent forms:
（2019）豫0727刑初172号 and (2019)豫0727刑初172号 name the same case, as do 新封检公诉刑诉〔2019〕172号 and
新封检公诉刑诉[2019]172号. :func:`normalise_case_no` folds those forms to one canonical string and refuses anything
that is not a plausible case number, so nothing unvalidated ever reaches an object key, a URL or a file path.

:func:`case_key` encodes the canonical string as lowercase RFC 4648 base32 without padding: only ``a-z2-7``, which is
safe in S3 keys, URLs and file names on case-insensitive file systems, and decodes back with :func:`case_no_from_key`.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections.abc import Callable

from pipeline.common import escaped, invisible, invisible_characters
from pipeline.errors import CaseNumberError

MAX_INPUT_CHARS = 256
"""Longer raw input is refused before any normalisation work."""

MAX_CASE_NO_CHARS = 64
"""Longest canonical case number accepted (real ones are 15-30 characters)."""

MIN_CASE_NO_CHARS = 3

OPEN, CLOSE = "(", ")"
"""Canonical bracket pair: every bracket kind below folds to it."""

_BRACKETS = {
    # NFKC already maps full-width （）［］ and small/vertical parentheses to ASCII; the CJK brackets it keeps.
    "(": OPEN, ")": CLOSE,
    "[": OPEN, "]": CLOSE,
    "〔": OPEN, "〕": CLOSE,  # 六角括号, the official form for years in document numbers
    "【": OPEN, "】": CLOSE,
    "〖": OPEN, "〗": CLOSE,
    "｟": OPEN, "｠": CLOSE,
    "{": OPEN, "}": CLOSE,
}
_FOLD = str.maketrans(_BRACKETS)

_EXTRA_ALLOWED = frozenset("()-_.·")
"""Punctuation allowed besides letters and digits (after folding)."""

_KEY_RE = re.compile(r"[a-z2-7]+")


def _describe(ch: str) -> str:
    name = unicodedata.name(ch, "unnamed character")
    return f"U+{ord(ch):04X} {name}"


def normalise_case_no(s: str) -> str:
    """The canonical form of a case number: NFKC, all bracket kinds folded to ( ), whitespace removed; validated."""
    if not isinstance(s, str):
        raise CaseNumberError(f"case number must be text, got {type(s).__name__}")
    if len(s) > MAX_INPUT_CHARS:
        raise CaseNumberError(f"case number is too long ({len(s)} characters, at most {MAX_CASE_NO_CHARS} are "
                              "plausible)")
    hidden = invisible_characters(s)  # said as typed: NFKC turns U+3164 into U+1160
    if hidden:
        raise CaseNumberError(f"case number contains a control or invisible character ({hidden[0]}): '{escaped(s)}'")
    text = unicodedata.normalize("NFKC", s).translate(_FOLD)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Zs")  # spaces go; tabs and newlines are refused
    if not text:
        raise CaseNumberError("case number is empty")
    if len(text) > MAX_CASE_NO_CHARS:
        raise CaseNumberError(f"case number is too long ({len(text)} characters, at most {MAX_CASE_NO_CHARS}): "
                              f"{text[:40]}…")
    if len(text) < MIN_CASE_NO_CHARS:
        raise CaseNumberError(f"case number is too short: {text!r}")
    for ch in text:
        if ch in "/\\":
            raise CaseNumberError(f"case number contains a path separator {ch!r}: {s!r}")
        category = unicodedata.category(ch)
        if invisible(ch):  # controls, format marks, and letters that draw nothing (Hangul fillers)
            raise CaseNumberError(f"case number contains a control or invisible character ({_describe(ch)}): "
                                  f"'{escaped(s)}'")
        if category == "Nd" and not "0" <= ch <= "9":
            raise CaseNumberError(f"case number contains a digit other than 0-9 ({_describe(ch)}): '{escaped(s)}'")
        if not (category[0] == "L" or category in ("Nd", "Nl") or ch in _EXTRA_ALLOWED):
            raise CaseNumberError(f"case number contains a character not used in case numbers ({_describe(ch)}): {s!r}")
    if ".." in text or text.startswith("."):
        raise CaseNumberError(f"case number contains '..' or starts with '.': {s!r}")
    if not any("0" <= ch <= "9" for ch in text):
        raise CaseNumberError(f"case number has no digits (a year or serial number is expected): {s!r}")
    if text.count(OPEN) != text.count(CLOSE):
        raise CaseNumberError(f"case number has unbalanced brackets: {s!r}")
    return text



def same_case(case_no: str) -> Callable[[str], bool]:
    """A test of whether another spelling names the same case (one that is no case number never does)."""
    wanted = normalise_case_no(case_no)

    def same(other: str) -> bool:
        try:
            return normalise_case_no(other) == wanted
        except CaseNumberError:
            return False
    return same


def printed_case_no(canonical: str) -> str:
    """A canonical case number as courts print it: with full-width brackets, （2019）豫0727刑初172号."""
    return canonical.replace(OPEN, "（").replace(CLOSE, "）")


def case_key(s: str) -> str:
    """The URL-, S3- and file-name-safe key of a case number: lowercase unpadded base32 of its canonical UTF-8."""
    canonical = normalise_case_no(s)
    return base64.b32encode(canonical.encode("utf-8")).decode("ascii").rstrip("=").lower()


def case_no_from_key(key: str) -> str:
    """The canonical case number a key was made from; refuses anything :func:`case_key` would not produce."""
    if not isinstance(key, str) or not key or len(key) > 2 * MAX_INPUT_CHARS * 4 or not _KEY_RE.fullmatch(key):
        raise CaseNumberError(f"not a case key (expected lowercase base32 a-z2-7): {str(key)[:80]!r}")
    padded = key.upper() + "=" * (-len(key) % 8)
    try:
        raw = base64.b32decode(padded)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise CaseNumberError(f"not a case key: {key[:80]!r} ({exc})") from exc
    if normalise_case_no(text) != text or case_key(text) != key:
        raise CaseNumberError(f"case key {key[:80]!r} does not encode a canonical case number")
    return text
