"""Disclosure copies (阅卷版) against planted personal data: how much is found, how much is wrongly removed, and
whether anything survives in the released copy.

    PYTHONPATH=. python bench/disclosure.py [--cases 12] [--seed 27] [--no-registers] [--port P] [--out DIR]
    PYTHONPATH=. python bench/disclosure.py --out DIR --again [same --cases, --seed]   # copies made and measured again

Generates case files with samples/personal.py (IDs with valid and wrong check digits and ending in X, phones in
groups and in full-width digits, bank cards, plates, addresses, numbers broken over two lines, a phone under a red
seal, the names of victims, witnesses and a minor in 笔录 headers and repeated) and — unless ``--no-registers`` —
three register pages dense with numbers (samples/personal_registers.py: a 通话记录 extract, a 卡口过车记录, a bank's
协助查询财产回执 under its seal), so that twelve case files plant over 200 of each kind of number; runs each through the whole pipeline
(``dossier process``: imaging, PP-OCR, volumes, PDF/A, signature, published to an embedded store), makes its lawyer's
copy (the library's ``make_copy``, with the second reading of every painted page) and publishes it, then measures:

- recall by kind: a planted item counts as removed when every character carrying it (digits, letters, Han characters;
  not its brackets, dashes or plus sign) has ≥ 95 % of the box around its own ink (dark, not a seal's red) painted
  black — for a name, each character of its given name no longer its shape (its ink and the copy's overlap ≤ 0.8) —,
  compared pixel by pixel with the original's page image;
- precision: detections overlapping a planted item the profile hides, out of all detections; decoys (item and
  invoice numbers, serials, the defendant's and officers' names) painted over are counted apart;
- residual, three independent reads of each released volume, each also run on the original as a positive control:
  its text (PyMuPDF, every page), its pages rendered at 300 dpi by pdftoppm and read again by PP-OCR, and a search of
  its bytes after ``qpdf --qdf`` (every stream decoded: content, XMP, fonts' ToUnicode), for every hidden value as
  text, UTF-16BE and hex; plus whether any original page image survives in the copy;
- the copy's checks (PDF/A Preflight, qpdf, signature), the original volume's bytes in the store before and after;
- CPU seconds of making a copy, per page.

Targets (issue 27): recall ≥ 99.5 % for IDs, phones, cards and plates, ≥ 95 % for addresses and names, precision
≥ 90 %, 0 residual.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

from bench.disclosure_measure import CaseScore, score_case

DOSSIER = [sys.executable, "-m", "flows.cli"]  # the code on PYTHONPATH (a snapshot of the tree can be measured)
KINDS = ("id_number", "phone", "bank_card", "plate", "address", "name")
TARGETS = {"id_number": 99.5, "phone": 99.5, "bank_card": 99.5, "plate": 99.5, "address": 95.0, "name": 95.0}


def _env(state: Path) -> dict[str, str]:
    return {**os.environ, "DOSSIER_HOME": str(state), "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "OMP_THREAD_LIMIT": "1", "DOSSIER_DEVELOPMENT_KEY": "1"}


def _run(args: list[str], state: Path, timeout: float = 1800, attempts: int = 3) -> None:
    """Run a dossier command; a machine fault (exit 1 or 5: a temporary server that did not come up on a loaded
    machine) is tried again, anything else ends the bench."""
    for attempt in range(1, attempts + 1):
        done = subprocess.run([*DOSSIER, *args, "--state", str(state)], env=_env(state), capture_output=True,
                              text=True, timeout=timeout)
        if done.returncode == 0:
            return
        if done.returncode not in (1, 5) or attempt == attempts:
            raise SystemExit(f"dossier {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
        print(f"dossier {args[0]} failed ({done.returncode}), trying again: {done.stderr.strip()[-200:]}", flush=True)


def normalised(text: str) -> str:
    """Text as the residual search compares it: NFKC, no whitespace."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def main() -> None:
    """Generate, process, disclose, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--seed", type=int, default=27)
    parser.add_argument("--port", type=int, default=0, help="the embedded store's base port (default: a free one)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--again", action="store_true",
                        help="the case files are already processed in --out's store (an earlier run with the same "
                             "--cases and --seed): only make and measure their copies again (a change to the copy)")
    parser.add_argument("--registers", action=argparse.BooleanOptionalAction, default=True,
                        help="add the register pages (通话记录, 卡口过车记录, 协助查询财产回执) to every case file")
    args = parser.parse_args()
    if args.again and args.out is None:
        parser.error("--again needs the --out of the run that processed the case files")
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-disclosure-"))
    state = out / "state"
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o700)
    from samples.personal import DOCUMENTS, make_case
    from samples.personal_registers import REGISTERS

    documents = DOCUMENTS + REGISTERS if args.registers else DOCUMENTS
    cases = [make_case(out / "batches" / f"pii-{args.seed}-{k:02d}", args.seed * 1000 + k, 300 + k, documents)
             for k in range(args.cases)]
    from pipeline.storage import free_base_port

    _run(["store", "start", "--port", str(args.port or free_base_port())], state)
    scores: list[CaseScore] = []
    copies = out / (f"copies-{time.strftime('%Y%m%dT%H%M%S')}" if args.again else "copies")
    try:
        for case in cases:
            started = time.time()
            if not args.again:
                _run(["process", str(case.folder), "--development-key", "--review", "never"], state)
            score = score_case(case, state, copies)
            scores.append(score)
            print(f"{case.case_no}: processed and disclosed in {time.time() - started:.0f} s; "
                  f"copy {score.cpu_seconds:.1f} CPU-s for {score.pages} pages", flush=True)
    finally:
        subprocess.run([*DOSSIER, "store", "stop", "--state", str(state)], env=_env(state), capture_output=True,
                       timeout=120)
    report(scores, args)


def report(scores: list[CaseScore], args) -> None:
    """Print the measures and the targets they are compared with."""
    print(f"\nbench/disclosure.py --cases {args.cases} --seed {args.seed}"
          f"{'' if args.registers else ' --no-registers'}{' --again' if args.again else ''}: {len(scores)} case files, "
          f"{sum(s.pages for s in scores)} pages, load average {os.getloadavg()[0]:.2f}")
    print(f"{'kind':<10} {'planted':>8} {'removed':>8} {'recall %':>9} {'target':>7}")
    ok = True
    for kind in KINDS:
        planted = sum(s.planted.get(kind, 0) for s in scores)
        removed = sum(s.removed.get(kind, 0) for s in scores)
        recall = 100.0 * removed / planted if planted else 100.0
        ok &= recall >= TARGETS[kind]
        print(f"{kind:<10} {planted:>8} {removed:>8} {recall:>9.2f} {TARGETS[kind]:>7.1f}")
    detections = sum(s.detections for s in scores)
    true = sum(s.true_detections for s in scores)
    precision = 100.0 * true / detections if detections else 100.0
    ok &= precision >= 90.0
    print(f"precision: {true}/{detections} detections on planted personal data = {precision:.2f} % (target 90); "
          f"decoys painted over: {sum(s.decoys_hit for s in scores)} of {sum(s.decoys for s in scores)}; "
          f"doubtful detections: {sum(s.doubtful for s in scores)} (second reading found "
          f"{sum(s.found_by_ocr for s in scores)})")
    for read in ("text", "ocr", "bytes", "images"):
        copy = sum(s.residual[read] for s in scores)
        control = sum(s.control[read] for s in scores)
        ok &= copy == 0
        print(f"residual by {read:<6}: {copy} in the copies (the same read finds {control} in the originals)")
    checks = sum(s.checks_passed for s in scores), sum(s.volumes for s in scores)
    unchanged = sum(s.original_unchanged for s in scores)
    ok &= checks[0] == checks[1] and unchanged == checks[1]
    print(f"copies passing Preflight, qpdf and signature checks: {checks[0]}/{checks[1]}; originals byte-identical "
          f"in the store after: {unchanged}/{checks[1]}")
    pages = sum(s.pages for s in scores)
    print(f"making the copies: {sum(s.cpu_seconds for s in scores) / pages:.2f} CPU-s a page "
          f"({sum(s.wall_seconds for s in scores) / pages:.2f} s wall)")
    for miss in (m for s in scores for m in s.misses):  # what to look at when a figure falls short
        print("  missed:", miss)
    print("RESULT:", "all targets met" if ok else "TARGETS MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
