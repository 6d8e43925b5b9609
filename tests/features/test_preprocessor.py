"""The Preprocessor: derived features, then per-series scaling fit on the rows it is given."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.features.preprocessor import Preprocessor


def two_series(n: int = 48) -> pd.DataFrame:
    t = pd.date_range("2024-01-01", periods=n, freq="h")
    a = pd.DataFrame({"series_id": "a", "timestamp": t, "segment": 0,
                      "y": np.arange(n, dtype=float), "x": np.linspace(0, 1, n)})
    b = pd.DataFrame({"series_id": "b", "timestamp": t, "segment": 0,
                      "y": 1000.0 + 10 * np.arange(n, dtype=float), "x": np.linspace(5, 6, n)})
    return pd.concat([a, b], ignore_index=True)


def test_targets_come_first_then_derived_features():
    frame = two_series()
    pre = Preprocessor(target=["y"], features={"calendar": ["hour_of_day"]}).fit(frame)
    assert pre.feature_names_[0] == "y" and pre.target_indices_ == [0]
    assert set(pre.feature_names_) == {"y", "x", "hour_of_day_sin", "hour_of_day_cos"}
    _, values = pre.transform_values(frame)
    assert values.shape == (len(frame), 4) and values.dtype == np.float32


def test_scaling_statistics_come_only_from_the_rows_fit_sees():
    frame = two_series()
    train = frame[frame["timestamp"] < frame["timestamp"].iloc[24]]
    pre = Preprocessor(target=["y"]).fit(train)
    scaled, values = pre.transform_values(frame)
    for sid, rows in scaled.groupby("series_id"):
        train_rows = rows["timestamp"] < frame["timestamp"].iloc[24]
        # standardised on the training rows: mean 0, std 1 there, and the later rows extrapolate
        assert rows.loc[train_rows, "y"].mean() == pytest.approx(0.0, abs=1e-9), sid
        assert rows.loc[train_rows, "y"].std(ddof=0) == pytest.approx(1.0, rel=1e-6), sid
        assert rows.loc[~train_rows, "y"].min() > rows.loc[train_rows, "y"].max(), sid


def test_inverse_targets_restores_each_series_own_units():
    frame = two_series()
    pre = Preprocessor(target=["y"]).fit(frame)
    scaled, values = pre.transform_values(frame)
    # two windows' worth of "predictions": the scaled targets of the last 3 rows of each series
    ids = np.array(["a", "b"])
    last = np.stack([values[frame["series_id"].to_numpy() == sid][-3:, :1] for sid in ids])  # (2, 3, 1)
    back = pre.inverse_targets(last, ids)
    expected = np.stack([frame.loc[frame["series_id"] == sid, "y"].to_numpy()[-3:, None] for sid in ids])
    np.testing.assert_allclose(back, expected, rtol=1e-5)


def test_non_finite_inputs_name_the_column():
    frame = two_series()
    pre = Preprocessor(target=["y"]).fit(frame)
    broken = frame.copy()
    broken.loc[5, "x"] = np.nan
    with pytest.raises(ValueError, match="'x'"):
        pre.transform_values(broken)


def test_missing_target_names_it():
    with pytest.raises(ValueError, match=r"\['nope'\]"):
        Preprocessor(target=["nope"]).fit(two_series())


@pytest.mark.parametrize("one_series", [True, False])
def test_last_window_features_equal_the_training_frames(one_series):
    """The forecast's input window carries the same derived features as the same rows had in
    training: a log return at the window's first step looks at the row before the window."""
    from forecaster.estimator.inputs import last_windows

    frame = two_series()
    frame["y"] = frame["y"] + 5.0  # strictly positive for log returns
    if one_series:
        frame = frame[frame["series_id"] == "a"].reset_index(drop=True)
    pre = Preprocessor(target=["y"], features={"log_returns": ["y"]}).fit(frame)
    _, whole = pre.transform_values(frame)
    lookback = 12
    X, series_ids, _ = last_windows(frame, ["y"], lookback, pre)
    for k, sid in enumerate(series_ids):
        rows = np.flatnonzero(frame["series_id"].to_numpy() == sid)[-lookback:]
        np.testing.assert_array_equal(X[k], whole[rows])
    assert np.all(X[:, 0, pre.feature_names_.index("y_logret")] != 0.0)
