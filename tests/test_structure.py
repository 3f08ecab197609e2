"""Documents, their 卷内目录 fields, and volume packing: from a manifest, separator sheets, or real Tesseract OCR."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from structure_helpers import bitonal, page_artifact, save_g4, save_jpeg, tesseract_ocr

from pipeline.assembly import separator_page_image, sheet_payloads
from pipeline.capture import find_separator
from pipeline.errors import ReviewNeeded
from pipeline.models import BatchManifest, DocumentSpec
from pipeline.ocr import OcrLine, OcrResult, OcrWord
from pipeline.structure import Document, build_catalogue, find_documents, plan_volumes, volume_catalogue
from pipeline.structure._dates import parse_date
from pipeline.structure._fields import find_doc_no, read_fields
from pipeline.structure._lexicon import authority_name, match_title
from samples.synthetic import CaseFacts, cn_date, scan, synthetic_page

CASE = "（2024）豫0727刑初172号"

# --------------------------------------------------------------------------------------------------------------------
# Reading fields


@pytest.mark.parametrize(("text", "iso"), [
    ("二〇一九年四月十二日", "2019-04-12"),
    ("二O一九年四月十二日", "2019-04-12"),  # 〇 read as a Latin O
    ("二0一九年十二月三十一日", "2019-12-31"),  # 〇 read as a zero
    ("二○二四年五月三日", "2024-05-03"),  # 〇 read as a white circle
    ("二 〇 一 九 年 十 月 二 十 日", "2019-10-20"),  # stray spaces
    ("2019年4月12日", "2019-04-12"),
    ("２０１９年１０月１日", "2019-10-01"),  # full-width digits
    ("落款：2019.4.12", "2019-04-12"),
])
def test_dates_are_normalised_to_iso_8601(text, iso):
    assert parse_date(text) == iso


@pytest.mark.parametrize("text", ["二〇一九年二月三十日", "2019年13月1日", "第一百七十六条", "一九年四月十二日"])
def test_impossible_or_partial_dates_are_not_invented(text):
    assert parse_date(text) is None


@pytest.mark.parametrize(("text", "doc_no"), [
    ("新封检公诉刑诉〔2019〕172号", "新封检公诉刑诉〔2019〕172号"),
    ("新封检公诉刑诉[2019]172号", "新封检公诉刑诉〔2019〕172号"),  # brackets misread
    ("新封检公诉刑诉 【 2019 】 172 号", "新封检公诉刑诉〔2019〕172号"),
    ("（2019）豫0727刑初172号", "（2019）豫0727刑初172号"),
    ("(2019)豫0727刑初172号", "（2019）豫0727刑初172号"),
    ("封公(刑)拘字〔2019〕123号", "封公（刑）拘字〔2019〕123号"),
])
def test_document_numbers_are_found_with_canonical_brackets(text, doc_no):
    assert find_doc_no(text)[0] == doc_no


def test_a_document_number_quoted_in_running_text_covers_little_of_its_line():
    found = find_doc_no("河南省封丘县人民检察院以封检公诉刑诉〔2024〕172号起诉书指控被告人林某犯盗窃罪")
    assert found is not None and found[1] < 0.8


@pytest.mark.parametrize(("text", "title"), [
    ("起诉书", "起诉书"),
    ("起 诉 书", "起诉书"),
    ("起诉节", "起诉书"),  # one character misread
    ("刑 事 判 决 书", "刑事判决书"),
    ("刑亊判决书", "刑事判决书"),
    ("河南省封丘县人民法院刑事判决书", "刑事判决书"),
    ("询间笔录", "询问笔录"),
    ("扣押物品清", "扣押物品清单"),  # last character dropped
    ("现场勘验照亡", "现场勘验照片"),
])
def test_titles_are_matched_tolerantly(text, title):
    assert match_title(text).title == title


@pytest.mark.parametrize("text", ["河南省封丘县人民检察院", "本院认为被告人的起诉书", "问：你把当天的经过讲一下。", "收椐"])
def test_lines_that_are_not_titles_do_not_match(text):
    assert match_title(text) is None


def test_an_authority_with_a_misread_suffix_is_spelled_right():
    assert authority_name("河南省封丘县人民检査院") == "河南省封丘县人民检察院"
    assert authority_name("问：你把当天的经过讲一下。") is None


def _line(text: str, x0: int, y0: int, size: int) -> OcrLine:
    words = tuple(OcrWord(ch, x0 + i * size, y0, x0 + (i + 1) * size - 4, y0 + size, 90.0) for i, ch in enumerate(text))
    return OcrLine(words, x0, y0, x0 + len(text) * size, y0 + size)


def _centred(text: str, y0: int, size: int, width: int = 2480) -> OcrLine:
    return _line(text, (width - len(text) * size) // 2, y0, size)


def test_missing_fields_are_flagged_never_invented():
    body = [_line("经依法审查查明：被告人于2024年3月5日在某小区内窃得现金", 330, 900 + 90 * i, 62) for i in range(5)]
    ocr = OcrResult(2480, 3508, 300, (_centred("询问笔录", 440, 90), *body))
    fields = read_fields(ocr)
    assert fields.title == "询问笔录"
    assert (fields.doc_no, fields.author, fields.date) == ("", "", "")  # the body's date is not the document's
    assert {"author-missing", "date-missing"} <= set(fields.flags)
    assert "doc_no-missing" not in fields.flags  # a 笔录 carries no 文号: its empty 文号 is right, not in doubt


def test_fields_come_from_the_red_head_number_and_closing_date():
    first = OcrResult(2480, 3508, 300, (
        _centred("河南省封丘县人民检察院", 430, 100), _centred("起诉书", 680, 90),
        _line("封检公诉刑诉〔2024〕172号", 1400, 860, 62),
        *[_line("被告人林某，男，汉族，初中文化，户籍所在地新乡市红旗区。", 330, 1000 + 90 * i, 62) for i in range(4)],
    ))
    last = OcrResult(2480, 3508, 300, (
        *[_line("被告人林某，男，汉族，初中文化，户籍所在地新乡市红旗区。", 330, 400 + 90 * i, 62) for i in range(4)],
        _line("检察员：王伟", 1700, 1500, 62), _line(cn_date(2024, 4, 12), 1600, 1600, 62),
    ))
    fields = read_fields(first, last)
    assert (fields.title, fields.doc_no, fields.author, fields.date) == (
        "起诉书", "封检公诉刑诉〔2024〕172号", "河南省封丘县人民检察院", "2024-04-12")
    assert fields.flags == ()


# --------------------------------------------------------------------------------------------------------------------
# Boundaries from the manifest


def _pages(folder, n, blank=(), dpi=100):
    image = folder / "page.tif"
    if not image.exists():
        save_g4(Image.new("1", (827, 1169), 1), image, dpi)
    return [page_artifact(i, image, dpi=dpi, blank=i in blank) for i in range(n)]


def test_documents_take_the_declared_page_counts_with_blank_pages_left_out(tmp_path):
    pages = _pages(tmp_path, 6, blank={2})
    manifest = BatchManifest(case_no=CASE, documents=[
        DocumentSpec(title="起诉书", doc_no="封检公诉刑诉〔2024〕172号", author="河南省封丘县人民检察院", date="2024年3月20日",
                     pages=3),
        DocumentSpec(title="收据", pages=1), DocumentSpec(title="刑事判决书", pages=2)])
    docs = find_documents(pages, manifest, headings=None)
    assert [d.positions for d in docs] == [(0, 1), (3,), (4, 5)]
    assert docs[0].date == "2024-03-20" and docs[0].boundary == "manifest" and docs[0].flags == ()
    assert "doc_no-missing" in docs[2].doubts()  # declared nothing, no OCR to read it from
    assert "doc_no-missing" not in docs[1].doubts()  # a 收据 carries no 文号
    assert docs[0].evidence["title"].source == "manifest" and docs[0].evidence["title"].confidence == 1.0


def test_page_counts_that_do_not_add_up_send_the_batch_to_review(tmp_path):
    manifest = BatchManifest(case_no=CASE, documents=[DocumentSpec(title="起诉书", pages=3)])
    with pytest.raises(ReviewNeeded, match="declares 3 pages .* has 4 pages"):
        find_documents(_pages(tmp_path, 4), manifest, headings=None)


# --------------------------------------------------------------------------------------------------------------------
# Boundaries from separator sheets (acceptance: printed, scanned skewed/rotated/bitonal at 200 dpi, decoded)


SHEET_DOCS = [
    {"title": "起诉书", "doc_no": "封检公诉刑诉〔2024〕172号", "author": "河南省封丘县人民检察院", "date": "2024-03-20",
     "pages": 3},
    {"title": "询问笔录", "author": "封丘县公安局", "date": "2024-03-02", "pages": 2},
    {"title": "扣押物品清单", "author": "封丘县公安局", "date": "2024-03-02", "pages": 1},
]


@pytest.fixture(scope="module")
def separated_batch(tmp_path_factory):
    """A batch scanned with sheets: cover, sheet, 起诉书 (2 pages and a blank back), sheet, 询问笔录, sheet, 清单."""
    folder = tmp_path_factory.mktemp("separated")
    facts = CaseFacts.make(random.Random(7))
    payloads = sheet_payloads(CASE, SHEET_DOCS, "林某盗窃案", "河南省封丘县人民法院")
    sheets = iter(payloads)
    layout = ["sheet", "sheet", ("indictment", 0), ("indictment", 1), ("blank", 0), "sheet", ("record", 0),
              ("record", 1), "sheet", ("table", 0)]
    skews = [-10, 6, 1.5, -2, 0, 10, -3, 2, -7, 0.5]
    rotations = [0, 90, 0, 180, 0, 270, 0, 0, 180, 0]
    artifacts = []
    for pos, item in enumerate(layout):
        rng = random.Random(pos)
        if item == "sheet":
            clean = separator_page_image(next(sheets), 200)
        else:
            clean = synthetic_page(item[0], 100 + pos, dpi=200, page_in_doc=item[1], facts=facts).image
        raw = bitonal(scan(clean, rng, 200, skew=skews[pos], rotation_cw=rotations[pos], specks=40))
        found = find_separator(raw, f"{pos + 1:03d}.tif")
        if found.kind == "separator":
            artifacts.append(page_artifact(pos, separator=found.payload))
        else:
            assert found.kind == "none", found.reason
            path = save_g4(raw, folder / f"{pos:03d}.tif", 200)
            artifacts.append(page_artifact(pos, path, dpi=200, blank=item[0] == "blank"))
    return payloads, artifacts


def test_documents_and_their_fields_equal_the_separator_sheets(separated_batch):
    payloads, artifacts = separated_batch
    docs = find_documents(artifacts, BatchManifest(case_no=CASE), headings=None)
    assert [(d.title, d.doc_no, d.author, d.date) for d in docs] == [
        (p.title, p.doc_no, p.author, p.date) for p in payloads[1:]]
    assert [d.positions for d in docs] == [(2, 3), (6, 7), (9,)]  # sheets and the blank back are in no document
    assert all(d.boundary == "separator" for d in docs)
    # page counts agree; a 笔录 and a 清单 carry no 文号, so their empty 文号 is no doubt
    assert [d.doubts() for d in docs] == [[], [], []]
    assert all(d.evidence["title"].source == "sheet" for d in docs)


def test_separator_sheets_are_not_in_any_volume(separated_batch):
    _, artifacts = separated_batch
    docs = find_documents(artifacts, BatchManifest(case_no=CASE), headings=None)
    placed = {p for plan in plan_volumes(docs, 200) for p in plan.positions}
    assert placed == {a.position for a in artifacts if a.image_path is not None and not a.record.blank}
    assert not placed & {a.position for a in artifacts if a.record.separator}


def test_a_declared_page_count_that_differs_is_flagged(separated_batch):
    payloads, artifacts = separated_batch
    wrong = payloads[2].model_copy(update={"pages": 3})
    changed = [a if a.separator != payloads[2] else page_artifact(a.position, separator=wrong) for a in artifacts]
    docs = find_documents(changed, BatchManifest(case_no=CASE), headings=None)
    assert "pages-mismatch: sheet says 3, scanned 2" in docs[1].flags


def test_a_sheet_of_another_case_sends_the_batch_to_review(separated_batch):
    _, artifacts = separated_batch
    with pytest.raises(ReviewNeeded, match="another case"):
        find_documents(artifacts, BatchManifest(case_no="（2023）豫0727刑初9号"), headings=None)


def test_a_case_number_written_with_half_width_brackets_is_the_same_case(separated_batch):
    _, artifacts = separated_batch
    assert find_documents(artifacts, BatchManifest(case_no="(2024)豫0727刑初172号"), headings=None)


def test_an_undecodable_sheet_sends_the_batch_to_review_naming_the_page(separated_batch):
    _, artifacts = separated_batch
    broken = [*artifacts[:5], page_artifact(5, undecodable=True, file="005.tif"), *artifacts[6:]]
    with pytest.raises(ReviewNeeded, match=r"005\.tif\[0\]"):
        find_documents(broken, BatchManifest(case_no=CASE), headings=None)


def test_a_sheet_followed_by_no_page_sends_the_batch_to_review(separated_batch):
    payloads, artifacts = separated_batch
    with pytest.raises(ReviewNeeded, match="followed by no page"):
        find_documents(artifacts[:9], BatchManifest(case_no=CASE), headings=None)


# --------------------------------------------------------------------------------------------------------------------
# Boundaries and titles from real Tesseract OCR (no sheets, no manifest)


@pytest.fixture(scope="module")
def ocr_batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ocr")
    facts = CaseFacts.make(random.Random(11))
    layout = [("indictment", 0, "jpeg"), ("indictment", 1, "jpeg"), ("record", 0, "g4"), ("record", 1, "g4"),
              ("table", 0, "g4"), ("judgment", 0, "g4"), ("judgment", 1, "g4"), ("photo", 0, "jpeg")]
    artifacts = []
    for pos, (kind, page_in_doc, encoding) in enumerate(layout):
        image = synthetic_page(kind, 500 + pos, dpi=200, page_in_doc=page_in_doc, facts=facts).image
        if encoding == "g4":
            path = save_g4(image, folder / f"{pos}.tif", 200)
        else:
            path = save_jpeg(image, folder / f"{pos}.jpg", 200)
        with Image.open(path) as stored:
            ocr = tesseract_ocr(stored.convert("L"), 200)
        artifacts.append(page_artifact(pos, path, dpi=200, ocr=ocr, folder=folder))
    return facts, artifacts


@pytest.mark.slow  # the module's batch read by real OCR: 45 s to set up at load 20
def test_titles_of_synthetic_documents_are_found_from_real_ocr(ocr_batch):
    facts, artifacts = ocr_batch
    docs = find_documents(artifacts, BatchManifest(case_no=facts.court_no, agency="河南省封丘县人民法院"))
    assert [(d.title, d.positions) for d in docs] == [
        ("起诉书", (0, 1)), ("询问笔录", (2, 3)), ("扣押物品清单", (4,)), ("刑事判决书", (5, 6)), ("现场勘验照片", (7,))]
    assert all(d.boundary == "ocr" and d.evidence["title"].source == "ocr" for d in docs)


@pytest.mark.slow  # the module's batch read by real OCR: 45 s to set up at load 20
def test_fields_read_from_ocr_are_those_printed_on_the_first_page(ocr_batch):
    facts, artifacts = ocr_batch
    docs = find_documents(artifacts, BatchManifest(case_no=facts.court_no, agency="河南省封丘县人民法院"))
    indictment, record, _, judgment, _ = docs
    assert indictment.doc_no == facts.proc_no
    assert judgment.doc_no == facts.court_no and judgment.author == "河南省封丘县人民法院"
    assert record.date == f"{facts.year}-{facts.month:02d}-{facts.day:02d}" and record.author == "封丘县公安局"


@pytest.mark.slow  # the module's batch read by real OCR: 45 s to set up at load 20
def test_without_the_heading_reread_titles_above_tables_and_photos_are_lost(ocr_batch):
    facts, artifacts = ocr_batch
    docs = find_documents(artifacts, BatchManifest(case_no=facts.court_no), headings=None)
    assert "扣押物品清单" not in [d.title for d in docs]  # Tesseract's page layout drops it: why the re-read exists


def test_a_change_of_issuing_authority_starts_a_document_even_without_a_known_title(tmp_path):
    body = [_line("经审查，现将有关情况函告如下，请予以协助办理为盼。", 330, 1000 + 90 * i, 62) for i in range(5)]
    heads = {0: "河南省封丘县人民检察院", 2: "河南省封丘县人民法院"}
    image = tmp_path / "page.tif"
    save_g4(Image.new("1", (827, 1169), 1), image, 100)
    pages = []
    for pos in range(4):
        lines = ((_centred(heads[pos], 430, 100), _centred("关于调取证据的函", 680, 90)) if pos in heads else ())
        ocr = OcrResult(2480, 3508, 300, (*lines, *body))
        pages.append(page_artifact(pos, image, dpi=300, ocr=ocr, folder=tmp_path))
    docs = find_documents(pages, None, headings=None)
    # a title outside the lexicon is the large centred line at the top
    assert [(d.positions, d.author, d.title) for d in docs] == [
        ((0, 1), "河南省封丘县人民检察院", "关于调取证据的函"), ((2, 3), "河南省封丘县人民法院", "关于调取证据的函")]


def test_pages_without_any_title_are_one_untitled_document(tmp_path):
    docs = find_documents(_pages(tmp_path, 3), None, headings=None)
    assert [(d.title, d.positions, d.boundary) for d in docs] == [("", (0, 1, 2), "single")]
    assert "title-missing" in docs[0].doubts()


# --------------------------------------------------------------------------------------------------------------------
# Volume packing and the 卷内目录


def _docs(lengths):
    start, docs = 0, []
    for i, n in enumerate(lengths):
        docs.append(Document(i, f"文件{i}", tuple(range(start, start + n))))
        start += n
    return docs


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=70), max_size=40), st.integers(min_value=1, max_value=60))
def test_packing_keeps_limits_and_order_and_loses_nothing(lengths, max_pages):
    docs = _docs(lengths)
    plans = plan_volumes(docs, max_pages)
    assert all(1 <= plan.page_count <= max_pages for plan in plans)
    assert [(p.number, p.of) for p in plans] == [(i + 1, len(plans)) for i in range(len(plans))]
    placed = [pos for plan in plans for pos in plan.positions]
    assert placed == [pos for d in docs for pos in d.positions]  # every page once, in order
    parts = [part for plan in plans for part in plan.parts]
    for d in docs:
        mine = [part for part in parts if part.document == d.index]
        if len(d.positions) <= max_pages:
            assert len(mine) == (1 if d.positions else 0)  # never split unless it alone exceeds the limit
            assert not any(part.continued for part in mine)
        else:
            assert [part.continued for part in mine] == [False] + [True] * (len(mine) - 1)
            assert all(len(part.positions) == max_pages for part in mine[:-1])
    for before, after in zip(plans, plans[1:]):  # a volume is closed only when the next document did not fit
        nxt = after.parts[0]
        if not nxt.continued:
            assert before.page_count + len(docs[nxt.document].positions) > max_pages or \
                len(docs[nxt.document].positions) > max_pages


def test_a_document_that_does_not_fit_starts_the_next_volume():
    plans = plan_volumes(_docs([150, 60, 30]), 200)
    assert [[p.document for p in plan.parts] for plan in plans] == [[0], [1, 2]]


def test_a_document_longer_than_a_volume_is_split_and_continued():
    docs = _docs([20, 450, 15])
    plans = plan_volumes(docs, 200)
    assert [plan.page_count for plan in plans] == [20, 200, 200, 65]
    catalogue = build_catalogue(CASE, plans, docs)
    rows = [(e.title, e.first_page, e.last_page, e.remark) for v in catalogue.volumes for e in v.entries]
    assert rows == [("文件0", 1, 20, ""), ("文件1", 1, 200, ""), ("文件1", 1, 200, "续"), ("文件1", 1, 50, "续"),
                    ("文件2", 51, 65, "")]


def test_catalogue_rows_number_pages_from_one_in_each_volume():
    docs = _docs([3, 1, 4])
    docs[1] = Document(1, "收据", (3,), date="2024-03-02", remark="复印件", flags=("author-missing",))
    entries = volume_catalogue(plan_volumes(docs, 200)[0], docs).entries
    assert [(e.seq, e.first_page, e.last_page) for e in entries] == [(1, 1, 3), (2, 4, 4), (3, 5, 8)]
    assert entries[1].remark == "复印件" and entries[1].date == "2024-03-02"
    assert {"author-missing", "doc_no-missing"} <= set(entries[1].flags)


def test_a_volume_limit_below_one_is_refused():
    with pytest.raises(ValueError):
        plan_volumes(_docs([1]), 0)
