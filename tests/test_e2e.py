"""End to end through the CLI in a temporary directory with a real SQLite MLflow store.

The smoke pipeline trains real (tiny) Keras models on the bundled buoy data; these tests take
about a minute and a half together.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def cli_env(cwd: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the CLI's own default is under test (quiet logs)
    env["FORECASTER_STATE_DIR"] = str(cwd / ".forecaster")  # never the user's own state dir
    return env


def forecaster(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "forecaster", *args], cwd=cwd, env=cli_env(cwd),
                          capture_output=True, text=True, timeout=timeout)


def workspace(path: Path) -> Path:
    (path / "data").mkdir(parents=True)
    shutil.copy(ROOT / "data" / "seattle_weather.csv", path / "data" / "seattle_weather.csv")
    (path / "pipelines").mkdir()
    shutil.copy(ROOT / "pipelines" / "smoke.yaml", path / "pipelines" / "smoke.yaml")
    return path


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    cwd = workspace(tmp_path_factory.mktemp("smoke"))
    started = time.perf_counter()
    result = forecaster(cwd, "run", "pipelines/smoke.yaml")
    return cwd, result, time.perf_counter() - started


def test_smoke_run_succeeds_and_leaves_everything(smoke_run):
    cwd, result, seconds = smoke_run
    assert result.returncode == 0, result.stderr[-3000:]
    forecast = pd.read_csv(cwd / "forecasts" / "smoke.csv", parse_dates=["timestamp"])
    assert list(forecast.columns) == ["series_id", "timestamp", "step", "forecast", "lower", "upper"]
    assert forecast["step"].tolist() == [1, 2, 3, 4, 5, 6, 7]
    last = pd.to_datetime(pd.read_csv(cwd / "data" / "seattle_weather.csv")["date"], format="%Y/%m/%d").max()
    assert forecast["timestamp"].min() > last
    assert (cwd / "forecasts" / "smoke.png").stat().st_size > 5000
    assert not list((cwd / "forecasts").glob(".*"))  # no temp files left

    import mlflow
    from mlflow import MlflowClient

    store = f"sqlite:///{cwd / 'mlflow.db'}"
    mlflow.set_tracking_uri(store)
    mlflow.set_registry_uri(store)
    runs = mlflow.search_runs(experiment_names=["smoke"])
    roles = runs["tags.forecaster.role"].value_counts().to_dict()
    # 2 candidates (model x clipping) + the blend of the best with linear (tagged ensemble)
    assert roles == {"comparison": 1, "candidate": 3, "baseline": 3}
    parent = runs[runs["tags.forecaster.role"] == "comparison"].iloc[0]
    assert parent["params.evaluation.calibration_window"] == "365"
    assert parent["params.evaluation.interval_scale"] == "absolute"
    assert (runs["tags.forecaster.ensemble"] == "true").sum() == 1
    # every network run has the final weights' lag summaries, even when no epoch was measured
    networks = runs[(runs["tags.forecaster.role"] == "candidate") & (runs["tags.forecaster.ensemble"] != "true")]
    assert networks["metrics.memory_lag"].notna().all() and networks["metrics.grad_far_near_ratio"].notna().all()
    uri = f"sqlite:///{cwd / 'mlflow.db'}"  # explicit: another test module may have moved the registry URI
    version = MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version_by_alias("smoke", "champion")
    assert version.tags["forecaster.gate_decision"] == "promoted"


def test_smoke_run_marks_the_champion_and_keeps_logs_quiet(smoke_run):
    cwd, result, _ = smoke_run
    assert result.returncode == 0, result.stderr[-3000:]
    import mlflow
    from mlflow import MlflowClient

    uri = f"sqlite:///{cwd / 'mlflow.db'}"  # explicit: another test module may have moved the registry URI
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["smoke"])
    parent = runs[runs["tags.forecaster.role"] == "comparison"].iloc[0]
    version = MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version_by_alias("smoke", "champion")
    # the parent's first screen: headline metrics, champion version; the champion child marked
    assert parent["tags.forecaster.champion_version"] == str(version.version)
    assert {"best_val_mae", "best_test_mae", "best_test_rel_mae", "persistence_test_mae"} <= {
        c[len("metrics."):] for c in parent.index if c.startswith("metrics.") and pd.notna(parent[c])}
    champion = runs[runs["tags.forecaster.champion"] == "true"]
    assert len(champion) == 1 and champion.iloc[0]["run_id"] == version.tags["forecaster.run_id"]
    assert champion.iloc[0]["tags.mlflow.runName"].startswith("★ ")
    # quiet logs: no TensorFlow C++ lines, no temporary plot paths at the default verbosity
    assert "E0000" not in result.stderr and "absl::InitializeLog" not in result.stderr
    assert "wrote plot" not in result.stderr


def test_unchanged_rerun_is_skipped(smoke_run):
    cwd, first, _ = smoke_run
    assert first.returncode == 0
    result = forecaster(cwd, "run", "pipelines/smoke.yaml")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "skipped" in result.stderr
    # a changed setting is not skipped: --set changes the config hash (checked without running it)
    from forecaster.config import load_config

    base = load_config(cwd / "pipelines" / "smoke.yaml")
    assert load_config(cwd / "pipelines" / "smoke.yaml", ["training.epochs=4"]).sha256() != base.sha256()


def test_forecast_command_from_the_registered_champion(smoke_run):
    cwd, first, _ = smoke_run
    assert first.returncode == 0
    result = forecaster(cwd, "--log-format", "json", "forecast", "--model", "models:/smoke@champion",
                        "--data", "data/seattle_weather.csv", "--horizon", "4", "--output", "out/fc.csv",
                        "--plot", "out/fc.png")
    assert result.returncode == 0, result.stderr[-3000:]
    # JSON logs: every line is JSON, TensorFlow's C++ lines at import included (oneDNN CPUs print some)
    lines = (result.stdout + result.stderr).splitlines()
    assert all(json.loads(line) for line in lines if line.strip()), result.stderr[-3000:]
    out = pd.read_csv(cwd / "out" / "fc.csv")
    assert list(out.columns) == ["series_id", "timestamp", "step", "forecast", "lower", "upper"]
    assert out["step"].tolist() == [1, 2, 3, 4]
    assert (out["lower"] <= out["upper"]).all()
    assert (cwd / "out" / "fc.png").stat().st_size > 5000


def test_bad_pipeline_file_exits_2_naming_the_key(tmp_path):
    cwd = workspace(tmp_path)
    path = cwd / "pipelines" / "smoke.yaml"
    text = path.read_text()
    assert "  frequency: D\n" in text
    path.write_text(text.replace("  frequency: D\n", "  frequency: D\n  colour: blue\n"))
    result = forecaster(cwd, "run", "pipelines/smoke.yaml")
    assert result.returncode == 2
    assert "data.colour" in result.stderr and "unknown key" in result.stderr


def test_bad_data_exits_3_naming_the_column(tmp_path):
    cwd = workspace(tmp_path)
    csv = cwd / "data" / "seattle_weather.csv"
    lines = csv.read_text().splitlines()
    cells = lines[100].split(",")
    cells[2] = "warm"  # temp_max
    lines[100] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n")
    result = forecaster(cwd, "run", "pipelines/smoke.yaml")
    assert result.returncode == 3, result.stderr[-2000:]
    assert "temp_max" in result.stderr and "warm" in result.stderr
    assert not (cwd / "forecasts").exists()


def test_concurrent_run_exits_5(tmp_path):
    from forecaster.scheduling.lock import PipelineLock

    cwd = workspace(tmp_path)
    with PipelineLock("smoke", cwd / ".forecaster", store=f"sqlite:///{cwd.resolve()}/mlflow.db"):
        started = time.perf_counter()
        result = forecaster(cwd, "run", "pipelines/smoke.yaml")
        elapsed = time.perf_counter() - started
    assert result.returncode == 5, result.stderr[-2000:]
    assert "lock" in result.stderr.lower()
    assert elapsed < 60  # "at once": before any training (a smoke run trains for minutes under load)


# A run killed at each stage (SIGKILL, SIGTERM): tests/scheduling/test_commit_point.py.
