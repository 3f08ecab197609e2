"""Dates as case files print them (二〇一九年四月十二日, 2019年4月12日, 2019-4-12), normalised to ISO 8601."""

from __future__ import annotations

import re
from datetime import date

from pipeline.structure._lexicon import normalise

_CN_DIGIT = {c: i for i, c in enumerate("〇一二三四五六七八九")}


_CN_DIGIT.update({"○": 0, "O": 0, "o": 0, "零": 0, "0": 0, "Ο": 0, "ο": 0, "О": 0, "о": 0, "◯": 0, "°": 0})


_CN_DIGIT.update({str(i): i for i in range(10)})


_YEAR_CH = "".join(sorted(_CN_DIGIT))


_NUM_CH = "一二三四五六七八九十〇○零0123456789元"


_DATE_CN = re.compile(rf"([{re.escape(_YEAR_CH)}]{{4}})年([{_NUM_CH}]{{1,3}})月([{_NUM_CH}]{{1,4}})日")


_DATE_SEP = re.compile(r"(?<!\d)(\d{4})[.\-/](\d{1,2})[.\-/](\d{1,2})(?!\d)")


def _small_number(text: str) -> int | None:
    """1..31 from Arabic digits or Chinese numerals (十二, 二十一, 三十, 元 for the first month)."""
    if text == "元":
        return 1
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        if len(tens) > 1 or len(ones) > 1:
            return None
        t = _CN_DIGIT.get(tens, None) if tens else 1
        o = _CN_DIGIT.get(ones, None) if ones else 0
        return None if t is None or o is None else t * 10 + o
    if len(text) == 1 and text in _CN_DIGIT:
        return _CN_DIGIT[text]
    if len(text) == 2 and all(c in _CN_DIGIT for c in text):  # 0 read for 〇 in e.g. 〇三? rare but harmless
        return _CN_DIGIT[text[0]] * 10 + _CN_DIGIT[text[1]]
    return None


def find_dates(text: str) -> list[tuple[str, int, int]]:
    """Every plausible date in a text as (ISO 8601, start, end) in the normalised text, in order."""
    s = normalise(text)
    found = []
    for m in _DATE_CN.finditer(s):
        year = "".join(str(_CN_DIGIT[c]) for c in m.group(1))
        month, day = _small_number(m.group(2)), _small_number(m.group(3))
        iso = _iso(int(year), month, day)
        if iso:
            found.append((iso, m.start(), m.end()))
    for m in _DATE_SEP.finditer(s):
        iso = _iso(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if iso and not any(a <= m.start() < b for _, a, b in found):
            found.append((iso, m.start(), m.end()))
    return sorted(found, key=lambda f: f[1])


def _iso(year: int, month: int | None, day: int | None) -> str | None:
    if month is None or day is None or not 1949 <= year <= 2100:
        return None
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def parse_date(text: str) -> str | None:
    """The first date in a text (二〇一九年四月十二日, 二O一九年…, 2019年4月12日, 2019-4-12) as ISO 8601, or None."""
    dates = find_dates(text)
    return dates[0][0] if dates else None
