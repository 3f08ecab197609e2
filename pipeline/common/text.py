"""Characters that show nothing: what names and numbers people compare by eye must not hold.

Two strings that render the same must not name two things. Unicode has characters that draw nothing but are letters
(the Hangul fillers U+3164, U+115F, U+1160, U+FFA0 are category Lo, so a check for controls and format characters lets
them through), format and bidirectional marks, variation selectors, tags and other default-ignorable code points that a
renderer skips. A case number or an agency name holding one renders exactly like another that does not.
"""

from __future__ import annotations

import unicodedata

_IGNORABLE = (  # Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt, Unicode 15.1), as ranges
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
    (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)
_BLANK_GLYPHS = {0x2800}  # BRAILLE PATTERN BLANK: a symbol (So) that draws nothing


def invisible(ch: str) -> bool:
    """True for a character that draws nothing where it stands: a control, format, private-use, unassigned or
    surrogate code point, a line or paragraph separator, a default-ignorable one (fillers, variation selectors,
    bidirectional marks) or a blank glyph. Ordinary spaces are not included: callers fold or refuse them."""
    code = ord(ch)
    if unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp") or code in _BLANK_GLYPHS:
        return True
    return any(low <= code <= high for low, high in _IGNORABLE)


def invisible_characters(text: str) -> list[str]:
    """Each distinct character of ``text`` that draws nothing, described as ``U+3164 HANGUL FILLER``, in order."""
    found: list[str] = []
    for ch in dict.fromkeys(text):
        if invisible(ch):
            found.append(f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed character')}")
    return found


def escaped(text: str) -> str:
    """``text`` as it may be shown beside its look-alikes: each character that draws nothing written as its escape
    (``\\u3164``), so that a message says what is hidden in a name instead of hiding it again."""
    return "".join(ch.encode("unicode_escape").decode("ascii") if invisible(ch) else ch for ch in text)
