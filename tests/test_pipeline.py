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


def test_backtest_pipeline_refits_every_model_on_each_fold(tmp_path):
    path = tmp_path / "y.csv"
    write_csv(path, n=300)
    cfg = config(path, evaluation={"backtest_folds": 2})
    tidy = backtest_pipeline(cfg)
    assert sorted(tidy["fold"].unique()) == [0, 1]  # folds from evaluation.backtest_folds
    assert set(tidy["model"]) == {"persistence", "linear", "gru-1x2 | none"}
    whole = tidy[(tidy["step"] == 0) & (tidy["metric"] == "mae")]
    assert (whole["value"] > 0).all() and whole["value"].notna().all()
