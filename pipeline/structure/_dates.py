"""Dates as case files print them, normalised to ISO 8601: 二〇二二年一月四日, 二零一九年十二月三十一日, 2022年1月4日,
2022-1-4; a date of year and month only (2022年1月) stays partial (2022-01).

:func:`find_dates` reads running text strictly. :func:`read_date_line` reads a line that should be a date and little
else (a 成文日期, a 时间 line) and also accepts what OCR makes of Chinese numerals under a seal (O, 0, 口, ○ for 〇;
— for 一; 曰 for 日), saying so, so that the caller can flag a date that needed such repairs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from pipeline.structure._lexicon import normalise

_CN_DIGIT = {c: i for i, c in enumerate("〇一二三四五六七八九")}
_CN_DIGIT.update({"○": 0, "零": 0, "◯": 0, "O": 0, "o": 0, "Ο": 0, "ο": 0, "О": 0, "о": 0})
_CN_DIGIT.update({str(i): i for i in range(10)})

_REPAIRS = str.maketrans({"口": "〇", "D": "〇", "Q": "〇", "C": "〇", "—": "一", "-": "一", "_": "一", "曰": "日",
                          "目": "日", "l": "1", "I": "1", "|": "1"})
"""What OCR reads for the characters of a date under a seal or a stamp's ring: repaired only in a date line."""

_YEAR = "".join(sorted(_CN_DIGIT))
_NUM = "一二三四五六七八九十〇○零0123456789元"
_DATE_CN = re.compile(rf"([{re.escape(_YEAR)}]{{4}})年([{_NUM}]{{1,3}})月([{_NUM}]{{1,4}})日")
_MONTH_CN = re.compile(rf"([{re.escape(_YEAR)}]{{4}})年([{_NUM}]{{1,3}})月(?![{_NUM}]{{1,4}}日)")
_DATE_SEP = re.compile(r"(?<!\d)(\d{4})[.\-/](\d{1,2})[.\-/](\d{1,2})(?!\d)")

FIRST_YEAR = 1949
LAST_YEAR = 2100


def _small_number(text: str) -> int | None:
    """1..31 from Arabic digits or Chinese numerals (十二, 二十一, 三十一, 元 for the first month)."""
    if text == "元":
        return 1
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        if len(tens) > 1 or len(ones) > 1:
            return None
        t = _CN_DIGIT.get(tens) if tens else 1
        o = _CN_DIGIT.get(ones) if ones else 0
        return None if t is None or o is None else t * 10 + o
    if len(text) == 1 and text in _CN_DIGIT:
        return _CN_DIGIT[text]
    return None


def _year(text: str) -> int:
    return int("".join(str(_CN_DIGIT[c]) for c in text))


def _iso(year: int, month: int | None, day: int | None) -> str | None:
    if month is None or day is None or not FIRST_YEAR <= year <= LAST_YEAR:
        return None
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def _iso_month(year: int, month: int | None) -> str | None:
    if month is None or not 1 <= month <= 12 or not FIRST_YEAR <= year <= LAST_YEAR:
        return None
    return f"{year:04d}-{month:02d}"


def find_dates(text: str, partial: bool = False) -> list[tuple[str, int, int]]:
    """Every plausible date in a text as (ISO 8601, start, end) in the normalised text, in order; with ``partial``,
    also dates of year and month only (as YYYY-MM)."""
    s = normalise(text)
    found = []
    for m in _DATE_CN.finditer(s):
        iso = _iso(_year(m.group(1)), _small_number(m.group(2)), _small_number(m.group(3)))
        if iso:
            found.append((iso, m.start(), m.end()))
    for m in _DATE_SEP.finditer(s):
        iso = _iso(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if iso and not any(a <= m.start() < b for _, a, b in found):
            found.append((iso, m.start(), m.end()))
    if partial:
        for m in _MONTH_CN.finditer(s):
            iso = _iso_month(_year(m.group(1)), _small_number(m.group(2)))
            if iso and not any(a <= m.start() < b for _, a, b in found):
                found.append((iso, m.start(), m.end()))
    return sorted(found, key=lambda f: f[1])


def parse_date(text: str) -> str | None:
    """The first date in a text (二〇一九年四月十二日, 二O一九年…, 2019年4月12日, 2019-4-12) as ISO 8601, or None."""
    dates = find_dates(text)
    return dates[0][0] if dates else None


@dataclass(frozen=True)
class DateRead:
    """A date read from a line: ISO 8601 (partial when the line has no day), whether characters had to be repaired,
    and the share of the line the date covers."""

    iso: str
    repaired: bool
    coverage: float


_ZEROS = "〇○零◯Oo0"
_FIVE_YEAR = re.compile(rf"([{re.escape(_YEAR)}]{{5}})年")


def _one_zero_less(text: str) -> str:
    """A year read with five numerals where a seal's ring doubled a 〇 (二OO二一年): one doubled zero dropped."""
    def fix(m: re.Match) -> str:
        year = m.group(1)
        for k in range(4):
            if year[k] in _ZEROS and year[k + 1] in _ZEROS:
                return year[:k] + year[k + 1:] + "年"
        return m.group(0)

    return _FIVE_YEAR.sub(fix, text)


_STROKE_TWICE = re.compile(r"一[-—_~]+|[-—_~]+一")


def read_date_line(text: str, partial: bool = True) -> DateRead | None:
    """The date a line holds (its last one), read strictly first, then with the OCR repairs of :data:`_REPAIRS`
    (and a doubled 〇 of a five-numeral year dropped), then with a 一 read twice, as itself and as a dash beside it
    (二〇二一-年, 十-一日: a seal's ring or the scan split the stroke), read once."""
    s = normalise(text)
    if not s:
        return None
    fixed = _one_zero_less(s.translate(_REPAIRS))
    once = _one_zero_less(_STROKE_TWICE.sub("一", s).translate(_REPAIRS))
    for repaired, candidate in ((False, s), (True, fixed), (True, once)):
        dates = find_dates(candidate, partial=partial)
        if dates:
            iso, start, end = dates[-1]
            return DateRead(iso, repaired and candidate != s, (end - start) / len(candidate))
    return None


def looks_like_date(text: str) -> bool:
    """Whether a line is shaped like a printed date even when unreadable: 年 and 月 (or 日) among few characters,
    mostly numerals or what OCR makes of them."""
    s = normalise(text)
    if not 5 <= len(s) <= 16 or "年" not in s:
        return False
    numerals = sum(c in _NUM or c in _CN_DIGIT or c in "口O" for c in s)
    return ("月" in s or s.endswith("日")) and numerals >= 0.4 * len(s)
