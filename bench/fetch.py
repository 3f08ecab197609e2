"""Fetch-service benchmark: manifest and volume requests from concurrent clients over loopback.

Starts a private embedded SeaweedFS (free ports, temp folder), publishes a fake dossier, makes the access database
of the state folder (SQLite) with a token and a 调卷函 taken through every step to release (so the requesting agency
reads by a grant in the database, as in production; ``--admin-grant``: by an administrator's grant instead),
runs ``dossier serve`` as a separate process, then fires the requests and prints latency percentiles, throughput,
errors, CPU time per process, and whether the audit log holds one verified entry per request.

    PYTHONPATH=. python bench/fetch.py [--manifests 2000] [--volumes 200] [--clients 16] [--volume-mb 4]

Target: zero errors, manifest p99 under 50 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.access import (  # noqa: E402
    AuditLog,
    Database,
    GrantStore,
    Principal,
    RequestDesk,
    TokenStore,
    audit_key,
    filing_from,
    read_audit,
    verify_audit,
)
from pipeline.storage import EmbeddedStore, ObjectStore, StoreConfig, free_base_port, publish_dossier  # noqa: E402  # noqa: E402
from tests.store_fixtures import make_dossier  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """user+system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its live descendants (uvicorn workers)."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += cpu_seconds(p)
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return total


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))]


def run_phase(name: str, url: str, token: str, jobs: list[tuple[str, str | None]], clients: int) -> dict:
    """Run jobs (path, expected sha or None) from `clients` threads; returns latencies and errors."""
    work: queue.Queue = queue.Queue()
    for job in jobs:
        work.put(job)
    lat: dict[str, list[float]] = {"manifest": [], "volume": []}
    errors: list[str] = []
    nbytes = [0]
    lock = threading.Lock()

    host, port = url.rsplit("/", 1)[1].split(":")

    def client() -> None:
        # http.client keeps the load generator cheap: its CPU competes with the service on the same cores
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        headers = {"Authorization": f"Bearer {token}"}
        while True:
            try:
                path, sha = work.get_nowait()
            except queue.Empty:
                conn.close()
                return
            kind = "volume" if sha else "manifest"
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                r = conn.getresponse()
                if sha:
                    h, n = hashlib.sha256(), 0
                    while part := r.read(1 << 20):
                        h.update(part)
                        n += len(part)
                    ok = r.status == 200 and h.hexdigest() == sha
                else:
                    body = r.read()
                    n = len(body)
                    ok = r.status == 200 and b'"manifest"' in body
                dt = time.perf_counter() - t0
                with lock:
                    lat[kind].append(dt)
                    nbytes[0] += n
                    if not ok:
                        errors.append(f"{kind} {path}: HTTP {r.status}")
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=60)
                with lock:
                    errors.append(f"{kind} {path}: {type(exc).__name__}: {exc}")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"name": name, "lat": lat, "errors": errors, "bytes": nbytes[0], "wall": wall, "requests": len(jobs)}


def report(phase: dict) -> None:
    """Print one phase's numbers."""
    print(f"\n== {phase['name']}: {phase['requests']} requests in {phase['wall']:.2f} s "
          f"({phase['requests'] / phase['wall']:.0f} req/s, {phase['bytes'] / phase['wall'] / 1e6:.1f} MB/s), "
          f"errors: {len(phase['errors'])}")
    for kind, values in phase["lat"].items():
        if values:
            print(f"   {kind:8s} n={len(values):5d}  p50 {pct(values, 50) * 1000:7.1f} ms  "
                  f"p99 {pct(values, 99) * 1000:7.1f} ms  max {max(values) * 1000:7.1f} ms")
    service, weed, clients = phase["cpu"]
    print(f"   CPU s: service {service:.2f} ({service / phase['requests'] * 1000:.2f} ms/request), "
          f"SeaweedFS {weed:.2f}, clients {clients:.2f}; load average {os.getloadavg()[0]:.1f}")
    for e in phase["errors"][:5]:
        print("   error:", e)


REQUESTER, HOLDER = "新封县人民检察院", "豫0727法院"


def release_by_request(db: Database, store: ObjectStore, manifest, case_no: str) -> None:
    """Take a 调卷函 for the case from filing to release, as the requesting and holding agencies' people would."""
    audit = AuditLog(store, audit_key(db), kind="bench")
    desk = RequestDesk(db, GrantStore(db), audit, lambda c: manifest)
    people = [Principal(f"token:bench{n}", agency, frozenset({role})) for n, (agency, role) in enumerate(
        [(REQUESTER, "clerk"), (REQUESTER, "reviewer"), (REQUESTER, "approver"), (HOLDER, "registrar")])]
    filed = desk.file(people[0], filing_from(case_no=case_no, holding_agency=HOLDER, legal_basis="刑事诉讼法",
                                             reason="bench", department="第一检察部", contact="bench", days=30))
    for who, action in zip(people[1:], ("review", "approve", "release")):
        desk.act(who, filed.id, action)
    audit.close()


def start_service(state: Path, log: Path, extra: tuple[str, ...] | list[str] = (), timeout: float = 60.0,
                  unset: tuple[str, ...] = ("DOSSIER_S3_ENDPOINT", "DOSSIER_DB_URL")) -> tuple[subprocess.Popen, str]:
    """``dossier serve`` over ``state`` on a free loopback port, as a separate process, once it answers /health:
    the process and its URL (``unset``: settings of the calling shell the service must not take)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DOSSIER_HOME": str(state), "PYTHONPATH": str(ROOT)}
    for name in unset:
        env.pop(name, None)
    api = subprocess.Popen([sys.executable, "-m", "flows.cli", "serve", "--port", str(port), *extra], env=env,
                           cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(log, "wb"))
    url = f"http://127.0.0.1:{port}"
    wait_healthy(api, url, timeout, f"service did not start; see {log}")
    return api, url


def wait_healthy(service: subprocess.Popen, url: str, timeout: float, failure: str) -> None:
    """Wait until the service at ``url`` answers /health (SystemExit with ``failure`` when it dies or ``timeout``
    passes first)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or service.poll() is not None:
            raise SystemExit(failure)
        time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifests", type=int, default=2000)
    parser.add_argument("--volumes", type=int, default=200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--volume-mb", type=float, default=4.0)
    parser.add_argument("--mixed", action="store_true", help="also run manifests and volumes interleaved")
    parser.add_argument("--workers", type=int, default=1, help="service worker processes")
    parser.add_argument("--cache-ttl", type=float, default=None, help="the service's token/grant cache time")
    parser.add_argument("--admin-grant", action="store_true", help="access by an administrator's grant")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-fetch-"))
    state = tmp / "state"
    server = EmbeddedStore(state, base_port=free_base_port())
    api = None
    try:
        server.start()
        config = StoreConfig.embedded(state)
        store = ObjectStore(config)
        case_no = "（2019）豫0727刑初172号"
        manifest, out, originals = make_dossier(tmp / "src", case_no, volumes=2,
                                                volume_bytes=int(args.volume_mb * 1e6), agency=HOLDER)
        db = Database.open(f"sqlite:///{state / 'access.db'}", store=store)  # what `dossier serve` opens
        GrantStore(db).claim(case_no, HOLDER, by="bench")  # what the publishing run records first
        publish_dossier(store, manifest, out, originals)
        token, _ = TokenStore(db).create(REQUESTER, label="bench", roles=("clerk",))
        if args.admin_grant:
            GrantStore(db).grant(case_no, REQUESTER, by="bench")
        else:
            release_by_request(db, store, manifest, case_no)
        db.dispose()

        ttl = [] if args.cache_ttl is None else ["--cache-ttl", str(args.cache_ttl)]
        api, url = start_service(state, tmp / "serve.log", ["--workers", str(args.workers), *ttl])

        base = "/dossiers/" + quote(case_no, safe="")
        manifest_jobs = [(base, None)] * args.manifests
        volume_jobs = [(f"{base}/volumes/{1 + i % 2}", manifest.volumes[i % 2].sha256) for i in range(args.volumes)]
        print(f"service pid {api.pid} on {url}; store pid {server.pid()} on {config.endpoint}; "
              f"{args.clients} clients; volumes of {args.volume_mb} MB; cores: {os.cpu_count()}; access by "
              f"{'an administrator grant' if args.admin_grant else 'a released request'}; cache ttl "
              f"{'default' if args.cache_ttl is None else args.cache_ttl}")
        run_phase("warm-up", url, token, manifest_jobs[:50], 4)

        plan = [("manifests", manifest_jobs), ("volumes", volume_jobs)]
        if args.mixed:
            mixed = manifest_jobs + volume_jobs
            random.Random(1).shuffle(mixed)
            plan.append(("mixed", mixed))
        phases = []
        for name, jobs in plan:
            before = (tree_cpu_seconds(api.pid), cpu_seconds(server.pid()), time.process_time())
            phase = run_phase(name, url, token, jobs, args.clients)
            after = (tree_cpu_seconds(api.pid), cpu_seconds(server.pid()), time.process_time())
            phase["cpu"] = [b - a for a, b in zip(before, after)]
            phases.append(phase)
        for phase in phases:
            report(phase)

        api.send_signal(signal.SIGTERM)  # the service flushes its audit log on shutdown
        api.wait(timeout=60)
        total = 50 + sum(p["requests"] for p in phases)  # (plus the request's steps, audited in a bench stream)
        db = Database.open(f"sqlite:///{state / 'access.db'}")
        audit = verify_audit(store, audit_key(db))
        db.dispose()
        print(f"audit log: {audit.entries} entries for {total} requests, {audit.segments} segments, "
              f"verify {'OK' if audit.ok else 'FAILED: ' + '; '.join(audit.problems[:3])}")
        inside = [e["ms"] / 1000 for e in read_audit(store) if e.get("action") == "manifest" and "ms" in e]
        print(f"time inside the app per manifest request before its audit write (audit 'ms'; excludes the audit "
              f"write and socket/scheduler queueing): "
              f"p50 {pct(inside, 50) * 1000:.1f} ms, p99 {pct(inside, 99) * 1000:.1f} ms")
        errors = sum(len(p["errors"]) for p in phases)
        p99 = pct(phases[0]["lat"]["manifest"], 99) * 1000
        print(f"\ntarget: zero errors ({'met' if errors == 0 else 'MISSED'}), manifest p99 < 50 ms "
              f"({'met' if p99 < 50 else 'MISSED'}: {p99:.1f} ms)")
        return 0 if errors == 0 and audit.ok and audit.entries >= total else 1
    finally:
        if api is not None and api.poll() is None:
            api.kill()
            api.wait()
        server.stop(timeout=5)
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
