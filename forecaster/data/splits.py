"""Chronological train/val/test splits: the split-size rule and the labels it gives each row.

- :func:`split_sizes` owns the split-size rule (round half up per fraction);
- :func:`assign_splits` labels each row ``"train"``, ``"val"`` or ``"test"`` by time within each
  series (never at random: the test rows are the latest ones).

Scalers fit on the training rows live in :mod:`forecaster.features.scaling`.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from forecaster.data.columns import SERIES_ID, SPLIT, TIMESTAMP

logger = logging.getLogger(__name__)

def split_sizes(n: Any, val: float, test: float) -> tuple[Any, Any, Any]:
    """Rows of a series of ``n`` rows in train, val and test (in that time order): the split-size rule.

    ``n_val = round(val * n)`` and ``n_test = round(test * n)``, rounding half up
    (``floor(fraction * n + 0.5)`` in float64, each fraction alone), and
    ``n_train = n - n_val - n_test``. It counts rows, not time. :func:`assign_splits` labels rows
    with it and :func:`forecaster.data.length.minimum_rows` checks lengths with it.

    Parameters
    ----------
    n : int or array-like of int
        Rows in the series (one count, or one per series).
    val, test : float
        Fractions of the rows for validation and test (``test`` may be 0).

    Returns
    -------
    tuple
        ``(n_train, n_val, n_test)`` summing to ``n``: ints for an int ``n``, int64 arrays of
        the shape of ``n`` otherwise.

    Examples
    --------
    >>> split_sizes(10, 0.25, 0.25)
    (4, 3, 3)
    >>> [a.tolist() for a in split_sizes([9, 30], 0.25, 0.1)]
    [[6, 19], [2, 8], [1, 3]]
    """
    rows = np.asarray(n, dtype=np.int64)
    n_val = np.floor(val * rows + 0.5).astype(np.int64)
    n_test = np.floor(test * rows + 0.5).astype(np.int64)
    n_train = rows - n_val - n_test
    if rows.ndim == 0:
        return int(n_train), int(n_val), int(n_test)
    return n_train, n_val, n_test


def _rank_in_series(codes: np.ndarray, times: np.ndarray | None) -> np.ndarray:
    """0-based position of each row in time order within its series (ties: row order).

    ``codes``: the series of each row as integers; ``times``: sortable values, or None (row order
    is time order). Rows already grouped by series in time order (the canonical frame) take a
    linear path; others one stable sort, never a per-series loop.
    """
    n = len(codes)
    new = np.ones(n, dtype=bool)
    new[1:] = codes[1:] != codes[:-1]
    grouped = int(new.sum()) == (int(codes.max()) + 1 if n else 0)
    if grouped and (times is None or bool(np.all((times[1:] >= times[:-1]) | new[1:]))):
        order = None
    elif times is None:
        order = np.argsort(codes, kind="stable")
    else:
        order = np.lexsort((times, codes))  # stable: equal times keep their row order
    sorted_codes = codes if order is None else codes[order]
    first = np.ones(n, dtype=bool)
    first[1:] = sorted_codes[1:] != sorted_codes[:-1]
    position = np.arange(n, dtype=np.int64)
    rank_sorted = position - np.maximum.accumulate(np.where(first, position, 0))
    if order is None:
        return rank_sorted
    rank = np.empty(n, dtype=np.int64)
    rank[order] = rank_sorted
    return rank


def assign_splits(
    frame: pd.DataFrame,
    val: float,
    test: float,
    series_column: str = SERIES_ID,
    time_column: str = TIMESTAMP,
) -> pd.Series:
    """Label each row train, val or test, chronologically within each series.

    For a series of ``n`` rows in time order, the last ``round(test * n)`` rows are ``"test"``,
    the ``round(val * n)`` rows before them are ``"val"``, and the rest are ``"train"``.
    Rounding is half up (``round(2.5) == 3``), applied to each fraction separately; it counts
    rows, not time, so gaps do not shift the boundaries.

    Parameters
    ----------
    frame : DataFrame
        Canonical frame with ``series_column``; ordered by ``time_column`` within each series
        (when the column is absent the row order is the time order). Rows need not be sorted.
    val : float
        Fraction of each series for validation, in [0, 1).
    test : float
        Fraction of each series for test, in [0, 1); ``val + test < 1``.

    Returns
    -------
    Series of str, named ``"split"``, with the index of ``frame``.

    Raises
    ------
    ValueError
        A fraction out of range, or ``series_column`` missing.

    Examples
    --------
    >>> import pandas as pd
    >>> hours = pd.date_range("2024-01-01", periods=8, freq="h")
    >>> frame = pd.DataFrame({"series_id": ["a"] * 8 + ["b"] * 4,
    ...                       "timestamp": hours.append(hours[:4])})
    >>> assign_splits(frame, val=0.25, test=0.25).tolist()
    ['train', 'train', 'train', 'train', 'val', 'val', 'test', 'test', 'train', 'train', 'val', 'test']

    A series with fewer than a handful of rows may end up with no training rows (logged as a
    warning); :func:`forecaster.data.check_length` guards the minimum length upstream.
    """
    for name, value in (("val", val), ("test", test)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"`{name}` must be a number in [0, 1). Received: {name}={value!r}")
        if not 0 <= value < 1:
            raise ValueError(f"`{name}` must be in [0, 1). Received: {name}={value}")
    if val + test >= 1:
        raise ValueError(
            f"`val` + `test` must be below 1 to leave training rows. Received: val={val}, test={test}"
        )
    if series_column not in frame.columns:
        raise ValueError(
            f"`frame` must have a `{series_column}` column. Received columns: {list(frame.columns)}"
        )
    # Vectorised over all rows (no groupby-apply, no per-series loop): linear in the rows for a
    # frame sorted by series and time, one stable sort otherwise.
    codes, uniques = pd.factorize(frame[series_column], use_na_sentinel=False)
    codes = codes.astype(np.int64, copy=False)
    times = frame[time_column].to_numpy() if time_column in frame.columns else None
    rank = _rank_in_series(codes, times)  # 0-based position in time order within the series
    counts = np.bincount(codes, minlength=len(uniques))
    _, val_rows, test_rows = split_sizes(counts, val, test)  # per series
    from_end = counts[codes] - 1 - rank  # 0 for the last row of its series
    split_code = np.zeros(len(frame), dtype=np.int8)  # 0 train, 1 val, 2 test
    split_code[from_end < (test_rows + val_rows)[codes]] = 1
    split_code[from_end < test_rows[codes]] = 2
    labels = np.array(["train", "val", "test"], dtype=object)[split_code]
    no_train = np.asarray(uniques)[(test_rows + val_rows) >= counts]
    if len(no_train):
        logger.warning(
            "assign_splits: series %s have no training rows (val=%s, test=%s)",
            list(no_train)[:5],
            val,
            test,
        )
    return pd.Series(labels, index=frame.index, name=SPLIT, dtype="str")
