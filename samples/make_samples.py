"""Make the sample case batches under samples/ (deterministic: the same code writes the same bytes).

    python samples/make_samples.py [OUT_DIR]

``case-2024-172/``: a court's criminal case file as a scanning room delivers it: 起诉书 (red-headed, sealed),
询问笔录 (a three-page Group 4 TIFF, one page upside down), the blank back of a sheet, 扣押物品清单, 刑事判决书 (one
page skewed 3°, one on a dark scanner bed, the last sealed) — bitonal G4 TIFF, greyscale and colour JPEG at 300 dpi,
with a batch.json.

``case-2019-172-sheets/``: a procuratorate's file scanned with separator sheets printed by `dossier sheets` (a batch
cover and one sheet per document, scanned bitonal at 200 dpi, one of them skewed and upside down); the 卷内目录 must
equal the sheets' data.

``case-2023-55-unlabelled/``: a batch with neither batch.json nor sheets (process it with ``--case``): documents
and titles come from the OCR alone.
"""

from __future__ import annotations

import io
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from samples.synthetic import CaseFacts, SyntheticPage, synthetic_page

CASE_NO = "（2024）豫0727刑初172号"
DPI = 300


@dataclass(frozen=True)
class SamplePage:
    """One page of the sample batch: what it shows, how it was scanned, and how it is stored."""

    kind: str
    page_in_doc: int
    encoding: str  # colour-jpeg | grey-jpeg | g4
    skew: float = 0.0
    rotation_cw: int = 0
    border: bool = False
    bleed: float = 0.0
    specks: int = 40


PAGES: list[tuple[str, list[SamplePage]]] = [
    ("001.jpg", [SamplePage("indictment", 0, "colour-jpeg")]),
    ("002.jpg", [SamplePage("indictment", 1, "colour-jpeg", skew=0.6)]),
    ("003-005.tif", [SamplePage("record", 0, "g4"), SamplePage("record", 1, "g4", rotation_cw=180),
                     SamplePage("record", 2, "g4", skew=-1.2)]),
    ("006.jpg", [SamplePage("blank", 0, "grey-jpeg", bleed=0.05, specks=120)]),
    ("007.tif", [SamplePage("table", 0, "g4", skew=1.0)]),
    ("008.jpg", [SamplePage("judgment", 0, "grey-jpeg", skew=3.0)]),
    ("009.jpg", [SamplePage("judgment", 1, "grey-jpeg", border=True, skew=-0.8)]),
    ("010.jpg", [SamplePage("judgment", 2, "colour-jpeg")]),
]

BATCH = {
    "case_no": CASE_NO,
    "case_title": "周某盗窃案",
    "agency": "河南省封丘县人民法院",
    "room": "room-1",
    "operator": "扫描员01",
    "scanned": "2024-05-20T09:30:00+08:00",
    "dpi": DPI,
    "security_level": "internal",
    "retention": "永久",
    "prepared_by": "李书记员",
    "checked_by": "王档案员",
}


def render(page: SamplePage, seed: int, facts: CaseFacts) -> SyntheticPage:
    """The scanned page image."""
    return synthetic_page(page.kind, seed, dpi=DPI, skew=page.skew, rotation_cw=page.rotation_cw,
                          border=page.border, specks=page.specks, bleed=page.bleed,
                          page_in_doc=page.page_in_doc, facts=facts)


def encoded(image: Image.Image, encoding: str) -> Image.Image:
    """The image in the mode its encoding stores."""
    if encoding == "g4":
        return image.convert("L").point(lambda v: 255 if v > 150 else 0).convert("1")
    if encoding == "grey-jpeg":
        return image.convert("L")
    return image.convert("RGB")


def save(images: list[Image.Image], encoding: str, path: Path) -> None:
    """Write one file: JPEG for a single image, (multi-page) G4 TIFF for bitonal images."""
    buf = io.BytesIO()
    if encoding == "g4":
        first, *rest = images
        first.save(buf, "TIFF", compression="group4", dpi=(DPI, DPI), save_all=True, append_images=rest)
    else:
        images[0].save(buf, "JPEG", quality=80, dpi=(DPI, DPI))
    path.write_bytes(buf.getvalue())


def make_case_batch(out: Path) -> dict:
    """Write the main sample batch into ``out``; returns the ground truth per page."""
    out.mkdir(parents=True, exist_ok=True)
    facts = CaseFacts.make(random.Random(2024172))
    truth = []
    seed = 2024172000
    for name, pages in PAGES:
        images = []
        for page in pages:
            seed += 1
            scanned = render(page, seed, facts)
            images.append(encoded(scanned.image, page.encoding))
            truth.append({"file": name, "kind": page.kind, "skew": scanned.truth.skew,
                          "rotation": scanned.truth.rotation, "blank": scanned.truth.blank,
                          "seal": scanned.truth.seal, "lines": scanned.truth.lines})
        save(images, pages[0].encoding, out / name)
    (out / "batch.json").write_text(json.dumps(BATCH, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return {"case_no": CASE_NO, "pages": truth}


SHEETS_CASE = "新封检公诉刑诉〔2019〕172号"
SHEETS_DOCUMENTS = [
    # (kind, pages, title, doc_no, author, date)
    ("indictment", 2, "起诉书", "封检公诉刑诉〔2019〕172号", "河南省封丘县人民检察院", "2019-04-12"),
    ("record", 2, "询问笔录", "", "封丘县公安局", "2019-03-02"),
    ("table", 1, "扣押物品清单", "", "封丘县公安局", "2019-03-01"),
]
SHEETS_BATCH = {
    "case_no": SHEETS_CASE,
    "case_title": "孙某盗窃案",
    "agency": "河南省封丘县人民检察院",
    "room": "room-2",
    "operator": "扫描员02",
    "dpi": DPI,
    "security_level": "internal",
    "retention": "长期",
    "prepared_by": "赵检察官助理",
    "checked_by": "钱档案员",
}


def bitonal_sheet(payload, seed: int, skew: float = 0.0, rotation_cw: int = 0) -> Image.Image:
    """A separator sheet as `dossier sheets` prints it, scanned bitonal at 200 dpi."""
    from pipeline.assembly import separator_page_image
    from samples.synthetic import scan

    sheet = separator_page_image(payload, 200)
    scanned = scan(sheet, random.Random(seed), 200, skew=skew, rotation_cw=rotation_cw, specks=30)
    return scanned.convert("L").point(lambda v: 255 if v > 150 else 0).convert("1")


def save_g4(image: Image.Image, path: Path, dpi: int) -> None:
    """One bitonal page as a Group 4 TIFF."""
    buf = io.BytesIO()
    image.save(buf, "TIFF", compression="group4", dpi=(dpi, dpi))
    path.write_bytes(buf.getvalue())


def make_sheets_batch(out: Path) -> dict:
    """Write the batch with separator sheets; returns the sheets' data (what the 卷内目录 must say)."""
    from pipeline.models import SeparatorPayload

    out.mkdir(parents=True, exist_ok=True)
    facts = CaseFacts.make(random.Random(2019172), year=2019, number=172)
    cover = SeparatorPayload(kind="batch", case_no=SHEETS_CASE, case_title=SHEETS_BATCH["case_title"],
                             agency=SHEETS_BATCH["agency"])
    n = 1
    save_g4(bitonal_sheet(cover, 1), out / f"{n:03d}.tif", 200)
    seed = 2019172000
    for d, (kind, pages, title, doc_no, author, date) in enumerate(SHEETS_DOCUMENTS):
        n += 1
        payload = SeparatorPayload(kind="document", case_no=SHEETS_CASE, title=title, doc_no=doc_no, author=author,
                                   date=date, pages=pages)
        upside_down = d == 1
        save_g4(bitonal_sheet(payload, n, skew=4.0 if upside_down else 0.0, rotation_cw=180 if upside_down else 0),
                out / f"{n:03d}.tif", 200)
        for i in range(pages):
            n += 1
            seed += 1
            page = synthetic_page(kind, seed, dpi=DPI, skew=[0.4, -0.7, 1.1][i % 3], specks=30, page_in_doc=i,
                                  facts=facts)
            save_g4(encoded(page.image, "g4"), out / f"{n:03d}.tif", DPI)
    (out / "batch.json").write_text(json.dumps(SHEETS_BATCH, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return {"case_no": SHEETS_CASE, "documents": [
        {"title": t, "doc_no": no, "author": a, "date": dt, "pages": p} for _, p, t, no, a, dt in SHEETS_DOCUMENTS]}


UNLABELLED_CASE = "（2023）豫0727刑初55号"
UNLABELLED_PAGES = [("judgment", 0, "g4"), ("judgment", 1, "g4"), ("judgment", 2, "grey-jpeg"), ("record", 0, "g4"),
                    ("record", 1, "g4"), ("photo", 0, "colour-jpeg")]
UNLABELLED_TITLES = ["刑事判决书", "询问笔录", "现场勘验照片"]


def make_unlabelled_batch(out: Path) -> dict:
    """Write the batch without manifest or sheets; returns the titles the OCR must find."""
    out.mkdir(parents=True, exist_ok=True)
    facts = CaseFacts.make(random.Random(2023055), year=2023, number=55)
    for n, (kind, page_in_doc, encoding) in enumerate(UNLABELLED_PAGES, start=1):
        page = synthetic_page(kind, 2023055000 + n, dpi=DPI, skew=0.5 * (-1) ** n, specks=30, page_in_doc=page_in_doc,
                              facts=facts)
        name = f"IMG_{n:04d}" + (".tif" if encoding == "g4" else ".jpg")
        save([encoded(page.image, encoding)], encoding, out / name)
    return {"case_no": UNLABELLED_CASE, "titles": UNLABELLED_TITLES}


def write_truth(root: Path, name: str, truth: dict) -> None:
    """Ground truth of a sample batch, for the tests."""
    (root / "truth").mkdir(exist_ok=True)
    (root / "truth" / f"{name}.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n",
                                                 encoding="utf-8")


def main(root: Path) -> None:
    """Write every sample batch and its ground truth (samples/truth/*.json, used by the tests)."""
    write_truth(root, "case-2024-172", make_case_batch(root / "case-2024-172"))
    write_truth(root, "case-2019-172-sheets", make_sheets_batch(root / "case-2019-172-sheets"))
    write_truth(root, "case-2023-55-unlabelled", make_unlabelled_batch(root / "case-2023-55-unlabelled"))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
