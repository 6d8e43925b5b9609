"""Segment recurrence: shapes, validation, channel independence, save/load/forecast round-trip."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from forecaster.cli import main
from forecaster.data.splits import assign_splits
from forecaster.estimator import RNNForecaster
from forecaster.models.builders import build_model
from forecaster.models.spec import ModelSpec


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_shapes_every_cell_and_truncation(cell):
    spec = ModelSpec(cell=cell, units=6, segment=4, dropout=0.5)
    assert spec.name == f"{cell}-1x6-do0.5-seg4"
    model = build_model(spec, 16, 3, 8, 2, target_indices=[0, 2], seed=1, truncate=8)
    assert tuple(model(np.random.rand(5, 16, 3).astype("float32")).shape) == (5, 8, 2)


def test_spec_rejects_segment_with_stacked_or_bidirectional_layers_and_unknown_norm():
    with pytest.raises(ValueError, match="segment"):
        ModelSpec(cell="gru", layers=2, segment=4)
    with pytest.raises(ValueError, match="norm"):
        ModelSpec(cell="gru", segment=4, norm="zscore")
    assert ModelSpec.from_dict(ModelSpec(cell="gru", segment=4, norm="last").to_dict()).norm == "last"


@pytest.mark.parametrize("norm", ["revin", "last"])
def test_channel_independence_without_channel_embedding(norm):
    spec = ModelSpec(cell="gru", units=6, segment=4, norm=norm, channel_embedding=False)
    model = build_model(spec, 16, 3, 8, 3, target_indices=[0, 1, 2], seed=2)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 16, 3)).astype("float32")
    y = rng.normal(size=(4, 16, 3)).astype("float32") * 10
    y[:, :, 0] = x[:, :, 0]  # channel 0 identical, the others anything
    np.testing.assert_allclose(model(x)[:, :, 0], model(y)[:, :, 0], atol=1e-5)


def _frame(n=400):
    t = pd.date_range("2024-01-01", periods=n, freq="h")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"series_id": "a", "timestamp": t, "segment": 0,
                          "y": np.sin(np.arange(n) / 4) + rng.normal(0, 0.1, n),
                          "z": np.cos(np.arange(n) / 6) + rng.normal(0, 0.1, n)})
    frame["split"] = assign_splits(frame, 0.2, 0.2).to_numpy()
    return frame


def test_multivariate_save_load_forecast_round_trip(tmp_path):
    frame = _frame()
    est = RNNForecaster(target=["y", "z"], lookback=16, horizon=8, cell="gru", units=8, segment=4,
                        dropout=0.5, loss="mae", epochs=2, batch_size=32, seed=3).fit(frame)
    before = est.predict(frame)
    est.save(tmp_path / "m")
    again = type(est).load(tmp_path / "m")
    pd.testing.assert_frame_equal(again.predict(frame), before)
    # A fresh process (no segment module imported yet) loads it in safe mode, as `forecast` does.
    code = f"from forecaster.estimator import RNNForecaster; RNNForecaster.load({str(tmp_path / 'm')!r})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("window,key", [({"lookback": 10, "horizon": 4}, "window.lookback=10"),
                                        ({"lookback": 8, "horizon": 6}, "window.horizon=6")])
def test_lookback_or_horizon_not_divisible_exits_2_naming_the_keys(tmp_path, monkeypatch, capsys, window, key):
    monkeypatch.chdir(tmp_path)
    ts = pd.date_range("2024-01-01", periods=120, freq="h")
    pd.DataFrame({"timestamp": ts, "temp": np.sin(np.arange(120) / 5)}).to_csv("data.csv", index=False)
    cfg = {"name": "seg", "data": {"path": "data.csv", "timestamp_column": "timestamp", "target": ["temp"],
                                   "frequency": "1h"},
           "window": window, "models": [{"cell": "gru", "units": 4, "segment": 4}],
           "tracking": {"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"}}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(cfg))
    code = main(["run", "p.yaml"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert key in err and "models.0.segment=4" in err and "Traceback" not in err


def test_truncation_across_segments_leaves_the_forecast_unchanged():
    spec = ModelSpec(cell="lstm", units=6, segment=2)
    x = np.random.default_rng(1).normal(size=(3, 10, 1)).astype("float32")
    full = build_model(spec, 10, 1, 4, 1, seed=5)
    cut = build_model(spec, 10, 1, 4, 1, seed=5, truncate=4)  # chunks of 2 segments: [0,1) [1,3) [3,5)
    np.testing.assert_allclose(full(x), cut(x), atol=1e-5)


def test_known_future_enters_each_output_segments_decoder_input(tmp_path):
    """features.known_future with segment recurrence: the encoder reads only the targets; each output
    segment's block (its target steps' calendar) is embedded into that segment's decoder input."""
    spec = ModelSpec(cell="gru", units=6, segment=2)
    model = build_model(spec, lookback=8, n_features=3, horizon=4, n_targets=1, residual_targets=[0], seed=1,
                        known_future=2)
    before = build_model(spec, lookback=8, n_features=3, horizon=4, n_targets=1, residual_targets=[0], seed=1)
    assert model.count_params() == before.count_params() + (2 * 2) * 6 + 6  # Dense(w * K -> units)
    X = np.random.default_rng(0).normal(size=(3, 8, 3)).astype("float32")
    base = np.asarray(model(X))
    earlier = X.copy()
    earlier[:, :-4, 1:] += 5.0  # known columns before the target block: not read
    np.testing.assert_allclose(np.asarray(model(earlier)), base, atol=1e-6)
    second = X.copy()
    second[:, -2:, 1:] += 1.0  # the second output segment's known inputs move only its own steps
    moved = np.abs(np.asarray(model(second)) - base)[0, :, 0]
    assert moved[:2].max() < 1e-6 < moved[2:].min()
    frame = _frame()
    est = RNNForecaster(target=["y"], lookback=16, horizon=8, cell="gru", units=8, segment=4, epochs=1,
                        batch_size=32, seed=3, features={"known_future": ["hour_of_day"]}).fit(frame)
    est.save(tmp_path / "m")
    pd.testing.assert_frame_equal(type(est).load(tmp_path / "m").predict(frame), est.predict(frame))
