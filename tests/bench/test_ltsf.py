"""bench/ltsf.py: the protocol's split borders, window counts and scaled metrics, by hand."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from forecaster.errors import DataValidationError
from forecaster.windowing import window_starts

_SPEC = importlib.util.spec_from_file_location("ltsf", Path(__file__).resolve().parents[2] / "bench" / "ltsf.py")
ltsf = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(ltsf)


def test_borders_by_hand():
    assert ltsf.protocol_borders(17420, "ett-hour") == (8640, 2880, 2880)
    assert ltsf.protocol_borders(52696, "ratio") == (36887, 5270, 10539)  # int(.7n), rest, int(.2n)
    with pytest.raises(ValueError, match="14400"):
        ltsf.protocol_borders(100, "ett-hour")


def _files(tmp_path: Path, n_rows: int) -> tuple[str, str]:
    """A one-series hourly CSV of ``n_rows`` rows and a tiny pipeline file for it (no split key)."""
    data = tmp_path / "small.csv"
    pd.DataFrame({"date": pd.date_range("2020-01-01", periods=n_rows, freq="h").strftime("%Y-%m-%d %H:%M:%S"),
                  "y": np.arange(n_rows, dtype=float)}).to_csv(data, index=False)
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(yaml.safe_dump({
        "name": "ltsf-small", "data": {"path": str(data), "timestamp_column": "date", "target": ["y"],
                                       "frequency": "1h"},
        "window": {"lookback": 4, "horizon": 2}, "models": [{"cell": "gru", "units": 2}]}))
    return str(data), str(pipeline)


def test_protocol_overrides_are_the_products_split_keys():
    assert ltsf.protocol_overrides("ett-hour") == ["split.train_rows=8640", "split.val_rows=2880",
                                                   "split.test_rows=2880"]
    assert ltsf.protocol_overrides("ratio", 50) == ["split.train_rows=35", "split.val_rows=5", "split.test_rows=10"]
    assert not hasattr(ltsf, "label_splits")  # the benchmark labels rows with the product's split only


def test_ratio_split_and_windows_on_a_small_frame_through_the_product(tmp_path):
    # 50 rows, ratio: 35 train, 5 val, 10 test; lookback 4, horizon 2.
    data, pipeline = _files(tmp_path, 50)
    cfg, frame = ltsf.protocol_frame(data, "ratio", 2, pipeline)
    assert (cfg.split.train_rows, cfg.split.val_rows, cfg.split.test_rows) == (35, 5, 10)
    assert frame["split"].tolist() == ["train"] * 35 + ["val"] * 5 + ["test"] * 10
    starts = window_starts(frame, lookback=4, horizon=2)
    # test labels in rows 40..49: starts 36..44 (9 = 10 - 2 + 1 windows), inputs from val rows
    assert starts["test"].tolist() == list(range(36, 45))
    assert ltsf.test_window_count(50, "ratio", 4, 2) == 9
    assert starts["val"].tolist() == list(range(31, 35))  # labels in rows 35..39
    assert starts["train"].tolist() == list(range(30))  # whole window in rows 0..34


def test_ett_split_leaves_the_rest_unused_and_counts_every_test_window(tmp_path):
    data, pipeline = _files(tmp_path, 14_500)  # 8640 + 2880 + 2880 = 14400 used, 100 unused
    _, frame = ltsf.protocol_frame(data, "ett-hour", 2, pipeline)
    assert len(frame) == 14_400 and frame["y"].iloc[-1] == 14_399.0  # the last 100 rows dropped
    assert frame["split"].value_counts().to_dict() == {"train": 8640, "val": 2880, "test": 2880}
    assert frame["split"].iloc[[8639, 8640, 11519, 11520]].tolist() == ["train", "val", "val", "test"]
    starts = window_starts(frame, lookback=4, horizon=2)
    assert starts["test"].tolist() == list(range(11516, 14395))  # labels 11520..14399: 2879 windows
    assert len(starts["test"]) == ltsf.test_window_count(14_500, "ett-hour", 4, 2) == 2880 - 2 + 1


def test_ett_split_on_a_file_too_short_is_the_products_data_error(tmp_path):
    data, pipeline = _files(tmp_path, 14_000)
    with pytest.raises(DataValidationError) as err:
        ltsf.protocol_frame(data, "ett-hour", 2, pipeline)
    assert "series 'series' has 14000 rows; each series needs at least 14400 rows" in str(err.value)


def test_scaled_metrics_by_hand():
    y_true = np.array([[[1.0, 10.0]], [[3.0, 20.0]]])  # 2 windows, 1 step, 2 channels
    y_pred = np.array([[[2.0, 10.0]], [[1.0, 30.0]]])
    std = np.array([2.0, 10.0])
    out = ltsf.scaled_metrics(y_true, y_pred, np.zeros(2), std)
    # scaled errors: 0.5, 0, -1, 1
    assert out["mse"] == pytest.approx((0.25 + 0 + 1 + 1) / 4)
    assert out["mae"] == pytest.approx((0.5 + 0 + 1 + 1) / 4)
    assert out["mae_data_units"] == pytest.approx((1 + 0 + 2 + 10) / 4)
