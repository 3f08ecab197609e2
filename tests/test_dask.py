"""Scale-out: `dossier process --dask-address` runs the batch's tasks on an existing dask.distributed cluster."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.ops_fixtures import DOSSIER, ROOT, make_batch, store_environment, subprocess_env, write_profile
from tests.store_fixtures import unique_case_no


@pytest.fixture(scope="module")
def cluster():
    """A local cluster of two single-threaded worker processes (the shape of `dask worker --nthreads 1`)."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc, \
            Client(lc) as client:
        client.get_task_stream()  # starts the scheduler's task-stream record
        yield lc, client


def test_a_two_worker_dask_cluster_processes_a_batch_through_dask_address(cluster, embedded_store, prefect_harness,
                                                                         tmp_path):
    from pipeline.settings import StoreSettings
    from pipeline.storage import ObjectStore, StoreConfig, read_dossier_manifest

    lc, client = cluster
    case = unique_case_no()
    batch = make_batch(tmp_path / "b1", case)
    state = tmp_path / "state"
    env = subprocess_env(store_environment(embedded_store))
    started = time.time()
    done = subprocess.run([*DOSSIER, "process", str(batch), "--profile", str(write_profile(tmp_path)), "--state",
                           str(state), "--dask-address", lc.scheduler_address, "--progress"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    records = client.get_task_stream(start=started)
    pages = [r for r in records if "page" in str(r["key"])]
    workers = {r["worker"] for r in records}
    assert len(pages) == 2, [r["key"] for r in records]  # 3 pages in chunks of 2 and 1, one per worker
    assert workers == set(client.scheduler_info()["workers"]), workers
    assert "volumes built" in done.stderr and "2/2" in done.stderr  # the progress bars, fed from dask futures
    manifest = read_dossier_manifest(ObjectStore(StoreConfig.from_settings(StoreSettings.from_environ(env), state)), case)
    assert len(manifest.volumes) == 2 and len(manifest.pages) == 3
