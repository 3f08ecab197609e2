"""Volume PDFs: cover, 卷内目录, numbered pages, 备考表, bookmarks and labels; images embedded without re-encoding."""

import json
import subprocess
from datetime import UTC, date
from pathlib import Path

import numpy as np
import pikepdf
import pymupdf
import pytest
from PIL import Image, ImageDraw
from structure_helpers import page_artifact, save_g4, save_jpeg

from pipeline.assembly import VolumeContext, build_volume
from pipeline.assembly._drawing import TOC_COLUMNS, TOC_LEFT_MM, display_date
from pipeline.assembly._fonts import MM
from pipeline.errors import VolumeError
from pipeline.ocr import OcrLine, OcrResult, OcrWord
from pipeline.structure import Document, build_catalogue, plan_volumes

CASE = "（2024）豫0727刑初172号"


def context_for(plan, catalogue, **extra) -> VolumeContext:
    entries = tuple(catalogue.entries)
    dates = sorted(e.date for e in entries if e.date)
    values = dict(case_no=CASE, case_title="林某盗窃案", agency="河南省封丘县人民法院", number=plan.number, of=plan.of,
                  retention="永久", security_level="internal", standard="DA/T 31-2017@1.0.0", pipeline_version="0.1.0",
                  entries=entries, date_range=(dates[0], dates[-1]) if dates else ("", ""),
                  prepared_by="李书记员", checked_by="王档案员", prepared_on=date(2024, 6, 20))
    values.update(extra)
    return VolumeContext(**values)


def placeholders(folder: Path) -> list[Path]:
    """Tiny distinct page images (A4 at 12 dpi): two G4, two JPEG (grey and colour)."""
    paths = []
    for i in range(4):
        img = Image.new("RGB", (99, 140), "white")
        ImageDraw.Draw(img).rectangle([10 + 5 * i, 20, 60, 40 + 10 * i], fill=(200, 30, 30))
        if i < 2:
            paths.append(save_g4(img, folder / f"p{i}.tif", 12))
        else:
            paths.append(save_jpeg(img, folder / f"p{i}.jpg", 12, grey=i == 2))
    return paths


def labels(pdf: pikepdf.Pdf) -> list[str]:
    """Page labels as a reader computes them from /PageLabels (decimal and prefix-only ranges)."""
    nums = list(pdf.Root.PageLabels.Nums)
    starts = [(int(nums[i]), nums[i + 1]) for i in range(0, len(nums), 2)]
    out = []
    for k, (start, spec) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(pdf.pages)
        prefix = str(spec.get("/P", ""))
        for i in range(end - start):
            out.append(prefix + (str(int(spec.get("/St", 1)) + i) if "/S" in spec else ""))
    return out


def top_right_words(page: pymupdf.Page) -> list[str]:
    return [w[4] for w in page.get_text("words") if w[0] > page.rect.width - 45 * MM and w[3] < 20 * MM]


@pytest.fixture(scope="module")
def volume_set(tmp_path_factory):
    """450 pages in five documents, one longer than a volume: three volumes built."""
    folder = tmp_path_factory.mktemp("set")
    images = placeholders(folder)
    lengths = [20, 150, 25, 240, 15]
    titles = ["起诉书", "询问笔录", "扣押物品清单", "讯问笔录", "刑事判决书"]
    docs, start = [], 0
    for i, (n, title) in enumerate(zip(lengths, titles)):
        docs.append(Document(i, title, tuple(range(start, start + n)), doc_no=f"封检公诉刑诉〔2024〕{i + 1}号",
                             author="河南省封丘县人民检察院", date=f"2024-0{i + 1}-1{i}"))
        start += n
    pages = {pos: page_artifact(pos, images[pos % 4], dpi=12, flags=["ocr-confidence-low: 41 < 60"] if pos == 30 else [])
             for pos in range(450)}
    plans = plan_volumes(docs, 200)
    catalogue = build_catalogue(CASE, plans, docs)
    built = []
    for plan, cat in zip(plans, catalogue.volumes):
        flagged = tuple((n, pages[p].record.flags[0]) for n, p in enumerate(plan.positions, 1) if pages[p].record.flags)
        ctx = context_for(plan, cat, blank_pages=2 if plan.number == 1 else 0, flagged=flagged)
        built.append(build_volume(plan, {p: pages[p] for p in plan.positions}, ctx, folder / f"{plan.number:03d}.pdf"))
    return plans, catalogue, built, pages


def test_a_450_page_set_makes_three_volumes(volume_set):
    plans, _, built, _ = volume_set
    assert [(b.number, b.numbered_pages) for b in built] == [(1, 195), (2, 200), (3, 55)]
    for b in built:
        with pymupdf.open(b.path) as doc:
            assert doc.page_count == b.pdf_pages == b.numbered_pages + 3  # cover, one 卷内目录 page, 备考表


def test_every_volume_of_the_set_passes_preflight_after_pdfa_finishing(volume_set, tmp_path):
    from datetime import datetime

    from pipeline.archival import ArchivalMetadata, finish_pdfa
    from pipeline.archival._validators import preflight_pdfa1b

    plans, _, built, _ = volume_set
    for plan, b in zip(plans, built):
        meta = ArchivalMetadata(title=f"{CASE} 第{plan.number}卷", author="河南省封丘县人民法院", subject="", case_no=CASE,
                                volume=plan.number, volumes=plan.of, standard_id="DA/T 31-2017", standard_version="1",
                                pipeline_version="test", page_hash_root="0" * 64,
                                created=datetime(2024, 6, 20, tzinfo=UTC))
        out = tmp_path / f"{plan.number}.pdfa.pdf"
        finish_pdfa(b.path, out, "1b", meta)
        result = preflight_pdfa1b(out)
        assert result.valid, (plan.number, result.errors[:5])


def test_covers_state_case_volume_documents_and_pages(volume_set):
    _, _, built, _ = volume_set
    for b, (docs, pages) in zip(built, [(3, 195), (1, 200), (2, 55)]):
        with pymupdf.open(b.path) as doc:
            text = doc[0].get_text()
        for expected in (CASE, "林某盗窃案", "河南省封丘县人民法院", f"第 {b.number} 卷　共 3 卷", f"{docs} 件",
                         f"{pages} 页", "永久", "内部"):
            assert expected in text, expected


def test_tables_of_contents_list_each_part_with_its_page_numbers(volume_set):
    _, catalogue, built, _ = volume_set
    for b, cat in zip(built, catalogue.volumes):
        with pymupdf.open(b.path) as doc:
            text = doc[1].get_text()
        assert "卷内目录" in text
        for e in cat.entries:
            for value in (e.title, display_date(e.date), f"{e.first_page}-{e.last_page}"):
                assert value in text, value
    third = built[2]
    with pymupdf.open(third.path) as doc:
        assert "续" in doc[1].get_text()  # the continued 讯问笔录


def test_scanned_pages_are_numbered_top_right_from_one_in_each_volume(volume_set):
    _, _, built, _ = volume_set
    for b in built:
        with pymupdf.open(b.path) as doc:
            numbers = [top_right_words(doc[i]) for i in range(2, 2 + b.numbered_pages)]
            assert numbers == [[str(n)] for n in range(1, b.numbered_pages + 1)]
            for i in (0, 1, doc.page_count - 1):  # cover, 卷内目录, 备考表 carry no page number
                assert not [w for w in top_right_words(doc[i]) if w.isdigit()]


def test_page_numbers_use_a_digits_only_font_of_their_own(volume_set):
    _, _, built, _ = volume_set
    with pikepdf.open(built[0].path) as pdf:
        cover = {f.objgen for _, f in pdf.pages[0].Resources.Font.items()}
        numbered = [f for _, f in pdf.pages[2].Resources.Font.items()]
        assert len(numbered) == 1 and numbered[0].objgen not in cover
        program = numbered[0].DescendantFonts[0].FontDescriptor.FontFile2.read_bytes()
        # Preflight parses a page's fonts once per page: the cover's subset (~270 KB) cost it ~11 ms a page
        assert len(program) < 8_000


def test_page_labels_match_the_stamped_numbers(volume_set):
    _, _, built, _ = volume_set
    for b in built:
        with pikepdf.open(b.path) as pdf:
            assert labels(pdf) == ["封面", "目录-1", *map(str, range(1, b.numbered_pages + 1)), "备考表"]


def test_page_labels_read_the_same_in_qpdf(volume_set):
    _, _, built, _ = volume_set
    out = subprocess.run(["qpdf", "--json", "--json-key=pagelabels", str(built[2].path)], capture_output=True,
                         text=True, timeout=60, check=True)
    ranges = json.loads(out.stdout)["pagelabels"]
    assert [r["label"].get("/P") for r in ranges] == ["u:封面", "u:目录-", None, "u:备考表"]


def test_bookmarks_lead_to_each_document(volume_set):
    _, catalogue, built, _ = volume_set
    for b, cat in zip(built, catalogue.volumes):
        with pymupdf.open(b.path) as doc:
            toc = doc.get_toc()
        expected = [[1, "封面", 1], [1, "卷内目录", 2]]
        expected += [[1, f"{e.seq}. {e.title}" + ("（续）" if e.continued else ""), 2 + e.first_page]
                     for e in cat.entries]
        expected += [[1, "卷内备考表", b.pdf_pages]]
        assert toc == expected


def test_the_record_sheet_states_pages_blanks_and_flags(volume_set):
    _, _, built, _ = volume_set
    with pymupdf.open(built[0].path) as doc:
        text = doc[-1].get_text().replace("\n", "")
    for expected in ("卷内备考表", "本卷共有文件 3 件，共 195 页", "空白页 2 页", "第 31 页：文字识别置信度低（41 < 60）",
                     "数字化依据：DA/T 31-2017@1.0.0",
                     "立卷人：李书记员", "检查人：王档案员", "立卷时间：2024年6月20日"):
        assert expected in text, expected


def test_images_are_embedded_byte_for_byte(volume_set):
    plans, _, built, pages = volume_set
    with pikepdf.open(built[0].path) as pdf:
        for number in (1, 2, 3, 4):
            page = pdf.pages[1 + number]
            (image,) = page.Resources.XObject.values()
            source = pages[plans[0].positions[number - 1]].image_path
            raw = image.read_raw_bytes()
            if source.suffix == ".jpg":
                assert image.Filter == "/DCTDecode" and raw == source.read_bytes()
            else:
                assert image.Filter == "/CCITTFaxDecode" and image.DecodeParms.K == -1
                assert raw in source.read_bytes()


def test_volumes_embed_only_the_cjk_font_and_carry_no_transparency_or_annotations(volume_set):
    _, _, built, _ = volume_set
    with pikepdf.open(built[1].path) as pdf:
        assert pdf.pdf_version == "1.4" and "/Info" not in pdf.Root and "/Info" not in pdf.trailer
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                assert "/SMask" not in obj and "/Annots" not in obj and "/JS" not in obj
                assert obj.get("/S") != "/Transparency"
                if obj.get("/Type") == "/ExtGState":
                    assert float(obj.get("/CA", 1)) == 1 and float(obj.get("/ca", 1)) == 1
                if obj.get("/Type") == "/FontDescriptor":
                    assert "WenQuanYi" in str(obj.FontName) and "/FontFile2" in obj


def test_a_long_table_of_contents_continues_over_pages_and_long_titles_wrap_in_their_cell(tmp_path):
    image = placeholders(tmp_path)[0]
    long_title = "关于被告人林某某涉嫌盗窃罪一案的现场勘验检查工作记录及所附照片、示意图和物证提取情况说明"
    docs = [Document(i, long_title if i % 7 == 0 else f"证人证言{i}", (i,), author="封丘县公安局刑事侦查大队",
                     date="2024-03-02") for i in range(60)]
    (plan,) = plan_volumes(docs, 200)
    (cat,) = build_catalogue(CASE, [plan], docs).volumes
    pages = {i: page_artifact(i, image, dpi=12) for i in range(60)}
    built = build_volume(plan, pages, context_for(plan, cat), tmp_path / "v.pdf")
    title_x0 = (TOC_LEFT_MM + sum(w for _, w, _ in TOC_COLUMNS[:3])) * MM
    title_x1 = title_x0 + TOC_COLUMNS[3][1] * MM
    with pymupdf.open(built.path) as doc, pikepdf.open(built.path) as pdf:
        toc_pages = [i for i in range(doc.page_count) if doc[i].get_text().startswith("卷内目录")]
        assert len(toc_pages) >= 2 and labels(pdf)[1:1 + len(toc_pages)] == [f"目录-{k}" for k in range(1, 1 + len(toc_pages))]
        raw = "".join(doc[i].get_text() for i in toc_pages)
        text = raw.replace("\n", "")
        assert long_title not in raw and text.count(long_title) == 9  # wrapped over lines, every row there
        assert all(f"证人证言{i}" in text for i in range(60) if i % 7)
        for i in toc_pages:
            for x0, _, x1, _, word, *_ in doc[i].get_text("words"):
                if word.startswith("关于") or "示意图" in word:
                    assert title_x0 <= x0 and x1 <= title_x1 + 0.5, word  # inside its cell


def test_g4_pages_render_black_on_white_whichever_photometric_the_tiff_declares(tmp_path):
    img = Image.new("1", (200, 100), 1)
    ImageDraw.Draw(img).rectangle([20, 20, 80, 60], fill=0)
    for photometric in (0, 1):
        path = tmp_path / f"g4-{photometric}.tif"
        img.save(path, "TIFF", compression="group4", dpi=(72, 72), tiffinfo={262: photometric, 278: 100})
        with Image.open(path) as stored:
            truth = np.asarray(stored.convert("L"))
        docs = [Document(0, "收据", (0,))]
        (plan,) = plan_volumes(docs, 200)
        (cat,) = build_catalogue(CASE, [plan], docs).volumes
        built = build_volume(plan, {0: page_artifact(0, path, dpi=72)}, context_for(plan, cat), tmp_path / "v.pdf")
        with pymupdf.open(built.path) as doc:
            pix = doc[2].get_pixmap(dpi=72, colorspace=pymupdf.csGRAY)
        rendered = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width)
        assert rendered.shape == truth.shape
        assert rendered[40, 50] == truth[40, 50] and rendered[80, 150] == truth[80, 150]
        assert (np.abs(rendered[:, :150].astype(int) - truth[:, :150]) > 128).mean() < 0.01  # away from the number


def test_the_text_layer_is_added_to_pages_with_ocr(tmp_path):
    image = placeholders(tmp_path)[2]
    ocr = OcrResult(99, 140, 12, (OcrLine((OcrWord("起诉书", 10, 10, 50, 20, 90.0),), 10, 10, 50, 20),))
    pages = {0: page_artifact(0, image, dpi=12, ocr=ocr, folder=tmp_path), 1: page_artifact(1, image, dpi=12)}
    docs = [Document(0, "起诉书", (0, 1))]
    (plan,) = plan_volumes(docs, 200)
    (cat,) = build_catalogue(CASE, [plan], docs).volumes
    calls = []

    def layer(pdf, page, result, width, height):
        calls.append((result, round(width, 1), round(height, 1)))

    build_volume(plan, pages, context_for(plan, cat), tmp_path / "v.pdf", text_layer=layer)
    assert calls == [(ocr, 594.0, 840.0)]  # only the page with OCR; size from pixels and dpi


def test_a_multi_strip_tiff_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "strips.tif"
    Image.new("1", (600, 800), 1).save(path, "TIFF", compression="group4", tiffinfo={278: 100})
    docs = [Document(0, "收据", (0,))]
    (plan,) = plan_volumes(docs, 200)
    (cat,) = build_catalogue(CASE, [plan], docs).volumes
    with pytest.raises(VolumeError, match="strips.tif.*single-strip"):
        build_volume(plan, {0: page_artifact(0, path, dpi=100)}, context_for(plan, cat), tmp_path / "v.pdf")


def test_a_catalogue_that_disagrees_with_the_plan_is_refused(tmp_path):
    image = placeholders(tmp_path)[0]
    docs = [Document(0, "收据", (0, 1))]
    (plan,) = plan_volumes(docs, 200)
    (cat,) = build_catalogue(CASE, plan_volumes([Document(0, "收据", (0,))], 200), docs).volumes
    pages = {i: page_artifact(i, image, dpi=12) for i in range(2)}
    with pytest.raises(VolumeError, match="ends at page 1 but the volume has 2"):
        build_volume(plan, pages, context_for(plan, cat), tmp_path / "v.pdf")


def test_a_full_200_page_volume_holds_its_pages_between_cover_toc_and_record_sheet(tmp_path):
    images = placeholders(tmp_path)
    docs = [Document(i, f"证人证言{i}", tuple(range(i * 10, i * 10 + 10)), author="封丘县公安局") for i in range(20)]
    (plan,) = plan_volumes(docs, 200)
    (cat,) = build_catalogue(CASE, [plan], docs).volumes
    pages = {i: page_artifact(i, images[i % 4], dpi=12) for i in range(200)}
    built = build_volume(plan, pages, context_for(plan, cat), tmp_path / "v.pdf")
    assert built.numbered_pages == 200 and built.pdf_pages == 203


def test_the_record_sheet_names_catalogue_fields_left_empty(tmp_path):
    image = placeholders(tmp_path)[0]
    docs = [Document(i, "证人证言", (i,), author="封丘县公安局", date="" if i in (2, 3, 4) else "2024-03-02",
                     flags=("doc_no-missing",) + (("date-missing",) if i in (2, 3, 4) else ())) for i in range(6)]
    (plan,) = plan_volumes(docs, 200)
    (cat,) = build_catalogue(CASE, [plan], docs).volumes
    pages = {i: page_artifact(i, image, dpi=12) for i in range(6)}
    built = build_volume(plan, pages, context_for(plan, cat), tmp_path / "v.pdf")
    with pymupdf.open(built.path) as doc:
        text = doc[-1].get_text()
    assert "文号：第 1—6 件" in text and "日期：第 3—5 件" in text and "本卷无空白页" in text


def _memory_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"{field} not in /proc/self/status")


def test_memory_stays_flat_however_large_the_images(tmp_path):
    noise = np.random.default_rng(1).integers(0, 256, (1400, 1000, 3), dtype=np.uint8)
    big = tmp_path / "noise.jpg"
    Image.fromarray(noise).save(big, "JPEG", quality=95, dpi=(120, 120))
    docs = [Document(0, "现场勘验照片", tuple(range(40)))]
    (plan,) = plan_volumes(docs, 200)
    (cat,) = build_catalogue(CASE, [plan], docs).volumes
    small = placeholders(tmp_path)[2]
    build_volume(plan, {i: page_artifact(i, small, dpi=12) for i in range(40)}, context_for(plan, cat),
                 tmp_path / "warm.pdf")  # fonts and libraries loaded
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak resident size
    before = _memory_mb("VmRSS")
    built = build_volume(plan, {i: page_artifact(i, big, dpi=120) for i in range(40)}, context_for(plan, cat),
                         tmp_path / "big.pdf")
    grown = _memory_mb("VmHWM") - before
    size_mb = built.path.stat().st_size / 2**20
    assert size_mb > 40
    assert grown < 20, f"peak memory grew {grown:.0f} MB for a {size_mb:.0f} MB volume"
    assert not list(tmp_path.glob("*.tmp"))


def test_preloading_the_volume_stage_loads_its_fonts_and_signing_libraries():
    import subprocess
    import sys

    code = ("import sys\n"
            "from pipeline.dossier import preload_volume_stage\n"
            "from pipeline.assembly import cjk_font, numeral_font\n"
            "preload_volume_stage()\n"
            "assert numeral_font.cache_info().currsize == 1 and cjk_font.cache_info().currsize == 1\n"
            "assert {'pyhanko.sign.signers', 'pyhanko.sign.validation', 'pipeline.archival._checks'} <= set(sys.modules)\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_a_title_with_a_cjk_extension_b_character_and_a_remark_with_bidi_marks_pass_preflight(tmp_path):
    from datetime import datetime

    from pipeline.archival import ArchivalMetadata, finish_pdfa
    from pipeline.archival._validators import preflight_pdfa1b

    image = placeholders(tmp_path)[0]
    docs = [Document(0, "𠮷田某某询问笔录", (0,), author="封丘县公安局", date="2024-03-02", remark="见\u200f附件\u202e一"),
            Document(1, "起诉书", (1,), author="封丘县人民检察院", date="2024-03-05")]
    (plan,) = plan_volumes(docs, 200)
    (cat,) = build_catalogue(CASE, [plan], docs).volumes
    pages = {i: page_artifact(i, image, dpi=12) for i in range(2)}
    built = build_volume(plan, pages, context_for(plan, cat, case_title="𠮷某盗窃案"), tmp_path / "v.pdf")
    meta = ArchivalMetadata(title=f"{CASE} 第1卷", author="河南省封丘县人民法院", subject="", case_no=CASE, volume=1,
                            volumes=1, standard_id="DA/T 31-2017", standard_version="1", pipeline_version="test",
                            page_hash_root="0" * 64, created=datetime(2024, 6, 20, tzinfo=UTC))
    finish_pdfa(built.path, tmp_path / "v.pdfa.pdf", "1b", meta)
    result = preflight_pdfa1b(tmp_path / "v.pdfa.pdf")
    assert result.valid, result.errors[:5]
    with pymupdf.open(tmp_path / "v.pdfa.pdf") as doc:
        assert "𠮷某盗窃案" in doc[0].get_text()
        toc = doc[1].get_text().replace("\n", "")
        assert "𠮷田某某询问笔录" in toc and "见附件一" in toc and "\u202e" not in toc
