"""Sign-in brute-force benchmark: what guessing and a sign-in flood cost the fetch service, and what it gets.

Starts a private embedded SeaweedFS and ``dossier serve`` (a separate process, one worker, the state folder's SQLite
access database) from a checkout — this one, and with ``--against DIR`` another one first (e.g. ``/work/main``
before the brake), at equal settings — with one user, then:

1. **guesses**: ``--guesses`` wrong passwords for the user, one after the other from one address, then the right
   one: how many were checked (401) or braked (429), and whether the right password then signed in;
2. **flood**: ``--parallel`` sign-ins at once with the right password, each from its own address: the service's
   resident memory before and at its peak (sampled every 20 ms), ``/health``'s latency meanwhile, the answers;
3. **tokens**: ``--tokens`` random bearer tokens from one address: the answers and the service's CPU per request.

    PYTHONPATH=. .venv/bin/python bench/signin.py [--against /work/main] [--guesses 40] [--parallel 64]

Prints each checkout's numbers and, with ``--against``, the two side by side.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fetch import wait_healthy  # noqa: E402
from pipeline.storage import EmbeddedStore, free_base_port  # noqa: E402
from tests.web_helpers import csrf_of  # noqa: E402

PASSWORD = "correct horse battery"


def _python(code: Path) -> str:
    venv = code / ".venv" / "bin" / "python"
    return str(venv if venv.exists() else sys.executable)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(code: Path, state: Path, env: dict) -> tuple[subprocess.Popen, str]:
    subprocess.run([_python(code), "-m", "flows.cli", "user", "add", "li", "--agency", "新封县人民检察院", "--role",
                    "clerk", "--password-stdin", "--state", str(state)], input=PASSWORD + "\n", text=True,
                   cwd=code, env=env, check=True, capture_output=True, timeout=300)
    port = _free_port()
    api = subprocess.Popen([_python(code), "-m", "flows.cli", "serve", "--port", str(port), "--state", str(state)],
                           cwd=code, env=env, stdout=subprocess.DEVNULL, stderr=open(state.parent / "serve.log", "ab"))
    url = f"http://127.0.0.1:{port}"
    wait_healthy(api, url, 60, f"the service of {code} did not start; see {state.parent / 'serve.log'}")
    return api, url


def sign_in(url: str, password: str, source: str) -> int:
    with httpx.Client(base_url=url, timeout=120, headers={"X-Forwarded-For": source}) as client:
        token = csrf_of(client.get("/web/login").text)
        return client.post("/web/login", data={"csrf": token, "username": "li", "password": password}).status_code


def guesses(url: str, n: int) -> dict:
    started = time.monotonic()
    statuses = Counter(sign_in(url, f"wrong guess {i}", "10.9.0.1") for i in range(n))
    right = sign_in(url, PASSWORD, "10.9.0.1")
    return {"statuses": dict(statuses), "right": right, "seconds": time.monotonic() - started}


def flood(url: str, pid: int, parallel: int) -> dict:
    proc = psutil.Process(pid)
    before = proc.memory_info().rss
    peak, health, done = [before], [], threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak.append(proc.memory_info().rss)
            t = time.monotonic()
            try:
                httpx.get(url + "/health", timeout=60)
                health.append(time.monotonic() - t)
            except httpx.HTTPError:
                health.append(float("inf"))
            done.wait(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    cpu = sum(proc.cpu_times()[:2])
    watcher.start()
    started = time.monotonic()
    with ThreadPoolExecutor(parallel) as pool:
        statuses = Counter(pool.map(lambda i: sign_in(url, PASSWORD, f"10.8.{i // 250}.{i % 250}"), range(parallel)))
    seconds = time.monotonic() - started
    done.set()
    watcher.join()
    return {"statuses": dict(statuses), "rss_before_mb": before / 2**20, "rss_peak_mb": max(peak) / 2**20,
            "health_p50_ms": statistics.median(health) * 1000, "health_max_ms": max(health) * 1000,
            "seconds": seconds, "cpu_s": sum(proc.cpu_times()[:2]) - cpu}


def tokens(url: str, pid: int, n: int) -> dict:
    proc = psutil.Process(pid)
    cpu = sum(proc.cpu_times()[:2])
    statuses: Counter = Counter()
    with httpx.Client(base_url=url, timeout=60, headers={"X-Forwarded-For": "10.7.0.1"}) as client:
        for _ in range(n):
            token = f"dos_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"
            statuses[client.get("/requests", headers={"Authorization": f"Bearer {token}"}).status_code] += 1
    return {"statuses": dict(statuses), "cpu_ms_per_request": (sum(proc.cpu_times()[:2]) - cpu) / n * 1000}


def run(code: Path, args) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-signin-") as tmp:
        state = Path(tmp) / "state"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DOSSIER_S3_", "DOSSIER_DB_URL"))}
        env.update(DOSSIER_HOME=str(state), PYTHONPATH=str(code))
        server = EmbeddedStore(state, base_port=free_base_port())
        server.start()
        api = None
        try:
            api, url = _serve(code, state, env)
            return {"guesses": guesses(url, args.guesses), "flood": flood(url, api.pid, args.parallel),
                    "tokens": tokens(url, api.pid, args.tokens)}
        finally:
            if api is not None:
                api.terminate()
                api.wait(timeout=60)
            server.stop(timeout=5)


def show(code: Path, r: dict) -> None:
    g, f, t = r["guesses"], r["flood"], r["tokens"]
    print(f"\n{code}")
    print(f"  {sum(g['statuses'].values())} wrong passwords in {g['seconds']:.1f} s: {g['statuses']}; then the right "
          f"one: {g['right']} ({'signed in' if g['right'] == 303 else 'refused'})")
    print(f"  {sum(f['statuses'].values())} sign-ins at once: {f['statuses']} in {f['seconds']:.1f} s, "
          f"{f['cpu_s']:.1f} CPU-s; service RSS {f['rss_before_mb']:.0f} MB -> peak {f['rss_peak_mb']:.0f} MB; "
          f"/health p50 {f['health_p50_ms']:.0f} ms, max {f['health_max_ms']:.0f} ms")
    print(f"  {sum(t['statuses'].values())} random bearer tokens: {t['statuses']}, "
          f"{t['cpu_ms_per_request']:.2f} CPU-ms a request")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, help="another checkout to measure first, at the same settings")
    parser.add_argument("--guesses", type=int, default=40)
    parser.add_argument("--parallel", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=300)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}; load average {os.getloadavg()[0]:.1f}; {args.guesses} guesses, "
          f"{args.parallel} parallel sign-ins, {args.tokens} random tokens")
    results = [(code, run(code, args)) for code in ([args.against] if args.against else []) + [ROOT]]
    for code, r in results:
        show(code, r)
    if len(results) == 2:
        (a, ra), (b, rb) = results
        print(f"\ncomparison ({a.name} -> {b.name}): right password after the guesses "
              f"{ra['guesses']['right']} -> {rb['guesses']['right']}; flood RSS peak "
              f"{ra['flood']['rss_peak_mb']:.0f} -> {rb['flood']['rss_peak_mb']:.0f} MB; /health max "
              f"{ra['flood']['health_max_ms']:.0f} -> {rb['flood']['health_max_ms']:.0f} ms; token CPU "
              f"{ra['tokens']['cpu_ms_per_request']:.2f} -> {rb['tokens']['cpu_ms_per_request']:.2f} ms a request")
    mine = results[-1][1]
    braked = mine["guesses"]["right"] == 429 and 429 in mine["tokens"]["statuses"]
    print(f"\nbrake: {'shown' if braked else 'NOT shown'}")
    return 0 if braked else 1


if __name__ == "__main__":
    sys.exit(main())
