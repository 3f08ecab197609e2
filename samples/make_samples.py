"""Make the sample case batches under samples/ (deterministic: the same code writes the same bytes).

    python samples/make_samples.py [OUT_DIR]

``case-2024-172/``: a court's criminal case file as a scanning room delivers it: 起诉书 (red-headed, sealed),
询问笔录 (a three-page Group 4 TIFF, one page upside down), the blank back of a sheet, 扣押物品清单, 刑事判决书 (one
page skewed 3°, one on a dark scanner bed, the last sealed) — bitonal G4 TIFF, greyscale and colour JPEG at 300 dpi,
with a batch.json.
"""

from __future__ import annotations

import io
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from pipeline.synthetic import CaseFacts, SyntheticPage, synthetic_page

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
    "grants": ["河南省封丘县人民检察院"],
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


def main(root: Path) -> None:
    """Write every sample batch and its ground truth (samples/truth/*.json, used by the tests)."""
    truth = make_case_batch(root / "case-2024-172")
    (root / "truth").mkdir(exist_ok=True)
    (root / "truth" / "case-2024-172.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n",
                                                       encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
