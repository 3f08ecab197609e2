"""OCR modes on synthetic A4 300-dpi Chinese pages: one tesseract per page vs one per list of pages, and language lists.

Runs 2 pages (or 2 lists) at a time, one OpenMP thread per tesseract, and prints wall time, tesseract CPU time
(rusage of children) and character error rate against the synthetic ground truth; then the cost of the text layer.

    PYTHONPATH=. python bench/ocr_modes.py [--pages 12] [--langs chi_sim,chi_sim+eng] [--width 2] [--repeat 3] [--pytesseract]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor

import pikepdf
from PIL import Image

from pipeline.assembly import add_text_layer
from pipeline.ocr import OcrResult, OcrSettings, ocr_image, ocr_images
from pipeline.structure import levenshtein
from samples.synthetic import synthetic_page

KINDS = [("indictment", 0), ("indictment", 1), ("judgment", 0), ("judgment", 1), ("record", 0), ("record", 1)]


def pages(n: int) -> list[tuple[Image.Image, list[str], str]]:
    """n synthetic pages (grey, as OCR sees them), their truth lines and labels."""
    out = []
    for i in range(n):
        kind, pid = KINDS[i % len(KINDS)]
        p = synthetic_page(kind, seed=7000 + i, page_in_doc=pid, specks=30 if i % 3 == 0 else 0,
                           bleed=0.06 if i % 4 == 1 else 0.0)
        out.append((p.image.convert("L"), p.truth.lines, f"{kind}-{pid}-{i}"))
    return out


def squash(text: str, nfkc: bool) -> str:
    """Text without whitespace (incl. ideographic space); NFKC folds full-width punctuation to ASCII."""
    if nfkc:
        text = unicodedata.normalize("NFKC", text)
    return "".join(text.split()).replace("\u3000", "")


def cer(results: list[OcrResult], truths: list[list[str]], nfkc: bool) -> float:
    """Total edits over total truth characters."""
    edits = total = 0
    for r, t in zip(results, truths):
        truth = squash("\n".join(t), nfkc)
        edits += levenshtein(squash(r.text, nfkc), truth)
        total += len(truth)
    return edits / max(1, total)


def children_cpu() -> float:
    """CPU seconds used by waited-for children so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run(mode: str, items, settings: OcrSettings, width: int = 2) -> tuple[list[OcrResult], float, float, float]:
    """Run one mode ``width`` pages (or lists) at a time; returns results, wall s, children CPU s, own CPU s."""
    c0, p0, t0 = children_cpu(), time.process_time(), time.perf_counter()
    if mode == "per-page":
        with ThreadPoolExecutor(width) as ex:
            results = list(ex.map(lambda it: ocr_image(it[0], 300, settings, it[2]), items))
    elif mode == "list":
        halves = [list(range(k, len(items), width)) for k in range(width)]
        with ThreadPoolExecutor(width) as ex:
            parts = list(ex.map(lambda idx: ocr_images([(items[i][0], 300, items[i][2]) for i in idx], settings),
                                halves))
        results = [None] * len(items)
        for idx, part in zip(halves, parts):
            for i, r in zip(idx, part):
                results[i] = r
    elif mode == "pytesseract":
        import pytesseract

        def one(it):
            return pytesseract.image_to_data(it[0], lang=settings.languages,
                                             config=f"--psm {settings.psm} --dpi 300", timeout=settings.timeout)

        with ThreadPoolExecutor(width) as ex:
            list(ex.map(one, items))
        results = []
    else:
        raise ValueError(mode)
    return results, time.perf_counter() - t0, children_cpu() - c0, time.process_time() - p0


def text_layer_cost(items, results: list[OcrResult]) -> tuple[float, float]:
    """Mean CPU ms per page for add_text_layer, and for saving the text-only PDF."""
    pdf = pikepdf.new()
    t0 = time.process_time()
    for (img, _, _), r in zip(items, results):
        w, h = img.width * 72 / 300, img.height * 72 / 300
        page = pdf.add_blank_page(page_size=(w, h))
        add_text_layer(pdf, page, r, w, h)
    layer = (time.process_time() - t0) * 1000 / len(results)
    t1 = time.process_time()
    pdf.save("/dev/null", object_stream_mode=pikepdf.ObjectStreamMode.disable)
    return layer, (time.process_time() - t1) * 1000 / len(results)


def main() -> None:
    """Print the comparison table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=12)
    ap.add_argument("--langs", default="chi_sim,chi_sim+eng")
    ap.add_argument("--width", type=int, default=2, help="pages (or page lists) run at a time")
    ap.add_argument("--repeat", type=int, default=1, help="rounds (order rotated each round)")
    ap.add_argument("--pytesseract", action="store_true", help="also time pytesseract.image_to_data (PNG temp file)")
    args = ap.parse_args()
    os.environ["OMP_THREAD_LIMIT"] = "1"  # for the pytesseract mode, which cannot pass an environment
    items = pages(args.pages)
    truths = [t for _, t, _ in items]
    chars = sum(len(squash("\n".join(t), False)) for t in truths)
    print(f"{len(items)} synthetic A4 300-dpi pages, {chars} truth characters, {args.width} at a time, "
          f"OMP_THREAD_LIMIT=1")
    print(f"{args.repeat} round(s); wall and CPU are medians over rounds, CPU min is the least disturbed round")
    print(f"{'mode':<12} {'languages':<12} {'wall s':>7} {'CPU min':>7} {'CPU s':>7} {'CPU s/pg':>8} {'parent s':>8} "
          f"{'CER':>6} {'CER nfkc':>8} {'conf':>5}")
    keep: dict[tuple[str, str], list[OcrResult]] = {}
    times: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    modes = [("per-page", lang) for lang in args.langs.split(",")] + [("list", args.langs.split(",")[0])]
    if args.pytesseract:
        modes.append(("pytesseract", args.langs.split(",")[0]))
    for rnd in range(args.repeat):
        # rotate the order every round so that load from other users does not always hit the same mode
        for mode, lang in modes[rnd % len(modes):] + modes[: rnd % len(modes)]:
            settings = OcrSettings(languages=lang, psm=3, timeout=300)
            results, wall, cpu, own = run(mode, items, settings, args.width)
            times.setdefault((mode, lang), []).append((wall, cpu, own))
            if results:
                keep[(mode, lang)] = results
    for mode, lang in modes:
        runs = sorted(times[(mode, lang)], key=lambda t: t[1])
        wall = statistics.median(t[0] for t in runs)
        cpu_min, cpu_med = runs[0][1], statistics.median(t[1] for t in runs)
        own = statistics.median(t[2] for t in runs)
        row = (f"{mode:<12} {lang:<12} {wall:7.1f} {cpu_min:7.1f} {cpu_med:7.1f} {cpu_med / len(items):8.2f} "
               f"{own:8.2f}")
        results = keep.get((mode, lang))
        if results:
            confs = [r.mean_confidence for r in results if r.mean_confidence is not None]
            row += (f" {cer(results, truths, False):6.1%} {cer(results, truths, True):8.1%}"
                    f" {sum(confs) / len(confs):5.1f}")
        print(row)
    first = args.langs.split(",")[0]
    if ("list", first) in keep and ("per-page", first) in keep:
        same = sum(a.text == b.text for a, b in zip(keep[("list", first)], keep[("per-page", first)]))
        print(f"list mode gave the same text as per-page mode on {same}/{len(items)} pages")
    layer, save = text_layer_cost(items, keep[("per-page", first)])
    words = sum(len(r.words) for r in keep[("per-page", first)]) / len(items)
    print(f"text layer: {layer:.1f} ms CPU per page ({words:.0f} words/page), save {save:.1f} ms per page")


if __name__ == "__main__":
    main()
