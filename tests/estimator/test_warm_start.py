"""training.warm_start: a matching candidate starts from the champion's weights; others start cold."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from forecaster.comparison.candidates import train_candidate
from forecaster.comparison.plans import plan_candidates
from forecaster.config import PipelineConfig, load_config
from forecaster.errors import ConfigError
from forecaster.data import read_frame
from forecaster.estimator import RNNForecaster
from forecaster.estimator.warm import keep_start_callback
from forecaster.data.splits import assign_splits

ROOT = Path(__file__).resolve().parents[2]


def _cfg(**model) -> PipelineConfig:
    return PipelineConfig.model_validate({
        "name": "warm",
        "data": {"path": str(ROOT / "data" / "seattle_weather.csv"), "timestamp_column": "date",
                 "timestamp_format": "%Y/%m/%d", "target": ["temp_max"], "features": ["temp_min"],
                 "frequency": "D"},
        "window": {"lookback": 7, "horizon": 2},
        "models": [{"cell": "gru", "units": 3, **model}],
        "training": {"epochs": 1, "batch_size": 64, "patience": 0, "warm_start": True, "seed": 3},
    })


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The first 300 days of the bundled data (split), and a champion GRU trained on it (seed 1)."""
    tmp = tmp_path_factory.mktemp("warm")
    cfg = _cfg()
    frame = read_frame(cfg.data).head(300)
    frame["segment"] = 0
    frame["split"] = assign_splits(frame, cfg.split.val, cfg.split.test).to_numpy()
    data_ref = tmp / "frame.parquet"
    frame.to_parquet(data_ref)
    champion = RNNForecaster(target=["temp_max"], lookback=7, horizon=2, cell="gru", units=3, epochs=1,
                             batch_size=64, seed=1, features=cfg.features.model_dump(mode="json")).fit(frame)
    return data_ref, champion, champion.save(tmp / "champion")


class _WeightsAtStart(keras.callbacks.Callback):
    """Records the model's weights when training begins (before the first step)."""

    def on_train_begin(self, logs=None):
        self.weights = [w.copy() for w in self.model.get_weights()]


def test_matching_candidate_starts_from_the_champions_weights(prepared, caplog):
    data_ref, champion, source = prepared
    cfg = _cfg()
    start = _WeightsAtStart()
    with caplog.at_level(logging.INFO, logger="forecaster"):
        result = train_candidate(cfg, plan_candidates(cfg)[0], data_ref, callbacks=[start], warm_start_from=str(source))
    expected = champion.model_.get_weights()
    assert len(start.weights) == len(expected)
    for got, want in zip(start.weights, expected):
        np.testing.assert_array_equal(got, want)
    assert result.params["warm_start"] is True
    assert ("warm start: candidate gru-1x3 | none (from the champion's gru-1x3 weights; fine-tuned for at most "
            "1 epoch(s), patience 0, learning rate 0.0001") in caplog.text  # its own budget: a tenth of 1e-3
    assert result.metrics["epochs_run"] == 1
    # the same candidate without a champion starts from its own (seeded random) weights
    cold = _WeightsAtStart()
    cold_result = train_candidate(cfg, plan_candidates(cfg)[0], data_ref, callbacks=[cold])
    assert cold_result.params["warm_start"] is False
    assert not all(np.array_equal(a, b) for a, b in zip(cold.weights, expected))


def test_a_segment_candidate_warm_starts_from_a_segment_champion(prepared, tmp_path, caplog):
    """Segment recurrence (issue 24) warm-starts like the classic cells: the same architecture
    (cell, units, segment) starts from the champion's weights; a step-by-step champion does not fit."""
    data_ref, _, classic = prepared
    import pandas as pd

    frame = pd.read_parquet(data_ref)
    spec = dict(target=["temp_max"], lookback=8, horizon=2, cell="gru", units=4, segment=2, epochs=1,
                batch_size=64, features={"calendar": [], "log_returns": []})
    champion = RNNForecaster(seed=1, **spec).fit(frame)
    source = champion.save(tmp_path / "segment-champion")
    cfg = PipelineConfig.model_validate({**_cfg().model_dump(mode="json"), "window": {"lookback": 8, "horizon": 2},
                                         "models": [{"cell": "gru", "units": 4, "segment": 2}]})
    start = _WeightsAtStart()
    with caplog.at_level(logging.INFO, logger="forecaster"):
        result = train_candidate(cfg, plan_candidates(cfg)[0], data_ref, callbacks=[start], warm_start_from=str(source))
    assert result.params["warm_start"] is True and result.params["segment"] == 2
    for got, want in zip(start.weights, champion.model_.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    assert np.isfinite(result.metrics["val_mae"])
    cold = train_candidate(cfg, plan_candidates(cfg)[0], data_ref, warm_start_from=str(classic))
    assert cold.params["warm_start"] is False


def test_architecture_mismatch_starts_cold_with_a_log_line(prepared, caplog):
    data_ref, champion, source = prepared
    cfg = _cfg(units=4)
    start = _WeightsAtStart()
    with caplog.at_level(logging.INFO, logger="forecaster"):
        result = train_candidate(cfg, plan_candidates(cfg)[0], data_ref, callbacks=[start], warm_start_from=str(source))
    assert result.params["warm_start"] is False
    assert "cold start: candidate gru-1x4 | none (architecture gru-1x4 vs champion's gru-1x3)" in caplog.text
    assert [w.shape for w in start.weights] != [w.shape for w in champion.model_.get_weights()]


def test_fine_tuning_keeps_the_starting_weights_unless_an_epoch_beats_them():
    from forecaster.training import TrainSettings, train_model

    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 6, 1)).astype("float32")
    y = X[:, -2:, :].copy()  # learnable: the last two inputs
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6, 1)), keras.layers.GRU(4), keras.layers.Dense(2),
                              keras.layers.Reshape((2, 1))])
    keep = keep_start_callback((X, y))
    train_model(model, (X, y), (X, y), TrainSettings(epochs=3, batch_size=16, learning_rate=1e-2),
                callbacks=[keep])
    assert not keep.kept_start and keep.end_loss < keep.start_loss  # random weights are beaten
    trained = model.get_weights()
    keep = keep_start_callback((X, y))  # a learning rate that wrecks the weights: none of its epochs wins
    train_model(model, (X, y), (X, y), TrainSettings(epochs=2, batch_size=16, learning_rate=5.0, patience=0),
                callbacks=[keep])
    assert keep.kept_start
    for got, want in zip(model.get_weights(), trained):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("override, message", [
    ("training.warm_epochs=0", "training.warm_epochs: Input should be greater than or equal to 1; received 0"),
    ("training.warm_patience=-1", "training.warm_patience: Input should be greater than or equal to 0; received -1"),
    ("training.warm_learning_rate=0", "training.warm_learning_rate: Input should be greater than 0; received 0"),
    ("training.warm_epochs=few", "training.warm_epochs: Input should be a valid integer"),
])
def test_warm_budget_keys_are_validated(override, message):
    with pytest.raises(ConfigError) as exc:
        load_config(ROOT / "pipelines" / "smoke.yaml", overrides=[override])
    assert message in str(exc.value) and exc.value.exit_code == 2
    t = load_config(ROOT / "pipelines" / "smoke.yaml").training
    assert (t.warm_epochs, t.warm_patience, t.warm_learning_rate) == (3, 1, None)


def test_a_bad_warm_budget_key_exits_2_naming_it(tmp_path):
    done = subprocess.run([sys.executable, "-m", "forecaster", "run", str(ROOT / "pipelines" / "smoke.yaml"),
                           "--set", "training.warm_epochs=0", "--set", "training.warm_learning_rate=-0.1"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "FORECASTER_STATE_DIR": str(tmp_path / "state"),
                               "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"})
    assert done.returncode == 2, done.stderr
    assert "training.warm_epochs: Input should be greater than or equal to 1; received 0" in done.stderr
    assert "training.warm_learning_rate: Input should be greater than 0; received -0.1" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "mlflow.db").exists()


class _EveryStart(keras.callbacks.Callback):
    """Records the weights each training (each ensemble member) begins with."""

    def __init__(self):
        super().__init__()
        self.starts = []

    def on_train_begin(self, logs=None):
        self.starts.append([w.copy() for w in self.model.get_weights()])


def test_an_ensemble_warm_starts_member_by_member_only_from_an_ensemble_of_its_size(prepared, tmp_path, caplog):
    data_ref, single, single_source = prepared
    import pandas as pd

    frame = pd.read_parquet(data_ref)
    cfg = PipelineConfig.model_validate({**_cfg().model_dump(mode="json"),
                                         "training": {**_cfg().training.model_dump(mode="json"), "ensemble": 2}})
    champion = RNNForecaster(target=["temp_max"], lookback=7, horizon=2, cell="gru", units=3, epochs=1,
                             batch_size=64, seed=1, features=cfg.features.model_dump(mode="json"),
                             ensemble=2).fit(frame)
    source = champion.save(tmp_path / "ensemble-champion")
    start = _EveryStart()
    with caplog.at_level(logging.INFO, logger="forecaster"):
        result = train_candidate(cfg, plan_candidates(cfg)[0], data_ref, callbacks=[start], warm_start_from=str(source))
    assert result.params["warm_start"] is True and result.params["ensemble"] == 2
    assert len(start.starts) == 2  # member i starts from the champion's member i
    for got, member in zip(start.starts, champion.models_, strict=True):
        for a, b in zip(got, member.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    assert "warm start: candidate gru-1x3 | none (from the champion's gru-1x3 weights (member i from its " \
           "member i, 2 members); fine-tuned for at most 1 epoch(s)" in caplog.text
    # a single-network champion: every member starts cold, and the log says why
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="forecaster"):
        cold = train_candidate(cfg, plan_candidates(cfg)[0], data_ref, warm_start_from=str(single_source))
    assert cold.params["warm_start"] is False
    assert "cold start: candidate gru-1x3 | none (ensemble 2 vs champion's 1)" in caplog.text
