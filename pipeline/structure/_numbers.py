"""文号 as documents print them, in canonical brackets: procuratorate, police and official style
新封检公诉刑诉〔2019〕172号, 沈公（沈）诉字〔2021〕0356号, 新府〔2020〕45号; court style （2019）豫0727刑初172号,
（2023）内0102刑初318号之一; forensic style （2021）沈公刑鉴字第058号."""

from __future__ import annotations

import re

from pipeline.structure._lexicon import PUNCT_EDGES, normalise

_OPENS = "〔[【(（{「『<《〈﹝［"
_CLOSES = "〕]】)）}」』>》〉﹞］"
_BRACKETS = str.maketrans({**{c: "(" for c in _OPENS}, **{c: ")" for c in _CLOSES}})

_COURT_NO = re.compile(r"\((\d{4})\)([\u4e00-\u9fff]{1,4}\d{0,4}[\u4e00-\u9fff]{1,7})(\d{1,6})号"
                       r"(之[一二三四五六七八九十]{1,2})?")
_AGENCY_NO = re.compile(r"([\u4e00-\u9fff][\u4e00-\u9fff()]{0,13})\((\d{4})\)(第?)(\d{1,6})号")

FIRST_YEAR, LAST_YEAR = 1949, 2100


def _canonical_parens(text: str) -> str:
    return text.replace("(", "（").replace(")", "）")


_STRAY = (re.compile(r"(?<=\(\d{4})[A-Za-z|]+(?=\d)"), ")")  # (2021j112号: the closing bracket read as a letter
_STRAY_NEXT = (re.compile(r"(?<=\d{4}\))[A-Za-z|]+|(?<=\d{4})[A-Za-z|]+(?=\))"), "")  # 〔2021〕j112号, 〔2021j〕


def find_doc_no(text: str) -> tuple[str, float] | None:
    """A 文号 in a text, in canonical brackets, and the share of the text it covers; None if there is none."""
    s = normalise(text).strip(PUNCT_EDGES).translate(_BRACKETS)
    for rx, repl in (_STRAY_NEXT, _STRAY):
        s = rx.sub(repl, s)
    s = re.sub(r"\({2,}", "(", re.sub(r"\){2,}", ")", s))  # 〔【2022】: one bracket read twice
    court = _COURT_NO.search(s)
    if court and FIRST_YEAR <= int(court.group(1)) <= LAST_YEAR:
        value = f"（{court.group(1)}）{court.group(2)}{court.group(3)}号{court.group(4) or ''}"
        return value, (court.end() - court.start()) / max(1, len(s))
    agency = _AGENCY_NO.search(s)
    if agency and FIRST_YEAR <= int(agency.group(2)) <= LAST_YEAR:
        prefix = _canonical_parens(agency.group(1)).lstrip("（）")
        if prefix.count("（") != prefix.count("）"):
            return None  # 七公新(刑取保字: a bracket lost, and nothing says where it was
        value = f"{prefix}〔{agency.group(2)}〕{agency.group(3)}{agency.group(4)}号"
        return value, (agency.end() - agency.start()) / max(1, len(s))
    return None
