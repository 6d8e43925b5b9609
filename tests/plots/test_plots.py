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


# --- what the figures say, read back from matplotlib ------------------------------------------------


def _legend_labels(ax):
    legend = ax.get_legend()
    assert legend is not None, "no legend"
    return [text.get_text() for text in legend.get_texts()]


def test_forecast_figure_names_unit_level_and_joins_the_last_observation():
    ts = pd.date_range("2015-11-15", periods=55, freq="D")
    history, forecast = np.arange(48.0), np.full(7, 50.0)
    fig = plots.forecast_figure(ts[:48], history, ts[48:], forecast, forecast - 2, forecast + 2,
                                title="smoke: temp_max forecast", units="degC", target_names=["temp_max"],
                                level=0.9)
    (ax,) = fig.axes
    assert _legend_labels(ax) == ["history", "90% interval", "forecast"]
    assert ax.get_ylabel() == "temp_max [degC]"
    assert ax.get_title() == "smoke: temp_max forecast"
    assert ax.get_xlabel().startswith("date")
    line = next(line for line in ax.get_lines() if line.get_label() == "forecast")
    xs, ys = line.get_data()
    assert len(ys) == 8 and ys[0] == 47.0  # starts at the last observation
    fig.canvas.draw()
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert any("Dec" in t for t in ticks) and all(t.strip() for t in ticks)
    assert not ax.xaxis.get_major_formatter().get_offset()  # no lone year in the corner


def test_metric_dots_mark_the_champion_and_note_models_left_out():
    names = ["a", "b", "persistence", "linear", "broken"]
    fig = plots.metric_bars_figure(names, [2.0, 2.2, 3.4, 2.7, np.nan], "test MAE", ["persistence", "linear"],
                                   champion="a")
    (ax,) = fig.axes
    points = [line for line in ax.get_lines() if line.get_linestyle() == "None"]
    assert len(points) == 4
    colours = [str(line.get_color()) for line in points]
    assert len(set(colours)) == 4  # no two models share a colour
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "a (champion)" and "persistence (baseline)" in labels
    assert ax.get_xlim()[0] > 1.0  # the range shows the differences, not 0..max
    assert "lower is better" in ax.get_xlabel()
    assert [t.get_text() for t in fig.texts] == ["not drawn (no value): broken"]
    assert ax.get_legend() is None


def test_mae_by_step_legend_outside_distinct_colours_champion_and_note():
    curves = {f"m{i}": np.linspace(1, 2, 4) + i / 10 for i in range(9)}
    curves.update(persistence=np.linspace(2, 3, 4), linear=np.linspace(1.5, 2.5, 4))
    fig = plots.mae_by_step_figure(curves, "by step", baseline_names=["persistence", "linear"], champion="m0",
                                   left_out=["m9"])
    (ax,) = fig.axes
    assert len(ax.get_lines()) == 11
    assert len({str(line.get_color()) for line in ax.get_lines()}) == 11
    labels = _legend_labels(ax)
    assert labels[0] == "m0 (champion)" and "persistence (baseline)" in labels
    anchor = ax.get_legend().get_bbox_to_anchor().transformed(ax.transAxes.inverted())
    assert anchor.x0 >= 1.0  # the legend sits right of the axes, over no data
    assert ax.get_ylabel() == "MAE on the test windows" and "horizon step" in ax.get_xlabel()
    assert [t.get_text() for t in fig.texts] == ["not drawn: m9"]


def test_clipping_study_draws_thresholds_and_a_validation_loss_panel(history):
    fig = plots.clipping_study_figure({"none": history, "clipnorm=1": history}, "did clipping help?", loss="mse")
    grad_ax, loss_ax = fig.axes
    assert grad_ax.get_ylabel() == "gradient norm before clipping"
    thresholds = [line for line in grad_ax.get_lines() if line.get_label() == "clipnorm=1: norm threshold"]
    assert len(thresholds) == 1 and list(thresholds[0].get_ydata()) == [1.0, 1.0]
    assert len(grad_ax.get_lines()) == 5  # mean + max per setting, one threshold line
    assert [line.get_label() for line in loss_ax.get_lines()] == ["none", "clipnorm=1"]
    assert "validation loss" in loss_ax.get_ylabel() and "scaled" in loss_ax.get_ylabel()
    assert fig.get_suptitle() == "did clipping help?"


def test_learning_curves_say_the_loss_is_in_scaled_units(history):
    fig = plots.learning_curves_figure(history, "lstm: loss per epoch", loss="mae")
    (ax,) = fig.axes
    assert ax.get_ylabel() == "training loss (mae, scaled target units)"
    assert _legend_labels(ax) == ["training windows", "validation windows"]
    assert len(ax.get_lines()) == 2


def test_forecast_titles_name_the_pipeline_and_the_model_kind():
    assert plots.forecast_title("smoke", "blend(lstm-1x16 | none + linear)", ["temp_max"]) == (
        "smoke: temp_max forecast by an LSTM network (1 layer of 16 units) blended with ridge regression")
    assert plots.forecast_title("smoke", "models:/smoke@champion") == (
        "smoke: forecast by the registered model smoke (@champion)")
    assert plots.model_kind("baseline persistence") == "persistence baseline (last value repeated)"
