"""Tests of forecaster.tracking.store under concurrency: store creation is serialised, two
pipelines share one store, and a store that cannot be opened is a clear exit-2 error."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from forecaster.errors import ConfigError, LockHeldError
from forecaster.scheduling.lock import PipelineLock

# Each worker waits for the go file, then opens the NEW store and writes to it as its own pipeline.
_WORKER = textwrap.dedent("""
    import os, sys, time
    from forecaster.config import TrackingConfig
    uri, go, name = sys.argv[1], sys.argv[2], sys.argv[3]
    import mlflow  # the slow import happens before the start line
    from mlflow.tracking import MlflowClient
    from forecaster.tracking import configure, get_or_create_experiment
    while not os.path.exists(go):
        time.sleep(0.01)
    configure(TrackingConfig(tracking_uri=uri))
    exp = get_or_create_experiment(name)
    client = MlflowClient()
    run = client.create_run(exp, tags={"forecaster.pipeline": name})
    client.log_metric(run.info.run_id, "val_mae", 1.0)
    client.set_terminated(run.info.run_id, "FINISHED")
    print("ok", name)
""")


def test_four_first_runs_against_one_new_store_all_succeed(tmp_path):
    uri = f"sqlite:///{tmp_path}/store/mlflow.db"
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    workers = [subprocess.Popen([sys.executable, "-c", _WORKER, uri, str(go), f"pipeline-{i}"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(4)]
    time.sleep(2)
    go.write_text("")  # all four create the schema at (nearly) the same moment
    results = [w.communicate(timeout=240) for w in workers]
    for worker, (out, err) in zip(workers, results):
        assert worker.returncode == 0, err[-3000:]
        assert out.startswith("ok pipeline-")
    assert (tmp_path / "store" / "mlflow.db.lock").exists()  # the creation lock lives beside the store

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    names = {e.name for e in client.search_experiments()}
    assert {f"pipeline-{i}" for i in range(4)} <= names  # four pipelines share the store, all usable
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert sorted(r.data.tags["forecaster.pipeline"] for r in runs) == [f"pipeline-{i}" for i in range(4)]


def test_locks_are_per_pipeline_and_store(tmp_path):
    store_a, store_b = f"sqlite:///{tmp_path}/a/mlflow.db", f"sqlite:///{tmp_path}/b/mlflow.db"
    with PipelineLock("nightly", tmp_path, store=store_a), PipelineLock("hourly", tmp_path, store=store_a), \
            PipelineLock("nightly", tmp_path, store=store_b):
        with pytest.raises(LockHeldError, match=f"'nightly' is already running against the store {store_a}"):
            PipelineLock("nightly", tmp_path, store=store_a).acquire()


def test_a_store_that_cannot_be_opened_names_the_key(tmp_path):
    from forecaster.config import TrackingConfig
    from forecaster.tracking import configure

    garbage = tmp_path / "mlflow.db"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigError, match=r"tracking.tracking_uri: the MLflow store cannot be opened .*Received: "):
        configure(TrackingConfig(tracking_uri=f"sqlite:///{garbage}"))
