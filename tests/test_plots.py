"""Tests of forecaster.plots: each chart is a real PNG, written atomically, with no temp files left."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from forecaster import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _check_png(path, directory):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 5_000
    assert sorted(os.listdir(directory)) == [path.name]  # no temp file left behind


@pytest.fixture
def history():
    return {
        "train_loss": [1.0, 0.3, 0.05, 0.02],
        "val_loss": [1.2, 0.4, 0.1, 0.08],
        "grad_norm_mean": [5.0, 2.0, 0.8, 0.5],
        "grad_norm_max": [50.0, 9.0, 3.0, 1.5],
        "clipped_fraction": [0.9, 0.4, 0.1, 0.0],
    }


def test_plot_forecast_with_band_and_actual(tmp_path):
    ts = pd.date_range("2024-01-01", periods=60, freq="h")
    forecast = np.linspace(0.0, 1.0, 12)
    out = plots.plot_forecast(
        ts[:48], np.sin(np.arange(48) / 5), ts[48:], forecast, forecast - 0.5, forecast + 0.5,
        actual=np.cos(np.arange(12)), title="T (degC), next 12 h", path=tmp_path / "f.png",
        units="degC", level=0.9,
    )
    assert out == tmp_path / "f.png"
    _check_png(out, tmp_path)


def test_plot_forecast_several_targets_and_new_directory(tmp_path):
    ts = pd.date_range("2024-01-01", periods=30, freq="D")
    out = plots.plot_forecast(
        ts[:20], np.ones((20, 2)), ts[20:], np.zeros((10, 2)), title="two",
        path=tmp_path / "nested" / "f.png", target_names=["open", "close"], units="USD",
    )
    _check_png(out, tmp_path / "nested")


def test_plot_forecast_rejects_mismatched_inputs(tmp_path):
    ts = pd.date_range("2024-01-01", periods=10, freq="h")
    with pytest.raises(ValueError, match=r"`forecast` must have shape \(4,\)"):
        plots.plot_forecast(ts[:6], np.ones(6), ts[6:], np.ones(3), path=tmp_path / "x.png")
    with pytest.raises(ValueError, match="`lower` and `upper` must be given together"):
        plots.plot_forecast(ts[:6], np.ones(6), ts[6:], np.ones(4), lower=np.ones(4),
                            path=tmp_path / "x.png")
    assert os.listdir(tmp_path) == []


def test_plot_forecast_vs_actual(tmp_path):
    ts = pd.date_range("2024-01-01", periods=168, freq="h")
    actual = np.sin(np.arange(168) / 8)
    forecast = actual + 0.1
    out = plots.plot_forecast_vs_actual(
        ts, actual, forecast, forecast - 0.3, forecast + 0.3, "test slice", tmp_path / "t.png"
    )
    _check_png(out, tmp_path)


def test_plot_learning_curves_and_gradient_norms(tmp_path, history):
    _check_png(plots.plot_learning_curves(history, "lstm", tmp_path / "a" / "loss.png"), tmp_path / "a")
    _check_png(plots.plot_gradient_norms(history, "lstm", tmp_path / "b" / "grad.png"), tmp_path / "b")
    with pytest.raises(ValueError, match="'train_loss'"):
        plots.plot_learning_curves({"val_loss": [1.0]}, "x", tmp_path / "c.png")


def test_plot_clipping_study(tmp_path, history):
    clipped = {k: [min(v, 1.0) for v in vs] for k, vs in history.items()}
    out = plots.plot_clipping_study(
        {"none": history, "clipnorm=1": clipped}, "gru clipping", tmp_path / "clip.png"
    )
    _check_png(out, tmp_path)


def test_plot_metric_bars_and_mae_by_step(tmp_path):
    out = plots.plot_metric_bars(
        ["lstm", "persistence", "gru", "linear"], [0.8, 1.0, float("nan"), 0.9], "test MAE",
        tmp_path / "a" / "bars.png", baseline_names=("persistence", "linear"),
    )
    _check_png(out, tmp_path / "a")
    curves = {"lstm": np.linspace(0.2, 1.0, 24), "persistence": np.linspace(0.3, 1.5, 24)}
    _check_png(plots.plot_mae_by_step(curves, "MAE by step", tmp_path / "b" / "s.png"), tmp_path / "b")
    with pytest.raises(ValueError, match="same length"):
        plots.plot_metric_bars(["a"], [1.0, 2.0], "x", tmp_path / "x.png")


def test_rewriting_replaces_the_file(tmp_path):
    curves = {"m": [1.0, 2.0]}
    target = tmp_path / "s.png"
    target.write_bytes(b"old")
    plots.plot_mae_by_step(curves, "again", target)
    _check_png(target, tmp_path)
