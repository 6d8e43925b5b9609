"""bench/ltsf.py: the protocol's split borders, window counts and scaled metrics, by hand."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecaster.windowing import window_starts

_SPEC = importlib.util.spec_from_file_location("ltsf", Path(__file__).resolve().parents[2] / "bench" / "ltsf.py")
ltsf = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(ltsf)


def test_borders_by_hand():
    assert ltsf.protocol_borders(17420, "ett-hour") == (8640, 2880, 2880)
    assert ltsf.protocol_borders(52696, "ratio") == (36887, 5270, 10539)  # int(.7n), rest, int(.2n)
    with pytest.raises(ValueError, match="14400"):
        ltsf.protocol_borders(100, "ett-hour")


def test_small_frame_windows_read_lookback_from_earlier_split():
    # 50 rows, ratio: 35 train, 5 val, 10 test; lookback 4, horizon 2.
    frame = pd.DataFrame({"series_id": "a", "y": np.arange(50.0)})
    labelled = ltsf.label_splits(frame, "ratio")
    assert (labelled["split"].value_counts().to_dict()) == {"train": 35, "val": 5, "test": 10}
    starts = window_starts(labelled, lookback=4, horizon=2)
    # test labels in rows 40..49: starts 36..44 (9 = 10 - 2 + 1 windows), inputs from val rows
    assert starts["test"].tolist() == list(range(36, 45))
    assert ltsf.test_window_count(50, "ratio", 4, 2) == 9
    assert starts["val"].tolist() == list(range(31, 35))  # labels in rows 35..39
    assert starts["train"].tolist() == list(range(30))  # whole window in rows 0..34


def test_scaled_metrics_by_hand():
    y_true = np.array([[[1.0, 10.0]], [[3.0, 20.0]]])  # 2 windows, 1 step, 2 channels
    y_pred = np.array([[[2.0, 10.0]], [[1.0, 30.0]]])
    std = np.array([2.0, 10.0])
    out = ltsf.scaled_metrics(y_true, y_pred, np.zeros(2), std)
    # scaled errors: 0.5, 0, -1, 1
    assert out["mse"] == pytest.approx((0.25 + 0 + 1 + 1) / 4)
    assert out["mae"] == pytest.approx((0.5 + 0 + 1 + 1) / 4)
    assert out["mae_data_units"] == pytest.approx((1 + 0 + 2 + 10) / 4)
