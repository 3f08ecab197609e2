"""The archival metadata of a volume: XMP with the dossier extension schema, the Info dictionary, PDF dates."""

from __future__ import annotations

import hashlib
import logging
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape

import pikepdf
from pikepdf import Dictionary, Pdf, Stream

from pipeline import __version__

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
    extra: tuple[tuple[str, str, str, str], ...] = ()  # more dossier properties: (name, XMP type, description, value)


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


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


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


def producer_name() -> str:
    """The Producer named in XMP and Info: this pipeline's version and the pikepdf that wrote the file."""
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
        for name, vtype, text in DOSSIER_PROPERTIES + tuple(x[:3] for x in meta.extra)
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
        **{name: value for name, _, _, value in meta.extra},
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


def declared_pdfa_level(xmp: Mapping[str, str]) -> str:
    """The PDF/A level whose rules a file follows by what its XMP declares (``pdfaid:part``): 1b for part 1 or when
    nothing is declared, 2b for part 2 and later: PDF/A-3 keeps PDF/A-2's rules for what a page may hold (PDF 1.7,
    transparency, JPEG 2000, OpenType) and only allows embedded files of any kind."""
    part = xmp.get("pdfaid:part", "").strip()
    return "2b" if part.isdigit() and int(part) >= 2 else "1b"


def pdfa_level_of(path: Path) -> str:
    """The PDF/A level a PDF file declares in its XMP (:func:`declared_pdfa_level`)."""
    with pikepdf.open(path) as pdf:
        return declared_pdfa_level(read_xmp(pdf))


def metadata_of(pdf: Pdf, fallback: datetime) -> ArchivalMetadata:
    """A volume's archival metadata read back from its XMP (its other dossier properties — a disclosure copy's
    provenance — kept as ``extra``); ``fallback`` stands for a creation date the XMP does not give."""
    xmp = read_xmp(pdf)
    known = {name for name, _, _ in DOSSIER_PROPERTIES}
    extra = tuple((key.split(":", 1)[1], "Text", "As declared by the volume this one was made from", value)
                  for key, value in xmp.items()
                  if key.startswith(f"{DOSSIER_PREFIX}:") and key.split(":", 1)[1] not in known)
    try:
        created = datetime.fromisoformat(xmp.get("xmp:CreateDate", "").replace("Z", "+00:00"))
    except ValueError:
        created = fallback

    def number(name: str) -> int:
        value = xmp.get(f"{DOSSIER_PREFIX}:{name}", "")
        return int(value) if value.isdigit() else 0

    return ArchivalMetadata(
        title=xmp.get("dc:title", ""), author=xmp.get("dc:creator", ""), subject=xmp.get("dc:description", ""),
        case_no=xmp.get("dossier:caseNumber", ""), volume=number("volumeNumber"), volumes=number("volumeCount"),
        standard_id=xmp.get("dossier:standardId", ""), standard_version=xmp.get("dossier:standardVersion", ""),
        pipeline_version=xmp.get("dossier:pipelineVersion", ""), page_hash_root=xmp.get("dossier:pageHashRoot", ""),
        created=created, extra=extra)


def set_info(pdf: Pdf, meta: ArchivalMetadata, producer: str) -> None:
    """Write the document Info dictionary to agree with the XMP (PDF/A requires both to say the same)."""
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
