"""Truncated BPTT (gradient cut at K steps, forward unchanged, safe-mode load), the input-gradient-by-lag
telemetry (profile length, memory_lag's definition), the `bptt` pipeline key (grid, param, exit 2)."""

from __future__ import annotations

import math
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
import yaml

from forecaster.comparison.plans import CandidatePlan, bptt_param, plan_candidates
from forecaster.config import PipelineConfig, load_config
from forecaster.errors import ConfigError
from forecaster.models.builders import build_model
from forecaster.models.spec import ModelSpec
from forecaster.models.truncation import chunk_bounds, untruncated_twin
from forecaster.training import TrainSettings, train_model
from forecaster.training.lag_gradients import (
    LagGradientTelemetry,
    far_near_ratio,
    memory_lag,
)

LOOKBACK, K = 12, 4


def windows(n=8, lookback=LOOKBACK, features=3, seed=0):
    return np.random.default_rng(seed).normal(size=(n, lookback, features)).astype("float32")


def input_gradient_by_lag(model, X) -> np.ndarray:
    """|d sum(model(X)^2) / d X| summed over samples and features, lag 1 first (raw model input)."""
    x = tf.constant(X)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(tf.square(model(x, training=False)))
    return np.abs(tape.gradient(loss, x).numpy()).sum(axis=(0, 2))[::-1]


def test_chunks_end_at_the_window_end():
    assert chunk_bounds(10, 4) == [(0, 2), (2, 6), (6, 10)]
    assert chunk_bounds(8, 4) == [(0, 4), (4, 8)]
    assert chunk_bounds(5, 1) == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]


@pytest.mark.parametrize("cell,layers,head", [("rnn", 1, "dense"), ("gru", 2, "dense"), ("lstm", 2, "seq2seq")])
def test_truncation_cuts_the_gradient_at_k_and_keeps_the_forecast(cell, layers, head, tmp_path):
    spec = ModelSpec(cell=cell, layers=layers, units=5, head=head)
    kwargs = dict(lookback=LOOKBACK, n_features=3, horizon=2, n_targets=1, residual_targets=[0],
                  center_targets=True)
    full = build_model(spec, seed=1, **kwargs)
    truncated = build_model(spec, seed=2, truncate=K, **kwargs)
    truncated.set_weights(full.get_weights())
    X = windows()

    np.testing.assert_allclose(np.asarray(truncated(X)), np.asarray(full(X)), rtol=1e-6, atol=1e-6)
    g_full, g_trunc = input_gradient_by_lag(full, X), input_gradient_by_lag(truncated, X)
    assert np.all(g_trunc[K:] == 0.0)  # lags K+1 .. lookback: exactly zero
    assert np.all(g_trunc[:K] > 0) and np.all(g_full[K:] > 0)
    # lags 2..K see the same gradient (lag 1 also collects the centering of the whole window)
    np.testing.assert_allclose(g_trunc[1:K], g_full[1:K], rtol=1e-4)
    # the untruncated twin (what the lag telemetry measures by default) is the full model again
    twin = untruncated_twin(truncated)
    twin.set_weights(truncated.get_weights())
    np.testing.assert_allclose(np.asarray(twin(X)), np.asarray(full(X)), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(input_gradient_by_lag(twin, X), g_full, rtol=1e-4)

    if cell == "lstm":  # a saved truncated model loads in safe mode and forecasts the same
        truncated.save(tmp_path / "m.keras")
        loaded = keras.saving.load_model(tmp_path / "m.keras", compile=False, safe_mode=True)
        np.testing.assert_array_equal(np.asarray(loaded(X)), np.asarray(truncated(X)))


def test_memory_lag_and_ratio_follow_their_definitions():
    profile = np.array([10.0, 5.0, 0.2, 0.05, 0.11, 0.09, 0.0])
    assert memory_lag(profile) == 5  # 0.11 >= 1% of 10; every later lag is below it
    assert far_near_ratio(profile) == 0.0
    assert memory_lag(np.zeros(4)) == 0 and math.isnan(far_near_ratio(np.zeros(4)))


def test_lag_telemetry_profile_has_lookback_entries_and_obeys_memory_lag():
    X = windows(64, seed=3)
    y = (X[:, -3:, :1] + 0.5 * X[:, 2:5, :1]).astype("float32")  # depends on lags 1-3 and 8-10
    model = build_model(ModelSpec(cell="gru", units=6), LOOKBACK, 3, 3, 1, seed=4, truncate=K)
    callback = LagGradientTelemetry(X[:16], y[:16], every=2)  # the default: the untruncated twin
    training_graph = LagGradientTelemetry(X[:16], y[:16], every=2, untruncated=False, compiled=False)
    result = train_model(model, (X, y), (X[:16], y[:16]), TrainSettings(epochs=2, batch_size=32, patience=0),
                         callbacks=[callback, training_graph])
    profile, cut = callback.profile, training_graph.profile
    assert profile.shape == cut.shape == (LOOKBACK,)
    # the truncated training gradient stops at lag K; the forecast itself depends on every lag
    assert np.all(cut[K:] == 0) and np.all(cut[:K] > 0) and 1 <= memory_lag(cut) <= K
    assert np.all(profile > 0)
    np.testing.assert_allclose(profile[:K], cut[:K], rtol=1e-4)
    m = memory_lag(profile)
    assert profile[m - 1] >= 0.01 * profile.max() and np.all(profile[m:] < 0.01 * profile.max())
    # measured after epochs 2 (every=2), NaN for the others; history entries reach the callbacks' logs
    assert [math.isnan(v) for v in callback.history["memory_lag"]] == [True, False]
    assert callback.measured_epochs == [2]
    assert training_graph.history["grad_far_near_ratio"][1] == 0.0
    assert result.epochs_run == 2 and callback.seconds > 0 and result.cpu_seconds > 0
    # measured eagerly (compiled=False), the profile is the traced default's on the same weights
    eager = LagGradientTelemetry(X[:16], y[:16], compiled=False)
    eager.set_model(model)
    eager.on_train_begin()
    eager.on_train_end()
    np.testing.assert_allclose(eager.profile, profile, rtol=1e-5, atol=1e-12)


def test_shared_trace_measures_each_models_own_weights():
    X = windows(16, seed=5)
    y = X[:, -2:, :1].copy()
    callbacks = {}
    for seed, truncate in ((1, None), (2, None), (3, K)):  # one architecture, different weights and truncation
        model = build_model(ModelSpec(cell="lstm", units=4), LOOKBACK, 3, 2, 1, residual_targets=[0],
                            center_targets=True, seed=seed, truncate=truncate)
        model.compile(loss="mse")
        for key in ("lstm-4", None):
            callback = callbacks[seed, key] = LagGradientTelemetry(X, y, share_key=key)
            callback.set_model(model)
            callback.on_train_begin()
            callback.on_train_end()
    assert callbacks[2, "lstm-4"]._fn is callbacks[1, "lstm-4"]._fn  # traced once, reused
    assert callbacks[3, "lstm-4"]._fn is callbacks[1, "lstm-4"]._fn  # the truncated one too (its twin)
    for seed in (1, 2, 3):
        np.testing.assert_allclose(callbacks[seed, "lstm-4"].profile, callbacks[seed, None].profile, rtol=1e-5)
    assert not np.allclose(callbacks[1, None].profile, callbacks[2, None].profile)
    other = build_model(ModelSpec(cell="lstm", units=5), LOOKBACK, 3, 2, 1, seed=1)
    wrong = LagGradientTelemetry(X, y, share_key="lstm-4", loss="mse")
    wrong.set_model(other)
    wrong.on_train_begin()
    with pytest.raises(ValueError, match="share_key"):
        wrong.on_train_end()


def test_lag_telemetry_budget_skips_what_it_cannot_afford_and_still_measures_the_final_weights(monkeypatch):
    from forecaster.training import lag_gradients

    X = windows(32, seed=6)
    y = X[:, -2:, :1].copy()
    model = build_model(ModelSpec(cell="gru", units=4), LOOKBACK, 3, 2, 1, seed=7, truncate=K)
    settings = TrainSettings(epochs=3, batch_size=16, patience=0)
    # a trace expected to cost far more than 5% of this training: no epoch measured, no trace made,
    # the final weights measured eagerly (on the untruncated twin, as the traced default would)
    monkeypatch.setattr(lag_gradients, "FIRST_CALL_SECONDS", 1e6)
    monkeypatch.setattr(lag_gradients, "_FIRST_CALLS", {})
    short = LagGradientTelemetry(X[:8], y[:8], every=1, budget=0.05)
    train_model(model, (X, y), None, settings, callbacks=[short])
    assert short.measured_epochs == [] and short._fn is None
    assert all(math.isnan(v) for v in short.history["memory_lag"]) and len(short.history["memory_lag"]) == 3
    assert short.final == {"memory_lag": memory_lag(short.profile),  # the final weights' summaries, always
                           "grad_far_near_ratio": far_near_ratio(short.profile)}
    traced = LagGradientTelemetry(X[:8], y[:8])
    traced.set_model(model)
    traced.on_train_begin()
    traced.on_train_end()
    np.testing.assert_allclose(short.profile, traced.profile, rtol=1e-5, atol=1e-12)
    # an affordable measurement is made on the cadence; the first call's cost is remembered per key
    monkeypatch.setattr(lag_gradients, "FIRST_CALL_SECONDS", 0.0)
    cheap = LagGradientTelemetry(X[:8], y[:8], every=1, budget=1.0, share_key="gru-4")
    train_model(model, (X, y), None, settings, callbacks=[cheap])
    assert cheap.measured_epochs and cheap._fn is not None and lag_gradients._FIRST_CALLS["gru-4"] > 0
    with pytest.raises(ValueError, match="budget"):
        LagGradientTelemetry(X, y, budget=0)


def base_pipeline(**extra) -> dict:
    return {"name": "t", "data": {"path": "data.csv", "timestamp_column": "ts", "target": "y"},
            "window": {"lookback": 24, "horizon": 3},
            "models": [{"cell": "rnn", "units": 4}, {"cell": "gru", "units": 4}],
            "clipping": ["none", {"clipnorm": 1.0}], **extra}


def test_bptt_is_a_dimension_of_the_grid_with_its_param():
    cfg = PipelineConfig.model_validate(base_pipeline(bptt=["full", {"truncate": 6}]))
    plans = plan_candidates(cfg)
    assert [p.name for p in plans][:4] == ["rnn-1x4 | none", "rnn-1x4 | none | truncate=6",
                                          "rnn-1x4 | clipnorm=1",
                                          "rnn-1x4 | clipnorm=1 | truncate=6"]
    assert len(plans) == 2 * 2 * 2
    assert [bptt_param(p) for p in plans[:2]] == ["full", 6] and bptt_param(None) == "none"
    assert PipelineConfig.model_validate(base_pipeline()).bptt[0].truncate is None  # default [full]
    assert CandidatePlan("x", {}, {}).bptt == {"truncate": None}


@pytest.mark.parametrize("bptt,models,words", [
    ([{"truncate": 24}], None, ["bptt", "truncate=24", "window.lookback=24"]),
    (["full", {"truncate": 5}], [{"cell": "lstm", "bidirectional": True}], ["bptt", "bidirectional", "models.0"]),
    (["half"], None, ["bptt.0", "'full' or a mapping"]),
])
def test_bptt_rejections_are_config_errors_naming_the_key(bptt, models, words):
    raw = base_pipeline(bptt=bptt)
    if models:
        raw["models"] = models
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    assert info.value.exit_code == 2
    for word in words:
        assert word in str(info.value)


def test_cli_exits_2_when_truncation_is_not_shorter_than_the_lookback(tmp_path):
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(base_pipeline(bptt=[{"truncate": 30}])))
    done = subprocess.run([sys.executable, "-m", "forecaster", "run", "p.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "bptt" in done.stderr and "truncate=30" in done.stderr and "Traceback" not in done.stderr


def test_gradient_plots_are_written(tmp_path):
    from forecaster.plots import plot_gradient_by_lag, plot_memory_study

    profile = np.r_[np.geomspace(1, 1e-4, 6), np.zeros(4)]
    one = plot_gradient_by_lag(profile, "t", tmp_path / "gradient_by_lag.png")
    study = plot_memory_study({"rnn | full": np.geomspace(1, 1e-5, 10), "gru | truncate=6": profile}, "s",
                              tmp_path / "memory_study.png",
                              histories={"rnn | full": {"memory_lag": [3, 4]}, "gru | truncate=6": {"memory_lag": [5, 6]}})
    assert one.read_bytes()[:4] == study.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="profile"):
        plot_gradient_by_lag([], "t", tmp_path / "x.png")


def test_memory_study_tells_equal_runs_apart_and_draws_the_final_weights():
    from forecaster.plots.gradients import FINAL_LABEL, memory_study_figure

    same = np.geomspace(1, 0.3, 8)  # two runs reaching the whole window: equal values everywhere
    fig = memory_study_figure({"lstm | none": same, "lstm | clipnorm=1": same}, "t",
                              histories={"lstm | none": {"memory_lag": [math.nan, 8, math.nan, 8]},
                                         "lstm | clipnorm=1": {"memory_lag": [math.nan, 8, math.nan, 8]}})
    top, bottom = fig.axes[:2]
    styles = {(line.get_marker(), line.get_linestyle()) for line in top.get_lines()[:2]}
    assert len(styles) == 2  # each run its own marker and line style
    epochs = [line for line in bottom.get_lines() if (line.get_gid() or "").startswith("epochs:")]
    finals = [line for line in bottom.get_lines() if (line.get_gid() or "").startswith("final:")]
    assert [list(line.get_ydata()) for line in epochs] == [[8, 8], [8, 8]]  # measured epochs 2 and 4 only
    assert len({tuple(line.get_xdata()) for line in epochs}) == 2  # shifted sideways, not on top of each other
    assert [line.get_ydata()[0] for line in finals] == [8, 8]  # the final weights' memory_lag
    assert finals[0].get_xdata()[0] > 4 and FINAL_LABEL in [t.get_text() for t in bottom.get_xticklabels()]
    assert "8" in [t.get_text() for t in bottom.texts]  # the final value written beside its points
