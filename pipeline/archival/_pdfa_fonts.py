"""Fonts made fit for PDF/A: CIDToGIDMap, CapHeight and CIDSet where PyMuPDF leaves them out."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

from pikepdf import Array, Dictionary, Name, Pdf, Stream

from pipeline.archival._xmp import FinishNotes
from pipeline.errors import VolumeError


def _resources_tree(res: object, seen: set[tuple[int, int]]) -> Iterator[Dictionary]:
    """Yield a resource dictionary and those of every Form XObject, pattern and Type 3 font under it."""
    if not isinstance(res, Dictionary):
        return
    key = res.objgen
    if key != (0, 0):
        if key in seen:
            return
        seen.add(key)
    yield res
    for cat in ("/XObject", "/Pattern", "/Font"):
        group = res.get(cat)
        if not isinstance(group, Dictionary):
            continue
        for _, obj in group.items():
            if isinstance(obj, Dictionary) and "/Resources" in obj:
                yield from _resources_tree(obj.Resources, seen)


def page_resources(pdf: Pdf) -> Iterator[tuple[int, Dictionary]]:
    """Every resource dictionary in use, with the 1-based page it was first met on (annotations included)."""
    seen: set[tuple[int, int]] = set()
    for n, page in enumerate(pdf.pages, start=1):
        for res in _resources_tree(page.obj.get("/Resources"), seen):
            yield n, res
        for annot in page.obj.get("/Annots", Array()):
            ap = annot.get("/AP") if isinstance(annot, Dictionary) else None
            if not isinstance(ap, Dictionary):
                continue
            for _, form in ap.items():
                forms = form.values() if isinstance(form, Dictionary) and not isinstance(form, Stream) else [form]
                for f in forms:
                    if isinstance(f, Stream):
                        for res in _resources_tree(f.get("/Resources"), seen):
                            yield n, res


_SUBSET = re.compile(r"^/?[A-Z]{6}\+")
_REQUIRED_DESCRIPTOR = ("/FontName", "/Flags", "/FontBBox", "/ItalicAngle", "/Ascent", "/Descent", "/CapHeight",
                        "/StemV")


def _font_program(descriptor: Dictionary) -> tuple[str, Stream] | None:
    for key in ("/FontFile2", "/FontFile", "/FontFile3"):
        prog = descriptor.get(key)
        if isinstance(prog, Stream):
            return key, prog
    return None


def _truetype(prog: Stream, label: str):
    from fontTools.ttLib import TTFont

    try:
        return TTFont(io.BytesIO(prog.read_bytes()), lazy=True)
    except Exception as exc:  # fontTools raises many kinds on a damaged program
        raise VolumeError(f"{label}: embedded TrueType program cannot be read: {exc}") from exc


def _cap_height(tt, descriptor: Dictionary) -> int:
    """CapHeight in 1/1000 em: OS/2 sCapHeight, else the height of 'H', else the descriptor's Ascent."""
    upem = tt["head"].unitsPerEm or 1000
    os2 = tt["OS/2"] if "OS/2" in tt else None
    if os2 is not None and getattr(os2, "version", 0) >= 2 and getattr(os2, "sCapHeight", 0) > 0:
        return round(os2.sCapHeight * 1000 / upem)
    try:
        gid_name = tt.getBestCmap().get(ord("H")) if "cmap" in tt else None
        if gid_name and "glyf" in tt:
            glyph = tt["glyf"][gid_name]
            if getattr(glyph, "numberOfContours", 0):
                glyph.recalcBounds(tt["glyf"])
                return round(glyph.yMax * 1000 / upem)
    except Exception:  # noqa: BLE001 - a partial subset program: fall back to Ascent
        pass
    return int(descriptor.get("/Ascent", round(tt["hhea"].ascent * 1000 / upem)))


def _cidset(tt, cid_to_gid: object) -> bytes:
    """Bit string of the CIDs whose glyph is in the program (CID 0 is the MSB of the first byte)."""
    num_glyphs = tt["maxp"].numGlyphs
    if isinstance(cid_to_gid, Stream):
        data = cid_to_gid.read_bytes()
        cids = [c for c in range(len(data) // 2) if int.from_bytes(data[2 * c:2 * c + 2], "big") < num_glyphs]
    else:
        cids = list(range(num_glyphs))
    if not cids:
        return b""
    bits = bytearray((max(cids) >> 3) + 1)
    for c in cids:
        bits[c >> 3] |= 0x80 >> (c & 7)
    return bytes(bits)


def fix_font(pdf: Pdf, font: Dictionary, level: str, label: str, notes: FinishNotes) -> None:
    """Make one font dictionary conform to the PDF/A level (embedded program, widths, CIDSet); Type 3 is left."""
    subtype = font.get("/Subtype")
    if subtype == "/Type3":
        return
    if subtype == "/Type0":
        for desc in font.get("/DescendantFonts", Array()):
            _fix_cidfont(pdf, desc, level, label, notes)
        return
    descriptor = font.get("/FontDescriptor")
    name = str(font.get("/BaseFont", "?"))
    if not isinstance(descriptor, Dictionary) or _font_program(descriptor) is None:
        raise VolumeError(f"{label}: font {name} is not embedded; PDF/A needs every font embedded "
                          "(render generated pages with the embedded WenQuanYi Zen Hei font)")
    _fix_descriptor(descriptor, label, name, notes)


def _fix_descriptor(descriptor: Dictionary, label: str, name: str, notes: FinishNotes, tt=None) -> None:
    missing = [k for k in _REQUIRED_DESCRIPTOR if k not in descriptor]
    if not missing:
        return
    if missing == ["/CapHeight"] and tt is not None:
        descriptor.CapHeight = _cap_height(tt, descriptor)
        notes.fixed.append(f"{label}: CapHeight added to {name}")
        return
    raise VolumeError(f"{label}: font descriptor of {name} lacks {', '.join(missing)}")


def _fix_cidfont(pdf: Pdf, cidfont: Dictionary, level: str, label: str, notes: FinishNotes) -> None:
    name = str(cidfont.get("/BaseFont", "?"))
    descriptor = cidfont.get("/FontDescriptor")
    program = _font_program(descriptor) if isinstance(descriptor, Dictionary) else None
    if program is None:
        raise VolumeError(f"{label}: CID font {name} is not embedded; PDF/A needs every font embedded "
                          "(PyMuPDF's built-in CJK fonts are never embedded: use WenQuanYi Zen Hei)")
    key, prog = program
    if key == "/FontFile3" and prog.get("/Subtype") == "/OpenType" and level == "1b":
        raise VolumeError(f"{label}: font {name} is embedded as OpenType, which PDF/A-1 forbids; "
                          "use the TrueType WenQuanYi Zen Hei font")
    if cidfont.get("/Subtype") != "/CIDFontType2":
        _fix_descriptor(descriptor, label, name, notes)
        return
    if "/CIDToGIDMap" not in cidfont:
        cidfont.CIDToGIDMap = Name.Identity
        notes.fixed.append(f"{label}: CIDToGIDMap /Identity added to {name}")
    tt = _truetype(prog, f"{label}: font {name}")
    _fix_descriptor(descriptor, label, name, notes, tt)
    if level == "1b":
        if "/CIDSet" not in descriptor and _SUBSET.match(str(descriptor.get("/FontName", name))):
            descriptor.CIDSet = pdf.make_stream(_cidset(tt, cidfont.CIDToGIDMap))
            notes.fixed.append(f"{label}: CIDSet added to {name}")
    elif "/CIDSet" in descriptor:
        # Optional from PDF/A-2 on, and if present it must list exactly the program's CIDs: leave none.
        del descriptor["/CIDSet"]
        notes.fixed.append(f"{label}: CIDSet removed from {name}")
