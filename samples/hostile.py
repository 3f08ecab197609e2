"""Hostile and broken input, made on demand: files and batches a scanning room (or an attacker in one) could drop.

Each :class:`Case` builds one batch folder: a good page, a batch.json, and the one thing wrong with it (a named pipe
called ``002.jpg``, a decompression bomb, EPS under a ``.png`` name, a PDF with JavaScript, a name with a
right-to-left override, another agency in batch.json, ...). ``expect`` is what the pipeline must do with it:
``refused`` (quarantined, or not taken, with a reason naming ``names``), or ``published`` (the tricky page decoded
right and kept). ``bench/hostile.py`` drops every case into a real hot folder; ``tests/test_hostile.py`` a subset.
Nothing here is product code.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "case-2024-172"
GOOD_PAGE = "001.jpg"  # the sample's red-headed indictment: a page with ink, colour JPEG
AGENCY = "河南省封丘县人民法院"
OTHER_AGENCY = "河南省新乡市中级人民法院"


@dataclass(frozen=True)
class Case:
    """One hostile batch: how to build it, and what must become of it."""

    name: str  # a short id; also the batch folder's name unless ``folder`` says otherwise
    what: str
    build: Callable[[Path, str], None]  # fills the (existing) batch folder for a case number
    names: tuple[str, ...] = ()  # what the reason must name (a file, a field); empty: the batch itself
    expect: str = "refused"  # refused | published
    folder: str | None = None  # a hostile batch folder name (bytes allowed through os.fsdecode)
    room: str = "room-1"
    fast: bool = True  # refused at the door or at ingest, no page work (the tests' subset takes these)
    extra: dict = field(default_factory=dict)

    @property
    def batch(self) -> str:
        """The batch folder's name."""
        return self.folder or self.name


# --------------------------------------------------------------------------------------------------------------------
# building blocks


def manifest(folder: Path, case_no: str, **fields) -> None:
    """batch.json naming the case (and the room's agency unless told otherwise)."""
    data = {"case_no": case_no, "case_title": "测试案", "agency": AGENCY, **fields}
    (folder / "batch.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def good(folder: Path, case_no: str, name: str = GOOD_PAGE, **fields) -> None:
    """A good page and batch.json."""
    shutil.copy(SAMPLE / GOOD_PAGE, folder / name)
    manifest(folder, case_no, **fields)


def with_file(name: str, data: bytes | Callable[[], bytes]) -> Callable[[Path, str], None]:
    """A good batch plus one file of these bytes."""
    def build(folder: Path, case_no: str) -> None:
        good(folder, case_no)
        (folder / name).write_bytes(data() if callable(data) else data)
    return build


def image_bytes(image: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A valid grey PNG of ``width`` x ``height`` white pixels, a few hundred kB: 900 M pixels when decoded."""
    raw = zlib.compressobj(9)
    row = b"\x00" + b"\xff" * width
    body = b"".join(raw.compress(row) for _ in range(height)) + raw.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def jpeg_bomb() -> bytes:
    """A small JPEG whose frame header claims 65,000 x 65,000 pixels."""
    data = bytearray(image_bytes(Image.new("L", (64, 64), 255), "JPEG"))
    at = data.find(b"\xff\xc0")
    data[at + 5:at + 9] = struct.pack(">HH", 65000, 65000)
    return bytes(data)


def tiff_frames(sizes: list[tuple[int, int]]) -> bytes:
    """A multi-page bitonal Group 4 TIFF with frames of these sizes (white pages compress to almost nothing)."""
    frames = [Image.new("1", size, 1) for size in sizes]
    return image_bytes(frames[0], "TIFF", compression="group4", save_all=True, append_images=frames[1:])


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: int(len(data) * keep)]


def eps() -> bytes:
    return (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n%%EndComments\n"
            b"/Times-Roman findfont 12 scalefont setfont 10 10 moveto (pwned) show showpage\n%%EOF\n")


def psd() -> bytes:
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 64, 64, 8, 3)
    return header + struct.pack(">I", 0) * 3 + struct.pack(">H", 0) + b"\x00" * (64 * 64 * 3)


def fits() -> bytes:
    cards = ["SIMPLE  =                    T", "BITPIX  =                    8", "NAXIS   =                    2",
             "NAXIS1  =                   64", "NAXIS2  =                   64", "END"]
    header = "".join(c.ljust(80) for c in cards).ljust(2880).encode("ascii")
    return header + b"\x00" * 2880


def svg() -> bytes:
    return (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
            b'<image href="file:///etc/passwd"/></svg>')


def pdf_bytes(make: Callable) -> Callable[[], bytes]:
    """Bytes of a PDF made by ``make(doc)`` on a fresh PyMuPDF document."""
    def build() -> bytes:
        import pymupdf

        doc = pymupdf.open()
        make(doc)
        return doc.tobytes()
    return build


def _page_with_image(doc) -> None:
    page = doc.new_page(width=595, height=842)
    page.insert_image(page.rect, stream=(SAMPLE / GOOD_PAGE).read_bytes())


def pdf_javascript(doc) -> None:
    _page_with_image(doc)
    xref = doc.get_new_xref()
    doc.update_object(xref, "<< /Type /Action /S /JavaScript /JS (app.alert('hi');) >>")
    doc.xref_set_key(doc.pdf_catalog(), "OpenAction", f"{xref} 0 R")


def pdf_launch(doc) -> None:
    _page_with_image(doc)
    xref = doc.get_new_xref()
    doc.update_object(xref, "<< /Type /Action /S /Launch /F (calc.exe) >>")
    doc.xref_set_key(doc.pdf_catalog(), "OpenAction", f"{xref} 0 R")


def pdf_embedded(doc) -> None:
    _page_with_image(doc)
    doc.embfile_add("payload.exe", b"MZ\x90\x00 not really")


def pdf_pages(count: int) -> Callable:
    def make(doc) -> None:
        for _ in range(count):
            doc.new_page(width=595, height=842)
    return make


def pdf_huge_page(doc) -> None:
    doc.new_page(width=14400, height=14400)  # 5 m square: the largest page PDF allows


def pdf_encrypted() -> bytes:
    import pymupdf

    doc = pymupdf.open()
    _page_with_image(doc)
    return doc.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner", user_pw="user")


def pdf_big_image() -> bytes:
    """A one-page PDF holding a 13,000 x 13,000 bitonal image (tiny when compressed)."""
    import pikepdf

    pdf = pikepdf.new()
    width = height = 13000
    row = b"\xff" * ((width + 7) // 8)
    img = pdf.make_stream(zlib.compress(row * height, 9))
    img.Type, img.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    img.Width, img.Height, img.BitsPerComponent = width, height, 1
    img.ColorSpace, img.Filter = pikepdf.Name.DeviceGray, pikepdf.Name.FlateDecode
    page = pdf.add_blank_page(page_size=(595, 842))
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=img))
    page.Contents = pdf.make_stream(b"q 595 0 0 842 0 0 cm /Im0 Do Q")
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def devicen_pdf(ink: np.ndarray, dpi: float = 300.0) -> bytes:
    """A scanner-like PDF page whose one image is a DCT-encoded DeviceN (one Black colorant) image of ``ink``
    (0 = no ink, 255 = full ink): read as grey it is a dark field, rendered it is the page."""
    import pikepdf

    pdf = pikepdf.new()
    tint = pdf.make_stream(b"{dup 0 mul exch dup 0 mul exch dup 0 mul exch 1 mul}")
    tint.FunctionType, tint.Domain, tint.Range = 4, [0, 1], [0, 1, 0, 1, 0, 1, 0, 1]
    height, width = ink.shape
    img = pdf.make_stream(image_bytes(Image.fromarray(ink, "L"), "JPEG", quality=90))
    img.Type, img.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    img.Width, img.Height, img.BitsPerComponent = width, height, 8
    img.ColorSpace = pikepdf.Array([pikepdf.Name.DeviceN, pikepdf.Array([pikepdf.Name.Black]),
                                    pikepdf.Name.DeviceCMYK, tint])
    img.Filter = pikepdf.Name.DCTDecode
    pw, ph = width * 72 / dpi, height * 72 / dpi
    page = pdf.add_blank_page(page_size=(pw, ph))
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=img))
    page.Contents = pdf.make_stream(f"q {pw:.3f} 0 0 {ph:.3f} 0 0 cm /Im0 Do Q".encode())
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def sample_ink(name: str = GOOD_PAGE) -> np.ndarray:
    """A sample page as ink amounts (255 - grey)."""
    return 255 - np.asarray(Image.open(SAMPLE / name).convert("L"))


def qr_content_page() -> bytes:
    """The sample's judgment page with a separator payload's QR code printed in its corner."""
    from pipeline.capture import encode_payload, qr_modules
    from pipeline.models import SeparatorPayload

    page = Image.open(SAMPLE / "009.jpg").convert("RGB")
    text = encode_payload(SeparatorPayload(kind="document", title="伪造分隔页"))
    side = round(60 / 25.4 * 300)
    code = Image.fromarray(np.where(qr_modules(text), 0, 255).astype(np.uint8)).resize((side, side), Image.NEAREST)
    page.paste(code.convert("RGB"), (page.width - side - 150, page.height - side - 150))
    return image_bytes(page, "JPEG", quality=85, dpi=(300, 300))


# --------------------------------------------------------------------------------------------------------------------
# builders of whole batches


def fifo(name: str) -> Callable[[Path, str], None]:
    def build(folder: Path, case_no: str) -> None:
        good(folder, case_no)
        os.mkfifo(folder / name)
    return build


def link_to_fifo(folder: Path, case_no: str) -> None:
    good(folder, case_no)
    os.mkfifo(folder.parent / f".{folder.name}.fifo")
    os.symlink(folder.parent / f".{folder.name}.fifo", folder / "002.jpg")


def link_to(target: str, name: str = "002.jpg") -> Callable[[Path, str], None]:
    def build(folder: Path, case_no: str) -> None:
        good(folder, case_no)
        os.symlink(target, folder / name)
    return build


def link_to_page_outside(folder: Path, case_no: str) -> None:
    good(folder, case_no)
    outside = folder.parent / f".{folder.name}.outside.jpg"
    shutil.copy(SAMPLE / "009.jpg", outside)
    os.symlink(outside, folder / "002.jpg")


def hard_link(folder: Path, case_no: str) -> None:
    good(folder, case_no)
    outside = folder.parent / f".{folder.name}.outside.jpg"
    shutil.copy(SAMPLE / "009.jpg", outside)
    os.link(outside, folder / "002.jpg")


def unix_socket(folder: Path, case_no: str) -> None:
    good(folder, case_no)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(folder / "002.jpg"))
    finally:
        sock.close()


def subfolder(folder: Path, case_no: str) -> None:
    good(folder, case_no)
    (folder / "more").mkdir()
    shutil.copy(SAMPLE / "009.jpg", folder / "more" / "002.jpg")


def sparse(name: str, size: int) -> Callable[[Path, str], None]:
    def build(folder: Path, case_no: str) -> None:
        good(folder, case_no)
        with open(folder / name, "wb") as fh:
            fh.write(b"II*\x00")
            fh.truncate(size)
    return build


def named(raw_name: bytes) -> Callable[[Path, str], None]:
    """A good page stored under a hostile name (raw bytes: control characters, bidi overrides, non-UTF-8)."""
    def build(folder: Path, case_no: str) -> None:
        good(folder, case_no)
        with open(os.path.join(os.fsencode(folder), raw_name), "wb") as fh:
            fh.write((SAMPLE / "009.jpg").read_bytes())
    return build


def many_files(count: int) -> Callable[[Path, str], None]:
    def build(folder: Path, case_no: str) -> None:
        good(folder, case_no)
        small = image_bytes(Image.new("L", (8, 8), 255), "PNG")
        for i in range(count):
            (folder / f"x{i:05d}.png").write_bytes(small)
    return build


def blank_pages(folder: Path, case_no: str) -> None:
    for i in range(1, 4):
        Image.new("L", (2480, 3508), 250).save(folder / f"{i:03d}.png", dpi=(300, 300))
    manifest(folder, case_no)


def batch_json(**fields) -> Callable[[Path, str], None]:
    def build(folder: Path, case_no: str) -> None:
        good(folder, case_no, **fields)
    return build


def batch_json_case(case_no_given: str) -> Callable[[Path, str], None]:
    def build(folder: Path, case_no: str) -> None:
        good(folder, case_no)
        manifest(folder, case_no_given)
    return build


def batch_json_replaced(make: Callable[[Path], None]) -> Callable[[Path, str], None]:
    def build(folder: Path, case_no: str) -> None:
        shutil.copy(SAMPLE / GOOD_PAGE, folder / GOOD_PAGE)
        make(folder / "batch.json")
    return build


def devicen_page(folder: Path, case_no: str) -> None:
    (folder / "001.pdf").write_bytes(devicen_pdf(sample_ink("009.jpg")))
    manifest(folder, case_no)


def qr_page(folder: Path, case_no: str) -> None:
    (folder / "001.jpg").write_bytes(qr_content_page())
    manifest(folder, case_no)


def apng() -> bytes:
    frames = [Image.new("L", (64, 64), v) for v in (255, 200)]
    return image_bytes(frames[0], "PNG", save_all=True, append_images=frames[1:])


def cases() -> list[Case]:
    """Every hostile case, in the order bench/hostile.py drops them."""
    from samples import hostile_pages

    rgb = Image.new("RGB", (64, 64), (255, 255, 255))
    page = (SAMPLE / "009.jpg").read_bytes()
    tiff = tiff_frames([(2480, 3508)] * 2)
    c = Case
    return [
        # -- what a file is
        c("fifo", "a named pipe called 002.jpg", fifo("002.jpg"), ("002.jpg",)),
        c("fifo-link", "a symbolic link called 002.jpg to a named pipe", link_to_fifo, ("002.jpg",)),
        c("link-passwd", "002.jpg is a link to /etc/passwd", link_to("/etc/passwd"), ("002.jpg",)),
        c("link-page", "002.jpg is a link to a page outside the batch", link_to_page_outside, ("002.jpg",)),
        c("link-dangling", "002.jpg is a link to nothing", link_to("/nonexistent/x.jpg"), ("002.jpg",)),
        c("hard-link", "002.jpg is a hard link to a file outside the batch", hard_link, ("002.jpg",)),
        c("socket", "002.jpg is a Unix socket", unix_socket, ("002.jpg",)),
        c("subfolder", "a folder inside the batch", subfolder, ("more",)),
        c("fifo-manifest", "batch.json is a named pipe", batch_json_replaced(os.mkfifo), ("batch.json",)),
        c("link-manifest", "batch.json is a link to /etc/passwd",
          batch_json_replaced(lambda p: os.symlink("/etc/passwd", p)), ("batch.json",)),
        # -- sizes and counts
        c("sparse-1tb", "a sparse 1 TB file called 003.tif", sparse("003.tif", 1 << 40), ("003.tif",)),
        c("sparse-3gb-pdf", "a sparse 3 GB file called 003.pdf", sparse("003.pdf", 3 << 30), ("003.pdf",)),
        c("huge-manifest", "a 5 MB batch.json", batch_json(remark="x" * (5 << 20)), ("batch.json",)),
        c("many-files", "5,001 files", many_files(5001), ("many-files", "5,000")),
        c("empty-file", "an empty 002.jpg", with_file("002.jpg", b""), ("002.jpg",)),
        # -- decompression bombs and frames
        c("png-bomb", "a PNG of 30,000 x 30,000 pixels in 1 MB", with_file("002.png", png_bomb), ("002.png",)),
        c("jpeg-bomb", "a JPEG claiming 65,000 x 65,000 pixels", with_file("002.jpg", jpeg_bomb), ("002.jpg",)),
        c("tiff-bomb", "a G4 TIFF of 20,000 x 20,000 pixels", with_file("002.tif", lambda: tiff_frames(
            [(20000, 20000)])), ("002.tif",)),
        c("tiff-bomb-frame-2", "a TIFF whose second frame is 13,000 x 13,000",
          with_file("002.tif", lambda: tiff_frames([(2480, 3508), (13000, 13000)])), ("002.tif[1]",)),
        c("tiff-frames", "a TIFF of 1,001 pages", with_file("002.tif", lambda: tiff_frames([(64, 64)] * 1001)),
          ("002.tif",)),
        c("apng", "an animated PNG", with_file("002.png", apng), ("002.png",)),
        # -- formats under page names
        c("eps-as-png", "EPS (which runs Ghostscript) called 002.png", with_file("002.png", eps()), ("002.png",)),
        c("psd-as-jpg", "Photoshop PSD called 002.jpg", with_file("002.jpg", psd()), ("002.jpg",)),
        c("fits-as-jpg", "FITS called 002.jpg", with_file("002.jpg", fits()), ("002.jpg",)),
        c("svg-as-png", "SVG called 002.png", with_file("002.png", svg()), ("002.png",)),
        c("gif-as-png", "GIF called 002.png", with_file("002.png", image_bytes(rgb, "GIF")), ("002.png",)),
        c("bmp-as-tif", "BMP called 002.tif", with_file("002.tif", image_bytes(rgb, "BMP")), ("002.tif",)),
        c("webp-as-jpg", "WebP called 002.jpg", with_file("002.jpg", image_bytes(rgb, "WEBP")), ("002.jpg",)),
        c("bigtiff", "a BigTIFF called 002.tif", with_file("002.tif", b"II+\x00\x08\x00\x00\x00" + b"\0" * 64),
          ("002.tif",)),
        c("text-as-pdf", "a text file called 002.pdf", with_file("002.pdf", b"hello, not a PDF\n"), ("002.pdf",)),
        c("html-as-jpg", "HTML called 002.jpg", with_file("002.jpg", b"<html><script>x()</script></html>"),
          ("002.jpg",)),
        # -- broken files
        c("truncated-jpeg", "a JPEG cut in half", with_file("002.jpg", truncated(page)), ("002.jpg",)),
        c("truncated-png", "a PNG cut short", with_file("002.png", truncated(image_bytes(
            Image.open(SAMPLE / "009.jpg").convert("L"), "PNG"), 0.3)), ("002.png",)),
        c("truncated-tiff", "a two-page TIFF cut short", with_file("002.tif", truncated(tiff, 0.6)), ("002.tif",)),
        # -- PDFs
        c("pdf-javascript", "a PDF that runs JavaScript when opened", with_file(
            "002.pdf", pdf_bytes(pdf_javascript)), ("002.pdf",)),
        c("pdf-launch", "a PDF with a launch action", with_file("002.pdf", pdf_bytes(pdf_launch)), ("002.pdf",)),
        c("pdf-embedded", "a PDF carrying an embedded file", with_file("002.pdf", pdf_bytes(pdf_embedded)),
          ("002.pdf",)),
        c("pdf-20000-pages", "a PDF of 20,000 pages", with_file("002.pdf", pdf_bytes(pdf_pages(20000))),
          ("002.pdf",)),
        c("pdf-encrypted", "an encrypted PDF", with_file("002.pdf", pdf_encrypted), ("002.pdf",)),
        c("pdf-huge-page", "a PDF page of 5 x 5 m", with_file("002.pdf", pdf_bytes(pdf_huge_page)), ("002.pdf",)),
        c("pdf-big-image", "a PDF holding a 13,000 x 13,000 image", with_file("002.pdf", pdf_big_image),
          ("002.pdf",)),
        # -- names
        c("name-control", "a page name with an escape sequence", named(b"002\x1b[2J.jpg"), ("\\x1b",)),
        c("name-bidi", "a page name with a right-to-left override", named("002\u202egpj.jpg".encode()),
          ("\\u202e",)),
        c("name-backslash", "a page name with a backslash", named(b"..\\002.jpg"), ("backslash",)),
        c("name-not-utf8", "a page name that is not UTF-8", named(b"002\xff\xfe.jpg"), ("\\udcff",)),
        c("folder-name-control", "a batch folder named with a newline", batch_json(), ("\\n",),
          folder="batch\nname"),
        # -- who may publish what
        c("other-agency", "batch.json names another agency", batch_json(agency=OTHER_AGENCY), (OTHER_AGENCY,)),
        c("case-not-allowed", "a case number outside the room's patterns", batch_json_case(
            "（2024）京0105刑初9号"), ("京0105",)),
        c("case-path", "a case number that is a path", batch_json_case("../../etc/passwd"), ("case number",)),
        c("no-manifest", "no batch.json", lambda f, n: shutil.copy(SAMPLE / GOOD_PAGE, f / GOOD_PAGE),
          ("batch.json",)),
        c("classified", "a secret batch for a bucket that holds internal at most", batch_json(
            security_level="secret"), ("secret",)),
        c("room-link", "the batch folder is a link to a folder outside the hot folder", good, ("link",),
          extra={"place": "room-link"}),
        c("claim-link", "a link planted in .processing", good, ("link",), extra={"place": "claim-link"}),
        c("room-yaml-passwd", "room.yaml points the profile at /etc/passwd", good, ("profile",),
          room="room-evil", extra={"place": "evil-room"}),
        # -- pages that must be kept, not refused
        c("all-blank", "every page blank", blank_pages, ("blank",), fast=False),
        c("devicen-page", "a PDF page with a DeviceN (DCT) image", devicen_page, expect="published", fast=False),
        c("qr-content-page", "an ordinary page with a separator payload's QR code", qr_page, expect="published",
          fast=False),
        c("grants-in-manifest", "batch.json grants access to another agency", batch_json(grants=[OTHER_AGENCY]),
          expect="published", fast=False),
        *hostile_pages.cases(),
    ]
