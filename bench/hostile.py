"""The bad-input suite: every hostile batch of samples/hostile.py dropped into a real hot folder at once, beside good
batches, and taken by the real watcher (runs in its process, a Prefect server, the real store).

    python bench/hostile.py [--limit SECONDS] [--fast] [--keep DIR]

Each hostile batch must be refused (quarantined, or not taken, with a reason naming the file), or, for the tricky
pages that must be kept, published; none may hang (settled within ``--limit`` seconds of its claim, times the load per core when
the machine is busier than its cores), none may crash
the watcher (or end in an error that is not a refusal), and the good batches of the room must still publish. Prints
one line per batch and the counts refused / published / hung / crashed / wrong; exits 1 unless all is as expected.
Uses a no-OCR profile (OCR is not what is tested) and signs with the development key, like the demo.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from samples import hostile  # noqa: E402

CASE_PATTERN = r"\(\d{4}\)豫0727刑初\d+号"
REFUSALS = ("BadInputError", "RefusedError", "CaseNumberError", "SecurityRefused")  # a run's refusals, by class
GOOD = ("good-1", "good-2")


class TimedSubmitter:
    """The watcher's in-process submitter, timing each run (a batch's own time, not its wait behind others)."""

    def __init__(self, state: Path):
        from flows.inprocess import InProcessSubmitter

        self.inner = InProcessSubmitter(state)
        self.seconds: dict[str, float] = {}
        self._batches: dict[str, str] = {}

    def submit(self, entry, batch_dir, config):
        submission = self.inner.submit(entry, batch_dir, config)
        self._batches[submission.run_id] = entry.batch
        return submission

    def status(self, run_id):
        """The run's state; a run's seconds are from its start to its end (not its wait behind other runs)."""
        status = self.inner.status(run_id)
        if status.final and run_id in self._batches and self._batches[run_id] not in self.seconds:
            self.seconds[self._batches[run_id]] = self.inner.run_seconds(run_id)
        return status

    def retry(self, entry, batch_dir, config, delay_seconds):
        return self.inner.retry(entry, batch_dir, config, delay_seconds)

    def close(self) -> None:
        self.inner.close()


@dataclass
class Outcome:
    """What became of one dropped batch."""

    case: hostile.Case
    verdict: str = "hung"  # refused | published | hung | crashed | wrong
    seconds: float | None = None
    detail: str = ""


def prepare(base: Path, cases: list[hostile.Case]) -> tuple[Path, Path, Path]:
    """The hot folder, state folder and rooms file, with every batch built in place (dropped when the watcher
    starts). Returns (hot, state, rooms file)."""
    hot, state, admin = base / "hot", base / "state", base / "admin"
    for folder in (hot / "room-1", hot / "room-evil", state, admin, base / "outside"):
        folder.mkdir(parents=True, exist_ok=True)
    (hot / "room-1" / "room.yaml").write_text("settle_seconds: 0\n", encoding="utf-8")
    (hot / "room-evil" / "room.yaml").write_text("profile: /etc/passwd\nsettle_seconds: 0\n", encoding="utf-8")
    profile = admin / "profile-noocr.yaml"
    profile.write_text('id: "DA/T 31-2017"\nversion: "1.2.0-hostile-noocr"\nocr:\n  enabled: false\nreview: never\n',
                       encoding="utf-8")
    rooms = admin / "rooms.yaml"
    binding = f'    agencies: ["{hostile.AGENCY}"]\n    case_numbers: [\'{CASE_PATTERN}\']\n    profile: "{profile}"\n'
    rooms.write_text(f"rooms:\n  room-1:\n{binding}  room-evil:\n{binding}", encoding="utf-8")
    for i, case in enumerate(cases):
        place = case.extra.get("place")
        staging = base / "outside" / case.name
        staging.mkdir()
        case.build(staging, f"（2024）豫0727刑初{9100 + i}号")
        (staging / "READY").write_bytes(b"")
        if place == "room-link":
            os.symlink(staging, hot / case.room / case.batch)
        elif place == "claim-link":
            (hot / ".processing" / case.room).mkdir(parents=True, exist_ok=True)
            os.symlink(staging, hot / ".processing" / case.room / case.batch)
    for n, name in enumerate(GOOD):
        staging = base / "outside" / name
        staging.mkdir()
        for page in ("001.jpg", "007.tif", "009.jpg"):
            shutil.copy(hostile.SAMPLE / page, staging / page)
        hostile.manifest(staging, f"（2024）豫0727刑初{9000 + n}号")
        (staging / "READY").write_bytes(b"")
    return hot, state, rooms


def drop_all(base: Path, hot: Path, cases: list[hostile.Case]) -> None:
    """Every batch renamed into its room at once (the way copy tools should drop them)."""
    for case in cases:
        if not case.extra.get("place") or case.extra["place"] == "evil-room":
            os.rename(base / "outside" / case.name, hot / case.room / case.batch)
    for name in GOOD:
        os.rename(base / "outside" / name, hot / "room-1" / name)


def judge(outcome: Outcome, hot: Path, state: Path, lines: list[str], limit: float, runs: dict[str, float]) -> None:
    """Classify one case from the ledger, the outcome folders and the watcher's log."""
    from pipeline.operations import Ledger

    case = outcome.case
    if case.extra.get("place") == "evil-room":
        said = [line for line in lines if "room-evil" in line and "profile" in line]
        leaked = any("root:x:0:0" in line for line in lines)
        outcome.verdict = "refused" if said and not leaked and (hot / "room-evil" / case.batch).is_dir() else "wrong"
        outcome.detail = said[0] if said else "no log line says why the room is not served"
        return
    from pipeline.capture import shown

    entries = [e for e in Ledger(state).entries() if e.batch == shown(case.batch)]
    if not entries or entries[0].state not in ("done", "quarantined"):
        return  # hung
    entry = entries[0]
    at_door = entry.key.startswith("refused-")
    outcome.seconds = runs.get(entry.batch, 0.0 if at_door else None)
    if entry.state == "done":
        problem = published_problem(entry.case_no, state)
        outcome.verdict = "published" if case.expect == "published" and not problem else "wrong"
        outcome.detail = problem or f"published: every page in a volume, owner {hostile.AGENCY}, no grants"
        return
    text = entry.reason
    outcome.detail = text.replace("\n", " ")[:200]
    if case.expect == "published":
        outcome.verdict = "wrong"
    elif not at_door and not any(kind in text for kind in REFUSALS):
        outcome.verdict = "crashed"  # the run ended in an error, not a refusal with its reason
    elif all(name in text for name in case.names):
        outcome.verdict = "refused"
    else:
        outcome.verdict = "wrong"
        outcome.detail = f"reason does not name {case.names}: {outcome.detail}"
    if outcome.seconds is not None and outcome.seconds > limit * machine_busyness():
        outcome.verdict = "hung"


def machine_busyness() -> float:
    """How many times slower than idle a CPU-bound step runs now: the 5-minute load average per core, at least 1. A
    batch bounded in CPU seconds (a decoding bomb stopped at 10 CPU-s) takes that much longer in wall time."""
    return max(1.0, os.getloadavg()[1] / (os.cpu_count() or 1))


def published_problem(case_no: str, state: Path) -> str:
    """What is wrong with a published dossier of the suite ('' when nothing): every page not blank and in a volume,
    owned by the room's agency, no grants from batch.json."""
    from pipeline.settings import StoreSettings
    from pipeline.storage import ObjectStore, StoreConfig, read_dossier_manifest

    manifest = read_dossier_manifest(ObjectStore(StoreConfig.from_settings(StoreSettings.from_environ(), state)), case_no)
    lost = [p.source.file for p in manifest.pages if p.blank or p.separator or p.volume is None]
    if lost:
        return f"page(s) {', '.join(lost)} left out of the volume"
    if manifest.agency != hostile.AGENCY or manifest.grants:
        return f"owner {manifest.agency!r}, grants {manifest.grants}"
    return ""


def run_suite(base: Path, cases: list[hostile.Case], limit: float = 120.0, log=print) -> tuple[list[Outcome], dict]:
    """Drop the cases and the good batches into a fresh hot folder under ``base``, run the watcher (flows in this
    process) until everything is settled or the time is up; returns each case's outcome and the totals."""
    from flows.watch import Watcher

    hot, state, rooms = prepare(base, cases)
    lines: list[str] = []
    submitter = TimedSubmitter(state)
    watcher = Watcher(hot, state, submitter, rooms=rooms, tick_seconds=0.2,
                      log=lambda m: (lines.append(m), log(f"  watcher: {m[:160]}")))
    stop, crashed = threading.Event(), []

    def watch() -> None:
        try:
            watcher.run(stop)
        except BaseException as exc:  # noqa: BLE001 - counted: the watcher must never die
            crashed.append(f"{type(exc).__name__}: {exc}")

    import contextvars

    thread = threading.Thread(target=contextvars.copy_context().run, args=(watch,), daemon=True)
    drop_all(base, hot, cases)
    started = time.monotonic()
    thread.start()
    deadline = started + limit * (len(cases) + len(GOOD))
    outcomes = [Outcome(c) for c in cases]
    while time.monotonic() < deadline and thread.is_alive():
        time.sleep(1.0)
        if _all_settled(hot, state, cases):
            break
    stop.set()
    thread.join(timeout=60)
    for outcome in outcomes:
        judge(outcome, hot, state, lines, limit, submitter.seconds)
    totals = _totals(outcomes, hot, state, crashed, time.monotonic() - started)
    return outcomes, totals


def _all_settled(hot: Path, state: Path, cases: list[hostile.Case]) -> bool:
    from pipeline.operations import Ledger

    settled = {e.batch for e in Ledger(state).entries() if e.state in ("done", "quarantined")}
    from pipeline.capture import shown

    wanted = {shown(c.batch) for c in cases if c.extra.get("place") != "evil-room"} | set(GOOD)
    return wanted <= settled


def _totals(outcomes: list[Outcome], hot: Path, state: Path, crashed: list[str], seconds: float) -> dict:
    from pipeline.operations import Ledger

    done = {e.batch: e for e in Ledger(state).entries() if e.state == "done"}
    good = sum(name in done and not published_problem(done[name].case_no, state) for name in GOOD)
    count = {v: sum(o.verdict == v for o in outcomes) for v in ("refused", "published", "hung", "crashed", "wrong")}
    return {**count, "cases": len(outcomes), "good_published": good, "good": len(GOOD),
            "watcher_crashed": "; ".join(crashed), "seconds": round(seconds, 1)}


def environment(base: Path):
    """The store (DOSSIER_S3_* when set, else an embedded one in ``base``) and a Prefect server (PREFECT_API_URL
    when set, else a temporary one) for the suite; returns what must be stopped afterwards."""
    os.environ.setdefault("DOSSIER_DEVELOPMENT_KEY", "1")
    os.environ.setdefault("PREFECT_HOME", str(base / "prefect"))
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")  # a refused run's traceback: the table says it
    for k, v in {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "OMP_THREAD_LIMIT": "1"}.items():
        os.environ.setdefault(k, v)
    stops = []
    if not os.environ.get("DOSSIER_S3_ENDPOINT"):
        from pipeline.storage import EmbeddedStore, StoreConfig, free_base_port

        store = EmbeddedStore(base / "store-state", base_port=free_base_port())
        store.start()
        stops.append(store.stop)
        cfg = StoreConfig.embedded(base / "store-state")
        os.environ.update({"DOSSIER_S3_ENDPOINT": cfg.endpoint, "DOSSIER_S3_ACCESS_KEY": cfg.access_key,
                           "DOSSIER_S3_SECRET_KEY": cfg.secret_key, "DOSSIER_S3_BUCKET": cfg.bucket})
    os.environ["DOSSIER_S3_MAX_SECURITY"] = "internal"
    if not os.environ.get("PREFECT_API_URL"):
        from flows.tempserver import TemporaryServer

        server = TemporaryServer().start()
        server.wait()
        stops.append(server.stop)
    return stops


def main() -> int:
    """Run the suite and print the table and the counts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=float, default=120.0, help="seconds a batch may take from claim to outcome")
    parser.add_argument("--fast", action="store_true", help="only the cases refused before any page work")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="dossier-hostile-"))
    base.mkdir(parents=True, exist_ok=True)
    cases = [c for c in hostile.cases() if c.fast or not args.fast]
    stops = environment(base)
    try:
        outcomes, totals = run_suite(base, cases, args.limit, log=lambda m: None)
    finally:
        for stop in reversed(stops):
            stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    for o in outcomes:
        took = f"{o.seconds:6.1f}s" if o.seconds is not None else "     - "
        print(f"{o.verdict:9} {took} {o.case.name:20} {o.case.what[:50]:50} {o.detail[:150]}")
    print(f"\n{totals['cases']} hostile batches in {totals['seconds']} s: refused {totals['refused']}, published as "
          f"they must be {totals['published']}, hung {totals['hung']}, crashed {totals['crashed']}, wrong "
          f"{totals['wrong']}; watcher crashed: {totals['watcher_crashed'] or 'no'}; good batches published "
          f"{totals['good_published']}/{totals['good']}")
    bad = totals["hung"] + totals["crashed"] + totals["wrong"] or totals["watcher_crashed"] \
        or totals["good_published"] != totals["good"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
