"""The font files every generated page, stamp and thumbnail uses: Debian's fonts-wqy-zenhei (TrueType) for the text, and
fonts-hanazono (TrueType) for the CJK characters it lacks (Extension B and beyond: 𠮷, common in names)."""

from __future__ import annotations

from pathlib import Path

CJK_FONT_FILE = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
"""WenQuanYi Zen Hei: a TrueType CJK face, embeddable in PDF/A-1b (CFF/OpenType faces are not)."""

CJK_EXTENSION_FONT_FILES = (Path("/usr/share/fonts/truetype/hanazono/HanaMinA.ttf"),
                            Path("/usr/share/fonts/truetype/hanazono/HanaMinB.ttf"))
"""Hanazono Mincho A and B: TrueType faces for the CJK characters WenQuanYi Zen Hei lacks (B covers Extensions B to
F, the characters of names such as 𠮷), tried in this order."""


def cjk_font_file() -> Path:
    """The CJK font file; FileNotFoundError naming the Debian package when it is not installed."""
    if not CJK_FONT_FILE.exists():
        raise FileNotFoundError(f"CJK font {CJK_FONT_FILE} missing: install Debian fonts-wqy-zenhei")
    return CJK_FONT_FILE


def cjk_extension_font_files() -> tuple[Path, ...]:
    """The font files for CJK characters beyond WenQuanYi Zen Hei; FileNotFoundError naming the Debian package."""
    missing = [path for path in CJK_EXTENSION_FONT_FILES if not path.exists()]
    if missing:
        raise FileNotFoundError(f"CJK font {missing[0]} missing: install Debian fonts-hanazono")
    return CJK_EXTENSION_FONT_FILES
