"""PDF/A finishing of renderer-like volumes: validity, metadata, fonts, text layer, and what is stripped or refused."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pikepdf
import pymupdf
import pytest
from archival_fixtures import ScanSpec, build_volume
from PIL import Image

from pipeline.archival import ArchivalMetadata, finish_pdfa, page_hash_root, read_xmp
from pipeline.archival._validators import pdfa_check, preflight_pdfa1b
from pipeline.archival._xmp import DOSSIER_NS, pdf_date, xmp_date
from pipeline.errors import VolumeError

CHINA = timezone(timedelta(hours=8))


def meta_for(volume: int = 1, volumes: int = 2) -> ArchivalMetadata:
    return ArchivalMetadata(
        title=f"（2024）豫0727刑初172号 第{volume}卷", author="封丘县人民法院", subject="刑事诉讼卷宗",
        case_no="（2024）豫0727刑初172号", volume=volume, volumes=volumes, standard_id="DA/T 31-2017",
        standard_version="1.0.0", pipeline_version="0.1.0",
        page_hash_root=page_hash_root([hashlib.sha256(b"page%d" % i).hexdigest() for i in range(3)]),
        created=datetime(2024, 5, 1, 10, 20, 30, tzinfo=CHINA),
    )


@pytest.fixture(scope="module")
def raw_volume(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pdfa")
    facts = build_volume(folder / "raw.pdf", [ScanSpec("indictment", "bitonal", ("人民法院", "起诉书")),
                                               ScanSpec("photo", "colour", ()),
                                               ScanSpec("record", "grey", ("询问笔录",))])
    return facts.path


@pytest.fixture(scope="module")
def finished_1b_notes(raw_volume):
    dst = raw_volume.with_name("v-1b.pdf")
    return dst, finish_pdfa(raw_volume, dst, "1b", meta_for())


@pytest.fixture(scope="module")
def finished_1b(finished_1b_notes) -> Path:
    return finished_1b_notes[0]


@pytest.fixture(scope="module")
def finished_2b(raw_volume) -> Path:
    dst = raw_volume.with_name("v-2b.pdf")
    finish_pdfa(raw_volume, dst, "2b", meta_for())
    return dst


def test_finished_renderer_volume_passes_preflight_pdfa1b(finished_1b):
    result = preflight_pdfa1b(finished_1b)
    assert result.valid, result.summary(20)


def test_finished_2b_volume_passes_pikepdf_checker_apart_from_extension_schema(finished_2b):
    result = pdfa_check(finished_2b, "2b")
    assert result.valid, result.summary(20)
    assert result.ignored, "pikepdf should have rejected the extension schema (its documented limitation)"
    assert all(i.code.endswith(("6.6.2.3.1-1",)) for i in result.ignored)


def test_1b_is_saved_as_pdf_1_4_with_a_classic_xref_table(finished_1b):
    data = finished_1b.read_bytes()
    assert data.startswith(b"%PDF-1.4\n")
    assert b"/ObjStm" not in data and b"/XRef" not in data
    with pikepdf.open(finished_1b) as pdf:
        assert "/Version" not in pdf.Root
        assert pdf.Root.Metadata.get("/Filter") is None  # PDF/A-1 metadata stream is not filtered


def test_xmp_carries_case_volume_standard_and_page_hash_root(finished_1b):
    meta = meta_for()
    with pikepdf.open(finished_1b) as pdf:
        xmp = read_xmp(pdf)
        raw = pdf.Root.Metadata.read_bytes().decode("utf-8")
    assert xmp["dossier:caseNumber"] == meta.case_no
    assert (xmp["dossier:volumeNumber"], xmp["dossier:volumeCount"]) == ("1", "2")
    assert (xmp["dossier:standardId"], xmp["dossier:standardVersion"]) == (meta.standard_id, meta.standard_version)
    assert xmp["dossier:pageHashRoot"] == meta.page_hash_root
    assert (xmp["pdfaid:part"], xmp["pdfaid:conformance"]) == ("1", "B")
    assert xmp["dc:title"] == meta.title and xmp["dc:creator"] == meta.author
    assert f"<pdfaSchema:namespaceURI>{DOSSIER_NS}</pdfaSchema:namespaceURI>" in raw


def test_info_dictionary_and_xmp_carry_the_same_instants_and_producer(finished_1b):
    meta = meta_for()
    with pikepdf.open(finished_1b) as pdf:
        xmp = read_xmp(pdf)
        info = pdf.docinfo
        assert str(info.CreationDate) == pdf_date(meta.created)
        assert str(info.ModDate) == pdf_date(meta.created)
        assert str(info.Producer) == xmp["pdf:Producer"]
        assert str(info.Title) == xmp["dc:title"]
    assert xmp["xmp:CreateDate"] == xmp_date(meta.created) == "2024-05-01T10:20:30+08:00"
    assert xmp["xmp:ModifyDate"] == xmp["xmp:MetadataDate"]


def test_cjk_fonts_get_cidtogidmap_capheight_and_cidset(raw_volume, finished_1b):
    def cid_fonts(path):
        with pikepdf.open(path) as pdf:
            return [
                (str(o.BaseFont), "/CIDToGIDMap" in o, "/CapHeight" in o.FontDescriptor, "/CIDSet" in o.FontDescriptor)
                for o in pdf.objects
                if isinstance(o, pikepdf.Dictionary) and o.get("/Subtype") == "/CIDFontType2"
            ]

    before = [f for f in cid_fonts(raw_volume) if "WenQuanYi" in f[0]]
    after = [f for f in cid_fonts(finished_1b) if "WenQuanYi" in f[0]]
    assert before and not any(f[1] or f[3] for f in before)
    assert after and all(f[1] and f[2] and f[3] for f in after)


def test_finishing_reports_what_it_fixed(finished_1b_notes):
    notes = finished_1b_notes[1]
    assert any("CIDSet added" in line for line in notes.fixed)
    assert any("page label re-encoded" in line for line in notes.fixed)
    assert notes.removed == []


def test_cidset_marks_every_glyph_of_an_identity_mapped_subset(finished_1b):
    from fontTools.ttLib import TTFont

    with pikepdf.open(finished_1b) as pdf:
        font = next(o for o in pdf.objects if isinstance(o, pikepdf.Dictionary)
                    and o.get("/Subtype") == "/CIDFontType2" and "WenQuanYi" in str(o.BaseFont))
        bits = font.FontDescriptor.CIDSet.read_bytes()
        glyphs = TTFont(io.BytesIO(font.FontDescriptor.FontFile2.read_bytes()))["maxp"].numGlyphs
    marked = sum(bin(b).count("1") for b in bits)
    assert marked == glyphs


def test_invisible_text_layer_still_extracts_and_searches_after_finishing(finished_1b):
    with pymupdf.open(finished_1b) as doc:
        page = doc[2]
        assert "人民法院" in page.get_text()
        assert page.search_for("人民法院")
        invisible = [s for s in page.get_texttrace() if s["type"] == 3]
        assert "".join(chr(c[0]) for s in invisible for c in s["chars"]) == "人民法院起诉书"


def test_page_labels_written_as_raw_utf8_by_pymupdf_are_reencoded(raw_volume, finished_1b):
    def prefixes(path):
        with pikepdf.open(path) as pdf:
            nums = pdf.Root.PageLabels.Nums
            return [bytes(nums[i].P) for i in range(1, len(nums), 2) if "/P" in nums[i]]

    assert "封面".encode() in prefixes(raw_volume)  # raw UTF-8, no BOM: viewers show mojibake
    fixed = prefixes(finished_1b)
    assert "封面".encode("utf-16-be") in [p[2:] for p in fixed if p.startswith(b"\xfe\xff")]


def test_images_are_not_reencoded(raw_volume, finished_1b):
    def images(path):
        with pikepdf.open(path) as pdf:
            return sorted(hashlib.sha256(o.read_raw_bytes()).hexdigest() for o in pdf.objects
                          if isinstance(o, pikepdf.Stream) and o.get("/Subtype") == "/Image")

    assert images(raw_volume) == images(finished_1b)


@pytest.fixture(scope="module")
def messy_volume(raw_volume) -> Path:
    """A volume with JavaScript, a URI link, an embedded file and a soft-masked seal image."""
    dst = raw_volume.with_name("messy.pdf")
    with pymupdf.open(raw_volume) as doc:
        page = doc[0]
        page.insert_link({"kind": pymupdf.LINK_URI, "from": pymupdf.Rect(50, 50, 150, 70), "uri": "https://example.org"})
        seal = Image.new("RGBA", (60, 60), (205, 30, 35, 0))
        for x in range(60):
            for y in range(60):
                if (x - 30) ** 2 + (y - 30) ** 2 < 700:
                    seal.putpixel((x, y), (205, 30, 35, 180))
        buf = io.BytesIO()
        seal.save(buf, "PNG")
        page.insert_image(pymupdf.Rect(300, 300, 360, 360), stream=buf.getvalue())
        doc.embfile_add("note.txt", b"attached")
        doc.save(dst)
    with pikepdf.open(dst, allow_overwriting_input=True) as pdf:
        pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)"))
        # a text-layer font named as a subset, with a CIDToGIDMap stream: it needs a CIDSet derived from the map
        for font in pdf.objects:
            if isinstance(font, pikepdf.Dictionary) and font.get("/BaseFont") == "/GlyphLessFont":
                font.BaseFont = pikepdf.Name("/ABCDEF+GlyphLessFont")
                if "/FontDescriptor" in font:
                    font.FontDescriptor.FontName = pikepdf.Name("/ABCDEF+GlyphLessFont")
        pdf.save(dst)
    return dst


def test_active_content_is_stripped_and_soft_masks_flattened_so_preflight_passes(messy_volume):
    dst = messy_volume.with_name("messy-1b.pdf")
    finish_pdfa(messy_volume, dst, "1b", meta_for())
    with pikepdf.open(dst) as pdf:
        assert "/OpenAction" not in pdf.Root
        assert "/EmbeddedFiles" not in pdf.Root.get("/Names", {})
        assert "/Annots" not in pdf.pages[0]
        assert not any(isinstance(o, pikepdf.Stream) and "/SMask" in o for o in pdf.objects)
        glyphless = next(o for o in pdf.objects if isinstance(o, pikepdf.Dictionary)
                         and o.get("/Subtype") == "/CIDFontType2" and "GlyphLess" in str(o.BaseFont))
        mapped = len(glyphless.CIDToGIDMap.read_bytes()) // 2
        assert sum(bin(b).count("1") for b in glyphless.FontDescriptor.CIDSet.read_bytes()) == mapped
    result = preflight_pdfa1b(dst)
    assert result.valid, result.summary(20)


def test_active_content_is_refused_when_asked_with_the_volume_named(messy_volume, tmp_path):
    with pytest.raises(VolumeError, match=r"volume 3 \(messy.pdf\).*(JavaScript|open action|EmbeddedFiles)"):
        finish_pdfa(messy_volume, tmp_path / "x.pdf", "1b", meta_for(volume=3, volumes=3),
                    on_active_content="refuse")


def test_non_embedded_font_is_refused_naming_page_and_font(tmp_path):
    src = tmp_path / "helv.pdf"
    with pymupdf.open() as doc:
        doc.new_page()
        doc.new_page().insert_text((72, 72), "page 2", fontname="helv")
        doc.save(src)
    with pytest.raises(VolumeError, match=r"page 2: font /Helvetica is not embedded"):
        finish_pdfa(src, tmp_path / "out.pdf", "1b", meta_for())


def test_encrypted_input_is_refused(tmp_path):
    src = tmp_path / "enc.pdf"
    with pymupdf.open() as doc:
        doc.new_page()
        doc.save(src, encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner", user_pw="user")
    with pytest.raises(VolumeError, match="encrypted"):
        finish_pdfa(src, tmp_path / "out.pdf", "1b", meta_for())


def test_unknown_level_is_refused(raw_volume, tmp_path):
    with pytest.raises(VolumeError, match="3b"):
        finish_pdfa(raw_volume, tmp_path / "out.pdf", "3b", meta_for())


def test_finishing_is_reproducible_for_the_same_input_and_metadata(raw_volume, finished_1b, tmp_path):
    again = tmp_path / "again.pdf"
    finish_pdfa(raw_volume, again, "1b", meta_for())
    assert again.read_bytes() == finished_1b.read_bytes()


def test_page_hash_root_is_a_merkle_root_over_page_digests():
    a, b, c = (hashlib.sha256(x).hexdigest() for x in (b"a", b"b", b"c"))
    ab = hashlib.sha256(bytes.fromhex(a) + bytes.fromhex(b)).digest()
    assert page_hash_root([a]) == a
    assert page_hash_root([a, b]) == ab.hex()
    assert page_hash_root([a, b, c]) == hashlib.sha256(ab + bytes.fromhex(c)).hexdigest()
    assert page_hash_root([b, a]) != page_hash_root([a, b])


def test_dates_keep_their_offset_in_both_forms():
    dt = datetime(2024, 1, 2, 3, 4, 5, tzinfo=CHINA)
    assert pdf_date(dt) == "D:20240102030405+08'00'"
    assert xmp_date(dt) == "2024-01-02T03:04:05+08:00"
    assert re.fullmatch(r"D:\d{14}Z", pdf_date(datetime(2024, 1, 2, tzinfo=UTC)))
