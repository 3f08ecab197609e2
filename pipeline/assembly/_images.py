"""Archival page images as PDF image XObjects, taken over without decoding (G4 stays G4, JPEG stays JPEG)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from pipeline.errors import VolumeError


@dataclass(frozen=True)
class ImageSource:
    """Where an archival image's encoded data is and how a PDF reads it."""

    path: Path
    width: int
    height: int
    filter: str  # CCITTFaxDecode | DCTDecode
    colour_space: str  # DeviceGray | DeviceRGB
    bits: int
    offset: int = 0
    length: int = -1  # -1: to the end of the file
    black_is_1: bool = False
    reverse_bits: bool = False

    def chunks(self, size: int = 1 << 20):
        """The encoded image data in pieces of at most ``size`` bytes (bits reversed for FillOrder 2 TIFFs)."""
        remaining = self.length
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            while remaining != 0:
                data = f.read(size if remaining < 0 else min(size, remaining))
                if not data:
                    break
                remaining -= len(data) if remaining > 0 else 0
                yield data.translate(_REVERSED) if self.reverse_bits else data
        if remaining > 0:
            raise VolumeError(f"image {self.path}: strip truncated ({remaining} bytes missing)")

    def dictionary(self) -> str:
        """The image XObject dictionary in PDF syntax, without /Length."""
        parms = ""
        if self.filter == "CCITTFaxDecode":
            parms = (f"/DecodeParms<</K -1/Columns {self.width}/Rows {self.height}"
                     f"/BlackIs1 {'true' if self.black_is_1 else 'false'}>>")
        return (f"/Type/XObject/Subtype/Image/Width {self.width}/Height {self.height}/ColorSpace/{self.colour_space}"
                f"/BitsPerComponent {self.bits}/Filter/{self.filter}{parms}")


_REVERSED = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def image_source(path: Path) -> ImageSource:
    """Inspect an archival image file (single-strip G4 TIFF or baseline JPEG) from its header only."""
    try:
        with Image.open(path) as img:
            fmt, size, mode = img.format, img.size, img.mode
            if fmt == "TIFF":
                return _g4_source(path, img)
    except OSError as exc:
        raise VolumeError(f"cannot read page image {path}: {exc}") from exc
    if fmt == "JPEG":
        spaces = {"L": ("DeviceGray", 8), "RGB": ("DeviceRGB", 8)}
        if mode not in spaces:
            raise VolumeError(f"page image {path} is a {mode} JPEG; expected greyscale or RGB")
        space, bits = spaces[mode]
        return ImageSource(path, size[0], size[1], "DCTDecode", space, bits)
    raise VolumeError(f"page image {path} is {fmt}; expected a CCITT G4 TIFF or a JPEG")


def _g4_source(path: Path, img: Image.Image) -> ImageSource:
    tags = img.tag_v2
    if getattr(img, "n_frames", 1) != 1:
        raise VolumeError(f"page image {path} has {img.n_frames} pages; expected one")
    compression = tags.get(259)
    if compression != 4:
        raise VolumeError(f"page image {path} is a TIFF with compression {compression}; expected CCITT G4 (4)")
    offsets, counts = tags.get(273), tags.get(279)
    if not offsets or not counts or len(offsets) != 1 or len(counts) != 1:
        raise VolumeError(f"page image {path} has {len(offsets or ())} strips; expected a single-strip G4 TIFF")
    photometric = tags.get(262, 0)
    if photometric not in (0, 1):
        raise VolumeError(f"page image {path} has photometric interpretation {photometric}; expected 0 or 1")
    return ImageSource(path, img.size[0], img.size[1], "CCITTFaxDecode", "DeviceGray", 1, int(offsets[0]),
                       int(counts[0]), black_is_1=photometric == 1, reverse_bits=tags.get(266, 1) == 2)


def write_image_container(sources: Sequence[ImageSource], path: Path) -> list[int]:
    """Write the images as the only objects of a minimal PDF file, copying their data through in pieces; returns the
    object number of each image. The volume is built on top of this file: qpdf reads a stream of the file it opened
    only when it writes it, so memory stays flat however large the images (copying them into another PDF with
    ``copy_foreign`` loads them all: measured +52 MB for 64 MB of JPEGs)."""
    offsets: list[int] = []
    with open(path, "wb") as f:
        f.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets.append(f.tell())
        f.write(b"1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\n")
        offsets.append(f.tell())
        f.write(b"2 0 obj\n<</Type/Pages/Kids[]/Count 0>>\nendobj\n")
        for n, source in enumerate(sources, start=3):
            offsets.append(f.tell())
            length_at = None
            f.write(f"{n} 0 obj\n<<{source.dictionary()}/Length ".encode())
            length_at = f.tell()
            f.write(b"0000000000>>\nstream\n")
            start = f.tell()
            for chunk in source.chunks():
                f.write(chunk)
            end = f.tell()
            f.write(b"\nendstream\nendobj\n")
            resume = f.tell()
            f.seek(length_at)
            f.write(f"{end - start:010d}".encode())
            f.seek(resume)
        xref = f.tell()
        f.write(f"xref\n0 {len(offsets) + 1}\n0000000000 65535 f \n".encode())
        for off in offsets:
            f.write(f"{off:010d} 00000 n \n".encode())
        f.write(f"trailer\n<</Size {len(offsets) + 1}/Root 1 0 R>>\nstartxref\n{xref}\n%%EOF\n".encode())
    return list(range(3, 3 + len(sources)))
