"""Personal numbers in a page's text: 居民身份证号 (GB 11643-1999, checksum and birth date), mobile and fixed phone
numbers, bank card numbers (Luhn, ISO/IEC 7812) and licence plates (GA 36).

Each detector reads a normalised stream (``_text.Stream``) and returns spans with a verdict: **certain** (the number
proves itself — a valid checksum, a mobile prefix, a plate's shape) or **doubtful** (it looks like one but does not
prove it: an ID whose checksum fails, which is how a misread digit or a clerk's slip shows; a card number after 卡号
that fails Luhn). Doubtful spans are removed all the same and listed for the review before release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from pipeline.disclosure._text import SPECK

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
PROVINCE_CODES = frozenset({"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
                            "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
                            "65", "71", "81", "82", "83"})
PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
CARD_PREFIXES = ("62", "60", "4", "5", "3", "9")  # UnionPay, the domestic 9-cards, Visa, Mastercard, JCB/Amex

ID_LABEL = re.compile(r"(身份证|身份号码|证件号|公民身份|证号)[^\n]{0,6}$")
PHONE_LABEL = re.compile(r"(电话|手机|联系方式|联系|座机|传真|Tel|TEL|tel)[^\n]{0,4}$")
CARD_LABEL = re.compile(r"(卡号|银行卡|储蓄卡|信用卡|借记卡|账号|帐号|账户|帐户)[^\n]{0,6}$")


@dataclass(frozen=True)
class Span:
    """A match in a stream: ``text[start:end]``, its kind, and whether it proves itself."""

    kind: str
    start: int
    end: int
    value: str
    certain: bool
    reason: str = ""


def id_checksum_ok(number: str) -> bool:
    """True when an 18-character ID number's last character is its GB 11643 check character."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], ID_WEIGHTS))
    return ID_CHECK[total % 11] == number[17].upper()


def _birth_date_ok(text: str) -> bool:
    try:
        born = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return False
    return 1900 <= born.year <= date.today().year


def luhn_ok(number: str) -> bool:
    """True when a card number passes the Luhn check."""
    if not number.isdigit():
        return False
    total = 0
    for k, d in enumerate(reversed(number)):
        v = int(d) * (2 if k % 2 else 1)
        total += v - 9 if v > 9 else v
    return total % 10 == 0


def _before(text: str, start: int, width: int = 14) -> str:
    return text[max(0, start - width) : start]


_LONG_RUN = re.compile(r"(?<![0-9])[0-9]{15,19}[Xx]?(?![0-9Xx])")


def find_ids(text: str) -> list[Span]:
    """居民身份证号: 18 characters (17 digits and a check digit or X) or the first generation's 15 digits."""
    out: list[Span] = []
    for m in _LONG_RUN.finditer(text):
        value = m.group().upper()
        labelled = bool(ID_LABEL.search(_before(text, m.start())))
        if len(value) == 18:
            structure = value[:2] in PROVINCE_CODES and _birth_date_ok(value[6:14])
            if structure and id_checksum_ok(value):
                out.append(Span("id_number", m.start(), m.end(), value, True, "GB 11643 校验码正确"))
            elif structure or labelled:
                out.append(Span("id_number", m.start(), m.end(), value, False,
                                "校验码不符（误识或笔误）" if structure else "证件号标签后的号码结构不符"))
        elif len(value) == 15 and value.isdigit() and value[:2] in PROVINCE_CODES \
                and _birth_date_ok("19" + value[6:12]):
            out.append(Span("id_number", m.start(), m.end(), value, labelled, "一代身份证号（15位）"))
        elif labelled and len(value) in (17, 19):
            out.append(Span("id_number", m.start(), m.end(), value, False, "证件号标签后的号码位数不符"))
    return out


_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9][0-9](?:-?[0-9]){8}(?![0-9])")
# after 转 or 分机 every digit is the extension's: a recogniser that ran the next column into it (转6292871) loses a
# call's 时长 with it rather than leave the extension
_FIXED = re.compile(r"(?<![0-9])(?:\(0[0-9]{2,3}\) ?|0[0-9]{2,3}[-—])[0-9]{7,8}"
                    r"(?:-[0-9]{1,5}|(?:转|分机)[0-9]+)?(?![0-9])")
_BARE_FIXED = re.compile(r"(?<![0-9])(?:0[0-9]{2,3})?[0-9]{7,8}(?![0-9])")


def find_phones(text: str) -> list[Span]:
    """Mobile numbers (1[3-9] and nine digits, with or without +86 and dashes; also parted by a scan's speck read
    as a point) and fixed numbers with an area code written apart (0371-12345678, (0371)12345678) and their
    extension (-806, 转806, 分机806); a bare 7-12 digit number only after a phone label."""
    out = [Span("phone", m.start(), m.end(), re.sub(r"[^0-9]", "", m.group()), True, "手机号码")
           for m in _MOBILE.finditer(text)]
    out += _specked_mobiles(text)
    out += [Span("phone", m.start(), m.end(), re.sub(r"[^0-9]", "", m.group()), True, "固定电话")
            for m in _FIXED.finditer(text)]
    taken = [(s.start, s.end) for s in out]
    for m in _BARE_FIXED.finditer(text):
        if any(a < m.end() and m.start() < b for a, b in taken):
            continue
        if PHONE_LABEL.search(_before(text, m.start(), 8)):
            out.append(Span("phone", m.start(), m.end(), m.group(), True, "电话标签后的号码"))
    return out


_SPECKED = re.compile(rf"(?<![0-9{SPECK}])([0-9]+)[{SPECK}]([0-9]+)(?![0-9Xx{SPECK}])")


def _specked_mobiles(text: str) -> list[Span]:
    """Mobile numbers parted by a speck read as a point (预留手机：196.09816652): certain after a phone label,
    doubtful without one, and never an amount with its cents (138000000.00)."""
    out = []
    for m in _SPECKED.finditer(text):
        value = m.group(1) + m.group(2)
        if not _MOBILE.fullmatch(value):
            continue
        labelled = bool(PHONE_LABEL.search(_before(text, m.start(), 8)))
        if labelled or len(m.group(2)) != 2:
            out.append(Span("phone", m.start(), m.end(), value, labelled,
                            "手机号码（中间的点为污点）" if labelled else "疑似手机号码，中间有点（污点或小数点）"))
    return out


_CARD = re.compile(r"(?<![0-9])[0-9]{12,19}(?![0-9Xx])")


def find_cards(text: str, taken: list[Span]) -> list[Span]:
    """Bank card numbers: 16-19 digits passing Luhn with a card issuer's prefix, or any 12-19 digit number after a
    card or account label (a failed Luhn check there is doubtful); an unlabelled number without an issuer's prefix
    (an item or serial number) is not one. Spans already taken (IDs) are skipped."""
    out = [s for s in _specked_cards(text) if not _overlaps(s, taken)]
    for m in _CARD.finditer(text):
        if _overlaps(Span("", m.start(), m.end(), "", False), taken + out):
            continue
        labelled = bool(CARD_LABEL.search(_before(text, m.start())))
        span = _card(m.start(), m.end(), m.group(), labelled)
        if span is not None:
            out.append(span)
    return sorted(out, key=lambda s: s.start)


def _card(start: int, end: int, value: str, labelled: bool) -> Span | None:
    """A card number passing Luhn (after a label, or with an issuer's prefix), or any number after a label
    (doubtful); None for an unlabelled number that proves nothing."""
    long_enough = 16 <= len(value) <= 19
    if long_enough and luhn_ok(value) and (labelled or value.startswith(CARD_PREFIXES)):
        return Span("bank_card", start, end, value, True, "Luhn 校验正确")
    if labelled:
        return Span("bank_card", start, end, value, False,
                    "卡号/账号标签后的号码" + ("" if luhn_ok(value) else "（Luhn 校验不符）"))
    return None


def _specked_cards(text: str) -> list[Span]:
    """Card numbers after a card or account label parted by a scan's speck read as a point (账号：6206.6890 3714 …,
    卡号6228 0892 8905. | 8516 174 over a line end): an account number has no decimal point; an amount's cents
    (账户余额：1234567890.12) are not taken for a card's last group."""
    out = []
    for m in _SPECKED.finditer(text):
        value = m.group(1) + m.group(2)
        if 12 <= len(value) <= 19 and len(m.group(2)) != 2 and CARD_LABEL.search(_before(text, m.start())):
            out.append(_card(m.start(), m.end(), value, True))
    return [s for s in out if s is not None]


_PLATE = re.compile(
    rf"[{PLATE_PROVINCES}][A-HJ-NP-Z][·•・.\- ]?(?:[A-Z0-9]{{5,6}}|[A-Z0-9]{{4}}(?=[挂学警]))(?:挂|学|警)?"
    r"(?![A-Za-z0-9])")
_PLATE_MISREAD = str.maketrans("OI", "01")  # plates use neither letter: a recogniser's O is a 0, its I a 1


def find_plates(text: str) -> list[Span]:
    """Licence plates: a province's character, the issuing office's letter, five (six for new-energy vehicles)
    letters and digits — four and 挂, 学 or 警 for a trailer's, a driving school's or the police's —, at least two
    of them digits (an O or I read in them counts as 0 or 1)."""
    out = []
    for m in _PLATE.finditer(text):
        tail = re.sub(r"[^A-Z0-9]", "", m.group()[2:]).translate(_PLATE_MISREAD)
        if sum(c.isdigit() for c in tail) >= 2:
            out.append(Span("plate", m.start(), m.end(), m.group()[:2] + tail, True, "车牌号"))
    return out


def find_numbers(text: str) -> list[Span]:
    """Every personal number of a stream: IDs first, then phones, cards and plates, none overlapping an earlier
    one."""
    found: list[Span] = []
    for spans in (find_ids(text), find_phones(text)):
        found += [s for s in spans if not _overlaps(s, found)]
    found += [s for s in find_cards(text, found) if not _overlaps(s, found)]
    found += [s for s in find_plates(text) if not _overlaps(s, found)]
    return sorted(found, key=lambda s: s.start)


def _overlaps(span: Span, others: list[Span]) -> bool:
    return any(o.start < span.end and span.start < o.end for o in others)
