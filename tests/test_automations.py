"""The automations of automations.yaml on a Prefect server of their own, as `make up` applies them (flows/stack.py).

A flow run that reached Running but whose process died before its first heartbeat reached the server (the soak run:
the server was killed a second after the run started, its worker later) must not stay Running for ever: an automation
marks it Crashed after DOSSIER_FIRST_HEARTBEAT_SECONDS (10 s here instead of 120 s), and the watcher then takes it
for a run worth retrying. The run's process here is a real flow run whose heartbeats are dropped before they are
sent, standing for heartbeats lost with the server; it is SIGKILLed once the server has it Running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from flows.stack import api_client, apply_automations, service_env
from flows.tempserver import free_port
from pipeline.operations import RunStatus
from tests.ops_fixtures import ROOT, BusyFront, start_server, wait_for
from tests.store_fixtures import serve_in_thread

pytestmark = pytest.mark.slow  # every test starts a Prefect server of its own
FIRST_HEARTBEAT_SECONDS = 10  # the least Prefect takes for a proactive trigger

BEATLESS_FLOW = """
import sys, time
from prefect import flow
from prefect.flow_engine import BaseFlowRunEngine

BaseFlowRunEngine._emit_flow_run_heartbeat = lambda self, *a, **k: None  # its heartbeats never reach the server


@flow(name="beatless")
def beatless():
    from prefect.runtime import flow_run

    print(flow_run.id, flush=True)
    time.sleep(600)


beatless()
"""


@pytest.fixture
def server(tmp_path):
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DOSSIER_"))}
    env = {**service_env(tmp_path / "state", api, base), "PREFECT_HOME": str(tmp_path / "prefect"),
           "DOSSIER_FIRST_HEARTBEAT_SECONDS": str(FIRST_HEARTBEAT_SECONDS)}
    proc = start_server(env, port)
    try:
        yield api, env
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def state_of(api: str, run_id: str) -> dict:
    with api_client(api) as client:  # as the product asks the server: what a busy server refuses is asked again
        return client.request("GET", "/flow_runs/{id}", path_params={"id": run_id}).json()["state"] or {}


def test_a_run_killed_after_running_before_its_first_heartbeat_is_crashed_and_worth_a_retry(server, tmp_path):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.watch import DeploymentSubmitter
    from pipeline.settings import OperationsSettings

    api, env = server
    apply_automations(api)  # `make up` with the default window of 120 s, then again with the setting: updated
    apply_automations(api, OperationsSettings.from_environ(env).first_heartbeat_seconds)
    with api_client(api) as client:
        names = [a.name for a in client.read_automations()]
    assert sorted(names) == sorted(set(names)) and len(names) == 3
    flow = subprocess.Popen([sys.executable, "-c", BEATLESS_FLOW], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        run_id = flow.stdout.readline().strip()
        assert run_id, "the flow run did not start"
        wait_for(lambda: state_of(api, run_id).get("type") == "RUNNING", 60, "the run to be Running")
    finally:
        os.killpg(flow.pid, signal.SIGKILL)  # its process dies before any heartbeat reached the server
        flow.wait()

    state = wait_for(lambda: (s := state_of(api, run_id)).get("type") != "RUNNING" and s, 120,
                     "the run to leave Running")
    assert state["type"] == "CRASHED"
    assert f"no heartbeat within {FIRST_HEARTBEAT_SECONDS} s of Running" in state["message"]
    with temporary_settings({PREFECT_API_URL: api}):
        status = DeploymentSubmitter("beatless/none", tmp_path).status(run_id)
    assert status.final and not status.ok and status.retryable


def test_the_automations_are_applied_through_a_server_too_busy_for_the_first_requests(server):
    api, _ = server
    front = BusyFront(api, refusals=2)
    with serve_in_thread(front) as busy:
        apply_automations(f"{busy}/api")
    assert front.refused == 2
    with api_client(api) as client:
        assert len(client.read_automations()) == 3


def pending_run(api: str) -> str:
    """A flow run a worker took (Pending) and never started: its worker died."""
    with api_client(api) as client:
        flow_id = client.request("POST", "/flows/", json={"name": "taken-by-a-dead-worker"}).json()["id"]
        made = client.request("POST", "/flow_runs/", json={"flow_id": flow_id,
                                                           "state": {"type": "PENDING", "name": "Pending"}})
        return made.json()["id"]


def given_up_by_the_watcher(api: str, run_id: str, home: Path) -> RunStatus:
    """The run's status once the watcher has given it up: not before its limit (600 s), soon after one of 1 s."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.watch import DeploymentSubmitter

    with temporary_settings({PREFECT_API_URL: api}):
        assert not DeploymentSubmitter("x/none", home, stuck_seconds=600).status(run_id).final
        wait_for(lambda: DeploymentSubmitter("x/none", home, stuck_seconds=1).status(run_id).final, 120,
                 "the watcher to give the run up")
        return DeploymentSubmitter("x/none", home).status(run_id)


def test_a_run_left_pending_past_the_watchers_limit_is_crashed_by_the_watcher_and_worth_a_retry(server, tmp_path):
    api, _ = server  # no automations applied: as when the server lost the automation's wait with a restart
    run_id = pending_run(api)
    status = given_up_by_the_watcher(api, run_id, tmp_path)
    assert status.final and not status.ok and status.retryable
    assert state_of(api, run_id)["type"] == "CRASHED" and "pending for over 1 s" in status.message


BEATING_FLOW = BEATLESS_FLOW.replace("BaseFlowRunEngine._emit_flow_run_heartbeat = lambda self, *a, **k: None", "")


def test_a_run_whose_heartbeats_stopped_past_the_watchers_limit_is_crashed_by_the_watcher(server, tmp_path):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.stuck import last_heartbeat

    api, env = server  # no automations applied: as when the server lost the automation's wait with a restart
    flow = subprocess.Popen([sys.executable, "-c", BEATING_FLOW], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        run_id = flow.stdout.readline().strip()
        assert run_id, "the flow run did not start"
        with temporary_settings({PREFECT_API_URL: api}):
            from prefect.client.orchestration import get_client

            with get_client(sync_client=True) as client:
                run = client.read_flow_run(run_id)
                since = run.start_time or run.expected_start_time
                wait_for(lambda: last_heartbeat(client, run_id, since), 90, "a heartbeat of the run")
    finally:
        os.killpg(flow.pid, signal.SIGKILL)  # its process dies after a heartbeat: none follows
        flow.wait()
    status = given_up_by_the_watcher(api, run_id, tmp_path)
    assert status.final and not status.ok and status.retryable
    assert state_of(api, run_id)["type"] == "CRASHED" and "no heartbeat for over 1 s" in status.message
