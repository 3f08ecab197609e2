"""Peak memory as the batch grows: ``dossier process`` on batches of different sizes, and bytes per page by kind.

    python bench/memory.py [--sizes 100,1000] [--base 100] [--keep DIR]

Makes ``--base`` distinct pages with bench/throughput.py's generator (the same mix of bitonal, grey, sealed colour,
table, photo and blank pages), then batches of each size from them: page k is base page k mod base with a few
specks of its own, so every page is a distinct image (its own SHA-256, its own OCR, no cache hit). Each batch runs
through ``dossier process`` against a running Prefect server and embedded SeaweedFS, with a cold cache, and the peak
resident memory of the process tree (the CLI, its tesseract and Java children) is sampled every 0.1 s.

It prints, per size: wall seconds, peak RSS, volumes; the ratio of the largest to the smallest peak (target: the
1,000-page peak at most 1.5 GB and within 20% of the 100-page one); and, from the volumes of the largest run, the
bytes each page's image takes in the PDF by encoding (targets: bitonal text pages ≤ 45 KB, colour seal pages ≤ 400 KB).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from throughput import BENCH_ENV, ensure_batch, run_command, start_prefect_server  # noqa: E402


def specked(path: Path, seed: int) -> bytes:
    """The page at ``path`` re-encoded the same way with a few seeded specks in its margins."""
    rng = random.Random(seed)
    with Image.open(path) as img:
        dpi = img.info.get("dpi", (300, 300))
        fmt = img.format
        page = img.convert("L") if img.mode == "1" else img.copy()
    draw = ImageDraw.Draw(page)
    for _ in range(6):
        x = rng.choice([rng.randrange(20, 120), rng.randrange(page.width - 120, page.width - 20)])
        y = rng.randrange(20, page.height - 20)
        draw.ellipse((x, y, x + 3, y + 3), fill=0)
    buf = io.BytesIO()
    if fmt == "TIFF":
        page.convert("1").save(buf, "TIFF", compression="group4", dpi=dpi)
    else:
        page.save(buf, "JPEG", quality=80, dpi=dpi)
    return buf.getvalue()


def grown_batch(base: Path, size: int, folder: Path) -> None:
    """A batch of ``size`` distinct pages made from the base pages."""
    pages = sorted(p for p in base.iterdir() if p.suffix in (".tif", ".jpg"))
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(size):
        src = pages[k % len(pages)]
        data = src.read_bytes() if k < len(pages) else specked(src, k)
        (folder / f"{k + 1:05d}{src.suffix}").write_bytes(data)
    shutil.copy(base / "batch.json", folder / "batch.json")


def image_bytes_by_kind(volumes: list[Path]) -> dict[str, list[int]]:
    """Encoded size of every scanned page's image in the volumes, by encoding (bitonal G4, grey or colour JPEG)."""
    import pikepdf

    kinds: dict[str, list[int]] = {}
    for path in volumes:
        with pikepdf.open(path) as pdf:
            for page in pdf.pages:
                for _, xobj in page.Resources.get("/XObject", {}).items():
                    if xobj.get("/Subtype") != "/Image":
                        continue
                    filt, space = str(xobj.get("/Filter")), str(xobj.get("/ColorSpace"))
                    kind = ("bitonal G4" if "CCITT" in filt else
                            "colour JPEG" if space.endswith("RGB") else "grey JPEG")
                    kinds.setdefault(kind, []).append(len(xobj.read_raw_bytes()))
    return kinds


def main() -> None:
    """Generate, run each size, print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100,1000")
    ap.add_argument("--base", type=int, default=100)
    ap.add_argument("--keep", type=Path, help="keep the generated pages and outputs here")
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))

    from pipeline.storage import EmbeddedStore, free_base_port

    tmp = args.keep or Path(tempfile.mkdtemp(prefix="bench-memory-"))
    base = tmp / "base"
    ensure_batch(args.base, base)
    state = tmp / "state"
    env = dict(os.environ, **BENCH_ENV)
    store = EmbeddedStore(state, base_port=free_base_port())
    store.start()
    server = start_prefect_server(state / "prefect")
    rows = []
    try:
        for size in sizes:
            batch = tmp / f"batch-{size}"
            if not (batch / "batch.json").exists():
                grown_batch(base, size, batch)
            for sub in ("cache", "work"):
                shutil.rmtree(state / sub, ignore_errors=True)
            run_env = dict(env, DOSSIER_HOME=str(state), DOSSIER_WORKERS=str(args.workers),
                           PREFECT_HOME=str(state / "prefect"), PREFECT_API_URL=server.url)
            m = run_command([str(ROOT / ".venv" / "bin" / "dossier"), "process", str(batch), "--state", str(state),
                             "--no-progress", "--development-key", "--review", "never"], run_env)
            volumes = sorted((state / "work").rglob("volumes/*.pdf"))
            rows.append((size, m, volumes))
            print(f"{size} pages: {m.wall:.0f} s, peak RSS {m.peak_rss / 2**20:.0f} MB, {len(volumes)} volume(s)",
                  flush=True)
        kinds = image_bytes_by_kind(rows[-1][2])
    finally:
        store.stop(timeout=10)
        server.stop()

    print()
    print(f"{'pages':>6} {'wall s':>8} {'s/page':>7} {'peak RSS MB':>12} {'volumes':>8}")
    for size, m, volumes in rows:
        print(f"{size:6d} {m.wall:8.1f} {m.wall / size:7.2f} {m.peak_rss / 2**20:12.0f} {len(volumes):8d}")
    small, large = rows[0][1].peak_rss, rows[-1][1].peak_rss
    print(f"peak RSS {sizes[-1]} / {sizes[0]} pages: {large / small:.2f}  (target ≤ 1.20; "
          f"{large / 2**30:.2f} GB, target ≤ 1.5 GB)")
    print()
    print(f"{'page image in the PDF':22} {'pages':>6} {'mean KB':>8} {'median KB':>10} {'max KB':>8}")
    for kind, sizes_ in sorted(kinds.items()):
        print(f"{kind:22} {len(sizes_):6d} {statistics.mean(sizes_) / 1024:8.1f} "
              f"{statistics.median(sizes_) / 1024:10.1f} {max(sizes_) / 1024:8.1f}")
    print("targets: bitonal text pages ≤ 45 KB, colour seal pages ≤ 400 KB")
    print(json.dumps({"sizes": sizes, "peak_rss_mb": [round(r[1].peak_rss / 2**20) for r in rows]}))


if __name__ == "__main__":
    main()
