"""Full-text search at archive scale: index size and CPU per page, query latency under concurrent clients, per engine.

    python bench/search.py [--pages 200000] [--engines tantivy,fts5,postgresql] [--pg-url URL] [--clients 8]
                           [--seconds 60] [--keep DIR]

Generates ``--pages`` pages of case-file text (samples/synthetic.py's facts and documents: names, places, case
numbers, 笔录 questions, ~600 characters a page, 400-page cases owned by eight agencies) with a box per character,
then for each engine, at equal settings (the same entries, terms, scope and queries):

  index   every page through the engine's bulk path: CPU seconds per page (this process, and for PostgreSQL the
          server's processes too), index bytes per page;
  query   ``--clients`` processes searching at once for ``--seconds``: queries of 1, 2, 3 and 4 Han characters cut
          from the generated text (plus names and plate/case numbers), each scoped as a clerk's search is (an
          agency's own cases and three released to it): p50/p95/p99 latency by query length, queries per second.

``fts5`` is SQLite FTS5 (unicode61) over the same pre-made terms, bench-only, for the engine comparison. The indexing
cost is compared with the pipeline's CPU per page (docs/benchmarks.md, ``bench/throughput.py``: b = 140.5 CPU-s for 200 pages
with PP-OCR, 0.70 CPU-s a page): the target is ≤ 5 %. Reading a page's text layer back from a volume PDF (which the
index does on publish, not here) is measured separately on a generated 200-page volume and added.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.assembly import LayerChar, LayerPage
from pipeline.search import CaseGrant, Entry, Filters, Scope, backend, index_terms, pack_boxes, parse_query
from samples.synthetic import CaseFacts, document_blocks

PIPELINE_CPU_PER_PAGE = 140.5 / 200  # docs/benchmarks.md: bench/throughput.py b with PP-OCR
AGENCIES = [f"河南省第{i}人民法院" for i in range(1, 9)]
PAGES_PER_CASE = 400
LINE_CHARS = 28
KINDS = ("indictment", "judgment", "record")
TITLES = {"indictment": "起诉书", "judgment": "刑事判决书", "record": "询问笔录"}


def _lines(text: str) -> list[str]:
    return [text[i : i + LINE_CHARS] for i in range(0, len(text), LINE_CHARS)]


def page_texts(n: int, seed: int = 2028) -> Iterator[tuple[int, int, int, str, list[str]]]:
    """(case, volume, page, document title, lines) of n generated pages."""
    rng = random.Random(seed)
    facts = None
    for k in range(n):
        case, within = divmod(k, PAGES_PER_CASE)
        if within == 0:
            facts = CaseFacts.make(rng, year=2015 + case % 10, number=case + 1)
        kind = KINDS[(within // 5) % 3]
        blocks, _ = document_blocks(kind, facts, rng, within % 5)
        text = "".join(b.text for b in blocks)
        volume, page = divmod(within, 200)
        yield case, volume + 1, page + 1, TITLES[kind], [ln for b in blocks for ln in _lines(b.text)] or _lines(text)


def layer_page(lines: list[str], page: int) -> LayerPage:
    """A page of 595 x 842 pt with each character on a 15 pt grid, as the text layer would read it."""
    rows = tuple(tuple(LayerChar(ch, 72 + 15 * i, 90 + 24 * r, 87 + 15 * i, 110 + 24 * r) for i, ch in enumerate(line))
                 for r, line in enumerate(lines))
    return LayerPage(0, page, 595.0, 842.0, rows)


def entries(n: int) -> Iterator[Entry]:
    """The index entries of n generated pages."""
    for case, volume, page, title, lines in page_texts(n):
        lp = layer_page(lines, page)
        key = f"case{case:05d}"
        yield Entry(uid=f"{key}/original/page/{volume}/{page}", case_no=f"（2024）豫0727刑初{case + 1}号",
                    case_key=key, owner=AGENCIES[case % len(AGENCIES)], copy="original", source="page",
                    volume=volume, page=page, title=title, date=f"{2015 + case % 10}-03-0{1 + page % 9}", text=lp.text,
                    boxes=pack_boxes(lp))


def queries(n_pages: int, per_length: int = 100, seed: int = 7) -> list[str]:
    """Queries of 1-4 Han characters cut from the generated text at random, plus numbers people search for."""
    rng = random.Random(seed)
    picks = sorted(rng.sample(range(n_pages), min(n_pages, 4 * per_length)))
    texts = {}
    for k, (_, _, _, _, lines) in enumerate(page_texts(max(picks) + 1)):
        if k in picks:
            texts[k] = "".join(lines)
    out: list[str] = []
    for length in (1, 2, 3, 4):
        while sum(1 for q in out if len(q) == length) < per_length:
            text = texts[rng.choice(picks)]
            i = rng.randrange(max(1, len(text) - length))
            q = text[i : i + length]
            if len(q) == length and all("\u4e00" <= c <= "\u9fff" for c in q):
                out.append(q)
    return out + ["豫0727刑初172号", "〔2019〕172号", "2024"]


def scope_for(rng: random.Random, cases: int) -> Scope:
    """A clerk's scope: an agency's own cases and three cases released to it."""
    grants = tuple(CaseGrant(f"case{rng.randrange(cases):05d}") for _ in range(3))
    return Scope(owner=rng.choice(AGENCIES), grants=grants)


def _cpu(children: bool = False) -> float:
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def _server_cpu(pid: int | None) -> float:
    """CPU seconds so far of a PostgreSQL server (its postmaster and every child; 0 without a pid)."""
    if not pid:
        return 0.0
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for p in [root, *root.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            continue
    return total


class Fts5Backend:
    """SQLite FTS5 over the same terms (bench-only, for the comparison): the two term columns indexed by unicode61,
    which splits only on spaces here; metadata in UNINDEXED columns; rank is bm25."""

    name = "fts5"

    def __init__(self, path: Path):
        self.path = path
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS entries USING fts5(bigram, unigram, uid UNINDEXED, "
                       "owner UNINDEXED, case_key UNINDEXED, body UNINDEXED, boxes UNINDEXED, "
                       "tokenize='unicode61', detail=full)")
        self._db: sqlite3.Connection | None = None

    def add_many(self, items) -> int:
        n = 0
        with sqlite3.connect(self.path) as db:
            rows = []
            for e in items:
                bigram, unigram = index_terms(e.text)
                rows.append((bigram, unigram, e.uid, e.owner, e.case_key, e.text, e.boxes))
                n += 1
                if len(rows) == 5000:
                    db.executemany("INSERT INTO entries VALUES (?,?,?,?,?,?,?)", rows)
                    rows = []
            db.executemany("INSERT INTO entries VALUES (?,?,?,?,?,?,?)", rows)
            db.execute("INSERT INTO entries(entries) VALUES('optimize')")
        return n

    def search(self, phrases, scope: Scope, filters: Filters, limit: int):
        if self._db is None:
            self._db = sqlite3.connect(self.path)
        match = " AND ".join(f'{p.field} : "{" ".join(p.terms)}"' for p in phrases)
        keys = [g.case_key for g in scope.grants]
        marks = ",".join("?" * len(keys))
        rows = self._db.execute(f"SELECT uid, body, rank FROM entries WHERE entries MATCH ? AND (owner = ? OR "
                                f"case_key IN ({marks})) ORDER BY rank LIMIT ?",
                                [match, scope.owner, *keys, limit]).fetchall()
        return len(rows), rows

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*"))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


def open_backend(engine: str, folder: Path, pg_url: str | None):
    """A fresh, empty index of one engine."""
    if engine == "fts5":
        return Fts5Backend(folder / "fts5.db")
    return backend(engine, folder / "tantivy", pg_url or "")


def reopen(engine: str, folder: Path, pg_url: str | None):
    """The same index opened again by a client process."""
    if engine == "fts5":
        return Fts5Backend(folder / "fts5.db")
    return open_backend(engine, folder, pg_url)


def build(engine: str, folder: Path, pages: int, pg_url: str | None, pg_pid: int | None) -> dict:
    """Index every generated page; CPU per page (this process + the server) and size per page."""
    backend = open_backend(engine, folder, pg_url)
    if engine == "postgresql":
        backend.clear()
    gen_cpu = _generation_cpu(pages)
    server0, cpu0, t0 = _server_cpu(pg_pid), _cpu(), time.perf_counter()
    n = backend.add_many(entries(pages))
    wall = time.perf_counter() - t0
    cpu = _cpu() - cpu0 - gen_cpu
    server = _server_cpu(pg_pid) - server0
    size = backend.size_bytes()
    backend.close()
    return {"pages": n, "wall_s": wall, "cpu_ms_page": 1000 * (cpu + server) / n,
            "server_cpu_ms_page": 1000 * server / n, "bytes_page": size / n}


def _generation_cpu(pages: int) -> float:
    """CPU the page generator itself costs (text, grid boxes and packing are not the engine's work, but packing is
    the index's: only generation is taken off)."""
    sample = min(pages, 5000)
    c0 = _cpu()
    for _case, _v, page, _t, lines in page_texts(sample):
        layer_page(lines, page)
    return (_cpu() - c0) * pages / sample


def _client(engine: str, folder: str, pg_url: str | None, qs: list[str], cases: int, seconds: float, seed: int,
            start: float, out) -> None:
    backend = reopen(engine, Path(folder), pg_url)
    rng = random.Random(seed)
    order = qs[:]
    rng.shuffle(order)
    results, k = [], 0
    while time.time() < start:
        time.sleep(0.01)
    end = time.time() + seconds
    while time.time() < end:
        q = order[k % len(order)]
        k += 1
        scope = scope_for(rng, cases)
        t0, c0 = time.perf_counter(), time.process_time()
        total, _ = backend.search(parse_query(q), scope, Filters(), 20)
        results.append((len(q) if len(q) <= 4 else 5, time.perf_counter() - t0, total, time.process_time() - c0))
    backend.close()
    out.put(results)


def query_load(engine: str, folder: Path, pg_url: str | None, qs: list[str], pages: int, clients: int,
               seconds: float) -> dict:
    """``clients`` processes querying at once; latency percentiles by query length."""
    cases = max(1, pages // PAGES_PER_CASE)
    out = mp.get_context("fork").Queue()
    start = time.time() + 3.0  # every client has opened its index by then
    procs = [mp.get_context("fork").Process(target=_client, args=(engine, str(folder), pg_url, qs, cases, seconds,
                                                                  100 + c, start, out)) for c in range(clients)]
    for p in procs:
        p.start()
    results = [r for _ in procs for r in out.get(timeout=seconds + 600)]
    for p in procs:
        p.join(timeout=60)
    by_length: dict[str, dict] = {}
    for length in (1, 2, 3, 4, 5):
        lat = sorted(t for n, t, _, _ in results if n == length)
        if lat:
            by_length["numbers" if length == 5 else f"{length} char"] = _percentiles(lat)
    lat = sorted(t for n, t, _, _ in results if n <= 4)
    cpu = sorted(c for n, _, _, c in results if n <= 4)
    return {"queries": len(results), "qps": len(results) / seconds, "all 1-4": _percentiles(lat), **by_length,
            "mean hits": statistics.mean(h for _, _, h, _ in results), "cpu": _percentiles(cpu)}


def _percentiles(lat: list[float]) -> dict:
    def at(q: float) -> float:
        return 1000 * lat[min(len(lat) - 1, int(q * len(lat)))]
    return {"n": len(lat), "p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99)}


def text_layer_cost(folder: Path, pages: int = 200) -> float:
    """CPU ms a page to read a 200-page volume's text layer back and pack its boxes (what publishing adds)."""
    import pikepdf

    from pipeline.assembly import add_text_layer, numbered_pages
    from pipeline.ocr import OcrLine, OcrResult, OcrWord

    pdf = pikepdf.new()
    for _c, _v, _page, _t, lines in page_texts(pages):
        ocr_lines = tuple(OcrLine((OcrWord(ln, 300, 375 + 100 * r, 300 + 62 * len(ln), 435 + 100 * r, 95.0),),
                                  300, 375 + 100 * r, 300 + 62 * len(ln), 435 + 100 * r) for r, ln in enumerate(lines))
        pg = pdf.add_blank_page(page_size=(595.0, 842.0))
        add_text_layer(pdf, pg, OcrResult(2480, 3508, 300, ocr_lines), 595.0, 842.0)
    pdf.Root.PageLabels = pikepdf.Dictionary(Nums=pikepdf.Array([0, pikepdf.Dictionary(S=pikepdf.Name.D, St=1)]))
    path = folder / "volume.pdf"
    pdf.save(path)
    c0 = _cpu()
    n = sum(len(pack_boxes(p)) > 0 for p in numbered_pages(path))
    return 1000 * (_cpu() - c0) / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200_000)
    parser.add_argument("--engines", default="tantivy,fts5,postgresql")
    parser.add_argument("--pg-url", default=os.environ.get("DOSSIER_BENCH_PG_URL"))
    parser.add_argument("--pg-pid", type=int, default=None, help="the PostgreSQL postmaster's pid (server CPU)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--keep", type=Path, default=None, help="build the indexes here and keep them")
    parser.add_argument("--skip-build", action="store_true", help="query the indexes already in --keep")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="search-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {os.getloadavg()}; {args.pages} pages; {args.clients} clients x {args.seconds:.0f} s")
    layer_ms = text_layer_cost(folder)
    print(f"text layer read back + boxes packed: {layer_ms:.2f} CPU-ms a page")
    qs = queries(args.pages)
    for engine in args.engines.split(","):
        if engine == "postgresql" and not args.pg_url:
            print("postgresql: skipped (no --pg-url)")
            continue
        if not args.skip_build:
            built = build(engine, folder, args.pages, args.pg_url, args.pg_pid)
            share = 100 * (built["cpu_ms_page"] + layer_ms) / 1000 / PIPELINE_CPU_PER_PAGE
            print(f"{engine}: indexed {built['pages']} pages in {built['wall_s']:.0f} s; "
                  f"{built['cpu_ms_page']:.2f} CPU-ms a page (server {built['server_cpu_ms_page']:.2f}); "
                  f"+ text layer = {share:.2f} % of the pipeline's {PIPELINE_CPU_PER_PAGE:.2f} CPU-s a page "
                  f"(target <= 5 %); {built['bytes_page']:.0f} bytes a page", flush=True)
        print(f"{engine}: load average before queries {os.getloadavg()}", flush=True)
        load = query_load(engine, folder, args.pg_url, qs, args.pages, args.clients, args.seconds)
        cpu = load.pop("cpu")
        print(f"{engine}: {load['queries']} queries, {load['qps']:.0f}/s, mean hits {load['mean hits']:.0f}; "
              f"client CPU a query p50 {cpu['p50_ms']:.1f} ms, p95 {cpu['p95_ms']:.1f} ms (the engine's cost, "
              f"whatever the load; server CPU not included); load average after {os.getloadavg()}")
        for name, p in load.items():
            if isinstance(p, dict):
                verdict = "" if name != "all 1-4" else ("  (target p95 <= 100 ms: " +
                                                        ("met)" if p["p95_ms"] <= 100 else "NOT met)"))
                print(f"  {name:8s} n={p['n']:6d}  p50 {p['p50_ms']:7.1f} ms  p95 {p['p95_ms']:7.1f} ms  "
                      f"p99 {p['p99_ms']:7.1f} ms{verdict}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
