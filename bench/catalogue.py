"""卷内目录 benchmark: how right are document boundaries, 题名, 文号, 责任者 and 日期 read from scanned case files, and
are the wrong ones flagged? The same pages through this tree's code and through the previous code.

The evaluation set is made by bench/catalogue_cases.py (its own renderer and layouts, not the sample generator): eight
case files, 43 documents of 16 kinds, scanned in colour, grey or bitonal with blur, noise, JPEG and skew up to 2°, no
separator sheets and no document list. Each case runs through the real page stage (imaging, Tesseract, the heading
re-read) and the structure stage, as the process-batch flow runs them, in a subprocess whose ``PYTHONPATH`` is this
tree or a git worktree of the previous commit (made under the output folder on first use).

    PYTHONPATH=. python bench/catalogue.py [--previous REF] [--out bench-out/catalogue] [--cases shenhe,urumqi] [-v]

Per field it prints accuracy, wrong fields that carry no flag, and right fields that carry one (needless review).
A field counts as flagged when the document carries a flag naming it (the previous code's ``title-ocr``, ``date-missing``
… ; this code's per-field flags). A boundary is right when a found document spans exactly the true pages.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ("boundary", "title", "doc_no", "author", "date")
NAMES = {"boundary": "boundary", "title": "题名", "doc_no": "文号", "author": "责任者", "date": "日期"}


def run_one(batch: Path, state: Path, ocr_cache: Path, workers: int) -> list[dict]:
    """Pages of one batch through the page stage and its documents through the structure stage, as the flow does
    (imports whichever ``pipeline`` is on the path)."""
    from concurrent.futures import ThreadPoolExecutor

    from pipeline.capture import list_pages
    from pipeline.models import BatchManifest
    from pipeline.pages import PageCache, PageEnvironment, chunked, process_pages
    from pipeline.standard import load_profile
    from pipeline.structure import has_title

    profile = load_profile(None)
    refs = list_pages(batch, workers)
    env = PageEnvironment(batch, profile, PageCache(state / "pages"), ocr_cache, None, has_title=has_title)
    chunks = chunked(len(refs), 4, workers)
    with ThreadPoolExecutor(workers) as pool:
        done = list(pool.map(lambda c: process_pages([(i, refs[i]) for i in c], env), chunks))
    artifacts = [a for chunk in done for a, _ in chunk]
    manifest = BatchManifest(case_no="（2099）测0000刑初1号")
    documents = _structure(artifacts, manifest, profile, state)
    return [_describe(doc) for doc in documents]


def _structure(artifacts, manifest, profile, state: Path):
    """The structure stage as the flow calls it: with the signature-line reader where the code has one."""
    import pipeline.structure as structure
    from pipeline.ocr import line_reader

    lines = line_reader(profile.ocr, state / "ocr-lines")  # line re-reads through the OCR seam, cached
    return structure.find_documents(artifacts, manifest, headings=None, lines=lines)


def _describe(doc) -> dict:
    """A found document as plain data, with the flags that name each field."""
    evidence = getattr(doc, "evidence", None)
    flags = {}
    for name in FIELDS[1:]:
        if evidence:
            flags[name] = list(evidence[name].flags)
        else:
            flags[name] = [f for f in doc.flags if f.startswith(name + "-")]
    flags["boundary"] = [f for f in doc.flags if f.startswith("boundary-")]
    return {"positions": list(doc.positions), "title": doc.title, "doc_no": doc.doc_no, "author": doc.author,
            "date": doc.date, "flags": flags, "all_flags": list(doc.flags)}


def _norm(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text or "").split())


def score(truth: dict, found: list[dict]) -> list[dict]:
    """One row per true document and field: right, flagged, what was expected and what was found."""
    rows, start = [], 0
    by_start = {d["positions"][0]: d for d in found if d["positions"]}
    for doc in truth["documents"]:
        span = list(range(start, start + doc["pages"]))
        start += doc["pages"]
        match = by_start.get(span[0]) or next((d for d in found if span[0] in d["positions"]), None)
        same = match is not None and match["positions"] == span
        rows.append({"field": "boundary", "right": same, "flagged": bool(match and match["flags"]["boundary"]),
                     "want": f"{span[0]}-{span[-1]}", "got": f"{match['positions'][0]}-{match['positions'][-1]}"
                     if match else "-", "kind": doc["kind"]})
        for name in FIELDS[1:]:
            got = match[name] if match else ""
            rows.append({"field": name, "right": _norm(got) == _norm(doc[name]), "want": doc[name], "got": got,
                         "flagged": bool(match and match["flags"][name]), "kind": doc["kind"],
                         "flags": match["flags"][name] if match else []})
    return rows


def tally(rows: list[dict]) -> dict[str, dict[str, int]]:
    """Per field: documents, right, wrong without a flag, right with a flag."""
    out = {}
    for name in FIELDS:
        mine = [r for r in rows if r["field"] == name]
        out[name] = {"n": len(mine), "right": sum(r["right"] for r in mine),
                     "wrong_unflagged": sum(not r["right"] and not r["flagged"] for r in mine),
                     "flagged_right": sum(r["right"] and r["flagged"] for r in mine)}
    return out


def run_tree(tree: Path, cases: list[str], out: Path, label: str, workers: int) -> tuple[list[dict], float]:
    """Every case through one tree's code, each in a subprocess; returns the scored rows and CPU seconds."""
    rows, cpu = [], 0.0
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_THREAD_LIMIT": "1"}
    for case in cases:
        result = out / label / f"{case}.json"
        result.parent.mkdir(parents=True, exist_ok=True)
        before = os.times()
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--run-one", str(out / "cases" / case),
                        "--state", str(out / f"state-{label}"), "--ocr-cache", str(out / "ocr-cache"),
                        "--json", str(result), "--workers", str(workers)], check=True, env=env, cwd=tree)
        after = os.times()
        cpu += (after.children_user - before.children_user) + (after.children_system - before.children_system)
        truth = json.loads((out / "cases" / f"{case}.json").read_text(encoding="utf-8"))
        for row in score(truth, json.loads(result.read_text(encoding="utf-8"))):
            rows.append({**row, "case": case})
    return rows, cpu


def previous_tree(ref: str, out: Path) -> Path:
    """A git worktree of the previous code at ``ref``, made once under the output folder."""
    commit = subprocess.run(["git", "rev-parse", ref], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    tree = out / f"previous-{commit.strip()[:10]}"
    if not tree.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit.strip()], cwd=ROOT, check=True,
                       capture_output=True)
    return tree


def report(results: dict[str, tuple[list[dict], float]], verbose: bool) -> None:
    """The table: per field and code, accuracy, wrong-and-unflagged, flagged-but-right."""
    labels = list(results)
    head = f"{'field':<9}" + "".join(f"| {lab:^42} " for lab in labels)
    print(head)
    print(f"{'':<9}" + "".join(f"| {'accuracy':>15} {'wrong,no flag':>13} {'flagged,right':>13}" for _ in labels))
    totals = {lab: tally(results[lab][0]) for lab in labels}
    for name in FIELDS:
        cells = []
        for lab in labels:
            t = totals[lab][name]
            acc = f"{t['right']}/{t['n']} {100 * t['right'] / max(1, t['n']):5.1f}%"
            cells.append(f"| {acc:>15} {t['wrong_unflagged']:>13} {t['flagged_right']:>13}")
        print(f"{NAMES[name]:<9}" + "".join(c + " " for c in cells))
    for lab in labels:
        all_fields = sum(t["n"] for t in totals[lab].values())
        silent = sum(t["wrong_unflagged"] for t in totals[lab].values())
        print(f"{lab}: wrong fields without a flag {silent}/{all_fields} = {100 * silent / max(1, all_fields):.1f} % "
              f"of all fields; structure+pages CPU {results[lab][1]:.0f} s")
    if verbose:
        for lab in labels:
            for r in results[lab][0]:
                if not r["right"] or r["flagged"]:
                    mark = "WRONG" if not r["right"] else "flag "
                    print(f"  {lab:>8} {mark} {'!' if not r['right'] and not r['flagged'] else ' '} {r['case']:<8} "
                          f"{r['kind']:<8} {NAMES[r['field']]:<4} want {r['want']!r} got {r['got']!r} "
                          f"{r.get('flags', '')}")


def main() -> int:
    """Generate the cases if missing, run both trees, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out" / "catalogue")
    parser.add_argument("--previous", default="e84ed3e", help="git ref of the previous code ('' to skip it)")
    parser.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("-v", "--verbose", action="store_true", help="list every wrong or flagged field")
    parser.add_argument("--run-one", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--state", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--ocr-cache", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_one:
        found = run_one(args.run_one, args.state, args.ocr_cache, args.workers)
        args.json.write_text(json.dumps(found, ensure_ascii=False, indent=1), encoding="utf-8")
        return 0
    sys.path.insert(0, str(ROOT))
    from bench.catalogue_cases import CASES, write_case

    cases = [c for c in args.cases.split(",") if c] or list(CASES)
    for case in cases:
        if not (args.out / "cases" / f"{case}.json").exists():
            write_case(case, args.out / "cases")
    t0 = time.monotonic()
    results = {"this": run_tree(ROOT, cases, args.out, "this", args.workers)}
    if args.previous:
        results["previous"] = run_tree(previous_tree(args.previous, args.out), cases, args.out, "previous",
                                       args.workers)
    print(f"{len(cases)} case files, {sum(1 for r in results['this'][0] if r['field'] == 'boundary')} documents; "
          f"{time.monotonic() - t0:.0f} s")
    report(results, args.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
