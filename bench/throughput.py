"""Throughput of the whole pipeline against its OCR engine alone (the limit), plain Tesseract and OCRmyPDF.

    python bench/throughput.py N [--rounds R] [--c-rounds C] [--workers W] [--lang L] [--ocrmypdf-lang L] [--keep DIR]
                                 [--skip-a] [--skip-a2] [--skip-c] [--prefect server|temporary|both]

Makes N realistic A4 300-dpi case-file pages (its own generator: text pages as Group 4 TIFF and grey JPEG, sealed
and red-headed pages as colour JPEG, tables, photos, a few blank backs; skew, one page in twenty upside down), then,
in one run and alternating round by round, times:

  (a) plain ``tesseract`` on the same pages with the same settings (language, psm, TSV output, OMP_THREAD_LIMIT=1)
      and the same parallelism (W processes at a time) — the limit of a Tesseract profile;
  (a′) the PP-OCR engine alone (``pipeline.ocr`` with the profile's settings: one onnxruntime reader per worker
      thread, one thread each) on the same page files, decoded to grey, W worker threads in one process — the limit
      of the default profile;
  (b) ``dossier process`` on the batch: imaging, OCR, volumes, PDF/A, signing, checks and publishing to an embedded
      SeaweedFS, with a cold page and OCR cache — against a running Prefect server (b, as in production, started
      before timing like the store) and/or with the temporary server the CLI starts itself (b-temp);
  (c) ``ocrmypdf --deskew --rotate-pages --output-type pdfa -l chi_sim --jobs W`` (the profile's language: a
      comparison counts only at equal settings) on the same images (bundled into one PDF first by img2pdf, without
      re-encoding, which is not timed).

It prints, as medians over the rounds: wall seconds, CPU seconds (the process tree, sampled with psutil, plus the
store's CPU for b), peak RSS of the process tree, output bytes per page; and the ratios b/a′, b/a and c/b of the
medians, wall and CPU (on a busy machine compare CPU), with each round's own ratios.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from samples.synthetic import CaseFacts, synthetic_page  # noqa: E402

CASE_NO = "（2025）豫0727刑初901号"

# (kind, page_in_doc, encoding, share): the mix of a criminal case file
MIX = [
    ("judgment", 0, "g4", 14), ("judgment", 1, "g4", 14), ("record", 0, "g4", 14), ("record", 1, "g4", 16),
    ("indictment", 1, "grey", 10), ("judgment", 1, "grey", 8), ("table", 0, "g4", 6),
    ("indictment", 0, "colour", 6), ("judgment", 2, "colour", 6), ("photo", 0, "colour", 2), ("blank", 0, "grey", 4),
]


def page_plan(n: int) -> list[tuple[str, int, str]]:
    """n (kind, page_in_doc, encoding) in a shuffled but fixed order."""
    pool = [(k, p, e) for k, p, e, share in MIX for _ in range(share)]
    rng = random.Random(901)
    return [pool[rng.randrange(len(pool))] for _ in range(n)]


def make_batch(n: int, folder: Path) -> None:
    """Write n distinct scanned pages and a batch.json into folder."""
    folder.mkdir(parents=True, exist_ok=True)
    facts = CaseFacts.make(random.Random(901), year=2025, number=901)
    for i, (kind, pid, enc) in enumerate(page_plan(n)):
        rot = 180 if i % 20 == 7 else 0
        page = synthetic_page(kind, 901000 + i, dpi=300, skew=random.Random(i).uniform(-2.5, 2.5), rotation_cw=rot,
                              specks=40, bleed=0.05 if kind == "blank" else 0.0, page_in_doc=pid, facts=facts)
        img = page.image
        buf = io.BytesIO()
        if enc == "g4":
            img.convert("L").point(lambda v: 255 if v > 150 else 0).convert("1").save(
                buf, "TIFF", compression="group4", dpi=(300, 300))
            name = f"{i + 1:05d}.tif"
        else:
            (img.convert("L") if enc == "grey" else img.convert("RGB")).save(buf, "JPEG", quality=80, dpi=(300, 300))
            name = f"{i + 1:05d}.jpg"
        (folder / name).write_bytes(buf.getvalue())
    manifest = {"case_no": CASE_NO, "case_title": "基准测试案", "agency": "河南省封丘县人民法院", "dpi": 300}
    (folder / "batch.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def ensure_batch(n: int, folder: Path) -> None:
    """Generate the batch unless an earlier run (--keep) left it there."""
    if not (folder / "batch.json").exists():
        t = time.perf_counter()
        make_batch(n, folder)
        print(f"generated {n} pages in {time.perf_counter() - t:.0f} s into {folder}", flush=True)


BENCH_ENV = {"OMP_THREAD_LIMIT": "1", "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def start_prefect_server(prefect_home: Path):
    """A Prefect API server with its database in prefect_home, running before timing starts (like the store)."""
    from flows.tempserver import TemporaryServer

    os.environ.update(BENCH_ENV, PREFECT_HOME=str(prefect_home))
    server = TemporaryServer().start()
    server.wait()
    os.environ.pop("PREFECT_API_URL", None)  # each timed run is given the URL explicitly
    return server


@dataclass
class Measure:
    """One timed run."""

    wall: float = 0.0
    cpu: float = 0.0
    peak_rss: int = 0
    out_bytes: int = 0
    log: str = ""


class TreeSampler:
    """Sum of RSS over a process tree, sampled; CPU of the tree as its processes end (psutil)."""

    def __init__(self, root: psutil.Process):
        self.root, self.peak, self.cpu, self._stop = root, 0, 0.0, threading.Event()
        self._last: dict[int, float] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.root] + self.root.children(recursive=True)
            except psutil.NoSuchProcess:
                break
            rss = 0
            for p in procs:
                try:
                    rss += p.memory_info().rss
                    t = p.cpu_times()
                    self._last[p.pid] = t.user + t.system + getattr(t, "children_user", 0) + getattr(t, "children_system", 0)
                except psutil.NoSuchProcess:
                    pass
            self.peak = max(self.peak, rss)
            self._stop.wait(0.1)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run_command(cmd: list[str], env: dict[str, str]) -> Measure:
    """Run a command; wall, CPU of it and all its descendants (rusage of waited children), peak tree RSS."""
    before = os.times()
    start = time.perf_counter()
    proc = psutil.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with TreeSampler(proc) as sampler:
        _, err = proc.communicate()
    wall = time.perf_counter() - start
    after = os.times()
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): {err.decode(errors='replace')[-2000:]}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return Measure(wall, cpu, sampler.peak, log=err.decode(errors="replace"))


def plain_tesseract(batch: Path, out: Path, lang: str, psm: int, workers: int, env: dict[str, str]) -> Measure:
    """(a): one tesseract per page, W at a time, TSV output."""
    out.mkdir(parents=True, exist_ok=True)
    pages = sorted(p for p in batch.iterdir() if p.suffix in (".tif", ".jpg"))
    before = os.times()
    start = time.perf_counter()
    peaks: list[int] = []

    def one(p: Path) -> None:
        m = run_command(["tesseract", str(p), str(out / p.stem), "-l", lang, "--psm", str(psm), "tsv"], env)
        peaks.append(m.peak_rss)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, pages))
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    size = sum(f.stat().st_size for f in out.iterdir())
    return Measure(wall, cpu, max(peaks) * workers, size)


def ppocr_alone(batch: Path, out: Path, workers: int, env: dict[str, str]) -> Measure:
    """(a′): the PP-OCR engine alone, W worker threads in one process, every page decoded to grey and read."""
    out.mkdir(parents=True, exist_ok=True)
    return run_command([sys.executable, __file__, "--read-ppocr", str(batch), str(out), str(workers)], env)


def read_ppocr(batch: Path, out: Path, workers: int) -> None:
    """The body of (a′), in its own process: pages from a queue, one reader per worker thread."""
    import cv2
    from PIL import Image

    from pipeline.ocr import OcrSettings, ocr_image
    from pipeline.standard import load_profile

    cv2.setNumThreads(1)
    settings = OcrSettings.from_policy(load_profile().ocr, engine="ppocr")

    def one(page: Path) -> None:
        with Image.open(page) as img:
            grey = img.convert("L")
        result = ocr_image(grey, 300.0, settings, page.name)
        (out / f"{page.stem}.txt").write_text(result.text, encoding="utf-8")

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, sorted(p for p in batch.iterdir() if p.suffix in (".tif", ".jpg"))))


def store_cpu(pid: int) -> float:
    """CPU seconds a running process has used."""
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def run_b(mode: str, batch: Path, state: Path, profile_path: Path, env: dict[str, str], workers: int, store,
          server) -> Measure:
    """(b): ``dossier process`` on the batch with a cold page and OCR cache."""
    for sub in ("cache", "work"):  # Prefect keeps its database as installed
        shutil.rmtree(state / sub, ignore_errors=True)
    bench_env = dict(env, DOSSIER_HOME=str(state), DOSSIER_WORKERS=str(workers),
                     PREFECT_HOME=str(state / ("prefect" if mode == "b" else "prefect-temporary")))
    if mode == "b":
        bench_env["PREFECT_API_URL"] = server.url
    weed_before = store_cpu(store.pid())
    server_before = store_cpu(server.process.pid) if mode == "b" else 0.0
    m = run_command([str(ROOT / ".venv" / "bin" / "dossier"), "process", str(batch), "--profile", str(profile_path),
                     "--state", str(state), "--no-progress", "--development-key", "--review", "never"], bench_env)
    m.cpu += store_cpu(store.pid()) - weed_before
    if mode == "b":  # the running server's work for this run counts too
        m.cpu += store_cpu(server.process.pid) - server_before
    m.out_bytes = sum(v.stat().st_size for v in (state / "work").rglob("volumes/*.pdf"))
    return m


def median(runs: list[Measure]) -> Measure | None:
    """The median of each measure over the rounds."""
    if not runs:
        return None
    return Measure(statistics.median(m.wall for m in runs), statistics.median(m.cpu for m in runs),
                   int(statistics.median(m.peak_rss for m in runs)), int(statistics.median(m.out_bytes for m in runs)))


def summary(results: dict[str, list[Measure]], n: int, workers: int, names: dict[str, str]) -> None:
    """The table of medians and the ratios the acceptance asks for."""
    rounds = max(len(v) for v in results.values())
    print(f"\n{n} pages, {workers} workers, medians of {rounds} alternating round(s)")
    print(f"{'run':40} {'wall s':>8} {'CPU s':>8} {'CPU s/page':>11} {'peak RSS MB':>12} {'bytes/page':>11}")
    med = {k: median(v) for k, v in results.items()}
    for key, m in med.items():
        if m:
            print(f"{names[key]:40} {m.wall:8.1f} {m.cpu:8.1f} {m.cpu / n:11.2f} {m.peak_rss / 2**20:12.0f}"
                  f" {m.out_bytes / n:11.0f}")
    targets = {("b", "a2"): "≤ 1.10", ("b", "a"): "≤ 1.25", ("c", "b"): "≥ 2.5"}
    for b in ("b", "b-temp"):
        for (num, den), target in targets.items():
            num, den = (b if num == "b" else num), (b if den == "b" else den)
            if med.get(num) and med.get(den):
                per_round = ", ".join(f"{x.wall / y.wall:.2f}" for x, y in zip(results[num], results[den]))
                print(f"{num}/{den}: wall {med[num].wall / med[den].wall:.2f}  CPU {med[num].cpu / med[den].cpu:.2f}"
                      f"   (target {target}; wall by round: {per_round})")


def main() -> None:
    """Generate, run alternating rounds, print the table."""
    if len(sys.argv) > 1 and sys.argv[1] == "--read-ppocr":
        read_ppocr(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("n", type=int)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--lang", default=None, help="OCR languages for a and b (default: the profile's)")
    ap.add_argument("--ocrmypdf-lang", default=None, help="OCRmyPDF's languages (default: the same as a and b)")
    ap.add_argument("--keep", type=Path, help="keep the generated batch and outputs here")
    ap.add_argument("--skip-c", action="store_true", help="do not run OCRmyPDF")
    ap.add_argument("--c-rounds", type=int, default=None, help="run OCRmyPDF in the first C rounds only (default: all)")
    ap.add_argument("--skip-a", action="store_true", help="do not run plain tesseract")
    ap.add_argument("--skip-a2", action="store_true", help="do not run the PP-OCR engine alone")
    ap.add_argument("--prefect", choices=["server", "temporary", "both"], default="both",
                    help="b against a running Prefect server, with the CLI's temporary server, or both")
    args = ap.parse_args()

    from pipeline.standard import load_profile
    from pipeline.storage import EmbeddedStore, free_base_port

    profile = load_profile()
    lang = args.lang or profile.ocr.languages
    c_lang = args.ocrmypdf_lang or lang
    tmp = Path(tempfile.mkdtemp(prefix="bench-throughput-")) if not args.keep else args.keep
    batch = tmp / "batch"
    ensure_batch(args.n, batch)
    profile_path = tmp / "profile.yaml"
    import yaml

    data = profile.model_dump(mode="json")
    data["ocr"]["languages"] = lang
    data["version"] = f"{profile.version}+bench"
    profile_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    env = dict(os.environ, **BENCH_ENV)
    state = tmp / "state"
    # img2pdf bundles the images without re-encoding; not timed
    import img2pdf

    store = EmbeddedStore(state, base_port=free_base_port())
    store.start()

    bundle = tmp / "bundle.pdf"
    pages = sorted(p for p in batch.iterdir() if p.suffix in (".tif", ".jpg"))
    bundle.write_bytes(img2pdf.convert([str(p) for p in pages]))

    server = start_prefect_server(state / "prefect") if args.prefect in ("server", "both") else None
    modes = {"server": ["b"], "temporary": ["b-temp"], "both": ["b", "b-temp"]}[args.prefect]
    results: dict[str, list[Measure]] = {"a": [], "a2": [], "b": [], "b-temp": [], "c": []}
    try:
        for r in range(args.rounds):
            if not args.skip_a:
                results["a"].append(plain_tesseract(batch, tmp / f"a{r}", lang, profile.ocr.psm, args.workers, env))
                print(f"round {r + 1}: a {results['a'][-1].wall:.1f} s", flush=True)
            if not args.skip_a2:
                results["a2"].append(ppocr_alone(batch, tmp / f"a2-{r}", args.workers, env))
                print(f"round {r + 1}: a′ {results['a2'][-1].wall:.1f} s", flush=True)
            for mode in modes:
                m = run_b(mode, batch, state, profile_path, env, args.workers, store, server)
                results[mode].append(m)
                (tmp / f"{mode}{r}.log").write_text(m.log, encoding="utf-8")  # the run's own timeline
                print(f"round {r + 1}: {mode} {m.wall:.1f} s (log: {tmp / f'{mode}{r}.log'})", flush=True)
            if not args.skip_c and r < (args.c_rounds if args.c_rounds is not None else args.rounds):
                out = tmp / f"c{r}.pdf"
                m = run_command([str(ROOT / ".venv" / "bin" / "ocrmypdf"), "--deskew", "--rotate-pages",
                                 "--output-type", "pdfa", "-l", c_lang, "--jobs", str(args.workers),
                                 str(bundle), str(out)], env)
                m.out_bytes = out.stat().st_size
                results["c"].append(m)
                print(f"round {r + 1}: c {m.wall:.1f} s", flush=True)
    finally:
        store.stop(timeout=10)
        if server is not None:
            server.stop()
    names = {"a": f"(a) tesseract -l {lang}", "a2": "(a′) PP-OCR engine alone", "b": "(b) dossier process, Prefect server",
             "b-temp": "(b) dossier process, temporary server", "c": f"(c) ocrmypdf -l {c_lang}"}
    summary(results, args.n, args.workers, names)


if __name__ == "__main__":
    main()
