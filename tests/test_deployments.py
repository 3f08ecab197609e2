"""prefect.yaml as deployed by `prefect deploy --all` to a real server, run by a real process worker per room queue."""

from __future__ import annotations

import importlib
import subprocess
from pathlib import Path
from uuid import uuid4

import pytest
import yaml

from tests.faults import site_environment
from tests.ops_fixtures import PREFECT, ROOT, make_batch, prefect_stack, store_environment, wait_for, write_profile
from tests.store_fixtures import unique_case_no

RUN_TIMEOUT = 300


def test_prefect_yaml_declares_the_flows_on_the_dossier_process_pool():
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    found = {}
    for d in spec["deployments"]:
        path, name = d["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        found[d["name"]] = (getattr(module, name).name, d["work_pool"]["name"])
    assert found == {"process-batch": ("process-batch", "dossier"), "rerun-volume": ("rerun-volume", "dossier"),
                     "reprocess-case": ("reprocess-case", "dossier"),
                     "watch-hotfolder": ("watch-hotfolder", "dossier")}


def test_every_work_queue_prefect_yaml_names_is_served_by_a_worker_of_make_up():
    from flows.stack import worker_command

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    named = {d["work_pool"].get("work_queue_name", "default") for d in spec["deployments"]}
    command = worker_command("room-1")
    served = {command[i + 1] for i, part in enumerate(command) if part == "--work-queue"}
    assert named <= served, f"queues without a worker: {sorted(named - served)}"


@pytest.fixture(scope="module")
def stack(embedded_store, prefect_harness, tmp_path_factory):
    env = store_environment(embedded_store)
    mp = pytest.MonkeyPatch()
    for k, v in env.items():
        mp.setenv(k, v)
    yield prefect_stack(env, tmp_path_factory.mktemp("stack"))
    mp.undo()


def run_logs(run_id) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])), limit=200)
    return "\n".join(log.message for log in logs)


def read_run(run_id):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id)


@pytest.fixture(scope="module")
def failed_deployment_run(stack, tmp_path_factory):
    """A process-batch deployment run, in room-2's queue, whose volume 2 fails while a flag file exists."""
    from prefect.deployments import run_deployment

    base = tmp_path_factory.mktemp("deployed")
    flag = base / "fail-volume-2"
    flag.write_bytes(b"")
    batch = make_batch(base / "b1", unique_case_no())
    key = f"test-{uuid4()}"
    params = {"batch_dir": str(batch), "profile": str(write_profile(base)), "state": str(base / "state")}
    run = run_deployment("process-batch/process-batch", parameters=params, idempotency_key=key, as_subflow=False,
                         work_queue_name="room-2", timeout=RUN_TIMEOUT, poll_interval=1,
                         job_variables={"env": site_environment({2}, flag)})
    return run, key, params, flag


def test_a_room_queue_worker_runs_the_deployed_flow_and_reports_a_failed_volume(failed_deployment_run):
    run, _, _, _ = failed_deployment_run
    assert run.work_queue_name == "room-2"
    assert run.state.is_failed(), run.state
    assert "volume(s) 2 of 2 failed" in run.state.message


def test_prefect_flow_run_retry_rebuilds_only_the_failed_volume_from_cached_pages(stack, failed_deployment_run):
    run, _, _, flag = failed_deployment_run
    flag.unlink()  # the fault is gone; the operator retries the run
    done = subprocess.run([str(PREFECT), "flow-run", "retry", str(run.id)], cwd=ROOT, env=stack.env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    final = wait_for(lambda: (r := read_run(run.id)).state.is_final() and r, RUN_TIMEOUT, "the retried run")
    assert final.state.is_completed(), final.state
    logs = run_logs(run.id)
    assert "pages: 0 processed, 3 from cache" in logs
    assert "volumes: built [2], reused [1], failed none" in logs


def test_the_same_idempotency_key_returns_the_same_run_even_after_it_finished(stack, failed_deployment_run):
    from prefect.deployments import run_deployment

    run, key, params, _ = failed_deployment_run
    again = run_deployment("process-batch/process-batch", parameters=params, idempotency_key=key, as_subflow=False,
                           timeout=0)
    assert again.id == run.id
    assert sum(1 for r in stack.flow_runs() if r.idempotency_key == key) == 1


def test_the_deployments_carry_the_checkout_path_for_the_workers(stack):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("process-batch/process-batch")
    step = deployment.pull_steps[0]["prefect.deployments.steps.set_working_directory"]
    assert Path(step["directory"]) == ROOT
