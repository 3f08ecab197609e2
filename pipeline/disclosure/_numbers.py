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
DIGITS = "0123456789"
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
_LABEL_ONLY = "电话标签后的号码"  # the reason of a phone nothing but its label proves


def find_phones(text: str) -> list[Span]:
    """Mobile numbers (1[3-9] and nine digits, with or without +86 and dashes) and fixed numbers with an area code
    written apart (0371-12345678, (0371)12345678) and their extension (-806, 转806, 分机806); a bare 7-12 digit
    number only after a phone label."""
    out = [Span("phone", m.start(), m.end(), re.sub(r"[^0-9]", "", m.group()), True, "手机号码")
           for m in _MOBILE.finditer(text)]
    out += [Span("phone", m.start(), m.end(), re.sub(r"[^0-9]", "", m.group()), True, "固定电话")
            for m in _FIXED.finditer(text)]
    taken = [(s.start, s.end) for s in out]
    for m in _BARE_FIXED.finditer(text):
        if any(a < m.end() and m.start() < b for a, b in taken):
            continue
        if PHONE_LABEL.search(_before(text, m.start(), 8)):
            out.append(Span("phone", m.start(), m.end(), m.group(), True, _LABEL_ONLY))
    return out


_CARD = re.compile(r"(?<![0-9])[0-9]{12,19}(?![0-9Xx])")


def find_cards(text: str, taken: list[Span]) -> list[Span]:
    """Bank card numbers: 16-19 digits passing Luhn with a card issuer's prefix, or any 12-19 digit number after a
    card or account label (a failed Luhn check there is doubtful); an unlabelled number without an issuer's prefix
    (an item or serial number) is not one. Spans already taken (IDs) are skipped."""
    out: list[Span] = []
    for m in _CARD.finditer(text):
        if any(s.start < m.end() and m.start() < s.end for s in taken):
            continue
        value = m.group()
        labelled = bool(CARD_LABEL.search(_before(text, m.start())))
        long_enough = 16 <= len(value) <= 19
        if long_enough and luhn_ok(value) and (labelled or value.startswith(CARD_PREFIXES)):
            out.append(Span("bank_card", m.start(), m.end(), value, True, "Luhn 校验正确"))
        elif labelled:
            out.append(Span("bank_card", m.start(), m.end(), value, luhn_ok(value) and long_enough,
                            "卡号/账号标签后的号码" + ("" if luhn_ok(value) else "（Luhn 校验不符）")))
    return out


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
    one; then the numbers a scan's speck read as a point parts (410105 198309·029451, 预留手机：196.09816652),
    each in place of what was found of it in pieces."""
    found = _numbers_in(text)
    plain, where = _despecked(text)
    for s in _numbers_in(plain) if len(plain) < len(text) else []:
        start, end = where[s.start], where[s.end - 1] + 1
        if end - start == s.end - s.start:
            continue  # no point dropped inside: found in ``text`` already
        whole = Span(s.kind, start, end, s.value, _proven_through_speck(s, plain), s.reason + "（中间的点疑为污点）")
        pieces = [f for f in found if start <= f.start and f.end <= end]
        if not _overlaps(whole, [f for f in found if f not in pieces]):
            found = [f for f in found if f not in pieces] + [whole]
    return sorted(found, key=lambda s: s.start)


def _numbers_in(text: str) -> list[Span]:
    found: list[Span] = []
    for spans in (find_ids(text), find_phones(text)):
        found += [s for s in spans if not _overlaps(s, found)]
    found += [s for s in find_cards(text, found) if not _overlaps(s, found)]
    found += [s for s in find_plates(text) if not _overlaps(s, found)]
    return found


def _despecked(text: str) -> tuple[str, list[int]]:
    """``text`` without the points between two digits a scan's speck may have been read as, and where each of its
    characters was in ``text``. A point is kept where it is a number's own: a point or a colon before exactly two
    digits (an amount's cents, 35516.34; a time, 10:25), a comma before exactly three (thousands, 13,800,000)."""
    chars, where = [], []
    for i, c in enumerate(text):
        if c in SPECK and 0 < i < len(text) - 1 and text[i - 1] in DIGITS and text[i + 1] in DIGITS:
            after = text[i + 1 : i + 5]
            run = len(after) - len(after.lstrip(DIGITS))
            if not (run == 2 and c in ".:") and not (run == 3 and c == ","):
                continue
        chars.append(c)
        where.append(i)
    return "".join(chars), where


def _proven_through_speck(span: Span, plain: str) -> bool:
    """Whether a number found across a dropped point still proves itself: by its check digit (an ID, a card), its
    shape (a plate), or — a phone — by its digits after a phone label; a label alone is not enough."""
    if span.kind != "phone":
        return span.certain
    return span.reason != _LABEL_ONLY and bool(PHONE_LABEL.search(_before(plain, span.start, 8)))


def _overlaps(span: Span, others: list[Span]) -> bool:
    return any(o.start < span.end and span.start < o.end for o in others)
