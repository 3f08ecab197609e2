"""The orientation check's OCR read through each engine of the seam: is PP-OCR as good a judge as Tesseract?

    PYTHONPATH=. python bench/orientation_readers.py [--pages 80] [--seed 2024] [--readers none,tesseract,ppocr]
                                                      [--verbose]

Imaging turns most pages upright from long horizontal strokes alone; pages where that evidence is thin (few lines,
tables, photo pages, lines that could run either way) are settled by reading a sample of two lines upright and
turned over (``pipeline.imaging.ocr_up_or_down``) with the profile's engine. This runs bench/imaging.py's page mix
(text, sparse and blank pages in all four orientations, skew to ±15°, borders, 200-600 dpi, file round trips)
through ``prepare_page`` once per reader — none (strokes only), Tesseract (psm 6) and PP-OCR — and prints, per reader:
text pages turned right, those the reader was asked about and how many of them it got right, pages left unsure, and
the reader's CPU per call (in-process PP-OCR and Tesseract's child processes both counted).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from imaging import SPARSE_KINDS, TEXT_KINDS, make_cases  # noqa: E402

from pipeline.imaging import prepare_page  # noqa: E402
from pipeline.ocr import profile_engine  # noqa: E402
from pipeline.standard import load_profile  # noqa: E402
from samples.synthetic import roundtrip, synthetic_page  # noqa: E402


def cpu() -> float:
    """CPU seconds of this process and its finished children."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class Counted:
    """A reader that counts its calls and their CPU."""

    def __init__(self, reader):
        self.reader, self.calls, self.cpu = reader, 0, 0.0

    def __call__(self, grey, dpi, label):
        start = cpu()
        try:
            return self.reader(grey, dpi, label)
        finally:
            self.calls += 1
            self.cpu += cpu() - start


def main() -> None:
    """Every page once per reader; print the comparison."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=80)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--readers", default="none,tesseract,ppocr")
    ap.add_argument("--verbose", action="store_true", help="name every text page left unsure or turned wrong")
    args = ap.parse_args()
    profile = load_profile()
    cases = [c for c in make_cases(args.pages, args.seed) if c.kind in TEXT_KINDS or c.kind in SPARSE_KINDS]
    pages = []
    for c in cases:
        page = synthetic_page(c.kind, 10_000 + c.index, dpi=c.dpi, skew=c.skew, rotation_cw=c.rotation_cw,
                              border=c.border, specks=c.specks, bleed=c.bleed, page_in_doc=c.page_in_doc,
                              holes=c.holes)
        pages.append((c, roundtrip(page.image, c.encoding, c.dpi), page.truth.rotation))
    print(f"{len(pages)} pages ({sum(c.kind in TEXT_KINDS for c, _, _ in pages)} text, the rest sparse)")
    for name in args.readers.split(","):
        policy = profile.ocr.model_copy(update={"engine": name}) if name != "none" else profile.ocr
        reader = Counted(profile_engine(policy).read_glyphs) if name != "none" else None
        right = asked_right = asked = unsure = 0
        text = 0
        started = time.perf_counter()
        for c, image, rotation in pages:
            calls = reader.calls if reader else 0
            r = prepare_page(image, c.dpi if c.give_dpi else None, profile, f"bench{c.index}", reader=reader,
                             use_ocr=reader is not None)
            consulted = reader is not None and reader.calls > calls
            if c.kind in TEXT_KINDS:
                text += 1
                right += r.rotation == rotation
                unsure += "orientation-unsure" in r.flags
                if args.verbose and ("orientation-unsure" in r.flags or r.rotation != rotation):
                    print(f"  {name}: #{c.index} {c.kind} {c.dpi} dpi {c.encoding} rot {c.rotation_cw} skew {c.skew}: "
                          f"turned {r.rotation} (truth {rotation}), {'asked' if consulted else 'not asked'}, "
                          f"{list(r.flags)}")
                if consulted:
                    asked += 1
                    asked_right += r.rotation == rotation
        per_call = f"{1000 * reader.cpu / reader.calls:.0f} ms CPU a call" if reader and reader.calls else "no calls"
        print(f"{name:10s} text pages upright {right}/{text}; reader asked on {asked} text pages, right on "
              f"{asked_right}; left unsure {unsure}; {reader.calls if reader else 0} calls, {per_call} "
              f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
