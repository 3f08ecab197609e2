"""Cost of separator-sheet detection: CPU ms per ordinary page (the pre-check every page pays) and per real sheet.

    python bench/separator.py [RUNS]

Compares the cost per ordinary page with ~1.8 CPU-s of OCR per A4 300-dpi page (the budget it must disappear in).
"""

from __future__ import annotations

import random
import statistics
import sys
import time

from PIL import Image

from pipeline.assembly import separator_page_image
from pipeline.capture import find_separator
from pipeline.models import SeparatorPayload
from samples.synthetic import scan, synthetic_page

KINDS = ["indictment", "judgment", "record", "table", "photo", "grey-photo", "signature", "stamp", "page-number", "blank"]
OCR_CPU_S = 1.8


def bitonal(image: Image.Image) -> Image.Image:
    """A bitonal scan of an image."""
    return image.convert("L").point(lambda v: 255 if v > 150 else 0).convert("1")


def cpu_ms(image: Image.Image, expect: str) -> float:
    """CPU milliseconds of one detection, checking its verdict."""
    start = time.process_time()
    result = find_separator(image, "bench")
    elapsed = (time.process_time() - start) * 1000
    if result.kind != expect:
        raise SystemExit(f"wrong verdict {result.kind} (expected {expect}): {result.reason}")
    return elapsed


def main(runs: int) -> None:
    """Print the table."""
    sets: dict[str, list[Image.Image]] = {"300 dpi RGB": [], "300 dpi grey": [], "200 dpi bitonal": []}
    for kind in KINDS:
        page = synthetic_page(kind, 3, dpi=300, skew=1.5, specks=40).image
        sets["300 dpi RGB"].append(page)
        sets["300 dpi grey"].append(page.convert("L"))
        sets["200 dpi bitonal"].append(bitonal(synthetic_page(kind, 3, dpi=200, skew=1.5, specks=40).image))
    print(f"{'pages':28} {'n':>4} {'mean ms':>8} {'max ms':>8} {'% of OCR':>9}")
    for name, pages in sets.items():
        times = [cpu_ms(img, "none") for img in pages for _ in range(runs)]
        mean = statistics.mean(times)
        print(f"{'ordinary, ' + name:28} {len(times):4d} {mean:8.1f} {max(times):8.1f} {mean / 10 / OCR_CPU_S:8.2f}%")
    payload = SeparatorPayload(kind="document", case_no="（2019）豫0727刑初172号", title="起诉书",
                               doc_no="新封检公诉刑诉〔2019〕172号", author="河南省封丘县人民检察院", date="2019-04-12", pages=5)
    sheet = separator_page_image(payload, 200)
    times = []
    for skew in (-10, -5, 0, 5, 10):
        for rot in (0, 90, 180, 270):
            img = bitonal(scan(sheet, random.Random(skew + rot), 200, skew=skew, rotation_cw=rot, specks=40))
            times.append(cpu_ms(img, "separator"))
    print(f"{'sheet, 200 dpi bitonal':28} {len(times):4d} {statistics.mean(times):8.1f} {max(times):8.1f}"
          f" {statistics.mean(times) / 10 / OCR_CPU_S:8.2f}%  (±10° skew, 0/90/180/270, all decoded)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
