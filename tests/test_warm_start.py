"""training.warm_start: a matching candidate starts from the champion's weights; others start cold."""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import numpy as np
import pytest

from forecaster.comparison import plan_candidates, train_candidate
from forecaster.config import PipelineConfig
from forecaster.data import read_frame
from forecaster.estimator import RNNForecaster
from forecaster.splits import assign_splits

ROOT = Path(__file__).resolve().parents[1]


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
    assert "warm start: candidate gru-1x3 | none (from the champion's gru-1x3 weights)" in caplog.text
    # the same candidate without a champion starts from its own (seeded random) weights
    cold = _WeightsAtStart()
    cold_result = train_candidate(cfg, plan_candidates(cfg)[0], data_ref, callbacks=[cold])
    assert cold_result.params["warm_start"] is False
    assert not all(np.array_equal(a, b) for a, b in zip(cold.weights, expected))


def test_architecture_mismatch_starts_cold_with_a_log_line(prepared, caplog):
    data_ref, champion, source = prepared
    cfg = _cfg(units=4)
    start = _WeightsAtStart()
    with caplog.at_level(logging.INFO, logger="forecaster"):
        result = train_candidate(cfg, plan_candidates(cfg)[0], data_ref, callbacks=[start], warm_start_from=str(source))
    assert result.params["warm_start"] is False
    assert "cold start: candidate gru-1x4 | none (architecture gru-1x4 vs champion's gru-1x3)" in caplog.text
    assert [w.shape for w in start.weights] != [w.shape for w in champion.model_.get_weights()]
