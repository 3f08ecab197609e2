"""Hostile pages and batch fields of the third review (issue 30), made on demand beside :mod:`samples.hostile`.

Resolution tags no scanner writes (65,535 dpi, 0/0, 1/0, 4,294,967,295, a float NaN), CPU bombs inside the input
limits (a PDF page of thousands of page-long lines, a progressive JPEG repeating one scan thousands of times), and
text the volume's fonts must draw (𠮷 of CJK Extension B in a 题名, bidirectional marks in a 备注). Nothing here is
product code.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

from PIL import Image, TiffImagePlugin
from PIL.TiffImagePlugin import IFDRational

SAMPLE = Path(__file__).resolve().parent / "case-2024-172"
TEXT_PAGE = "007.tif"  # a bitonal G4 page of text, 2542 x 3552 at 300 dpi

RESOLUTION_TAGS: dict[str, object] = {
    "65535": IFDRational(65535, 1),
    "0-over-0": IFDRational(0, 0),
    "1-over-0": IFDRational(1, 0),
    "4294967295": IFDRational(4294967295, 1),
    "nan": float("nan"),
}
"""Resolution tags no scanner writes, by name: each makes the sample's text page a hostile one."""


def tiff_resolution(name: str) -> bytes:
    """The sample's bitonal text page as a TIFF whose X and Y resolution tags hold ``RESOLUTION_TAGS[name]`` (a float
    value is written as a DOUBLE tag, as some scanners do)."""
    value = RESOLUTION_TAGS[name]
    tags = TiffImagePlugin.ImageFileDirectory_v2()
    tags[282] = tags[283] = value
    tags[296] = 2  # inches
    if isinstance(value, float):
        tags.tagtype[282] = tags.tagtype[283] = 12  # DOUBLE
    page = Image.open(SAMPLE / TEXT_PAGE).copy()  # a copy has no TIFF tags of its own that Pillow would keep
    page.info.pop("dpi", None)
    buf = io.BytesIO()
    page.save(buf, "TIFF", compression="raw", tiffinfo=tags)  # libtiff (G4) refuses to write such tags
    return buf.getvalue()


def pdf_line_bomb(lines: int = 16384) -> bytes:
    """A one-page A4 PDF of a few kB whose page strokes ``lines`` lines from corner to corner: MuPDF needs ~10 ms of
    CPU per line at 300 dpi (16,384 lines: minutes), while every input limit (size, pages, pixels) holds."""
    import pikepdf

    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(595, 842))
    page.Contents = pdf.make_stream(b"1 w\n" + b"0 0 m 595 842 l S\n" * lines)
    buf = io.BytesIO()
    pdf.save(buf, compress_streams=True)
    return buf.getvalue()


def pdf_forms_bomb(levels: int = 9, fanout: int = 10) -> bytes:
    """A one-page PDF of ~2 kB whose page draws a form that draws the next form ``fanout`` times, ``levels`` deep: a
    billion lines to interpret (MuPDF: ~0.3 CPU-s at 5 levels, ten times more a level) before a pixel is rendered,
    so even listing its images never ends."""
    import pikepdf

    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(595, 842))
    child = pdf.make_stream(b"0 0 m 595 842 l S")
    for depth in range(levels + 1):
        form = child if depth == 0 else pdf.make_stream(b"/F Do\n" * fanout)
        form.Type, form.Subtype, form.BBox = pikepdf.Name.XObject, pikepdf.Name.Form, [0, 0, 595, 842]
        if depth:
            form.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(F=child))
        child = form
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(F=child))
    page.Contents = pdf.make_stream(b"/F Do")
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def jpeg_bad_component() -> bytes:
    """A baseline JPEG whose headers are sound (size, tables, markers, end of image) but whose scan names a component
    the frame does not have: libjpeg refuses it only when it decodes the pixels."""
    buf = io.BytesIO()
    Image.open(SAMPLE / "009.jpg").save(buf, "JPEG", quality=75)
    data = bytearray(buf.getvalue())
    sos = [start for marker, start, _ in _jpeg_segments(bytes(data)) if marker == 0xDA][0]
    data[sos + 5] = 0x7F  # the first component selector of the scan
    return bytes(data)


def _jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, start, end) of each segment of a JPEG; a scan's end includes its entropy-coded data."""
    at, found = 2, []
    while at < len(data):
        marker = data[at + 1]
        if marker == 0xD9:
            found.append((marker, at, at + 2))
            break
        end = at + 2 + struct.unpack(">H", data[at + 2:at + 4])[0]
        if marker == 0xDA:
            while True:
                end = data.index(b"\xff", end)
                if data[end + 1] == 0 or 0xD0 <= data[end + 1] <= 0xD7:
                    end += 2
                    continue
                break
        found.append((marker, at, end))
        at = end
    return found


def jpeg_scan_bomb(scans: int = 20000, size: tuple[int, int] = (4960, 7016)) -> bytes:
    """A progressive grey JPEG of a white A4 page at 600 dpi whose smallest scan (56 bytes) is repeated ``scans``
    times: ~1.1 MB that libjpeg decodes scan by scan over the whole image (~2.7 ms of CPU a scan here: 20,000 scans
    ≈ 54 s per decode), inside every size and pixel limit."""
    buf = io.BytesIO()
    Image.new("L", size, 255).save(buf, "JPEG", progressive=True, quality=75, dpi=(600, 600))
    data = buf.getvalue()
    found = [(start, end) for marker, start, end in _jpeg_segments(data) if marker == 0xDA]
    start, end = min(found[1:], key=lambda se: se[1] - se[0])
    return data[:end] + data[start:end] * scans + data[end:]
