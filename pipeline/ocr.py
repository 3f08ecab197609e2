"""Tesseract via pytesseract: words with boxes and confidence, lines, and the page's text with correct spacing."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class OcrWord:
    """One recognised word: its text and box in pixels of the OCR image (origin top-left), confidence 0-100."""

    text: str
    x0: int
    y0: int
    x1: int
    y1: int
    conf: float


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


@dataclass(frozen=True)
class OcrResult:
    """Tesseract's reading of one page image, with the image size and resolution it was run on."""

    width: int
    height: int
    dpi: float
    lines: tuple[OcrLine, ...] = field(default_factory=tuple)
    settings: str = ""

    @property
    def words(self) -> list[OcrWord]:
        """All words in reading order."""
        return [w for line in self.lines for w in line.words]

    def to_dict(self) -> dict:
        """A JSON-serialisable form (for the cache)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> OcrResult:
        """Rebuild from :meth:`to_dict` output."""
        lines = tuple(
            OcrLine(tuple(OcrWord(**w) for w in ln["words"]), ln["x0"], ln["y0"], ln["x1"], ln["y1"])
            for ln in data.get("lines", ())
        )
        return cls(data["width"], data["height"], data["dpi"], lines, data.get("settings", ""))
