"""`make up`'s Prefect server as flows/stack.py configures it: a restart must not lock a case for ever.

The per-case lock is a lease on a global concurrency limit. With Prefect's default lease storage (in memory) a server
killed while a run held a case forgot the lease but kept the slot taken: measured here, the slot was still held 180 s
after the restart, and every later run of that case would have waited for ever.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from flows.stack import api_client, service_env
from flows.tempserver import free_port
from tests.ops_fixtures import ROOT, start_server, wait_for


@pytest.mark.slow  # two Prefect servers and a 60 s lease
def test_a_case_locked_when_the_server_was_killed_is_free_again_after_its_restart(tmp_path):
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env = {**service_env(tmp_path / "state", api, base), "PREFECT_HOME": str(tmp_path / "prefect")}
    server = start_server(env, port)
    try:
        with api_client(api) as client:  # as the product asks the server: what a busy server refuses is asked again
            client.request("POST", "/v2/concurrency_limits/", json={"name": "dossier-case-test", "limit": 1})
            client.request("POST", "/v2/concurrency_limits/increment-with-lease", json={
                "names": ["dossier-case-test"], "slots": 1, "mode": "concurrency", "lease_duration": 60})
        os.killpg(server.pid, signal.SIGKILL)  # the server dies; so does the run holding the case
        server.wait()
        server = start_server(env, port)

        def free() -> bool:
            with api_client(api) as client:
                limit = client.request("GET", "/v2/concurrency_limits/{id_or_name}",
                                       path_params={"id_or_name": "dossier-case-test"}).json()
            return limit["active_slots"] == 0

        # the lease is 60 s; in memory it was never freed (180 s and more): a loaded machine may take longer than 60 s
        wait_for(free, 300, "the dead holder's lease to run out", interval=2)
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def test_make_up_refuses_to_start_anything_without_a_rooms_file_or_a_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOSSIER_", "PREFECT_"))}
    env.update({"DOSSIER_HOME": str(tmp_path / "state"), "DOSSIER_HOTFOLDER": str(tmp_path / "hot"),
                "PYTHONPATH": str(ROOT)})
    done = subprocess.run([sys.executable, "-m", "flows.stack", "up"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 8, done.stdout + done.stderr
    assert "扫描室配置文件缺失或无效" in done.stderr and "签名密钥" in done.stderr
    assert not (tmp_path / "state" / "ops").exists() and not (tmp_path / "hot").exists()  # nothing started
