"""Known-future inputs (features.known_future): the target steps' calendar, from timestamps only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.data.columns import TIMESTAMP
from forecaster.features import CalendarFeatures, Preprocessor
from forecaster.features.knownfuture import (
    KnownFutureFeatures,
    known_future_columns,
    target_block,
    window_block,
)
from forecaster.windowing import gather_windows, window_starts


def test_block_of_hand_picked_timestamps():
    # Windows ending at 05:00 and at 23:00 on Sunday 7 January 2024, horizon 2, hourly.
    last = pd.Series(pd.to_datetime(["2024-01-07 05:00", "2024-01-07 23:00"]))
    block = target_block(last, 2, "h", ["hour_of_day", "day_of_week"])
    assert block.shape == (2, 2, 4)
    # 06:00 and 07:00 -> angles pi/2 and 7pi/12; Sunday is day 6 of the week
    np.testing.assert_allclose(block[0, :, 0], np.sin([np.pi / 2, 7 * np.pi / 12]), atol=1e-12)
    np.testing.assert_allclose(block[0, :, 1], np.cos([np.pi / 2, 7 * np.pi / 12]), atol=1e-12)
    np.testing.assert_allclose(block[0, :, 2], np.sin(2 * np.pi * 6 / 7), atol=1e-12)
    # The second window's targets are 00:00 and 01:00 on Monday (day 0): the encoding wraps.
    np.testing.assert_allclose(block[1, :, 0], np.sin([0.0, np.pi / 12]), atol=1e-12)
    np.testing.assert_allclose(block[1, :, 2:], [[0.0, 1.0], [0.0, 1.0]], atol=1e-12)


def test_block_uses_the_calendar_features_encoding():
    stamps = pd.Series(pd.date_range("2023-12-30 20:00", periods=40, freq="3h"))
    signals = ["day_of_year", "hour_of_day"]
    block = target_block(stamps[:1], 40, "3h", signals)[0]  # targets: the 40 stamps after the first
    expected = CalendarFeatures(signals=signals).fit_transform(
        pd.DataFrame({TIMESTAMP: stamps + pd.Timedelta("3h")}))
    np.testing.assert_array_equal(block, expected[["day_of_year_sin", "day_of_year_cos",
                                                   "hour_of_day_sin", "hour_of_day_cos"]].to_numpy())


def test_calendar_frequency_and_missing_frequency():
    block = target_block(pd.Series(pd.to_datetime(["2024-01-01"])), 2, "MS", ["day_of_year"])
    # 1 February (day 31) and 1 March (day 60, leap year)
    np.testing.assert_allclose(block[0, :, 0], np.sin(2 * np.pi * np.array([31, 60]) / 365.2425))
    with pytest.raises(ValueError, match="frequency"):
        target_block(pd.Series(pd.to_datetime(["2024-01-01"])), 2, None, ["day_of_year"])


def test_the_window_carries_its_targets_block():
    """Each row's calendar shifted by the horizon: a window's last horizon rows hold its block."""
    n, lookback, horizon = 60, 8, 5
    frame = pd.DataFrame({"series_id": "s", TIMESTAMP: pd.date_range("2024-03-01 07:00", periods=n, freq="h"),
                          "segment": 0, "y": np.arange(n, dtype=float), "split": "train"})
    pre = Preprocessor(target=["y"], features={"known_future": ["hour_of_day", "day_of_week"]},
                       horizon=horizon, frequency="h").fit(frame)
    assert pre.feature_names_ == ["y", *known_future_columns(["hour_of_day", "day_of_week"])]
    assert pre.scaler_.columns_ == ["y"]  # the known-future columns are not scaled
    _, values = pre.transform_values(frame)
    starts = window_starts(frame, lookback, horizon)["train"]
    X, _ = gather_windows(values, starts, lookback, horizon, [0])
    last = frame[TIMESTAMP].to_numpy()[starts + lookback - 1]
    expected = target_block(pd.Series(last), horizon, "h", ["hour_of_day", "day_of_week"])
    np.testing.assert_allclose(window_block(X, 4, horizon), expected, atol=1e-6)
    # Saved as plain data and rebuilt: the same columns, the same values.
    again = Preprocessor.from_state(pre.to_state())
    np.testing.assert_array_equal(again.transform_values(frame)[1], values)


def test_no_known_future_leaves_the_preprocessor_as_before():
    frame = pd.DataFrame({"series_id": "s", TIMESTAMP: pd.date_range("2024", periods=10, freq="h"),
                          "segment": 0, "y": np.arange(10.0)})
    pre = Preprocessor(target=["y"], features={"calendar": ["hour_of_day"], "known_future": []},
                       horizon=2, frequency="h").fit(frame)
    old = Preprocessor(target=["y"], features={"calendar": ["hour_of_day"]}).fit(frame)
    assert pre.feature_names_ == old.feature_names_ and pre.known_columns_ == []
    assert set(pre.to_state()) == set(old.to_state())  # no horizon/frequency entries saved
    np.testing.assert_array_equal(pre.transform_values(frame)[1], old.transform_values(frame)[1])


def test_known_future_features_transformer():
    frame = pd.DataFrame({TIMESTAMP: pd.to_datetime(["2024-01-01 00:00", "2024-01-01 12:00"])})
    out = KnownFutureFeatures(["hour_of_day"], horizon=6, frequency="h").fit_transform(frame)
    np.testing.assert_allclose(out["known_hour_of_day_sin"], [1.0, -1.0], atol=1e-12)  # 06:00, 18:00
    with pytest.raises(ValueError, match="unknown signal 'moon'"):
        KnownFutureFeatures(["moon"], horizon=1, frequency="h").fit(frame)
