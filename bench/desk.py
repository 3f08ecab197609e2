"""Operators'-desk benchmark: the rooms page (``/web/operations/``) over a state folder holding 1,000 batches.

Makes a state folder with a ledger of ``--batches`` batches over four rooms in every state the desk shows (most
published, some quarantined with their reasons, running with progress, waiting for review, held, claimed), a run
record (and progress) for each batch that reached a run, a private embedded SeaweedFS (the audit log: every page is
audited before it is answered, as in production) and the access database with a desk administrator and an operator
of one room; runs ``dossier serve`` as a separate process, signs both in, and requests the rooms page one after the
other, then a room's page, then the rooms page again with each request past the desk's 2-s snapshot (so that each one
reads the whole state folder again). Prints latency percentiles, the service's CPU time per page and the page's size.

    PYTHONPATH=. python bench/desk.py [--batches 1000] [--requests 100]

Target: the rooms page with 1,000 batches renders in < 300 ms p95 (wall, on this machine, loopback).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fetch import cpu_seconds, pct, start_service  # noqa: E402
from pipeline.access import Database, UserStore  # noqa: E402
from pipeline.common import utcnow  # noqa: E402
from pipeline.dossier import ProgressFile, RunRecord, save_run, work_folder  # noqa: E402
from pipeline.operations import EventCode, Ledger, LedgerEntry, LedgerEvent  # noqa: E402
from pipeline.storage import EmbeddedStore, case_key, free_base_port  # noqa: E402
from tests.web_helpers import csrf_of  # noqa: E402

PASSWORD = "correct horse battery"
SNAPSHOT_SECONDS = 2.0  # the desk reads the state folder again at most this often (RoomsDesk's snapshot)
ROOMS = ("room-1", "room-2", "room-3", "room-4")
# (ledger state, run status, share of batches)
MIX = (("done", "published", 0.72), ("quarantined", "failed", 0.08), ("submitted", "running", 0.1),
       ("submitted", "review", 0.04), ("held", "running", 0.03), ("claimed", None, 0.03))


def make_state(state: Path, batches: int) -> None:
    """The ledger and run records of ``batches`` batches over the rooms, in the mix's states."""
    ledger, hot = Ledger(state), state.parent / "hot"
    now = utcnow()
    kinds = [kind for kind in MIX for _ in range(round(kind[2] * batches))][:batches]
    for n, (entry_state, run_status, _) in enumerate(kinds):
        room, batch = ROOMS[n % len(ROOMS)], f"b{n:05d}"
        case_no = f"（2024）豫0727刑初{n + 1}号"
        fp = hashlib.sha256(f"{room}/{batch}".encode()).hexdigest()
        outcome = {"done": "done", "quarantined": "quarantine"}.get(entry_state)
        run_id = f"00000000-0000-4000-8000-{n:012d}" if run_status else None
        ledger.put(LedgerEntry(
            fingerprint=fp, room=room, batch=batch, hotfolder=str(hot), claim_path=str(hot / ".processing" / room /
                                                                                         batch),
            key=f"dossier-batch-{fp[:32]}", state=entry_state, case_no=case_no, run_id=run_id,
            outcome_path=str(hot / outcome / room / batch) if outcome else None,
            reason="009.jpg: 第 1 页无法解码（文件被截断）：请重新扫描该页后重新放入批次" if outcome == "quarantine" else "",
            claimed_at=now - timedelta(minutes=n), updated_at=now - timedelta(minutes=n),
            history=[LedgerEvent(at=now - timedelta(minutes=n), code=EventCode.CLAIMED,
                                 params={"path": str(hot / ".processing" / room / batch), "requeued": 0}),
                     LedgerEvent(at=now - timedelta(minutes=n), code=EventCode.SUBMITTED, params={"run": run_id})]),
            None)
        if run_status is None:
            continue
        folder = work_folder(state, case_no, batch)
        folder.mkdir(parents=True, exist_ok=True)
        save_run(folder, RunRecord(case_no=case_no, case_key=case_key(case_no), batch_id=batch,
                                   batch_dir=str(hot / room / batch), status=run_status, flow_run_id=run_id,
                                   room=room, volumes=2, pages=40, review_volumes=[1] if run_status == "review"
                                   else []))
        if run_status == "running":
            progress = ProgressFile(folder)
            progress("pages", "total", 40)
            progress("pages", "advance", n % 40)


def signed_in(url: str, person: str) -> httpx.Client:
    """A client with the person's session."""
    client = httpx.Client(base_url=url, timeout=60)
    token = csrf_of(client.get("/web/login").text)
    r = client.post("/web/login", data={"csrf": token, "username": person, "password": PASSWORD, "next": "/web/"})
    if r.status_code != 303:
        raise SystemExit(f"sign-in of {person} failed: {r.status_code}")
    return client


def measure(client: httpx.Client, path: str, n: int, service_pid: int, pause: float = 0.0) -> dict:
    """Request one page n times (``pause`` seconds apart): wall times, the service's CPU, the page's size."""
    client.get(path)  # warm: templates compiled, first reads cached by the OS
    times, size = [], 0
    cpu0 = cpu_seconds(service_pid)
    for _ in range(n):
        time.sleep(pause)
        t0 = time.perf_counter()
        r = client.get(path)
        times.append(time.perf_counter() - t0)
        if r.status_code != 200:
            raise SystemExit(f"{path}: HTTP {r.status_code}")
        size = len(r.content)
    cpu = cpu_seconds(service_pid) - cpu0
    return {"path": path, "times": times, "cpu_ms": cpu / n * 1000, "bytes": size}


def show(label: str, m: dict) -> None:
    t = m["times"]
    print(f"{label:34s} n={len(t):4d}  p50 {pct(t, 50) * 1000:6.1f} ms  p95 {pct(t, 95) * 1000:6.1f} ms  "
          f"p99 {pct(t, 99) * 1000:6.1f} ms  service CPU {m['cpu_ms']:6.1f} ms/page  {m['bytes'] / 1000:6.0f} kB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--cold", type=int, default=20, help="requests spaced past the desk's snapshot time")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-desk-"))
    state = tmp / "state"
    store = EmbeddedStore(state, base_port=free_base_port())
    api = None
    try:
        store.start()
        t0 = time.perf_counter()
        make_state(state, args.batches)
        print(f"state folder with {args.batches} batches made in {time.perf_counter() - t0:.1f} s")
        db = Database.open(f"sqlite:///{state / 'access.db'}")
        users = UserStore(db)
        users.create("boss", PASSWORD, "河南省封丘县人民法院", ["ops-admin"], "赵管理")
        users.create("op1", PASSWORD, "河南省封丘县人民法院", ["operator"], "李扫描", rooms=["room-1"])
        db.dispose()
        api, url = start_service(state, tmp / "serve.log", unset=("DOSSIER_S3_ENDPOINT", "DOSSIER_DB_URL",
                                                                  "PREFECT_API_URL"))
        print(f"service pid {api.pid} on {url}; cores {os.cpu_count()}; load average {os.getloadavg()[0]:.1f}")
        boss, op1 = signed_in(url, "boss"), signed_in(url, "op1")
        rooms = measure(boss, "/web/operations/", args.requests, api.pid)
        show("rooms page, ops-admin (all rooms)", rooms)
        show("rooms page, operator of room-1", measure(op1, "/web/operations/", args.requests, api.pid))
        show("one room's page (room-1, all)", measure(boss, "/web/operations/rooms/room-1", args.requests // 2,
                                                        api.pid))
        cold = measure(boss, "/web/operations/", args.cold, api.pid, pause=SNAPSHOT_SECONDS + 0.2)
        show("rooms page, every one recomputed", cold)
        p95 = pct(rooms["times"], 95) * 1000
        cold95 = pct(cold["times"], 95) * 1000
        print(f"\ntarget: the rooms page with {args.batches} batches in < 300 ms p95: "
              f"{'met' if p95 < 300 else 'MISSED'} ({p95:.1f} ms; {cold95:.1f} ms when every request reads the state "
              f"folder again); load average {os.getloadavg()[0]:.1f}")
        return 0 if p95 < 300 else 1
    finally:
        if api is not None and api.poll() is None:
            api.send_signal(signal.SIGTERM)
            try:
                api.wait(timeout=30)
            except subprocess.TimeoutExpired:
                api.kill()
        store.stop(timeout=5)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
