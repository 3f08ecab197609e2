"""Inputs like the renderer's volumes and local dossier folders, for the archival tests.

A volume here is built the way `pipeline.render` builds one: generated pages (cover, 卷内目录, 备考表) written with
PyMuPDF in the embedded WenQuanYi Zen Hei TrueType font, scanned pages put in with pikepdf without re-encoding
(CCITT G4 for bitonal, DCT for grey and colour), an invisible text layer in render mode 3 with Tesseract's Type0
glyphless font, a page number stamped top-right, bookmarks per document and page labels 封面, 目录-1, 1..N, 备考表.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import pikepdf
import pymupdf
from PIL import Image, ImageDraw, ImageFont

from pipeline.models import DossierManifest
from samples.synthetic import synthetic_page

WQY = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
A4 = (595.0, 842.0)
TZ = UTC


@dataclass(frozen=True)
class ScanSpec:
    """One scanned page of a test volume: its synthetic kind, colour encoding and the OCR words to lay on it."""

    kind: str = "indictment"
    mode: str = "bitonal"  # bitonal | grey | colour
    words: tuple[str, ...] = ("人民法院", "起诉书")


@dataclass
class VolumeFacts:
    """What a test volume holds, for the assertions."""

    path: Path
    pdf_pages: int
    numbered: int
    labels: list[str]
    text_pages: list[int] = field(default_factory=list)  # 0-based PDF page indexes with an OCR text layer


@lru_cache(maxsize=1)
def glyphless_font_pdf() -> bytes:
    """A one-page PDF made by Tesseract's own PDF renderer, to borrow its Type0 GlyphLessFont from."""
    img = Image.new("L", (200, 60), 255)
    ImageDraw.Draw(img).text((10, 10), "人民", font=ImageFont.truetype(WQY, 30), fill=0)
    buf = io.BytesIO()
    img.save(buf, "PNG", dpi=(300, 300))
    out = subprocess.run(
        ["tesseract", "stdin", "stdout", "-l", "chi_sim", "-c", "textonly_pdf=1", "pdf"],
        input=buf.getvalue(), capture_output=True, timeout=60, check=True,
    )
    return out.stdout


def g4_strip(img: Image.Image) -> tuple[bytes, int, int]:
    """The single CCITT G4 strip of a bitonal image, as a TIFF writer would store it."""
    bitonal = img.convert("L").point(lambda v: 255 if v > 140 else 0).convert("1", dither=Image.Dither.NONE)
    buf = io.BytesIO()
    bitonal.save(buf, "TIFF", compression="group4", strip_size=2**30)
    tif = Image.open(io.BytesIO(buf.getvalue()))
    offset = tif.tag_v2[273][0]
    length = tif.tag_v2[279][0]
    return buf.getvalue()[offset:offset + length], bitonal.width, bitonal.height


def _scan_image_stream(pdf: pikepdf.Pdf, spec: ScanSpec, seed: int, dpi: int) -> tuple[pikepdf.Stream, int, int]:
    img = synthetic_page(spec.kind, seed=seed, dpi=dpi).image
    if spec.mode == "bitonal":
        data, w, h = g4_strip(img)
        stream = pdf.make_stream(
            data, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image, Width=w, Height=h,
            ColorSpace=pikepdf.Name.DeviceGray, BitsPerComponent=1, Filter=pikepdf.Name.CCITTFaxDecode,
            DecodeParms=pikepdf.Dictionary(K=-1, Columns=w, Rows=h, BlackIs1=True),
        )
        return stream, w, h
    mode = "L" if spec.mode == "grey" else "RGB"
    conv = img.convert(mode)
    buf = io.BytesIO()
    conv.save(buf, "JPEG", quality=70)
    stream = pdf.make_stream(
        buf.getvalue(), Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image, Width=conv.width,
        Height=conv.height, ColorSpace=pikepdf.Name.DeviceGray if mode == "L" else pikepdf.Name.DeviceRGB,
        BitsPerComponent=8, Filter=pikepdf.Name.DCTDecode,
    )
    return stream, conv.width, conv.height


def _text_layer(words: tuple[str, ...], width_pt: float, height_pt: float) -> bytes:
    """Invisible words (render mode 3) in the glyphless font, one line each, no space between Han words."""
    ops = ["BT", "3 Tr"]
    y = height_pt - 80
    for word in words:
        hexed = "".join(f"{ord(c):04X}" for c in word)
        ops.append(f"1 0 0 1 60 {y:.2f} Tm /GlyphLess 14 Tf 100 Tz [<{hexed}>] TJ")
        y -= 24
    ops.append("ET")
    return ("\n".join(ops) + "\n").encode("ascii")


def build_volume(path: Path, scans: list[ScanSpec], *, number: int = 1, of: int = 1, seed: int = 1,
                 dpi: int = 100, case_no: str = "（2024）豫0727刑初172号",
                 documents: list[tuple[str, int]] | None = None) -> VolumeFacts:
    """Write a renderer-like volume PDF (cover, 卷内目录, scans numbered 1..N, 备考表) and describe it."""
    n = len(scans)
    documents = documents or [("起诉书", n)]
    doc = pymupdf.open()
    cover = doc.new_page(width=A4[0], height=A4[1])
    cover.insert_font(fontname="wqy", fontfile=WQY)
    cover.insert_text((90, 200), f"{case_no}", fontname="wqy", fontsize=18)
    cover.insert_text((90, 240), f"第{number}卷 共{of}卷", fontname="wqy", fontsize=16)
    toc = doc.new_page(width=A4[0], height=A4[1])
    rows = "".join(f"<tr><td>{i + 1}</td><td>{t}</td><td>{p}</td></tr>" for i, (t, p) in enumerate(documents))
    toc.insert_htmlbox(
        pymupdf.Rect(50, 60, 545, 500),
        f"<h3>卷内目录</h3><table border='1'><tr><th>顺序号</th><th>题名</th><th>页号</th></tr>{rows}</table>",
        css="@font-face {font-family: wqy; src: url(wqy-zenhei.ttc);} * {font-family: wqy;}",
        archive=pymupdf.Archive(str(Path(WQY).parent)),
    )
    for i in range(n):
        page = doc.new_page(width=A4[0], height=A4[1])
        page.insert_font(fontname="wqy", fontfile=WQY)
        page.insert_text((A4[0] - 60, 40), str(i + 1), fontname="wqy", fontsize=12)
    back = doc.new_page(width=A4[0], height=A4[1])
    back.insert_font(fontname="wqy", fontfile=WQY)
    back.insert_text((90, 120), "备考表", fontname="wqy", fontsize=18)
    back.insert_text((90, 160), f"本卷共{len(documents)}件{n}页", fontname="wqy", fontsize=12)
    toc_entries, first = [], 3
    for title, pages in documents:
        toc_entries.append([1, title, first])
        first += pages
    doc.set_toc(toc_entries)
    doc.set_page_labels([
        {"startpage": 0, "prefix": "封面", "style": "", "firstpagenum": 1},
        {"startpage": 1, "prefix": "目录-", "style": "D", "firstpagenum": 1},
        {"startpage": 2, "prefix": "", "style": "D", "firstpagenum": 1},
        {"startpage": 2 + n, "prefix": "备考表", "style": "", "firstpagenum": 1},
    ])
    doc.subset_fonts()
    raw = doc.tobytes(garbage=3, deflate=True)
    doc.close()

    pdf = pikepdf.open(io.BytesIO(raw))
    tess = pikepdf.open(io.BytesIO(glyphless_font_pdf()))
    glyphless = pdf.copy_foreign(next(iter(tess.pages[0].Resources.Font.values())))
    text_pages = []
    for i, spec in enumerate(scans):
        page = pdf.pages[2 + i]
        stream, w, h = _scan_image_stream(pdf, spec, seed * 100 + i, dpi)
        wpt, hpt = w * 72.0 / dpi, h * 72.0 / dpi
        page.MediaBox = [0, 0, wpt, hpt]
        # PyMuPDF shares one /Resources dictionary among pages with the same fonts: give each page its own.
        shared = page.obj.Resources
        page.obj.Resources = pikepdf.Dictionary({
            k: (pikepdf.Dictionary(dict(v.items())) if isinstance(v, pikepdf.Dictionary) and not v.is_indirect else v)
            for k, v in shared.items()
        })
        page.add_resource(stream, pikepdf.Name.XObject, pikepdf.Name("/Im0"))
        page.contents_add(pdf.make_stream(f"q {wpt:.3f} 0 0 {hpt:.3f} 0 0 cm /Im0 Do Q\n".encode()), prepend=True)
        if spec.words:
            page.add_resource(glyphless, pikepdf.Name.Font, pikepdf.Name("/GlyphLess"))
            page.contents_add(pdf.make_stream(_text_layer(spec.words, wpt, hpt)))
            text_pages.append(2 + i)
    pdf.save(path)
    labels = ["封面", "目录-1"] + [str(i + 1) for i in range(n)] + ["备考表"]
    return VolumeFacts(path=path, pdf_pages=n + 3, numbered=n, labels=labels, text_pages=text_pages)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def now() -> datetime:
    """The current time, second precision, UTC."""
    return datetime.now(TZ).replace(microsecond=0)


# ----------------------------------------------------------------------------------------------------------------
# Dossier folders

CASE_NO = "（2024）豫0727刑初172号"
STANDARD = ("DA/T 31-2017", "1.0.0")


def _fake_digest(tag: str) -> str:
    return hashlib.sha256(tag.encode()).hexdigest()


def build_dossier(folder: Path, signer, *, level: str = "1b", volumes: list[list[list[ScanSpec]]] | None = None,
                  seed: int = 7) -> DossierManifest:
    """Write a signed dossier folder: volumes/NNN.pdf, catalogue.json and dossier.json (written last).

    ``volumes`` lists, per volume, its documents, each a list of scanned pages. One blank page and one separator
    sheet are added to the input pages, as a batch would have them.
    """
    from pipeline.archival import ArchivalMetadata, finish_pdfa, page_hash_root, sign_pdf
    from pipeline.models import (
        Catalogue,
        CatalogueEntry,
        DocumentEntry,
        DossierManifest,
        PageRecord,
        PageSource,
        VolumeCatalogue,
        VolumeEntry,
    )

    volumes = volumes or [
        [[ScanSpec("indictment", "bitonal", ("起诉书", "人民检察院")), ScanSpec("record", "grey", ("询问笔录",))]],
        [[ScanSpec("judgment", "bitonal", ("刑事判决书",))], [ScanSpec("photo", "colour", ())]],
    ]
    created = now()
    m = len(volumes)
    pages: list[PageRecord] = [PageRecord(source=PageSource(file="000-separator.tif"), sha256=_fake_digest("sep"),
                                          separator=True)]
    documents: list[DocumentEntry] = []
    catalogue = []
    entries: list[VolumeEntry] = []
    (folder / "volumes").mkdir(parents=True, exist_ok=True)
    doc_index = 0
    for v, docs in enumerate(volumes, start=1):
        scans = [s for d in docs for s in d]
        titles = [(d[0].kind and f"文书{doc_index + k + 1}", len(d)) for k, d in enumerate(docs)]
        raw = folder / f"raw-{v:03d}.pdf"
        facts = build_volume(raw, scans, number=v, of=m, seed=seed + v, documents=titles)
        vol_pages, rows, page_no = [], [], 1
        for k, d in enumerate(docs):
            first = page_no
            for s in d:
                digest = _fake_digest(f"{seed}-{v}-{page_no}")
                vol_pages.append(digest)
                pages.append(PageRecord(source=PageSource(file=f"{v:03d}-{page_no:03d}.tif"), sha256=digest,
                                        volume=v, page=page_no, document=doc_index,
                                        ocr_chars=sum(len(w) for w in s.words), colour=s.mode if s.mode != "colour"
                                        else "colour"))
                page_no += 1
            rows.append(CatalogueEntry(seq=k + 1, title=titles[k][0], first_page=first, last_page=page_no - 1,
                                       document=doc_index))
            documents.append(DocumentEntry(index=doc_index, title=titles[k][0], pages=len(d), boundary="manifest"))
            doc_index += 1
        pages.append(PageRecord(source=PageSource(file=f"{v:03d}-blank.tif"), sha256=_fake_digest(f"blank{v}"),
                                blank=True))
        catalogue.append(VolumeCatalogue(volume=v, entries=rows))
        meta = ArchivalMetadata(
            title=f"{CASE_NO} 第{v}卷", author="封丘县人民法院", subject=f"刑事诉讼卷宗 第{v}卷 共{m}卷",
            case_no=CASE_NO, volume=v, volumes=m, standard_id=STANDARD[0], standard_version=STANDARD[1],
            pipeline_version="0.1.0", page_hash_root=page_hash_root(vol_pages), created=created,
        )
        finished = folder / f"pdfa-{v:03d}.pdf"
        finish_pdfa(raw, finished, level, meta)
        key = f"volumes/{v:03d}.pdf"
        info = sign_pdf(finished, folder / key, signer, f"volume {v}")
        raw.unlink()
        finished.unlink()
        path = folder / key
        entries.append(VolumeEntry(number=v, of=m, key=key, sha256=sha256_file(path), bytes=path.stat().st_size,
                                   pages=facts.numbered, pdf_pages=facts.pdf_pages, documents=len(docs), pdfa=level,
                                   signature=info))
    cat = Catalogue(case_no=CASE_NO, volumes=catalogue)
    (folder / "catalogue.json").write_text(cat.model_dump_json(indent=2), encoding="utf-8")
    manifest = DossierManifest(
        case_no=CASE_NO, case_key="case-key", agency="封丘县人民法院", standard=f"{STANDARD[0]}@{STANDARD[1]}",
        pipeline_version="0.1.0", created=created, batches=["batch-1"], volumes=entries, documents=documents,
        pages=pages, catalogue_sha256=sha256_file(folder / "catalogue.json"),
    )
    write_manifest(folder, manifest)
    return manifest


def write_manifest(folder: Path, manifest) -> None:
    """Write dossier.json."""
    (folder / "dossier.json").write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
