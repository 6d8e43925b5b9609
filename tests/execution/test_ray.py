"""The Ray executor against a real Ray head on 127.0.0.1, started and stopped by the fixture.

The smoke pipeline runs through the CLI with ``--executor ray --ray-address`` and must equal a
sequential run (MLflow metrics to 1e-6, champion decision, forecast file); every candidate runs in
a Ray worker (pid and node logged); a SIGKILLed worker is retried; a task that fails for good is a
FAILED candidate. Skipped when Ray is not installed (``pip install "forecaster[ray]"``).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecaster.execution import ray_installed

ROOT = Path(__file__).resolve().parents[2]
needs_ray = pytest.mark.skipif(not ray_installed(), reason='Ray not installed: pip install "forecaster[ray]"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "RAY_"))}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["RAY_AUTH_MODE"] = "disabled"  # a throwaway cluster on 127.0.0.1 (the README covers token auth)
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def forecaster(cwd: Path, *args: str, timeout: float = 400) -> subprocess.CompletedProcess:
    env = {**cli_env(), "FORECASTER_STATE_DIR": str(cwd / ".forecaster")}  # never the user's own state dir
    return subprocess.run([sys.executable, "-m", "forecaster", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def workspace(path: Path) -> Path:
    (path / "data").mkdir(parents=True)
    shutil.copy(ROOT / "data" / "seattle_weather.csv", path / "data" / "seattle_weather.csv")
    (path / "pipelines").mkdir()
    shutil.copy(ROOT / "pipelines" / "smoke.yaml", path / "pipelines" / "smoke.yaml")
    return path


def _ports(*names: str) -> list[str]:
    return [f"--{name}={free_port()}" for name in names]


def _ray_start(args: list[str], log_path: Path) -> tuple[subprocess.Popen, object]:
    """``ray start --block ARGS`` in its own process group (stopped by :func:`_stop_group`)."""
    log = open(log_path, "w")
    ray_bin = Path(sys.executable).with_name("ray")
    process = subprocess.Popen([str(ray_bin), "start", "--block", "--node-ip-address=127.0.0.1",
                                "--disable-usage-stats", *args], env=cli_env(), stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    return process, log


def _alive_nodes(address: str) -> int:
    import ray

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_AUTH_MODE", "disabled")
        ray.init(address=address, log_to_driver=False, configure_logging=False)
        try:
            return sum(1 for node in ray.nodes() if node["Alive"])
        finally:
            ray.shutdown()


@pytest.fixture(scope="module")
def ray_head():
    """A 2-CPU Ray cluster on 127.0.0.1, as CI has 2 cores: a head with 1 CPU and a second node
    with 1 CPU joined to it (``ray start --address``), each in its own process group and temp dir;
    both groups are stopped at the end, even when a test fails. Yields the head's address."""
    port = free_port()
    temp_dir = tempfile.mkdtemp(prefix="rayfc-", dir="/tmp")  # short: Ray's socket paths are length-limited
    node_ports = ("node-manager-port", "object-manager-port", "runtime-env-agent-port",
                  "dashboard-agent-listen-port", "metrics-export-port")
    address = f"127.0.0.1:{port}"
    started, logs = [], []
    try:
        head, log = _ray_start(["--head", f"--port={port}", "--num-cpus=1", "--include-dashboard=false",
                                f"--temp-dir={temp_dir}", *_ports("ray-client-server-port", *node_ports)],
                               Path(temp_dir) / "head.log")
        started.append(head), logs.append(log)
        deadline = time.monotonic() + 90
        while True:
            assert head.poll() is None, Path(temp_dir, "head.log").read_text()[-3000:]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the Ray head did not open its port in 90 s"
                time.sleep(0.5)
        second_dir = Path(temp_dir) / "n2"
        second_dir.mkdir()
        second, log = _ray_start([f"--address={address}", "--num-cpus=1", f"--temp-dir={second_dir}",
                                  *_ports(*node_ports)], Path(temp_dir) / "second.log")
        started.append(second), logs.append(log)
        deadline = time.monotonic() + 90
        while _alive_nodes(address) < 2:
            assert second.poll() is None, Path(temp_dir, "second.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the second Ray node did not join in 90 s"
            time.sleep(1)
        yield address
    finally:
        for process in reversed(started):
            _stop_group(process)
        for log in logs:
            log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


def _stop_group(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL, the head's own process group (never anything else)."""
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            process.poll()
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


@pytest.fixture()
def executor(ray_head, monkeypatch):
    from forecaster.execution.ray_executor import RayExecutor

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    with RayExecutor(address=ray_head, max_retries=1) as ex:
        ex.connect()
        yield ex


SMOKE_SETTINGS = ["--set", "training.epochs=2"]


def _runs(cwd: Path) -> pd.DataFrame:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{cwd / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["smoke"])
    return runs[runs["tags.forecaster.role"] != "comparison"].set_index("tags.mlflow.runName").sort_index()


@needs_ray
@pytest.mark.ray
@pytest.mark.slow
def test_smoke_pipeline_on_ray_equals_sequential(ray_head, tmp_path):
    seq_dir, ray_dir = workspace(tmp_path / "seq"), workspace(tmp_path / "ray")
    seq = forecaster(seq_dir, "run", "pipelines/smoke.yaml", *SMOKE_SETTINGS)
    assert seq.returncode == 0, seq.stderr[-3000:]
    on_ray = forecaster(ray_dir, "run", "pipelines/smoke.yaml", *SMOKE_SETTINGS,
                        "--executor", "ray", "--ray-address", ray_head)
    assert on_ray.returncode == 0, on_ray.stderr[-3000:]

    # every candidate ran as a Ray task in a worker process, not in the driver
    driver = re.search(r"Ray driver: pid (\d+), node (\w+)", on_ray.stderr)
    assert driver, on_ray.stderr[-3000:]
    tasks = re.findall(r"Ray task (.+?) ran in worker pid (\d+) on node (\w+)", on_ray.stderr)
    assert sorted(t[0] for t in tasks) == ["lstm-1x16 | clipnorm=1", "lstm-1x16 | none"]
    assert all(pid != driver.group(1) for _, pid, _ in tasks)
    assert all(len(node) == 56 for _, _, node in tasks)  # Ray node ids (hex)
    # one CPU per node and two candidates at once: one ran on the head, one on the second node
    assert len({node for _, _, node in tasks}) == 2, tasks

    # the MLflow runs equal the sequential run's: same children, params, metrics (1e-6)
    a, b = _runs(seq_dir), _runs(ray_dir)
    assert list(a.index) == list(b.index)
    params = [c for c in a.columns if c.startswith("params.")]
    pd.testing.assert_frame_equal(a[params], b[params])
    metrics = [c for c in a.columns if c.startswith("metrics.") and "seconds" not in c]
    np.testing.assert_allclose(a[metrics].to_numpy(float), b[metrics].to_numpy(float), rtol=0, atol=1e-6)
    assert (a["tags.forecaster.role"] == b["tags.forecaster.role"]).all()

    # same champion decision and the same forecast file
    from mlflow import MlflowClient

    decisions = []
    for cwd in (seq_dir, ray_dir):
        uri = f"sqlite:///{cwd / 'mlflow.db'}"  # both URIs: another module may have moved the registry's
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        decisions.append(client.get_model_version_by_alias("smoke", "champion").tags["forecaster.gate_decision"])
    assert decisions == ["promoted", "promoted"]
    fa = pd.read_csv(seq_dir / "forecasts" / "smoke.csv")
    fb = pd.read_csv(ray_dir / "forecasts" / "smoke.csv")
    pd.testing.assert_frame_equal(fa, fb, check_exact=False, atol=1e-6, rtol=0)

    # the executor is not part of the idempotence key: the same pipeline locally is skipped
    again = forecaster(ray_dir, "run", "pipelines/smoke.yaml", *SMOKE_SETTINGS, "--executor", "local")
    assert again.returncode == 0 and "skipped" in again.stderr, again.stderr[-2000:]


@needs_ray
@pytest.mark.ray
def test_a_killed_worker_is_retried_and_one_killed_every_time_fails(executor, tmp_path):
    from tests.execution import ray_tasks

    outcomes = executor.map(ray_tasks.kill_once, str(tmp_path), ["a"], names=["a"])
    assert not outcomes[0].failed, outcomes[0].error
    first_pid = int((tmp_path / "a.attempted").read_text())
    assert outcomes[0].value == outcomes[0].worker["pid"] != first_pid != os.getpid()

    outcomes = executor.map(ray_tasks.kill_always, str(tmp_path), ["b"], names=["b"])
    assert outcomes[0].failed and outcomes[0].value is None
    assert "Worker" in outcomes[0].error or "died" in outcomes[0].error, outcomes[0].error
    assert (tmp_path / "b.attempts").read_text() == "x" * (1 + executor.max_retries)


@needs_ray
@pytest.mark.ray
@pytest.mark.slow
def test_a_task_failing_for_good_is_a_failed_candidate(executor, tmp_path):
    from forecaster.comparison.tasks import train_candidates
    from forecaster.comparison.plans import plan_candidates
    from tests.execution import ray_tasks
    from tests.comparison.test_comparison import tiny_config, tiny_frame

    cfg = tiny_config(epochs=1)
    cfg.clipping = cfg.clipping[:1]
    plans = plan_candidates(cfg)
    results = train_candidates(executor, cfg, plans, tiny_frame(), tmp_path / "models", task=ray_tasks.fail_gru)
    by_name = {r.name: r for r in results}
    gru, rnn = by_name["gru-1x4 | none"], by_name["rnn-1x4-seq2seq | none"]
    assert gru.failed and "ValueError: deliberate failure of gru-1x4 | none" in gru.failure_reason
    assert gru.params["cell"] == "gru" and gru.role == "candidate"
    assert not rnn.failed and rnn.model_dir and Path(rnn.model_dir).is_dir()
    assert rnn.worker["pid"] != os.getpid() and np.isfinite(rnn.metrics["val_mae"])
    from forecaster.estimator import load_forecaster

    assert load_forecaster(rnn.model_dir).n_params_ > 0  # the model came back whole, as bytes


@needs_ray
@pytest.mark.ray
@pytest.mark.slow
def test_warm_start_reaches_the_worker_as_bytes_not_a_driver_path(executor, tmp_path):
    from forecaster.comparison.candidates import train_candidate
    from forecaster.comparison.plans import plan_candidates
    from forecaster.comparison.tasks import train_candidates
    from tests.execution import ray_tasks
    from tests.comparison.test_comparison import tiny_config, tiny_frame

    cfg = tiny_config(epochs=1, warm_start=True)
    cfg.models, cfg.clipping = cfg.models[:1], cfg.clipping[:1]
    plan, frame = plan_candidates(cfg)[0], tiny_frame()
    champion = train_candidate(cfg, plan, frame, out_dir=tmp_path / "champion")  # on the driver
    results = train_candidates(executor, cfg, [plan], frame, tmp_path / "models",
                               task=ray_tasks.warm_start_from_bytes_only, warm_start_from=champion.model_dir)
    result = results[0]
    assert not result.failed, result.failure_reason  # the task refuses a champion given as a path
    assert result.worker["pid"] != os.getpid()
    assert result.params["warm_start"] is True  # the worker started from the champion's weights
    assert not champion.params["warm_start"]


DRIVER = """
import sys
from forecaster.execution.ray_executor import RayExecutor
from tests.execution import ray_tasks
with RayExecutor(address=sys.argv[1]) as ex:
    ex.map(ray_tasks.sleep_long, sys.argv[2], ["a"], names=["a"])
"""


@needs_ray
@pytest.mark.ray
def test_sigterm_on_the_driver_cancels_the_outstanding_tasks(ray_head, tmp_path):
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, ray_head, str(tmp_path)], env=cli_env(), cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    started = tmp_path / "a.started"
    deadline = time.monotonic() + 120
    while not started.exists():
        assert driver.poll() is None, driver.stdout.read()[-2000:]
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.5)
    worker = int(started.read_text())
    driver.send_signal(signal.SIGTERM)
    assert driver.wait(timeout=60) != 0
    deadline = time.monotonic() + 60
    while _alive(worker):  # the cancelled task's worker process is killed
        assert time.monotonic() < deadline, f"worker {worker} still running after the driver's SIGTERM"
        time.sleep(0.5)
    assert not (tmp_path / "a.finished").exists()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "X"
    return state != "Z"


@needs_ray
@pytest.mark.ray
def test_an_address_that_does_not_answer_exits_1_naming_it(tmp_path):
    cwd = workspace(tmp_path)
    address = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = forecaster(cwd, "run", "pipelines/smoke.yaml", "--executor", "ray", "--ray-address", address,
                        timeout=120)
    assert result.returncode == 1, result.stderr[-2000:]
    assert time.monotonic() - started < 60
    assert f"the Ray cluster at {address} does not answer" in result.stderr
    assert "Traceback" not in result.stderr and not (cwd / "forecasts").exists()


def test_executor_ray_without_ray_installed_exits_2_naming_the_extra(tmp_path, monkeypatch, caplog):
    from forecaster.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # what an install without the extra looks like
    monkeypatch.chdir(workspace(tmp_path))
    assert main(["run", "pipelines/smoke.yaml", "--executor", "ray"]) == 2
    assert 'pip install "forecaster[ray]"' in caplog.text
    assert not Path("forecasts").exists() and not Path("mlflow.db").exists()
    assert main(["run", "pipelines/smoke.yaml", "--ray-address", "127.0.0.1:1"]) == 2
    assert "--ray-address applies to --executor ray" in caplog.text
