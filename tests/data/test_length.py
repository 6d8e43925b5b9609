"""data/length: the vectorised per-series window check equals the per-series loop it replaced."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.data.length import (
    _check_windows,
    _window_counts_per_series,
    check_length,
    minimum_rows,
    window_counts,
)
from forecaster.data.splits import SplitRule
from forecaster.errors import DataValidationError


def _loop_check_windows(frame, lookback, horizon, val, test, source):
    """The previous implementation (one groupby group per series): the reference."""
    for sid, rows in frame.groupby("series_id", sort=True):
        segments = rows["segment"].to_numpy()
        counts = window_counts(len(rows), segments, lookback, horizon, val, test)
        needed = ("train", "val", "test") if test > 0 else ("train", "val")
        empty = [name for name, count in zip(("train", "val", "test"), counts) if name in needed and not count]
        if not empty:
            continue
        lengths = pd.Series(segments).value_counts()
        raise DataValidationError(
            f"{source}: series {str(sid)!r} has no full window (lookback + horizon = {lookback + horizon} "
            f"consecutive rows within one segment) in its {'/'.join(empty)} part: gaps longer than "
            f"data.max_gap split it into {len(lengths)} segment(s), the longest {int(lengths.max())} rows. "
            "Use data with fewer gaps, raise data.max_gap, or lower window.lookback/window.horizon."
        )


def _frame(rng, n_series, gappy_share):
    """Series of 30..80 rows, ids unsorted; a share of them cut into many short segments."""
    parts = []
    for k in rng.permutation(n_series):
        n = int(rng.integers(30, 80))
        cuts = rng.random(n) < (0.3 if rng.random() < gappy_share else 0.0)
        parts.append(pd.DataFrame({"series_id": f"s{k:03d}", "timestamp": pd.date_range("2020", periods=n, freq="h"),
                                   "segment": np.cumsum(cuts), "y": rng.normal(size=n)}))
    return pd.concat(parts, ignore_index=True)


def _outcome(check, *args):
    try:
        check(*args)
    except DataValidationError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_window_check_equals_the_per_series_loop(seed):
    rng = np.random.default_rng(seed)
    frame = _frame(rng, 400, gappy_share=[0.0, 0.002, 0.01, 0.05, 0.3, 1.0][seed])
    if seed % 2:  # rows of the series interleaved: each series' rows keep their order, not their block
        frame = frame.iloc[np.argsort(rng.random(len(frame)) + frame.groupby("series_id").cumcount().to_numpy())]
    counts, codes, ids = _window_counts_per_series(frame, 6, 3, 0.25, 0.25 if seed < 4 else 0.0)
    for i, (sid, rows) in enumerate(frame.groupby("series_id", sort=True)):
        assert ids[i] == sid and (codes == i).sum() == len(rows)
        assert tuple(counts[i]) == window_counts(len(rows), rows["segment"].to_numpy(), 6, 3, 0.25,
                                                 0.25 if seed < 4 else 0.0), sid
    outcomes = set()
    for lookback, horizon, val, test in [(6, 3, 0.25, 0.25), (4, 1, 0.2, 0.0), (12, 4, 0.3, 0.2), (2, 1, 0.4, 0.1)]:
        args = (frame, lookback, horizon, val, test, "f.csv")
        expected = _outcome(_loop_check_windows, *args)
        assert _outcome(_check_windows, *args) == expected
        outcomes.add(expected is None)
    if seed in (0, 5):  # no gaps: the long windows miss the short series only; all gappy: every setting fails
        assert outcomes == ({True, False} if seed == 0 else {False})


def test_window_check_names_the_first_failing_series_and_its_segments():
    rows = {"a": np.zeros(40, int), "b": np.repeat([0, 1, 2, 3], 10), "c": np.repeat([0, 1], 20)}
    frame = pd.concat([pd.DataFrame({"series_id": sid, "timestamp": pd.date_range("2020", periods=40, freq="D"),
                                     "segment": seg}) for sid, seg in rows.items()][::-1], ignore_index=True)
    with pytest.raises(DataValidationError) as err:
        _check_windows(frame, 9, 2, 0.25, 0.25, "f.csv")  # b and c fail: b is named
    assert str(err.value).startswith(
        "f.csv: series 'b' has no full window (lookback + horizon = 11 consecutive rows within one segment) in "
        "its train/val/test part: gaps longer than data.max_gap split it into 4 segment(s), the longest 10 rows.")
    _check_windows(frame[frame.series_id == "a"], 9, 2, 0.25, 0.25, "f.csv")  # one segment: no error


# ----------------------------------------------------------------------------- split by row counts
def _series(sizes):
    return pd.concat([pd.DataFrame({"series_id": sid, "timestamp": pd.date_range("2020", periods=n, freq="D"),
                                    "segment": 0}) for sid, n in sizes.items()], ignore_index=True)


def test_minimum_rows_and_window_counts_with_row_counts_by_hand():
    latest, first = SplitRule(val_rows=3, test_rows=4), SplitRule(train_rows=8, val_rows=3, test_rows=4)
    assert minimum_rows(4, 2, latest) == 6 + 3 + 4  # lookback + horizon training rows + val + test
    assert minimum_rows(4, 2, first) == 8 + 3 + 4
    # 20 rows, latest: train 0..12, val 13..15, test 16..19; windows of 6 (labels the last 2 rows)
    # train: whole window in rows 0..12 -> 8; val: labels in 13..15 -> 2; test: labels in 16..19 -> 3
    assert window_counts(20, np.zeros(20, int), 4, 2, latest) == (8, 2, 3)
    # 20 rows, first: train 0..7, val 8..10, test 11..14, 15..19 unused: 3, 2, 3 (none in unused)
    assert window_counts(20, np.zeros(20, int), 4, 2, first) == (3, 2, 3)
    counts, _, _ = _window_counts_per_series(_series({"a": 20, "b": 15}), 4, 2, first)
    assert counts.tolist() == [[3, 2, 3], [3, 2, 3]]
    with pytest.raises(ValueError, match="val_rows=1"):
        minimum_rows(4, 2, SplitRule(val_rows=1, test_rows=4))


@pytest.mark.parametrize(
    ("rule", "needed", "why"),
    [
        (SplitRule(train_rows=8, val_rows=3, test_rows=4), 15, "train_rows + val_rows + test_rows = 15"),
        (SplitRule(val_rows=3, test_rows=4), 13, "lookback + horizon = 6 training rows + val_rows + test_rows"),
    ],
)
def test_check_length_with_row_counts_names_series_needed_and_has(rule, needed, why):
    check_length(_series({"a": needed, "b": 40}), 4, 2, rule, source="f.csv")  # just long enough: no error
    with pytest.raises(DataValidationError) as err:
        check_length(_series({"a": 40, "b": needed - 1}), 4, 2, rule, source="f.csv")
    message = str(err.value)
    assert message.startswith(f"f.csv: too few rows for lookback=4, horizon=2, {rule.describe()}: "
                              f"series 'b' has {needed - 1} rows; each series needs at least {needed} rows")
    assert why in message and "'a'" not in message
