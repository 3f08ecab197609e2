"""What recognition gives: words with boxes and confidences in lines, and the page's text with correct spacing
(no space between Han characters, one between Latin words)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from pipeline.errors import PageError

_CJK_RANGES = (
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x2E80, 0x2FDF),  # CJK radicals, Kangxi radicals
    (0x3000, 0x303F),  # CJK symbols and punctuation (、。「」〔〕 ideographic space)
    (0x3040, 0x30FF),  # kana
    (0x3100, 0x31FF),  # bopomofo, CJK strokes, kana extensions
    (0x3200, 0x33FF),  # enclosed CJK, CJK compatibility
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFE10, 0xFE1F),  # vertical forms
    (0xFE30, 0xFE4F),  # CJK compatibility forms
    (0xFF00, 0xFFEF),  # full-width forms (，：；（）！？)
    (0x20000, 0x3FFFF),  # CJK extensions B.. (supplementary ideographic planes)
)


def is_cjk(ch: str) -> bool:
    """True for a Han character, CJK punctuation, full-width form, kana or hangul."""
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


def needs_space(left: str, right: str) -> bool:
    """Whether two adjacent words of a line are joined by a space: only when neither side of the join is CJK."""
    if not left or not right:
        return False
    return not (is_cjk(left[-1]) or is_cjk(right[0]))


def join_words(words: Iterable[str]) -> str:
    """Join the words of one line: no space at a CJK join, one space between Latin or digit words."""
    out: list[str] = []
    prev = ""
    for w in words:
        if out and needs_space(prev, w):
            out.append(" ")
        out.append(w)
        prev = w
    return "".join(out)


@dataclass(frozen=True)
class OcrChar:
    """One character of a word where the engine placed it: its x-range in pixels of the OCR image, confidence
    0-100. Characters of a word tile it: each ends where the next begins."""

    text: str
    x0: int
    x1: int
    conf: float


@dataclass(frozen=True)
class OcrWord:
    """One recognised word: its text and box in pixels of the OCR image (origin top-left), confidence 0-100, and its
    characters' positions when the engine gives them (PP-OCR does; Tesseract's word boxes are all there is)."""

    text: str
    x0: int
    y0: int
    x1: int
    y1: int
    conf: float
    chars: tuple[OcrChar, ...] = ()


@dataclass(frozen=True)
class OcrLine:
    """One text line in reading order: its words and its box in pixels."""

    words: tuple[OcrWord, ...]
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def height(self) -> int:
        """Line height in pixels (a proxy for type size)."""
        return self.y1 - self.y0

    @property
    def text(self) -> str:
        """The line's text with CJK-aware spacing (see :func:`join_words`)."""
        return join_words(w.text for w in self.words)


@dataclass(frozen=True)
class OcrResult:
    """An OCR engine's reading of one page image, with the image size and resolution it was run on, and the settings
    key (engine, version, models, settings) it was made with."""

    width: int
    height: int
    dpi: float
    lines: tuple[OcrLine, ...] = field(default_factory=tuple)
    settings: str = ""

    @property
    def words(self) -> list[OcrWord]:
        """All words in reading order."""
        return [w for line in self.lines for w in line.words]

    @property
    def text(self) -> str:
        """The page's text: lines joined by newlines, no space between Han characters, spaces between Latin words."""
        return "\n".join(line.text for line in self.lines)

    @property
    def mean_confidence(self) -> float | None:
        """Mean word confidence (0-100), None when nothing was recognised."""
        confs = [w.conf for w in self.words]
        return sum(confs) / len(confs) if confs else None

    def to_dict(self) -> dict:
        """A JSON-serialisable form (for the cache), at a tenth of ``dataclasses.asdict``'s cost; a word's characters
        are ``[text, x0, x1, conf]`` lists."""
        return {"width": self.width, "height": self.height, "dpi": self.dpi,
                "lines": [{"words": [_word_dict(w) for w in ln.words], "x0": ln.x0, "y0": ln.y0, "x1": ln.x1,
                           "y1": ln.y1} for ln in self.lines],
                "settings": self.settings}

    @classmethod
    def from_dict(cls, data: dict) -> OcrResult:
        """Rebuild from :meth:`to_dict` output."""
        lines = tuple(
            OcrLine(tuple(_word(w) for w in ln["words"]), ln["x0"], ln["y0"], ln["x1"], ln["y1"])
            for ln in data.get("lines", ())
        )
        return cls(data["width"], data["height"], data["dpi"], lines, data.get("settings", ""))


def _word_dict(w: OcrWord) -> dict:
    out = {"text": w.text, "x0": w.x0, "y0": w.y0, "x1": w.x1, "y1": w.y1, "conf": w.conf}
    if w.chars:
        out["chars"] = [[c.text, c.x0, c.x1, c.conf] for c in w.chars]
    return out


def _word(data: dict) -> OcrWord:
    chars = tuple(OcrChar(*c) for c in data.get("chars", ()))
    return OcrWord(data["text"], data["x0"], data["y0"], data["x1"], data["y1"], data["conf"], chars)


@dataclass(frozen=True)
class OcrFile:
    """A page image already in a file Tesseract reads well (a bitonal page's G4 TIFF), handed over as it is.

    Measured on 24 bitonal A4 pages: Tesseract spends ~65 ms a page less reading a 13 KB G4 TIFF than the same pixels
    as an 8.7 MB grey TIFF, whose thresholding it must also do, and nothing is written for it; the words are the same.
    """

    path: Path
    width: int
    height: int


def read_ocr_result(path: Path | None, label: str) -> OcrResult | None:
    """An OCR result saved with :meth:`OcrResult.to_dict`, or None when there is none (the page was not OCRed)."""
    if path is None:
        return None
    try:
        return OcrResult.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PageError(f"cannot read OCR result {path} of {label}: {exc}", label) from exc


OcrInput = Image.Image | OcrFile
"""What an engine reads for a page: pixels in memory, or a file already on disk (Tesseract reads it itself)."""
