"""The pipeline's public functions on a tiny CSV: check_data, split_frame, backtest_pipeline."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from forecaster.config import PipelineConfig
from forecaster.errors import DataValidationError
from forecaster.pipeline import backtest_pipeline, check_data, split_frame


def write_csv(path, n=240, gap_at=None) -> None:
    t = pd.date_range("2024-01-01", periods=n, freq="h")
    y = np.sin(2 * np.pi * np.arange(n) / 24) + np.linspace(0, 1, n)
    frame = pd.DataFrame({"timestamp": t, "y": y})
    if gap_at is not None:
        frame = frame.drop(index=gap_at)
    frame.to_csv(path, index=False)


def config(path, **extra) -> PipelineConfig:
    return PipelineConfig.model_validate({
        "name": "tiny", "data": {"path": str(path), "target": "y"},
        "window": {"lookback": 24, "horizon": 3}, "split": {"val": 0.25, "test": 0.25},
        "models": [{"cell": "gru", "units": 2}],
        "training": {"epochs": 1, "batch_size": 64, "blend": False}, "baselines": ["persistence", "linear"],
        **extra,
    })


def test_check_data_reads_regularises_and_fingerprints(tmp_path):
    path = tmp_path / "y.csv"
    write_csv(path, gap_at=[100])
    loaded = check_data(config(path))
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.frequency == "h"
    assert len(loaded.frame) == 240  # the missing hour is filled back on the hourly grid
    assert loaded.frame["timestamp"].is_monotonic_increasing
    assert loaded.frame["y"].notna().all()


def test_check_data_names_a_missing_target_column(tmp_path):
    path = tmp_path / "y.csv"
    write_csv(path)
    cfg = config(path)
    cfg.data.target = ["temperature"]
    with pytest.raises(DataValidationError, match="temperature"):
        check_data(cfg)


def test_split_frame_splits_by_time_without_touching_the_input(tmp_path):
    path = tmp_path / "y.csv"
    write_csv(path)
    cfg = config(path)
    frame = check_data(cfg).frame
    out = split_frame(cfg, frame)
    assert "split" not in frame.columns  # a copy
    times = {s: out.loc[out["split"] == s, "timestamp"] for s in ("train", "val", "test")}
    assert times["train"].max() < times["val"].min() and times["val"].max() < times["test"].min()
    shares = out["split"].value_counts(normalize=True)
    assert shares["train"] > shares["val"] > 0 and shares["test"] > 0


def test_split_frame_with_row_counts_drops_the_unused_rows(tmp_path, caplog):
    path = tmp_path / "y.csv"
    write_csv(path)  # 240 rows
    cfg = config(path, split={"train_rows": 100, "val_rows": 40, "test_rows": 30})
    with caplog.at_level("INFO", logger="forecaster.data.splits"):
        out = split_frame(cfg, check_data(cfg).frame)
    assert out["split"].tolist() == ["train"] * 100 + ["val"] * 40 + ["test"] * 30
    assert out["timestamp"].iloc[-1] == pd.Timestamp("2024-01-01") + pd.Timedelta(hours=169)
    assert sum("70 row(s) after the test rows left unused" in r.getMessage() for r in caplog.records) == 1
    latest = split_frame(config(path, split={"val_rows": 40, "test_rows": 30}), check_data(cfg).frame)
    assert latest["split"].tolist() == ["train"] * 170 + ["val"] * 40 + ["test"] * 30


def test_backtest_pipeline_refits_every_model_on_each_fold(tmp_path):
    path = tmp_path / "y.csv"
    write_csv(path, n=300)
    cfg = config(path, evaluation={"backtest_folds": 2})
    tidy = backtest_pipeline(cfg)
    assert sorted(tidy["fold"].unique()) == [0, 1]  # folds from evaluation.backtest_folds
    assert set(tidy["model"]) == {"persistence", "linear", "gru-1x2 | none"}
    whole = tidy[(tidy["step"] == 0) & (tidy["metric"] == "mae")]
    assert (whole["value"] > 0).all() and whole["value"].notna().all()


def _significance_workspace(tmp_path, frame, **evaluation):
    import yaml

    frame.to_csv(tmp_path / "walks.csv", index=False)
    spec = {
        "name": "walks", "data": {"path": str(tmp_path / "walks.csv"), "target": "y", "series_column": "series_id"},
        "window": {"lookback": 20, "horizon": 3}, "split": {"val": 0.25, "test": 0.25},
        "models": [{"cell": "gru", "units": 4}],
        "training": {"epochs": 2, "batch_size": 128, "blend": False, "seed": 1},
        "baselines": ["persistence", "linear"],
        "evaluation": {"backtest_folds": 2, **evaluation},
        "tracking": {"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "experiment": "walks"},
        "output": {"forecast_path": str(tmp_path / "out" / "f.csv"), "plot_path": str(tmp_path / "out" / "f.png")},
    }
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(spec))
    return tmp_path / "p.yaml"


@pytest.mark.slow
def test_a_win_that_could_be_noise_exits_4_and_serves_persistence(tmp_path, monkeypatch):
    """evaluation.significance on two random walks: exit 4 and persistence's forecast is written
    (never another baseline's: no other win was tested); the pooled and per-series walk-forward DM
    p-values are parent metrics and the gate's evidence on the version. Which quality rule fails
    first is the gate's business (tests/comparison/test_gate.py); this checks the wiring."""
    from mlflow.tracking import MlflowClient

    from forecaster.cli import main
    from tests.estimator.test_estimator import random_walks

    monkeypatch.setenv("FORECASTER_STATE_DIR", str(tmp_path / "state"))
    frame = random_walks(n=500).drop(columns=["split", "segment"])
    path = _significance_workspace(tmp_path, frame, significance=0.05)
    assert main(["run", str(path)]) == 4
    forecast = pd.read_csv(tmp_path / "out" / "f.csv")
    last = frame.groupby("series_id")["y"].last()
    for sid, rows in forecast.groupby("series_id"):  # the random walk's forecast: the last value
        np.testing.assert_allclose(rows["forecast"].to_numpy(), last[sid], rtol=1e-6)  # float32
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    parent = next(r for r in client.search_runs([client.get_experiment_by_name("walks").experiment_id])
                  if "mlflow.parentRunId" not in r.data.tags)
    metrics = parent.data.metrics
    assert {"dm_pvalue", "dm_pvalue.s0", "dm_pvalue.s1"} <= set(metrics), sorted(metrics)
    assert all(0.0 <= metrics[k] <= 1.0 for k in ("dm_pvalue", "dm_pvalue.s0", "dm_pvalue.s1"))
    version = client.get_model_version("walks", "1")
    assert version.tags["forecaster.significance"] == "0.05"
    assert float(version.tags["forecaster.dm_pvalue"]) == pytest.approx(metrics["dm_pvalue"])


@pytest.mark.slow
def test_an_ensemble_run_logs_its_size_and_serves_the_members_mean(tmp_path, monkeypatch):
    """`forecaster run` on the smoke pipeline with training.ensemble: 2 (tiny): one network child run
    with param ensemble=2 and each member's best val loss, the blend built on it, the champion saved
    with both members and served by `forecaster forecast --model`; a bad size exits 2 naming it."""
    import shutil
    from pathlib import Path

    from mlflow.tracking import MlflowClient

    from forecaster.cli import main
    from forecaster.tracking import load_forecaster_from_uri

    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FORECASTER_STATE_DIR", str(tmp_path / "state"))
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)  # restored after the test (the CLI's --tracking-uri sets it)
    (tmp_path / "data").mkdir()
    shutil.copy(root / "data" / "seattle_weather.csv", tmp_path / "data")
    shutil.copy(root / "pipelines" / "smoke.yaml", tmp_path / "smoke.yaml")
    tiny = ["--set", "training.epochs=2", "--set", "clipping=[none]", "--set", "models.0.units=4",
            "--set", f"tracking.tracking_uri={store}"]
    assert main(["run", "smoke.yaml", *tiny, "--set", "training.ensemble=0"]) == 2
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "forecasts").exists()  # nothing written
    assert main(["run", "smoke.yaml", *tiny, "--set", "training.ensemble=2"]) == 0
    client = MlflowClient(store)
    runs = client.search_runs([client.get_experiment_by_name("smoke").experiment_id])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert parent.data.params["training.ensemble"] == "2"
    network = next(r for r in runs if r.data.tags.get("mlflow.runName", "").startswith("lstm-1x4"))
    assert network.data.params["ensemble"] == "2"
    members = client.get_metric_history(network.info.run_id, "ensemble_member_val_loss")
    assert sorted(m.step for m in members) == [0, 1]
    assert network.data.metrics["train_seconds"] > 0
    for run in runs:  # the blend carries its network's size; baselines are single models
        if run is not parent and "ensemble" in run.data.params:
            expected = "2" if run.data.params["cell"] == "lstm" else "1"
            assert run.data.params["ensemble"] == expected, run.data.tags.get("mlflow.runName")
    champion = load_forecaster_from_uri("models:/smoke@champion")
    network_of = getattr(champion, "members_", [champion])[0]  # a blend's network is its first member
    assert network_of.ensemble == 2 and len(network_of.models_) == 2
    assert main(["--tracking-uri", store, "forecast", "--model", "models:/smoke@champion",
                 "--data", "data/seattle_weather.csv", "--output", "out.csv"]) == 0
    out = pd.read_csv(tmp_path / "out.csv")
    assert len(out) == 7 and (out["lower"] <= out["upper"]).all()
