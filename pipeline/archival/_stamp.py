"""Lines of text as a one-page PDF in the embedded CJK font, its fonts fixed for PDF/A: the look of a visible
signature, and the line that marks a fetched copy for its recipient."""

from __future__ import annotations

import io
from pathlib import Path

from pipeline.common import CJK_FONT_FILE

RED = (0.6, 0.0, 0.0)


def stamp_page(path: Path, lines: list[str], width: float, height: float, level: str,
               colour: tuple[float, float, float] = RED, background: tuple[float, float, float] | None = None,
               size: float = 10.0, left: float = 6.0) -> None:
    """Write ``lines`` (at most ``size`` points, smaller when they would not fit) on a ``width`` × ``height`` page,
    over an opaque ``background`` when given (PDF/A-1 has no transparency), as a PDF/A-``level``-clean file."""
    import pikepdf
    import pymupdf

    from pipeline.archival._pdfa import save_kwargs
    from pipeline.archival._pdfa_clean import clean_resources
    from pipeline.archival._xmp import FinishNotes

    doc = pymupdf.open()
    page = doc.new_page(width=width, height=height)
    if background is not None:
        page.draw_rect(page.rect, color=None, fill=background)
    page.insert_font(fontname="wqy", fontfile=str(CJK_FONT_FILE))
    font = pymupdf.Font(fontfile=str(CJK_FONT_FILE))
    widest = max(font.text_length(line, fontsize=1.0) for line in lines)
    size = min(size, (height - 4) / max(len(lines), 1) / 1.25, (width - 2 * left) / max(widest, 1e-3))
    y = 4 + size
    for line in lines:
        page.insert_text((left, y), line, fontname="wqy", fontsize=size, color=colour)
        y += size * 1.25
    doc.subset_fonts()
    raw = doc.tobytes(garbage=3, deflate=True)
    doc.close()
    with pikepdf.open(io.BytesIO(raw)) as pdf:
        clean_resources(pdf, level, FinishNotes())
        if "/Info" in pdf.Root:
            del pdf.Root["/Info"]
        pdf.save(path, **save_kwargs(level))
