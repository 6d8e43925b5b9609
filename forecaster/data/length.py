"""Is each series long enough for the window and the chronological splits?

The split sizes of a series of ``n`` rows are ``n_val = round(val * n)``,
``n_test = round(test * n)`` (half up) and ``n_train = n - n_val - n_test``: the rule of
:func:`forecaster.data.splits.split_sizes`, which :func:`forecaster.data.splits.assign_splits` labels rows
with. A series can train and be evaluated when ``n_train >= lookback + horizon``,
``n_val >= horizon`` and, when ``test > 0``, ``n_test >= horizon``. With row counts
(:class:`~forecaster.data.splits.SplitRule`, ``split.val_rows``/``split.test_rows``) a series needs
``val_rows + test_rows`` rows plus ``lookback + horizon`` training rows, or, with
``split.train_rows``, ``train_rows + val_rows + test_rows`` rows.

Example
-------
>>> split_sizes(10, 0.25, 0.25)
(4, 3, 3)
>>> minimum_rows(lookback=4, horizon=2, val=0.25, test=0.25)
12
>>> minimum_rows(lookback=4, horizon=2, val=SplitRule(val_rows=2, test_rows=3))
11
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from forecaster.data.columns import SEGMENT, SERIES_ID

# The split-size rule has one owner, forecaster.data.splits (re-exported here and in forecaster.data).
from forecaster.data.splits import SplitRule, as_rule, split_sizes
from forecaster.errors import DataValidationError

__all__ = ["check_length", "minimum_rows", "split_sizes", "window_counts"]


def _fits(n, lookback: int, horizon: int, rule: SplitRule):
    """Whether a series of ``n`` rows (an int, or an array of counts) fits the window and splits."""
    n_train, n_val, n_test = rule.sizes(n)
    return ((n_train >= lookback + horizon) & (n_val >= horizon) & ((not rule.has_test) | (n_test >= horizon))
            & (rule.unused(n) >= 0))


def _check_arguments(lookback: int, horizon: int, rule: SplitRule) -> None:
    if lookback < 1:
        raise ValueError(f"`lookback` must be >= 1. Received: lookback={lookback}")
    if horizon < 1:
        raise ValueError(f"`horizon` must be >= 1. Received: horizon={horizon}")
    if rule.by_rows:
        short = [f"{name}={value}" for name, value, least in (
            ("train_rows", rule.train_rows, lookback + horizon), ("val_rows", rule.val_rows, horizon),
            ("test_rows", rule.test_rows, horizon if rule.test_rows else 0)) if value is not None and value < least]
        if short:
            raise ValueError(f"split row counts below one window (lookback={lookback}, horizon={horizon}): "
                             f"{', '.join(short)}")
        return
    val, test = rule.val, rule.test
    if not 0 < val < 1:
        raise ValueError(f"`val` must be in (0, 1). Received: val={val}")
    if not 0 <= test < 1 or val + test >= 1:
        raise ValueError(
            f"`test` must be in [0, 1) with val + test < 1. Received: val={val}, test={test}"
        )


def minimum_rows(lookback: int, horizon: int, val: float | SplitRule, test: float | None = None) -> int:
    """The fewest rows a series needs for ``lookback``, ``horizon`` and the splits.

    The smallest ``n`` such that every series of ``n`` or more rows gets
    ``n_train >= lookback + horizon``, ``n_val >= horizon`` and (when ``test > 0``)
    ``n_test >= horizon`` under :func:`split_sizes`.

    Example
    -------
    >>> minimum_rows(lookback=48, horizon=24, val=0.2, test=0.0)
    118
    """
    rule = as_rule(val, test)
    _check_arguments(lookback, horizon, rule)
    if rule.by_rows:
        train = rule.train_rows if rule.train_rows is not None else lookback + horizon
        return train + rule.val_rows + rule.test_rows
    val, test = rule.val, rule.test
    # From ``upper`` on every series fits: round(f * m) is within 0.5 of f * m, which bounds
    # each split from below. Walk down from there while the series one row shorter still fits.
    train_share = 1.0 - val - test
    upper = max(
        lookback + horizon,
        int(math.ceil((lookback + horizon + 2) / train_share)) + 1,
        int(math.ceil((horizon + 1) / val)) + 1,
        int(math.ceil((horizon + 1) / test)) + 1 if test > 0 else 0,
    )
    n = upper
    while n > 1 and _fits(n - 1, lookback, horizon, rule):
        n -= 1
    return n


def check_length(
    frame: pd.DataFrame,
    lookback: int,
    horizon: int,
    val: float | SplitRule,
    test: float | None = None,
    source: str = "<dataframe>",
) -> None:
    """Raise when a series of ``frame`` has too few rows for the window and the splits.

    Parameters
    ----------
    frame : pandas.DataFrame
        Canonical frame (``series_id`` column), usually after regularisation.
    lookback, horizon : int
        Input and output steps of a window.
    val, test : float
        Split fractions; or a :class:`~forecaster.data.splits.SplitRule` as ``val`` (row counts).
    source : str
        What to call the data in the message (the file path).

    Raises
    ------
    DataValidationError
        Names every series that is too short, its row count, and the rows needed.

    Example
    -------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"series_id": ["a"] * 5, "timestamp": pd.date_range("2020", periods=5)})
    >>> check_length(frame, 4, 2, 0.25, 0.25, "x.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    forecaster.errors.DataValidationError: x.csv: too few rows ...: series 'a' has 5 rows; ...
    """
    rule = as_rule(val, test)
    needed = minimum_rows(lookback, horizon, rule)
    counts = frame.groupby(SERIES_ID, sort=True).size() if len(frame) else pd.Series(dtype=int)
    if len(counts) == 0:
        raise DataValidationError(
            f"{source}: no rows left after regularisation; each series needs at least {needed} rows "
            f"for lookback={lookback}, horizon={horizon}, {rule.describe()}."
        )
    fits = _fits(counts.to_numpy(dtype=np.int64), lookback, horizon, rule)  # one per series
    short = [(str(sid), int(n)) for sid, n in counts[~fits].items()]
    if not short:
        _check_windows(frame, lookback, horizon, rule, None, source)
        return
    listed = ", ".join(f"series {sid!r} has {n} rows" for sid, n in short[:10])
    if len(short) > 10:
        listed += f" (and {len(short) - 10} more series)"
    if rule.train_rows is not None:
        why = f"train_rows + val_rows + test_rows = {needed}"
        lower = "split.train_rows, split.val_rows or split.test_rows"
    elif rule.by_rows:
        why = f"lookback + horizon = {lookback + horizon} training rows + val_rows + test_rows"
        lower = "window.lookback, window.horizon, split.val_rows or split.test_rows"
    else:
        test_part = f", test >= {horizon}" if rule.has_test else ""
        why = f"train >= lookback + horizon = {lookback + horizon}, val >= {horizon}{test_part}"
        lower = "window.lookback, window.horizon or the split fractions"
    raise DataValidationError(
        f"{source}: too few rows for lookback={lookback}, horizon={horizon}, {rule.describe()}: "
        f"{listed}; each series needs at least {needed} rows ({why}). Use more data, or lower {lower}."
    )


def window_counts(
    n_rows: int, segments: np.ndarray, lookback: int, horizon: int, val: float | SplitRule,
    test: float | None = None,
) -> tuple[int, int, int]:
    """Windows of one series in train, val and test (stride 1), as the windowing counts them.

    A window spans ``lookback + horizon`` rows of one segment; its labels lie in one split; a
    training window's inputs are training rows too; a window whose labels lie in unused rows
    counts nowhere. ``segments`` holds the segment of each row.

    Example
    -------
    >>> import numpy as np
    >>> window_counts(12, np.zeros(12, dtype=int), 4, 2, 0.25, 0.25)
    (1, 2, 2)
    >>> window_counts(12, np.repeat([0, 1, 2], 4), 4, 2, 0.25, 0.25)
    (0, 0, 0)
    """
    rule = as_rule(val, test)
    span = lookback + horizon
    if n_rows < span:
        return 0, 0, 0
    codes = rule.codes(np.arange(n_rows), np.full(n_rows, n_rows))
    starts = np.arange(n_rows - span + 1)
    ends = starts + span - 1
    one_segment = segments[starts] == segments[ends]
    first_label, last_label = codes[starts + lookback], codes[ends]
    labels_one_split = one_segment & (first_label == last_label)
    train = labels_one_split & (last_label == 0)
    return (int(train.sum()), int((labels_one_split & (last_label == 1)).sum()),
            int((labels_one_split & (last_label == 2)).sum()))


def _check_windows(frame: pd.DataFrame, lookback: int, horizon: int, val: float | SplitRule, test: float | None,
                   source: str) -> None:
    """Raise when gaps leave a series without a full window in a split (counted per segment).

    Vectorised over all series at once: the counts of :func:`window_counts` for every series,
    then the message for the first failing series in ``series_id`` order.
    """
    if SEGMENT not in frame.columns:
        return
    rule = as_rule(val, test)
    counts, codes, ids = _window_counts_per_series(frame, lookback, horizon, rule)
    needed = ("train", "val", "test") if rule.has_test else ("train", "val")
    empty_parts = counts[:, : len(needed)] == 0  # -> (n_series, parts needed)
    failing = np.flatnonzero(empty_parts.any(axis=1))
    if not failing.size:
        return
    first = int(failing[0])
    sid = ids[first]
    empty = [name for name, is_empty in zip(needed, empty_parts[first]) if is_empty]
    segments = frame[SEGMENT].to_numpy()[codes == first]
    lengths = pd.Series(segments).value_counts()
    raise DataValidationError(
        f"{source}: series {str(sid)!r} has no full window (lookback + horizon = {lookback + horizon} "
        f"consecutive rows within one segment) in its {'/'.join(empty)} part: gaps longer than "
        f"data.max_gap split it into {len(lengths)} segment(s), the longest {int(lengths.max())} rows. "
        "Use data with fewer gaps, raise data.max_gap, or lower window.lookback/window.horizon."
    )


def _window_counts_per_series(
    frame: pd.DataFrame, lookback: int, horizon: int, val: float | SplitRule, test: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`window_counts` of every series of ``frame`` in one pass (no loop over series).

    Returns ``(counts, codes, ids)``: ``counts`` ``(n_series, 3)``, the windows in train, val and
    test of each series in sorted ``series_id`` order (``ids``); ``codes`` the series number of
    each row of ``frame``. A series' rows are taken in frame order, as ``groupby`` gives them.
    """
    codes, ids = pd.factorize(frame[SERIES_ID], sort=True)  # series number of each row, sorted like groupby
    order = np.argsort(codes, kind="stable")  # each series' rows together, in frame order
    series = codes[order]
    sizes = np.bincount(series, minlength=len(ids))
    first_row = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    position = np.arange(len(order)) - first_row[series]  # row number within its series
    # Split of each row: 0 train, 1 val, 2 test, 3 unused (the rule, as assign_splits labels it).
    split = as_rule(val, test).codes(position, sizes[series])
    span = lookback + horizon
    starts = np.flatnonzero(position <= sizes[series] - span)  # windows that end inside their series
    ends = starts + span - 1
    segments = frame[SEGMENT].to_numpy()[order]
    last_label = split[ends]
    ok = (segments[starts] == segments[ends]) & (split[starts + lookback] == last_label) & (last_label < 3)
    cell = series[starts[ok]] * 3 + last_label[ok]  # (series, split of the labels) of each window
    counts = np.bincount(cell, minlength=3 * len(ids)).reshape(len(ids), 3)
    return counts, codes, np.asarray(ids)
