"""Benchmark of page imaging on generated pages with known truth, beside Tesseract's own skew and OSD.

    PYTHONPATH=. python bench/imaging.py --pages 120 --tesseract 12

Pages mix document kinds (CJK text, tables, handwriting, seals, photos), sparse pages (signature, stamp, page
number only), blank backs with bleed-through and noise; skew over ±15°, all four orientations, scanner-bed borders,
binding holes, 200/300/600 dpi, and file round-trips (JPEG, G4 TIFF, grey, palette, 16-bit grey). Times are CPU
(process time of this process plus its tesseract children), one OpenCV thread, OMP_THREAD_LIMIT=1.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import cv2
import numpy as np

from pipeline.imaging import prepare_page
from pipeline.ocr import OcrSettings, engine_for, osd_rotation
from pipeline.standard import load_profile
from samples.synthetic import roundtrip, synthetic_page

TEXT_KINDS = ("indictment", "judgment", "record", "table", "photo", "grey-photo")
SPARSE_KINDS = ("signature", "stamp", "page-number")


@dataclass
class Case:
    """One generated page and what the benchmark asks of it."""

    index: int
    kind: str
    dpi: int
    encoding: str
    skew: float
    rotation_cw: int
    border: bool
    holes: bool
    bleed: float
    specks: int
    page_in_doc: int
    give_dpi: bool


@dataclass
class Tally:
    """Scores accumulated over the pages."""

    skew_err: list[float] = field(default_factory=list)
    skew_err_small: list[float] = field(default_factory=list)  # pages skewed by 3° or less
    skew_unknown_text: int = 0
    orient_text: list[bool] = field(default_factory=list)
    orient_flagged_wrong: int = 0
    sparse_right: int = 0
    sparse_left: int = 0
    sparse_wrong_unflagged: int = 0
    sparse_n: int = 0
    blank_tp: int = 0
    blank_fp: int = 0
    blank_fn: int = 0
    blank_fp_sparse: int = 0
    seal_tp: int = 0
    seal_fn: int = 0
    seal_fp: int = 0
    colour_ok: list[bool] = field(default_factory=list)
    colour_misses: list[str] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    cpu_ms_300: list[float] = field(default_factory=list)
    osd_calls: int = 0
    cpu_by: dict[str, list[float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def make_cases(n: int, seed: int) -> list[Case]:
    """A reproducible mix of pages: 70% documents, 15% sparse, 15% blank."""
    rng = random.Random(seed)
    cases = []
    for i in range(n):
        u = rng.random()
        kind = rng.choice(TEXT_KINDS) if u < 0.7 else rng.choice(SPARSE_KINDS) if u < 0.85 else "blank"
        dpi = rng.choices((200, 300, 600), weights=(3, 6, 1))[0]
        encoding = rng.choices(("rgb", "jpeg", "g4", "grey", "palette", "grey16", "png"),
                               weights=(4, 3, 2, 1, 1, 1, 1))[0]
        skew = round(rng.uniform(-15, 15), 2) if rng.random() < 0.5 else round(rng.uniform(-3, 3), 2)
        cases.append(Case(
            index=i, kind=kind, dpi=dpi, encoding=encoding, skew=skew,
            rotation_cw=rng.choices((0, 90, 180, 270), weights=(4, 2, 2, 2))[0],
            border=rng.random() < 0.5, holes=rng.random() < 0.2,
            bleed=rng.choice((0.0, 0.0, 0.06, 0.1)) if kind in ("blank", *SPARSE_KINDS) else rng.choice((0.0, 0.05)),
            specks=rng.choice((0, 30, 80)), page_in_doc=rng.randrange(2), give_dpi=rng.random() < 0.8,
        ))
    return cases


def expected_colour(kind: str, truth_colour: str, encoding: str) -> str:
    """The archive mode a page deserves once its file encoding has thrown away what it could not hold."""
    if encoding == "g4":
        return "bitonal"
    if encoding in ("grey", "grey16"):
        return "grey" if kind in ("photo", "grey-photo") else "bitonal"
    return truth_colour


def children_cpu() -> float:
    """CPU seconds used by finished child processes (tesseract)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(cases: list[Case], tess: int, verbose: bool = False) -> None:
    """Prepare every page, score it against its truth, and compare with Tesseract on the first `tess` text pages."""
    profile = load_profile()
    t = Tally()
    tess_skew: list[tuple[float, float]] = []
    tess_skew_cpu: list[float] = []
    tess_osd: list[bool | None] = []
    tess_osd_cpu: list[float] = []
    started = time.perf_counter()
    for c in cases:
        page = synthetic_page(c.kind, 10_000 + c.index, dpi=c.dpi, skew=c.skew, rotation_cw=c.rotation_cw,
                              border=c.border, specks=c.specks, bleed=c.bleed, page_in_doc=c.page_in_doc,
                              holes=c.holes)
        image = roundtrip(page.image, c.encoding, c.dpi)
        truth = page.truth
        cpu0, ch0 = time.process_time(), children_cpu()
        try:
            r = prepare_page(image, c.dpi if c.give_dpi else None, profile, f"bench{c.index}",
                             reader=engine_for(OcrSettings.from_policy(profile.ocr, engine="tesseract")).read_glyphs)
        except Exception as exc:  # noqa: BLE001 - a benchmark reports every failure and goes on
            t.failures.append(f"{c}: {exc!r}")
            continue
        cpu = (time.process_time() - cpu0 + children_cpu() - ch0) * 1000
        called = children_cpu() > ch0
        t.osd_calls += called
        t.cpu_ms.append(cpu)
        if c.dpi == 300:
            t.cpu_ms_300.append(cpu)
            key = "blank" if r.blank else r.colour + (" + tesseract" if called else "")
            t.cpu_by.setdefault(key, []).append(cpu)
        label = f"#{c.index} {c.kind} {c.dpi}dpi {c.encoding} skew={c.skew} rot={c.rotation_cw} border={c.border}"
        if verbose:
            print(f"{label}: {cpu:.0f} ms{' (tesseract)' if called else ''} rot={r.rotation}/{truth.rotation} "
                  f"skew={r.skew:+.3f}/{truth.skew:+.3f} {r.colour} ({r.colour_reason}) blank={r.blank} {r.flags}",
                  flush=True)
        if c.kind in TEXT_KINDS:
            if "skew-unknown" in r.flags:
                t.skew_unknown_text += 1
                t.failures.append(f"{label}: skew unknown")
            else:
                err = abs(r.skew - truth.skew)
                t.skew_err.append(err)
                if abs(truth.skew) <= 3:
                    t.skew_err_small.append(err)
                if err > 0.3:
                    t.failures.append(f"{label}: skew {r.skew} vs {truth.skew}")
            ok = r.rotation == truth.rotation
            t.orient_text.append(ok)
            if not ok:
                t.failures.append(f"{label}: rotation {r.rotation} vs {truth.rotation} flags={r.flags}")
        elif c.kind in SPARSE_KINDS:
            t.sparse_n += 1
            t.sparse_right += r.rotation == truth.rotation
            if r.rotation != truth.rotation:
                if "orientation-unsure" in r.flags and r.rotation == 0:
                    t.sparse_left += 1
                else:
                    t.sparse_wrong_unflagged += 1
                    t.failures.append(f"{label}: sparse page turned {r.rotation} vs {truth.rotation}")
        if truth.blank:
            t.blank_tp += r.blank
            t.blank_fn += not r.blank
            if not r.blank:
                t.failures.append(f"{label}: blank page not detected")
        elif r.blank:
            t.blank_fp += 1
            t.blank_fp_sparse += c.kind in SPARSE_KINDS
            t.failures.append(f"{label}: page taken for blank")
        if not truth.blank:
            want = expected_colour(c.kind, truth.colour, c.encoding)
            t.colour_ok.append(r.colour == want)
            if r.colour != want:
                t.colour_misses.append(f"{label}: {r.colour} ({r.colour_reason}) vs {want}")
            if c.encoding not in ("g4", "grey", "grey16"):
                if truth.seal:
                    t.seal_tp += r.seal
                    t.seal_fn += not r.seal
                elif r.seal:
                    t.seal_fp += 1
                    t.colour_misses.append(f"{label}: seal found where there is none")
        # Tesseract on the same pages, for comparison
        if c.kind in TEXT_KINDS and len(tess_osd) < tess:
            grey = image.convert("L")
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "page.png")
                grey.save(path, dpi=(c.dpi, c.dpi))
                ch = children_cpu()
                try:
                    out = subprocess.run(["tesseract", path, "stdout", "--psm", "2", "-l", "chi_sim"],
                                         capture_output=True, text=True, timeout=60,
                                         env={**os.environ, "OMP_THREAD_LIMIT": "1"})
                    text = out.stdout + out.stderr
                except subprocess.TimeoutExpired:
                    text = ""
                tess_skew_cpu.append(children_cpu() - ch)
            angle = None
            for line in text.splitlines():
                if line.startswith("Deskew angle:"):
                    angle = float(line.split(":")[1])
            # tesseract --psm 2 measures the page as it lies: only pages lying upright are compared
            if angle is not None and truth.rotation == 0:
                tess_skew.append((float(np.degrees(angle)), truth.skew))
            ch = children_cpu()
            answer = osd_rotation(grey, c.dpi, f"bench{c.index}", timeout=60)
            tess_osd_cpu.append(children_cpu() - ch)
            tess_osd.append(None if answer is None else answer[0] == truth.rotation)
    wall = time.perf_counter() - started
    report(t, tess_skew, tess_skew_cpu, tess_osd, tess_osd_cpu, len(cases), wall)


def report(t: Tally, tess_skew, tess_skew_cpu, tess_osd, tess_osd_cpu, n: int, wall: float) -> None:
    """Print the table."""
    def pct(ok: list[bool]) -> str:
        """Share of True, with counts."""
        return f"{100 * sum(ok) / len(ok):.1f}% ({sum(ok)}/{len(ok)})" if ok else "n/a"

    def ms(values: list[float]) -> str:
        """Mean, median, 95th percentile and maximum of CPU milliseconds."""
        if not values:
            return "n/a"
        v = sorted(values)
        p95 = v[int(0.95 * (len(v) - 1))]
        return f"mean {statistics.mean(v):.0f}, median {v[len(v) // 2]:.0f}, p95 {p95:.0f}, max {v[-1]:.0f}"

    print(f"\npages: {n}  (wall {wall:.0f} s including page generation)")
    print("=" * 100)
    print(f"{'measure':44s} {'prepare_page':>26s}   {'tesseract':>22s}")
    print("-" * 100)
    e = t.skew_err
    tess_err = [abs(a - b) for a, b in tess_skew]
    tess_err_neg = [abs(-a - b) for a, b in tess_skew]
    if tess_err_neg and statistics.mean(tess_err_neg) < statistics.mean(tess_err):
        tess_err = tess_err_neg
    print(f"{'skew MAE, text pages (deg)':44s} {statistics.mean(e) if e else float('nan'):26.3f}   "
          f"{statistics.mean(tess_err) if tess_err else float('nan'):22.3f}")
    print(f"{'skew max error, text pages (deg)':44s} {max(e) if e else float('nan'):26.3f}   "
          f"{max(tess_err) if tess_err else float('nan'):22.3f}")
    small = [abs(a - b) for a, b in tess_skew if abs(b) <= 3]
    small_neg = [abs(-a - b) for a, b in tess_skew if abs(b) <= 3]
    if small_neg and statistics.mean(small_neg) < statistics.mean(small):
        small = small_neg
    print(f"{'skew MAE, text pages skewed <= 3 deg':44s} "
          f"{statistics.mean(t.skew_err_small) if t.skew_err_small else float('nan'):26.3f}   "
          f"{statistics.mean(small) if small else float('nan'):22.3f}")
    print(f"{'skew unknown on text pages':44s} {t.skew_unknown_text:26d}   {f'(psm 2: {len(tess_skew)} upright pages)':>22s}")
    osd_answered = [x for x in tess_osd if x is not None]
    print(f"{'orientation, text pages':44s} {pct(t.orient_text):>26s}   "
          f"{pct([bool(x) for x in osd_answered]):>22s}")
    print(f"{'  OSD: no answer':44s} {'':26s}   {sum(x is None for x in tess_osd):22d}")
    print(f"{'sparse pages: upright after prepare':44s} {t.sparse_right:26d}")
    print(f"{'sparse pages: left as they lie + flagged':44s} {t.sparse_left:26d}")
    print(f"{'sparse pages: turned wrongly':44s} {t.sparse_wrong_unflagged:26d}   (of {t.sparse_n})")
    bp = t.blank_tp / (t.blank_tp + t.blank_fp) if t.blank_tp + t.blank_fp else float("nan")
    br = t.blank_tp / (t.blank_tp + t.blank_fn) if t.blank_tp + t.blank_fn else float("nan")
    print(f"{'blank precision / recall':44s} {f'{bp:.3f} / {br:.3f}':>26s}")
    print(f"{'blank false positives on sparse pages':44s} {t.blank_fp_sparse:26d}")
    sr = t.seal_tp / (t.seal_tp + t.seal_fn) if t.seal_tp + t.seal_fn else float("nan")
    print(f"{'seal recall (false positives)':44s} {f'{sr:.3f} ({t.seal_fp})':>26s}")
    print(f"{'colour decision accuracy':44s} {pct(t.colour_ok):>26s}")
    print(f"{'CPU ms/page, all pages':44s} {ms(t.cpu_ms):>26s}")
    print(f"{'CPU ms/page, 300 dpi pages':44s} {ms(t.cpu_ms_300):>26s}")
    print(f"{'  pages that called tesseract':44s} {t.osd_calls:26d}")
    for key, values in sorted(t.cpu_by.items()):
        print(f"{'  300 dpi, ' + key:44s} {ms(values):>26s}  ({len(values)} pages)")
    print(f"{'CPU ms/page, tesseract --psm 2 / OSD':44s} {'':26s}   "
          f"{(1000 * statistics.mean(tess_skew_cpu) if tess_skew_cpu else float('nan')):9.0f} / "
          f"{(1000 * statistics.mean(tess_osd_cpu) if tess_osd_cpu else float('nan')):.0f}")
    print("=" * 100)
    for line in t.failures:
        print("FAIL", line)
    for line in t.colour_misses:
        print("COLOUR", line)


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and run."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=60, help="number of generated pages (default 60, ~5 min)")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--only", type=int, nargs="*", help="run only these page numbers of the mix (to look at failures)")
    ap.add_argument("--verbose", action="store_true", help="print every page as it is done")
    ap.add_argument("--tesseract", type=int, default=12,
                    help="text pages also run through tesseract --psm 2 and OSD (slow: ~2 CPU-s each)")
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    cases = make_cases(args.pages, args.seed)
    if args.only:
        cases = [c for c in cases if c.index in set(args.only)]
    run(cases, args.tesseract, args.verbose)


if __name__ == "__main__":
    sys.exit(main())
