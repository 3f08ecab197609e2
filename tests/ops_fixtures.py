"""Helpers for the operations tests: small batches, a no-OCR test profile, and one Prefect "stack" per session.

The stack is the session's test server (``prefect_harness`` from conftest) plus what production adds: the
``dossier`` process work pool with a queue per test room, the deployments of ``prefect.yaml`` (deployed with the real
``prefect deploy``), and one ``prefect worker`` subprocess serving those queues and the default one. It is started once, on first use, and
killed when the test process exits.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "case-2024-172"
PAGES = ("001.jpg", "007.tif", "009.jpg")  # three non-blank pages of the sample: indictment, table, judgment
DOCUMENTS = [{"title": "起诉书", "pages": 1}, {"title": "扣押物品清单", "pages": 1}, {"title": "判决书", "pages": 1}]
ROOMS = ("room-1", "room-2")
AGENCY = "河南省封丘县人民法院"
PREFECT = Path(sys.executable).with_name("prefect")
DOSSIER = [sys.executable, "-m", "flows.cli"]


def make_batch(folder: Path, case_no: str, pages: tuple[str, ...] = PAGES, marker: bool = False) -> Path:
    """A small batch from the sample's pages with a batch.json naming the case and its documents."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in pages:
        shutil.copy(SAMPLE / name, folder / name)
    docs = DOCUMENTS[: len(pages)]
    (folder / "batch.json").write_text(json.dumps({"case_no": case_no, "case_title": "测试盗窃案",
                                                   "agency": AGENCY, "documents": docs},
                                                  ensure_ascii=False), encoding="utf-8")
    if marker:
        (folder / "READY").write_bytes(b"")
    return folder


def write_rooms(path: Path, rooms: tuple[str, ...] = ROOMS, agencies: tuple[str, ...] = (AGENCY,),
                case_numbers: tuple[str, ...] = (".*",), profile: Path | None = None) -> Path:
    """The administrator's rooms file binding ``rooms`` to ``agencies`` and case-number patterns."""
    import yaml

    binding: dict = {"agencies": list(agencies), "case_numbers": list(case_numbers)}
    if profile is not None:
        binding["profile"] = str(profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"rooms": {room: binding for room in rooms}}, allow_unicode=True),
                    encoding="utf-8")
    return path


def write_profile(folder: Path, version: str = "1.0.0-test-noocr", max_pages: int = 2) -> Path:
    """A test standard profile: OCR off (not the point of these tests), at most ``max_pages`` pages per volume, and
    no 卷内目录 review (fields are left unread without OCR: the runs must not pause)."""
    path = folder / f"profile-{version}.yaml"
    path.write_text(f'id: "DA/T 31-2017"\nversion: "{version}"\nocr:\n  enabled: false\nvolumes:\n'
                    f'  max_pages: {max_pages}\nreview: never\n', encoding="utf-8")
    return path


def file_digests(folder: Path) -> dict[str, bytes]:
    """Every file under a folder and its bytes (for "byte-identical" checks on small batches)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def store_environment(embedded_store) -> dict[str, str]:
    """DOSSIER_S3_* variables pointing at the session's test store."""
    cfg = embedded_store.config
    return {"DOSSIER_S3_ENDPOINT": cfg.endpoint, "DOSSIER_S3_ACCESS_KEY": cfg.access_key,
            "DOSSIER_S3_SECRET_KEY": cfg.secret_key, "DOSSIER_S3_BUCKET": cfg.bucket,
            "DOSSIER_S3_MAX_SECURITY": "confidential"}


def api_url() -> str:
    """The API URL of the Prefect server the tests run against."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url, "no Prefect server: use the prefect_harness fixture"
    return url


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a `dossier`/`prefect` subprocess talking to the test server and store."""
    env = dict(os.environ)
    env.update({"PREFECT_API_URL": api_url(), "PYTHONPATH": str(ROOT), "DOSSIER_CODE_DIR": str(ROOT),
                "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "OMP_THREAD_LIMIT": "1",
                "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_LOGGING_LEVEL": "INFO"})
    env.update(extra or {})
    return env


def wait_for(predicate, timeout: float, what: str, interval: float = 0.5, failed=None):
    """Poll until ``predicate()`` is truthy; returns its value or fails naming what was awaited. ``failed()``, when
    given, says why the awaited can no longer come (e.g. the batch was quarantined): the wait fails at once with it,
    rather than after the whole timeout (a long one, made for a loaded machine)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if failed is not None and (why := failed()):
            raise AssertionError(f"{what}: {why}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@dataclass
class PrefectStack:
    """The test server with the dossier work pool, the deployments of prefect.yaml and a worker."""

    url: str
    worker: subprocess.Popen
    log: Path
    env: dict[str, str]

    def flow_runs(self, deployment: str = "process-batch"):
        """Every flow run of a deployment (by deployment name)."""
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

        with get_client(sync_client=True) as client:
            return client.read_flow_runs(deployment_filter=DeploymentFilter(
                name=DeploymentFilterName(any_=[deployment])), limit=200)


_stack: PrefectStack | None = None
_stack_lock = threading.Lock()


def _run(cmd: list[str], env: dict[str, str], timeout: float) -> str:
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def prefect_stack(store_env: dict[str, str], tmp_root: Path) -> PrefectStack:
    """The session's stack, started on first use (needs prefect_harness active)."""
    global _stack
    with _stack_lock:
        if _stack is not None and _stack.worker.poll() is None:
            return _stack
        from prefect.client.orchestration import get_client

        env = subprocess_env({**store_env, "PREFECT_HOME": str(tmp_root / "worker-prefect-home"),
                              "DOSSIER_HOME": str(tmp_root / "worker-state")})
        _run([str(PREFECT), "--no-prompt", "work-pool", "create", "dossier", "--type", "process", "--overwrite"],
             env, 120)
        with get_client(sync_client=True) as client:
            existing = {q.name for q in client.read_work_queues(work_pool_name="dossier")}
            for room in ROOMS:
                if room not in existing:
                    client.create_work_queue(name=room, work_pool_name="dossier")
        _run([str(PREFECT), "--no-prompt", "deploy", "--all"], env, 180)
        log = tmp_root / "worker.log"
        cmd = [str(PREFECT), "worker", "start", "--pool", "dossier", "--name", "test-worker"]
        for room in (*ROOMS, "default"):  # as make up's workers: the default queue takes reruns started by hand
            cmd += ["--work-queue", room]
        worker = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                                  start_new_session=True)
        atexit.register(_kill_group, worker)

        def worker_seen():
            with get_client(sync_client=True) as client:
                return any(w.name == "test-worker" for w in client.read_workers_for_work_pool("dossier"))

        wait_for(lambda: worker.poll() is not None or worker_seen(), 120, "the worker's first heartbeat")
        if worker.poll() is not None:
            raise RuntimeError(f"worker exited: {log.read_text(errors='replace')[-3000:]}")
        _stack = PrefectStack(api_url(), worker, log, env)
        return _stack


def start_server(env: dict[str, str], port: int) -> subprocess.Popen:
    """A Prefect server of its own as `make up` starts it (flows/stack.py), in a session of its own; waits until it
    answers."""
    import httpx

    from flows.stack import server_command

    proc = subprocess.Popen(server_command(port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)

    def healthy() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(lambda: proc.poll() is not None or healthy(), 240, "the Prefect server")
    assert proc.poll() is None, "the Prefect server exited"
    return proc


def _kill_group(proc: subprocess.Popen) -> None:
    """Stop a subprocess and everything it started (the worker's flow-run processes)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class BusyFront:
    """An ASGI app in front of a real Prefect server that answers its first ``refusals`` requests with 503 Service
    Unavailable, as a server on a loaded machine does when its database is locked, then passes every request on."""

    def __init__(self, api: str, refusals: int):
        self.target = api.rstrip("/").removesuffix("/api")
        self.left = refusals
        self.refused = 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if self.left > 0:
            self.left, self.refused = self.left - 1, self.refused + 1
            await self._answer(send, 503, [(b"content-type", b"application/json")],
                               b'{"exception_message": "Service Unavailable"}')
            return
        await self._pass_on(scope, body, send)

    async def _pass_on(self, scope, body: bytes, send) -> None:
        import httpx

        query = scope["query_string"].decode()
        headers = [(k.decode(), v.decode()) for k, v in scope["headers"] if k not in (b"host", b"content-length")]
        async with httpx.AsyncClient(base_url=self.target, timeout=120) as client:
            got = await client.request(scope["method"], scope["path"] + (f"?{query}" if query else ""),
                                       content=body, headers=headers)
        kept = [(k.encode(), v.encode()) for k, v in got.headers.items()
                if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")]
        await self._answer(send, got.status_code, kept, got.content)

    @staticmethod
    async def _answer(send, status: int, headers: list, body: bytes) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
