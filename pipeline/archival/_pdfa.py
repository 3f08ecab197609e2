"""PDF/A finishing (pikepdf): XMP with the dossier extension schema, sRGB OutputIntent, font and structure fixes.

``finish_pdfa`` turns a renderer's volume into PDF/A-1b (GB/T 23286.1 = ISO 19005-1) or PDF/A-2b. It repairs what
PyMuPDF and Tesseract leave out (CIDToGIDMap, CapHeight, CIDSet, text strings in raw UTF-8), removes active and
external content (JavaScript, launch/URI/remote actions, embedded files), flattens soft-masked images for 1b, and
refuses with a clear :class:`~pipeline.errors.VolumeError` what it cannot fix without changing the page's look
(non-embedded fonts, transparency groups in use, JPEG 2000 in 1b, encryption).
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape

import pikepdf
from pikepdf import Array, Dictionary, Name, Pdf, Stream

from pipeline import __version__
from pipeline.errors import VolumeError

log = logging.getLogger(__name__)

SRGB_ICC = Path("/usr/share/color/icc/sRGB.icc")
DOSSIER_NS = "https://scan-to-dossier.example.org/ns/dossier/1.0/"
DOSSIER_PREFIX = "dossier"
PAGE_HASH_METHOD = "SHA-256 Merkle root over the raw page digests in volume order"
LEVELS = ("1b", "2b")

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "pdf": "http://ns.adobe.com/pdf/1.3/",
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
    "pdfaExtension": "http://www.aiim.org/pdfa/ns/extension/",
    "pdfaSchema": "http://www.aiim.org/pdfa/ns/schema#",
    "pdfaProperty": "http://www.aiim.org/pdfa/ns/property#",
    DOSSIER_PREFIX: DOSSIER_NS,
}

# (name, XMP value type, description) of the dossier extension schema, in the order written.
DOSSIER_PROPERTIES: tuple[tuple[str, str, str], ...] = (
    ("caseNumber", "Text", "Case number (案号) of the dossier this volume belongs to"),
    ("volumeNumber", "Integer", "Number N of this volume (第N卷)"),
    ("volumeCount", "Integer", "Number M of volumes in the dossier (共M卷)"),
    ("standardId", "Text", "Digitization standard the volume was made to, e.g. DA/T 31-2017"),
    ("standardVersion", "Text", "Version of the standard profile used"),
    ("pipelineVersion", "Text", "Version of the scan-to-dossier pipeline that made the volume"),
    ("pageHashRoot", "Text", "Hex root over the SHA-256 digests of the raw scanned pages in this volume"),
    ("pageHashMethod", "Text", "How pageHashRoot is computed"),
)

ActiveContentPolicy = Literal["strip", "refuse"]


@dataclass(frozen=True)
class ArchivalMetadata:
    """Descriptive metadata written to a volume's XMP and Info dictionary."""

    title: str
    author: str  # the agency that made the file (立卷单位)
    subject: str
    case_no: str
    volume: int
    volumes: int
    standard_id: str
    standard_version: str
    pipeline_version: str
    page_hash_root: str
    created: datetime
    lang: str = "zh-CN"
    keywords: str = ""
    modified: datetime | None = None  # None: the same instant as ``created`` (reproducible output)


@dataclass
class FinishNotes:
    """What finishing changed or removed, for the log and the tests."""

    removed: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)


def page_hash_root(sha256s: Sequence[str]) -> str:
    """Merkle root (SHA-256, odd node carried up) over hex page digests in volume order; of no pages, SHA-256('')."""
    level = [bytes.fromhex(h) for h in sha256s]
    if not level:
        return hashlib.sha256(b"").hexdigest()
    while len(level) > 1:
        nxt = [hashlib.sha256(level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex()


# ----------------------------------------------------------------------------------------------------------------
# Dates and XMP


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


def xmp_date(dt: datetime) -> str:
    """ISO 8601 date as XMP writes it, second precision, with the offset (Z for UTC)."""
    dt = _aware(dt).replace(microsecond=0)
    text = dt.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def pdf_date(dt: datetime) -> str:
    """The same instant as a PDF date string (D:YYYYMMDDHHmmSS+HH'mm' or Z)."""
    dt = _aware(dt).replace(microsecond=0)
    off = dt.utcoffset()
    assert off is not None
    minutes = int(off.total_seconds() // 60)
    if minutes == 0:
        tz = "Z"
    else:
        sign = "+" if minutes > 0 else "-"
        hh, mm = divmod(abs(minutes), 60)
        tz = f"{sign}{hh:02d}'{mm:02d}'"
    return dt.strftime("D:%Y%m%d%H%M%S") + tz


def _producer() -> str:
    return f"scan-to-dossier {__version__} (pikepdf {pikepdf.__version__})"


def _creator_tool(meta: ArchivalMetadata) -> str:
    return f"scan-to-dossier {meta.pipeline_version}"


def build_xmp(meta: ArchivalMetadata, level: str, producer: str) -> bytes:
    """The XMP packet of a volume: Dublin Core, XMP basic, PDF, PDF/A id and the declared dossier schema."""
    part, conformance = level[0], level[1].upper()
    created = xmp_date(meta.created)
    modified = xmp_date(meta.modified or meta.created)
    e = escape

    def desc(prefix: str, body: str) -> str:
        return f'  <rdf:Description rdf:about="" xmlns:{prefix}="{NS[prefix]}">\n{body}  </rdf:Description>\n'

    dc = (
        "   <dc:format>application/pdf</dc:format>\n"
        f'   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{e(meta.title)}</rdf:li></rdf:Alt></dc:title>\n'
        f"   <dc:creator><rdf:Seq><rdf:li>{e(meta.author)}</rdf:li></rdf:Seq></dc:creator>\n"
        f'   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{e(meta.subject)}</rdf:li></rdf:Alt>'
        "</dc:description>\n"
        f"   <dc:language><rdf:Bag><rdf:li>{e(meta.lang)}</rdf:li></rdf:Bag></dc:language>\n"
    )
    xmp = (
        f"   <xmp:CreateDate>{created}</xmp:CreateDate>\n"
        f"   <xmp:ModifyDate>{modified}</xmp:ModifyDate>\n"
        f"   <xmp:MetadataDate>{modified}</xmp:MetadataDate>\n"
        f"   <xmp:CreatorTool>{e(_creator_tool(meta))}</xmp:CreatorTool>\n"
    )
    pdf = f"   <pdf:Producer>{e(producer)}</pdf:Producer>\n"
    if meta.keywords:
        pdf += f"   <pdf:Keywords>{e(meta.keywords)}</pdf:Keywords>\n"
    pdfaid = f"   <pdfaid:part>{part}</pdfaid:part>\n   <pdfaid:conformance>{conformance}</pdfaid:conformance>\n"
    props = "".join(
        '        <rdf:li rdf:parseType="Resource">\n'
        f"         <pdfaProperty:name>{name}</pdfaProperty:name>\n"
        f"         <pdfaProperty:valueType>{vtype}</pdfaProperty:valueType>\n"
        "         <pdfaProperty:category>external</pdfaProperty:category>\n"
        f"         <pdfaProperty:description>{e(text)}</pdfaProperty:description>\n"
        "        </rdf:li>\n"
        for name, vtype, text in DOSSIER_PROPERTIES
    )
    extension = (
        f'  <rdf:Description rdf:about="" xmlns:pdfaExtension="{NS["pdfaExtension"]}" '
        f'xmlns:pdfaSchema="{NS["pdfaSchema"]}" xmlns:pdfaProperty="{NS["pdfaProperty"]}">\n'
        "   <pdfaExtension:schemas>\n    <rdf:Bag>\n"
        '     <rdf:li rdf:parseType="Resource">\n'
        "      <pdfaSchema:schema>scan-to-dossier volume metadata</pdfaSchema:schema>\n"
        f"      <pdfaSchema:namespaceURI>{DOSSIER_NS}</pdfaSchema:namespaceURI>\n"
        f"      <pdfaSchema:prefix>{DOSSIER_PREFIX}</pdfaSchema:prefix>\n"
        f"      <pdfaSchema:property>\n       <rdf:Seq>\n{props}       </rdf:Seq>\n      </pdfaSchema:property>\n"
        "     </rdf:li>\n    </rdf:Bag>\n   </pdfaExtension:schemas>\n  </rdf:Description>\n"
    )
    values = {
        "caseNumber": meta.case_no,
        "volumeNumber": str(meta.volume),
        "volumeCount": str(meta.volumes),
        "standardId": meta.standard_id,
        "standardVersion": meta.standard_version,
        "pipelineVersion": meta.pipeline_version,
        "pageHashRoot": meta.page_hash_root,
        "pageHashMethod": PAGE_HASH_METHOD,
    }
    dossier = "".join(f"   <{DOSSIER_PREFIX}:{k}>{e(v)}</{DOSSIER_PREFIX}:{k}>\n" for k, v in values.items())
    body = (
        desc("dc", dc) + desc("xmp", xmp) + desc("pdf", pdf) + desc("pdfaid", pdfaid) + extension
        + desc(DOSSIER_PREFIX, dossier)
    )
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        f'<x:xmpmeta xmlns:x="{NS["x"]}">\n <rdf:RDF xmlns:rdf="{NS["rdf"]}">\n{body} </rdf:RDF>\n</x:xmpmeta>\n'
        + (" " * 99 + "\n") * 20
        + '<?xpacket end="w"?>'
    )
    return packet.encode("utf-8")


def read_xmp(pdf: Pdf) -> dict[str, str]:
    """The simple properties of a document's XMP as ``prefix:name`` → text (first item of Alt/Seq/Bag)."""
    meta = pdf.Root.get("/Metadata")
    if not isinstance(meta, Stream):
        return {}
    try:
        root = ET.fromstring(meta.read_bytes())
    except (ET.ParseError, pikepdf.PdfError):
        return {}
    prefixes = {uri: p for p, uri in NS.items()}
    out: dict[str, str] = {}
    rdf = NS["rdf"]
    for desc in root.iter(f"{{{rdf}}}Description"):
        for prop in desc:
            uri, _, local = prop.tag[1:].partition("}")
            if uri not in prefixes or uri == NS["pdfaExtension"]:
                continue
            li = prop.find(f".//{{{rdf}}}li")
            text = (li.text if li is not None else prop.text) or ""
            out[f"{prefixes[uri]}:{local}"] = text.strip()
    return out


def _set_info(pdf: Pdf, meta: ArchivalMetadata, producer: str) -> None:
    info = Dictionary(
        Title=pikepdf.String(meta.title),
        Author=pikepdf.String(meta.author),
        Subject=pikepdf.String(meta.subject),
        Creator=pikepdf.String(_creator_tool(meta)),
        Producer=pikepdf.String(producer),
        CreationDate=pikepdf.String(pdf_date(meta.created)),
        ModDate=pikepdf.String(pdf_date(meta.modified or meta.created)),
    )
    if meta.keywords:
        info.Keywords = pikepdf.String(meta.keywords)
    pdf.trailer.Info = pdf.make_indirect(info)


# ----------------------------------------------------------------------------------------------------------------
# Walking the document


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


def _page_resources(pdf: Pdf) -> Iterator[tuple[int, Dictionary]]:
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


# ----------------------------------------------------------------------------------------------------------------
# Fonts

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
    except Exception:  # a partial subset program: fall back to Ascent
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


def _fix_font(pdf: Pdf, font: Dictionary, level: str, label: str, notes: FinishNotes) -> None:
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


# ----------------------------------------------------------------------------------------------------------------
# Active content, external references, transparency, images

_BAD_ACTIONS = {"/JavaScript", "/Launch", "/URI", "/GoToR", "/GoToE", "/ImportData", "/SubmitForm", "/ResetForm",
                "/Sound", "/Movie", "/Rendition", "/Hide", "/SetOCGState", "/Trans", "/GoTo3DView"}


def _action_is_bad(action: object) -> bool:
    """True if an action (or one in its /Next chain) is not a plain in-document GoTo/Named action."""
    seen = 0
    while isinstance(action, Dictionary) and seen < 64:
        if action.get("/S") in _BAD_ACTIONS or action.get("/S") not in ("/GoTo", "/Named", None):
            return True
        action = action.get("/Next")
        if isinstance(action, Array):
            return any(_action_is_bad(a) for a in action)
        seen += 1
    return False


def _strip(policy: ActiveContentPolicy, what: str, notes: FinishNotes, label: str) -> None:
    if policy == "refuse":
        raise VolumeError(f"{what}; PDF/A volumes may not carry it")
    notes.removed.append(what)
    log.warning("%s: removed %s", label, what)


def _clean_outline(item: object, policy: ActiveContentPolicy, notes: FinishNotes, label: str) -> None:
    count = 0
    while isinstance(item, Dictionary) and count < 100_000:
        if _action_is_bad(item.get("/A")):
            _strip(policy, f"outline item action {item.A.get('/S')}", notes, label)
            del item["/A"]
        if "/First" in item:
            _clean_outline(item.First, policy, notes, label)
        item = item.get("/Next")
        count += 1


def _clean_document(pdf: Pdf, level: str, policy: ActiveContentPolicy, label: str, notes: FinishNotes) -> None:
    root = pdf.Root
    names = root.get("/Names")
    if isinstance(names, Dictionary):
        for key in ("/JavaScript", "/EmbeddedFiles", "/AlternatePresentations"):
            if key in names:
                _strip(policy, f"document {key[1:]}", notes, label)
                del names[key]
    if "/OpenAction" in root and (_action_is_bad(root.OpenAction) if isinstance(root.OpenAction, Dictionary)
                                  else False):
        _strip(policy, "open action", notes, label)
        del root["/OpenAction"]
    for key in ("/AA", "/Perms", "/Collection", "/Requirements"):
        if key in root:
            _strip(policy, f"catalog {key[1:]}", notes, label)
            del root[key]
    if "/OCProperties" in root and level == "1b":
        raise VolumeError("optional content (layers) cannot be made PDF/A-1; flatten it when rendering")
    acro = root.get("/AcroForm")
    if isinstance(acro, Dictionary):
        for key in ("/XFA", "/NeedAppearances"):
            if key in acro:
                notes.removed.append(f"AcroForm {key[1:]}")
                del acro[key]
    if "/Outlines" in root:
        _clean_outline(root.Outlines.get("/First"), policy, notes, label)
    for n, page in enumerate(pdf.pages, start=1):
        obj = page.obj
        if "/AA" in obj:
            _strip(policy, f"page {n} additional actions", notes, label)
            del obj["/AA"]
        if level == "1b" and isinstance(obj.get("/Group"), Dictionary) and obj.Group.get("/S") == "/Transparency":
            del obj["/Group"]
            notes.fixed.append(f"page {n}: transparency group removed")
        annots = obj.get("/Annots")
        if not isinstance(annots, Array):
            continue
        keep = Array()
        for annot in annots:
            if not isinstance(annot, Dictionary):
                continue
            sub = annot.get("/Subtype")
            if sub in ("/FileAttachment", "/Sound", "/Movie", "/Screen", "/3D", "/RichMedia") or _action_is_bad(
                annot.get("/A")
            ):
                _strip(policy, f"page {n} {str(sub)[1:]} annotation", notes, label)
                continue
            if "/AA" in annot:
                _strip(policy, f"page {n} annotation additional actions", notes, label)
                del annot["/AA"]
            _fix_annotation(pdf, annot, n, notes)
            keep.append(annot)
        if len(keep) != len(annots):
            if len(keep):
                obj.Annots = keep
            else:
                del obj["/Annots"]


def _fix_annotation(pdf: Pdf, annot: Dictionary, page: int, notes: FinishNotes) -> None:
    """Print flag on, hidden flags off, and an appearance for every annotation that needs one."""
    flags = int(annot.get("/F", 0))
    fixed = (flags | 4) & ~(1 | 2 | 32 | 256)
    if fixed != flags:
        annot.F = fixed
        notes.fixed.append(f"page {page}: annotation flags {flags} -> {fixed}")
    if "/CA" in annot and float(annot.CA) != 1.0:
        annot.CA = 1.0
    if annot.get("/Subtype") in ("/Popup", "/Link") or "/AP" in annot:
        return
    rect = [float(v) for v in annot.get("/Rect", [0, 0, 0, 0])]
    form = pdf.make_stream(b"", Type=Name.XObject, Subtype=Name.Form,
                           BBox=[0, 0, abs(rect[2] - rect[0]), abs(rect[3] - rect[1])])
    annot.AP = Dictionary(N=form)
    notes.fixed.append(f"page {page}: empty appearance given to {annot.get('/Subtype')} annotation")


def _flatten_smask(pdf: Pdf, image: Stream, label: str) -> None:
    """Composite a soft-masked image onto white and store it without alpha (PDF/A-1 forbids soft masks)."""
    from PIL import Image

    try:
        base = pikepdf.PdfImage(image).as_pil_image()
        mask = pikepdf.PdfImage(image.SMask).as_pil_image().convert("L")
    except Exception as exc:
        raise VolumeError(f"{label}: soft-masked image cannot be decoded to flatten it: {exc}") from exc
    mode = "L" if base.mode in ("1", "L", "LA") else "RGB"
    base = base.convert(mode)
    if mask.size != base.size:
        mask = mask.resize(base.size)
    white = Image.new(mode, base.size, 255 if mode == "L" else (255, 255, 255))
    flat = Image.composite(base, white, mask)
    image.write(flat.tobytes(), filter=Name.FlateDecode)
    for key in ("/SMask", "/Decode", "/DecodeParms", "/Mask", "/SMaskInData"):
        if key in image:
            del image[key]
    image.ColorSpace = Name.DeviceGray if mode == "L" else Name.DeviceRGB
    image.BitsPerComponent = 8


def _clean_resources(pdf: Pdf, level: str, notes: FinishNotes) -> None:
    done: set[tuple[int, int]] = set()
    for page, res in _page_resources(pdf):
        label = f"page {page}"
        fonts = res.get("/Font")
        if isinstance(fonts, Dictionary):
            for _, font in fonts.items():
                if isinstance(font, Dictionary) and font.objgen not in done:
                    if font.objgen != (0, 0):
                        done.add(font.objgen)
                    _fix_font(pdf, font, level, label, notes)
        gstates = res.get("/ExtGState")
        if isinstance(gstates, Dictionary):
            for gname, gs in gstates.items():
                _check_gstate(gs, level, f"{label} graphics state {gname}", notes)
        xobjects = res.get("/XObject")
        if not isinstance(xobjects, Dictionary):
            continue
        for xname, xobj in xobjects.items():
            if not isinstance(xobj, Stream):
                continue
            where = f"{label} XObject {xname}"
            sub = xobj.get("/Subtype")
            if sub == "/PS" or "/Ref" in xobj or "/OPI" in xobj:
                raise VolumeError(f"{where}: PostScript, reference or OPI XObjects are not allowed in PDF/A")
            if sub == "/Form":
                group = xobj.get("/Group")
                if level == "1b" and isinstance(group, Dictionary) and group.get("/S") == "/Transparency":
                    del xobj["/Group"]
                    notes.fixed.append(f"{where}: transparency group removed")
                continue
            if sub != "/Image" or xobj.objgen in done:
                continue
            if xobj.objgen != (0, 0):
                done.add(xobj.objgen)
            _fix_image(pdf, xobj, level, where, notes)


def _check_gstate(gs: object, level: str, where: str, notes: FinishNotes) -> None:
    if not isinstance(gs, Dictionary):
        return
    if "/TR" in gs:
        del gs["/TR"]
        notes.fixed.append(f"{where}: transfer function removed")
    if "/TR2" in gs and gs.TR2 != Name.Default:
        gs.TR2 = Name.Default
    if level != "1b":
        return
    smask = gs.get("/SMask")
    if smask is not None and smask != Name("/None"):
        raise VolumeError(f"{where}: soft mask in use; PDF/A-1 forbids transparency")
    for key in ("/CA", "/ca"):
        if key in gs and float(gs[key]) != 1.0:
            raise VolumeError(f"{where}: opacity {gs[key]} in use; PDF/A-1 forbids transparency")
    if "/BM" in gs and gs.BM not in (Name.Normal, Name.Compatible):
        raise VolumeError(f"{where}: blend mode {gs.BM} in use; PDF/A-1 forbids transparency")


def _filters(stream: Stream) -> list[object]:
    f = stream.get("/Filter")
    return list(f) if isinstance(f, Array) else ([f] if f is not None else [])


def _fix_image(pdf: Pdf, image: Stream, level: str, where: str, notes: FinishNotes) -> None:
    filters = _filters(image)
    if Name.JPXDecode in filters and level == "1b":
        raise VolumeError(f"{where}: JPEG 2000 is not allowed in PDF/A-1; encode the page as JPEG or CCITT G4")
    if Name.LZWDecode in filters:
        image.write(image.read_bytes(), filter=Name.FlateDecode)
        if "/DecodeParms" in image:
            del image["/DecodeParms"]
        notes.fixed.append(f"{where}: LZW re-encoded as Flate")
    if image.get("/Interpolate") is True or image.get("/Interpolate") == True:  # noqa: E712 (pikepdf Boolean)
        del image["/Interpolate"]
        notes.fixed.append(f"{where}: Interpolate removed")
    for key in ("/Alternates", "/OPI"):
        if key in image:
            del image[key]
            notes.fixed.append(f"{where}: {key[1:]} removed")
    if level == "1b" and "/SMask" in image:
        _flatten_smask(pdf, image, where)
        notes.fixed.append(f"{where}: soft mask flattened onto white")


def _fix_text_strings(pdf: Pdf, notes: FinishNotes) -> None:
    """Re-encode page-label prefixes and outline titles written as raw UTF-8 (PyMuPDF does) as proper text strings."""

    def fix(holder: Dictionary, key: str, what: str) -> None:
        value = holder.get(key)
        if not isinstance(value, pikepdf.String):
            return
        raw = bytes(value)
        if raw.startswith((b"\xfe\xff", b"\xef\xbb\xbf")) or raw.isascii():
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return
        holder[key] = pikepdf.String(text)
        notes.fixed.append(f"{what} re-encoded from raw UTF-8: {text}")

    labels = pdf.Root.get("/PageLabels")
    if isinstance(labels, Dictionary):
        nums = labels.get("/Nums", Array())
        for i in range(1, len(nums), 2):
            if isinstance(nums[i], Dictionary):
                fix(nums[i], "/P", "page label")
    outline = pdf.Root.get("/Outlines")

    def walk(item: object) -> None:
        while isinstance(item, Dictionary):
            fix(item, "/Title", "outline title")
            walk(item.get("/First"))
            item = item.get("/Next")

    if isinstance(outline, Dictionary):
        walk(outline.get("/First"))


def _output_intent(pdf: Pdf) -> Dictionary:
    try:
        icc = SRGB_ICC.read_bytes()
    except OSError as exc:
        raise VolumeError(f"sRGB ICC profile {SRGB_ICC} not readable (install icc-profiles-free): {exc}") from exc
    if icc[8] >= 4:
        raise VolumeError(f"{SRGB_ICC} is an ICC v{icc[8]} profile; PDF/A-1 needs ICC v2")
    profile = pdf.make_stream(icc, N=3)
    return pdf.make_indirect(Dictionary(
        Type=Name.OutputIntent, S=Name.GTS_PDFA1,
        OutputConditionIdentifier=pikepdf.String("sRGB IEC61966-2.1"),
        Info=pikepdf.String("sRGB IEC61966-2.1"), RegistryName=pikepdf.String("http://www.color.org"),
        DestOutputProfile=profile,
    ))


# ----------------------------------------------------------------------------------------------------------------
# Entry point


def save_kwargs(level: str) -> dict:
    """pikepdf save settings for a level: 1b as PDF 1.4 with a classic xref table, 2b as PDF 1.7."""
    common = dict(compress_streams=True, fix_metadata_version=False, deterministic_id=True, linearize=False)
    if level == "1b":
        return dict(common, min_version="1.4", force_version="1.4",
                    object_stream_mode=pikepdf.ObjectStreamMode.disable)
    return dict(common, min_version="1.7", force_version="1.7", object_stream_mode=pikepdf.ObjectStreamMode.preserve)


def finish_pdfa(src: Path, dst: Path, level: str, meta: ArchivalMetadata,
                on_active_content: ActiveContentPolicy = "strip") -> FinishNotes:
    """Write ``src`` as PDF/A-``level`` (1b or 2b) to ``dst`` with the volume's XMP, Info and sRGB OutputIntent;
    return what was removed or fixed (active content is removed unless ``on_active_content="refuse"``)."""
    if level not in LEVELS:
        raise VolumeError(f"{src.name}: PDF/A level {level!r} is not supported (choose 1b or 2b)", meta.volume)
    label = f"volume {meta.volume} ({src.name})"
    try:
        pdf = pikepdf.open(src)
    except pikepdf.PasswordError as exc:
        raise VolumeError(f"{label}: the PDF is encrypted; PDF/A forbids encryption", meta.volume) from exc
    except pikepdf.PdfError as exc:
        raise VolumeError(f"{label}: cannot read the PDF: {exc}", meta.volume) from exc
    notes = FinishNotes()
    with pdf:
        if pdf.is_encrypted:
            raise VolumeError(f"{label}: the PDF is encrypted; PDF/A forbids encryption", meta.volume)
        try:
            _clean_document(pdf, level, on_active_content, label, notes)
            _clean_resources(pdf, level, notes)
        except VolumeError as exc:
            raise VolumeError(f"{label}: {exc}", meta.volume) from exc
        _fix_text_strings(pdf, notes)
        root = pdf.Root
        # /Info in the catalog is a PyMuPDF 2.0 artefact (it belongs in the trailer); /Version and /Extensions would
        # announce a newer PDF than the level allows.
        for key in ("/Version", "/Extensions", "/Info"):
            if key in root:
                del root[key]
        root.Lang = pikepdf.String(meta.lang)
        root.OutputIntents = Array([_output_intent(pdf)])
        producer = _producer()
        xmp = build_xmp(meta, level, producer)
        root.Metadata = pdf.make_stream(xmp, Type=Name.Metadata, Subtype=Name.XML)
        _set_info(pdf, meta, producer)
        if "/PieceInfo" in root:
            del root["/PieceInfo"]
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(dst.name + ".part")
        try:
            pdf.save(tmp, **save_kwargs(level))
        except pikepdf.PdfError as exc:
            raise VolumeError(f"{label}: cannot write {dst}: {exc}", meta.volume) from exc
    tmp.replace(dst)
    for line in notes.fixed:
        log.debug("%s: %s", label, line)
    return notes
