"""`make up` / `make down`: the local operations set on one machine — Prefect server, the dossier work pool with a
queue and a worker per scanning room, the deployments of prefect.yaml, the hot-folder watcher, and the fetch service
with the operators' desk (``http://127.0.0.1:$DOSSIER_SERVICE_PORT/web/operations/``), which also serves the contact
sheets the runs' Prefect artifacts link to (DOSSIER_ARTIFACT_BASE_URL is set to it).

    python -m flows.stack up      # idempotent: starts what is not running
    python -m flows.stack down    # stops what `up` started (watcher, workers, server, and the store if it started it)
    python -m flows.stack status

Settings (environment): DOSSIER_HOME (state folder, default ./.state), DOSSIER_HOTFOLDER (default ./hotfolder),
DOSSIER_ROOMS (comma-separated; default: the room folders in the hot folder, else room-1), PREFECT_PORT (4200),
DOSSIER_STORE_PORT (base port of the embedded store when it is started here; default 8333), DOSSIER_SERVICE_PORT
(the fetch service and desk; default 8080). With DOSSIER_S3_ENDPOINT
set, the external store is used and none is started.
Logs and pid files are in ``$DOSSIER_HOME/ops/``.

What keeps the set whole when one of its processes dies: the server keeps concurrency leases (the per-case locks) on
disk, so a restarted server still knows who holds a case and frees it when the holder stops renewing; workers run
flows with heartbeats, and the automations of ``automations.yaml`` mark a run whose heartbeat stopped Crashed (its
process died with its worker), so that the watcher can run the batch again. ``bench/soak.py`` runs the same pieces
under a supervisor that kills them at random.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from flows.tempserver import LEASE_STORAGE
from pipeline.settings import OperationsSettings, Settings, StateLayout

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
POOL = "dossier"


def _settings() -> dict:
    settings = Settings.load()
    ops = settings.operations
    home = StateLayout.at(ROOT / settings.paths.home).root  # a relative DOSSIER_HOME is taken from the checkout
    hot = (ops.hotfolder or ROOT / "hotfolder").resolve()
    port = ops.prefect_port
    rooms = ops.rooms
    if not rooms and hot.is_dir():
        from pipeline.operations import HotFolder, RoomsFile

        rooms = HotFolder(hot, RoomsFile()).rooms()  # the room folders (the watcher needs the rooms file itself)
    return {"home": home, "hot": hot, "port": port, "rooms": rooms or ["room-1"], "ops": home / "ops",
            "api": f"http://127.0.0.1:{port}/api", "settings": settings,
            "service": f"http://127.0.0.1:{ops.service_port}", "service_port": ops.service_port}


HEARTBEAT_SECONDS = 30
"""Flow-run heartbeats of worker runs; automations.yaml marks a run Crashed after 90 s (three) without one."""


def service_env(home: Path, api: str, base: dict[str, str] | None = None, service: str = "",
                hot: Path | None = None) -> dict[str, str]:
    """The environment of every process of the set: state folder, server, quiet Prefect, checkout, heartbeats; the
    fetch service's address for the artifacts' links (unless DOSSIER_ARTIFACT_BASE_URL names another) and the hot
    folder the desk shows."""
    env = dict(os.environ if base is None else base)
    env.update({"PREFECT_API_URL": api, "DOSSIER_HOME": str(home), "DOSSIER_CODE_DIR": str(ROOT),
                "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "OMP_THREAD_LIMIT": "1",
                "PREFECT_WORKER_QUERY_SECONDS": "2", "PYTHONPATH": str(ROOT),
                "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS),
                # leases in memory die with the server: a case locked when it stopped stayed locked for ever
                "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": LEASE_STORAGE})
    env.setdefault("PREFECT_HOME", str(home / "prefect-server"))
    if service and not env.get("DOSSIER_ARTIFACT_BASE_URL"):
        env["DOSSIER_ARTIFACT_BASE_URL"] = service
    if hot is not None:
        env["DOSSIER_HOTFOLDER"] = str(hot)
    return env


def server_command(port: int) -> list[str]:
    """The Prefect server of the set, on 127.0.0.1."""
    return [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]


def worker_command(room: str) -> list[str]:
    """A room's worker; it also serves the default queue: reruns and reprocessing submitted from the CLI/UI."""
    return [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--work-queue", room, "--work-queue", "default",
            "--name", f"worker-{room}"]


def watcher_command(hot: Path, home: Path | None = None) -> list[str]:
    """The hot-folder watcher, submitting to the server's deployments."""
    state = ["--state", str(home)] if home else []
    return [sys.executable, "-m", "flows.cli", "watch", str(hot), "--server", *state]


def prepare_server(rooms: list[str], env: dict[str, str]) -> None:
    """On a running server: the work pool and a queue per room (each only if missing), the deployments of
    prefect.yaml, and the automations of automations.yaml (created, or updated to the file and the settings)."""
    from prefect.exceptions import ObjectAlreadyExists, PrefectHTTPStatusError

    _prefect(["work-pool", "create", POOL, "--type", "process"], env, check=False)  # fails harmlessly if it exists
    with api_client(env["PREFECT_API_URL"]) as client:
        for room in rooms:  # over the API: a `prefect` command costs ~2 s of start-up each
            try:
                client.create_work_queue(name=room, work_pool_name=POOL)
            except ObjectAlreadyExists:
                pass
            except PrefectHTTPStatusError as exc:
                raise SystemExit(f"work queue {room} refused: {exc}") from None
    _prefect(["deploy", "--all"], env)
    apply_automations(env["PREFECT_API_URL"], OperationsSettings.from_environ(env).first_heartbeat_seconds)


NEVER_BEAT = "dossier-crash-flow-runs-that-never-beat"
"""The automation that crashes a run Running without a heartbeat for DOSSIER_FIRST_HEARTBEAT_SECONDS."""


def automations(first_heartbeat_seconds: int = 120) -> list[dict]:
    """The automations of automations.yaml, the first-heartbeat window set to ``first_heartbeat_seconds``."""
    found = yaml.safe_load((ROOT / "automations.yaml").read_text(encoding="utf-8"))["automations"]
    for automation in found:
        if automation["name"] == NEVER_BEAT:
            automation["trigger"]["within"] = first_heartbeat_seconds
            automation["actions"][0]["message"] = (f"no heartbeat within {first_heartbeat_seconds} s of Running: "
                                                   "the flow run's process is gone")
    return found


def apply_automations(api: str, first_heartbeat_seconds: int = 120) -> None:
    """Create the automations on the server at ``api``, or update those of the same name (the file and the
    settings are the truth: a changed window takes effect at the next `make up`)."""
    from prefect.events.schemas.automations import AutomationCore
    from prefect.exceptions import PrefectHTTPStatusError

    with api_client(api) as client:
        existing = {a.name: a.id for a in client.read_automations()}
        for automation in automations(first_heartbeat_seconds):
            core = AutomationCore.model_validate(automation)
            try:
                if core.name in existing:  # only the fields the file sets
                    client.update_automation(existing[core.name], core)
                else:
                    client.create_automation(core)
            except PrefectHTTPStatusError as exc:
                raise SystemExit(f"automation {core.name} refused by {api}: {exc}") from None


def api_client(api: str):
    """Prefect's client of the server at ``api``: it retries what a busy server refuses or drops (503, 429, a reset
    connection, a read timeout) with a growing wait, as a raw HTTP client would not."""
    from prefect.client.orchestration import SyncPrefectClient

    return SyncPrefectClient(api)


def _env(s: dict) -> dict[str, str]:
    return service_env(s["home"], s["api"], service=s["service"], hot=s["hot"])


def desk_command(port: int) -> list[str]:
    """The fetch service with the operators' desk, on 127.0.0.1."""
    return [sys.executable, "-m", "flows.cli", "serve", "--port", str(port)]


def _alive(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def _start(name: str, cmd: list[str], s: dict) -> None:
    pidfile = s["ops"] / f"{name}.pid"
    if _alive(pidfile):
        print(f"  {name}: already running (pid {pidfile.read_text().strip()})")
        return
    log = (s["ops"] / f"{name}.log").open("ab")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(s), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    pidfile.write_text(str(proc.pid))
    print(f"  {name}: started (pid {proc.pid}, log {s['ops'] / (name + '.log')})")


def _healthy(api: str) -> bool:
    try:
        with urllib.request.urlopen(api + "/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def _prefect(args: list[str], env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([str(BIN / "prefect"), "--no-prompt", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    if check and done.returncode != 0:
        raise SystemExit(f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def machine_ready(s: dict, store: bool) -> None:
    """Refuse to start the set (exit 8 or 5, one line) when a part of the machine it needs is not ready: the key,
    the rooms file, the profiles, the database, the state disk — and, once it runs, the store."""
    from flows.preflight import require_machine, rooms_file_of
    from pipeline.errors import DossierError, exit_code_of, explain
    from pipeline.messages import use_language

    use_language(s["settings"].locale.language)
    try:
        require_machine(s["settings"], s["home"], rooms=rooms_file_of(s["settings"], StateLayout(s["home"])),
                        hotfolder=s["hot"] if s["hot"].is_dir() else None, store=store)
    except DossierError as exc:
        print(explain(exc), file=sys.stderr)
        raise SystemExit(int(exit_code_of(exc))) from None


def up() -> None:
    """Start the local set, once the machine is ready for it."""
    s = _settings()
    machine_ready(s, store=False)
    s["ops"].mkdir(parents=True, exist_ok=True)
    for room in s["rooms"]:
        (s["hot"] / room).mkdir(parents=True, exist_ok=True)
    print(f"state {s['home']}, hot folder {s['hot']}, rooms {', '.join(s['rooms'])}")
    if not s["settings"].store.endpoint:
        status = subprocess.run([sys.executable, "-m", "flows.cli", "store", "status", "--state", str(s["home"])],
                                cwd=ROOT, env=_env(s), capture_output=True, text=True, timeout=60)
        if status.returncode != 0:  # not running
            store_port = s["settings"].store.store_port
            port = ["--port", str(store_port)] if store_port else []
            started = subprocess.run([sys.executable, "-m", "flows.cli", "store", "start", "--state", str(s["home"]),
                                      *port], cwd=ROOT, env=_env(s), timeout=120)
            if started.returncode != 0:
                raise SystemExit("the embedded store did not start (set DOSSIER_STORE_PORT to use other ports, or "
                                 "DOSSIER_S3_* for an external store)")
            (s["ops"] / "store.started").write_text("1")
    machine_ready(s, store=True)
    if not _healthy(s["api"]):
        _start("server", server_command(s["port"]), s)
        deadline = time.monotonic() + 180
        while not _healthy(s["api"]):
            if time.monotonic() > deadline:
                raise SystemExit(f"the Prefect server did not answer at {s['api']}: see {s['ops'] / 'server.log'}")
            time.sleep(1)
    print(f"  server: {s['api']}")
    prepare_server(s["rooms"], _env(s))
    print("  deployments: process-batch, rerun-volume, reprocess-case, watch-hotfolder; automations.yaml")
    for room in s["rooms"]:
        _start(f"worker-{room}", worker_command(room), s)
    _start("watcher", watcher_command(s["hot"]), s)
    _start("service", desk_command(s["service_port"]), s)
    print(f"\nUI: http://127.0.0.1:{s['port']}   desk: {s['service']}/web/operations/   in your shell: "
          f"export PREFECT_API_URL={s['api']}")


def _stop(name: str, s: dict, grace: float = 15.0) -> None:
    pidfile = s["ops"] / f"{name}.pid"
    pid = _alive(pidfile)
    if pid:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace
        while _alive(pidfile) and time.monotonic() < deadline:
            time.sleep(0.3)
        if _alive(pidfile):  # workers can sit on SIGTERM for a long time
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        print(f"  {name}: stopped")
    pidfile.unlink(missing_ok=True)


def down() -> None:
    """Stop what `up` started, watcher first so that no new run is created while workers stop."""
    s = _settings()
    _stop("watcher", s)
    for pidfile in sorted(s["ops"].glob("worker-*.pid")):
        _stop(pidfile.stem, s)
    _stop("service", s)
    _stop("server", s)
    if (s["ops"] / "store.started").exists():
        subprocess.run([sys.executable, "-m", "flows.cli", "store", "stop", "--state", str(s["home"])], cwd=ROOT,
                       env=_env(s), timeout=120)
        (s["ops"] / "store.started").unlink()


def status() -> None:
    """Which of the set's processes are running."""
    s = _settings()
    for pidfile in sorted(s["ops"].glob("*.pid")):
        pid = _alive(pidfile)
        print(f"  {pidfile.stem}: {'running, pid ' + str(pid) if pid else 'not running'}")
    print(f"  server health: {'ok' if _healthy(s['api']) else 'no answer'} ({s['api']})")


if __name__ == "__main__":
    commands = {"up": up, "down": down, "status": status}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        raise SystemExit(f"usage: python -m flows.stack {'|'.join(commands)}")
    commands[sys.argv[1]]()
