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


# --------------------------------------------------------------------------------------------------------------------
# the batches bench/hostile.py drops (after those of samples.hostile)

DEEP_JSON = '{"case_no": ' + "[" * 100_000 + "]" * 100_000 + "}"


def cases() -> list:
    """The hostile batches of issue 30: names, nesting, resolution tags, decoding bombs, fillers, Extension B and bidi
    text; each refused by name or published as it must be."""
    from samples import hostile

    c = hostile.Case

    def case_with(old: str, new: str):
        return lambda folder, case_no: hostile.good(folder, case_no.replace(old, new))

    def dpi_page(tag: str):
        def build(folder: Path, case_no: str) -> None:
            (folder / "001.tif").write_bytes(tiff_resolution(tag))
            hostile.manifest(folder, case_no)
        return build

    def documents(**fields):
        def build(folder: Path, case_no: str) -> None:
            hostile.good(folder, case_no, documents=[{"title": "询问笔录", "pages": 1, **fields}])
        return build

    return [
        c("name-circled-digit", "a page named ①1.jpg ('①'.isdigit(), int('①') fails)", hostile.named("①1.jpg".encode()),
          expect="published", fast=False),
        c("name-superscript", "a page named ²1.jpg", hostile.named("²1.jpg".encode()), expect="published", fast=False),
        c("manifest-deep", "batch.json nested 100,000 deep",
          hostile.batch_json_replaced(lambda p: p.write_text(DEEP_JSON)), ("batch.json", "nested deeper")),
        *[c(f"dpi-{tag}", f"a text page whose resolution tag is {tag} dpi", dpi_page(tag), expect="published",
            fast=False) for tag in RESOLUTION_TAGS],
        c("pdf-line-bomb", "a 1 kB PDF page of 16,384 page-long lines", hostile.with_file("002.pdf", pdf_line_bomb),
          ("002.pdf", "CPU"), fast=False),
        c("pdf-forms-bomb", "a 2 kB PDF whose forms draw a billion lines", hostile.with_file("002.pdf", pdf_forms_bomb),
          ("002.pdf", "CPU"), fast=False),
        c("jpeg-scan-bomb", "a 1 MB JPEG repeating one scan 20,000 times", hostile.with_file("002.jpg", jpeg_scan_bomb),
          ("002.jpg", "100")),
        c("case-filler-3164", "a case number ending in U+3164 HANGUL FILLER", case_with("号", "号\u3164"),
          ("U+3164",)),
        c("case-filler-115f", "a case number holding U+115F", case_with("刑初", "刑初\u115f"), ("U+115F",)),
        c("case-filler-ffa0", "a case number holding U+FFA0", case_with("号", "\uffa0号"), ("U+FFA0",)),
        c("case-devanagari", "a case number with Devanagari digits", case_with("2024", "२०२४"), ("0-9",)),
        c("agency-filler", "batch.json names the room's agency with a Hangul filler",
          hostile.batch_json(agency=hostile.AGENCY + "\u3164"), ("\\u3164",)),
        c("title-ext-b", "a 题名 with 𠮷 (CJK Extension B)", documents(title="𠮷田某某询问笔录"), expect="published",
          fast=False),
        c("remark-bidi", "a 备注 with bidi marks", documents(remark="见\u200f附件\u202e一"), expect="published",
          fast=False),
    ]
