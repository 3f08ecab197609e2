"""The one CJK font file every generated page, stamp and thumbnail uses (Debian's fonts-wqy-zenhei, TrueType)."""

from __future__ import annotations

from pathlib import Path

CJK_FONT_FILE = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
"""WenQuanYi Zen Hei: a TrueType CJK face, embeddable in PDF/A-1b (CFF/OpenType faces are not)."""


def cjk_font_file() -> Path:
    """The CJK font file; FileNotFoundError naming the Debian package when it is not installed."""
    if not CJK_FONT_FILE.exists():
        raise FileNotFoundError(f"CJK font {CJK_FONT_FILE} missing: install Debian fonts-wqy-zenhei")
    return CJK_FONT_FILE
