"""Walk-forward backtest helpers: expanding-window folds over time-ordered series, tidy metric rows.

Fold ``k`` (0-based, ``0 .. n_folds - 1``) tests on the ``k``-th of ``n_folds`` consecutive,
equal-size test blocks at the end of each series; its validation block (early stopping,
conformal calibration) sits just before its test block, and it trains on everything before that.
Rows after its test block are ``unused``. Training grows by one test block per fold::

    fold 0: [ train ......... | val | test |  unused  |  unused ]
    fold 1: [ train ................ | val | test     |  unused ]
    fold 2: [ train ....................... | val     |  test   ]

Example
-------
>>> expanding_folds(n_rows=100, n_folds=3, val=10, test=10)
[Fold(train_end=60, val_end=70, test_end=80), Fold(train_end=70, val_end=80, test_end=90), \
Fold(train_end=80, val_end=90, test_end=100)]
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from forecaster.data.columns import SERIES_ID, SPLIT, TIMESTAMP
from forecaster.errors import DataValidationError

logger = logging.getLogger(__name__)

ALL_STEPS = 0
"""The ``step`` value of aggregate (whole-horizon) rows in :func:`tidy_metrics`."""

TIDY_COLUMNS = ("fold", "model", "step", "metric", "value")


class Fold(NamedTuple):
    """Row counts (exclusive ends) of one fold over one time-ordered series.

    Rows ``[0, train_end)`` train, ``[train_end, val_end)`` validate, ``[val_end, test_end)`` test,
    ``[test_end, n_rows)`` are unused.
    """

    train_end: int
    val_end: int
    test_end: int


def expanding_folds(
    n_rows: int, n_folds: int, val: int | float, test: int | float, min_train_rows: int = 1
) -> list[Fold]:
    """Expanding-window folds over one series of ``n_rows`` time-ordered rows.

    Parameters
    ----------
    n_rows : int
        Rows in the series.
    n_folds : int
        Number of folds, >= 1.
    val, test : int or float
        Size of each fold's validation block and of each fold's test block: an int is a number
        of rows (>= 1), a float in (0, 1) a fraction of ``n_rows`` (rounded, at least 1 row).
        The folds' test blocks together cover the last ``n_folds * test`` rows.
    min_train_rows : int
        The first fold must keep at least this many training rows (e.g. ``lookback + horizon``).

    Returns
    -------
    list of Fold
        One ``Fold(train_end, val_end, test_end)`` per fold, in time order.

    Raises
    ------
    ValueError
        ``n_folds`` < 1, a size is invalid, or the series is too short for the folds.
    """
    _check_int("n_folds", n_folds, minimum=1)
    _check_int("n_rows", n_rows, minimum=0)
    _check_int("min_train_rows", min_train_rows, minimum=1)
    val_rows = _block_rows("val", val, n_rows)
    test_rows = _block_rows("test", test, n_rows)
    needed = min_train_rows + val_rows + n_folds * test_rows
    if n_rows < needed:
        raise ValueError(
            f"`n_rows` is too small for the backtest: {n_folds} fold(s) need min_train_rows="
            f"{min_train_rows} + val={val_rows} + n_folds * test={n_folds}*{test_rows} = {needed} "
            f"rows. Received: n_rows={n_rows}"
        )
    folds = []
    for k in range(n_folds):
        test_end = n_rows - (n_folds - 1 - k) * test_rows
        val_end = test_end - test_rows
        folds.append(Fold(train_end=val_end - val_rows, val_end=val_end, test_end=test_end))
    return folds


def fold_split_labels(
    frame: pd.DataFrame,
    n_folds: int,
    fold: int,
    val: int | float,
    test: int | float,
    min_train_rows: int = 1,
    series_column: str = SERIES_ID,
    time_column: str = TIMESTAMP,
) -> pd.Series:
    """Label each row ``train``, ``val``, ``test`` or ``unused`` for one backtest fold.

    Folds are laid out per series by :func:`expanding_folds` over that series' rows in
    timestamp order (like :func:`forecaster.data.splits.assign_splits`), so fractional sizes are
    fractions of each series' length.

    Parameters
    ----------
    frame : pd.DataFrame
        Canonical frame with ``series_column`` and ``time_column``; row order is kept.
    n_folds, val, test, min_train_rows
        As in :func:`expanding_folds`.
    fold : int
        Which fold, ``0 .. n_folds - 1`` (0 is the earliest test block).

    Returns
    -------
    pd.Series of str named ``split``, aligned with ``frame.index``.

    Raises
    ------
    ValueError
        ``fold`` is outside ``0 .. n_folds - 1`` or another argument is invalid.
    DataValidationError
        A column is missing or a series is too short (the message names the series).

    Example
    -------
    >>> frame = pd.DataFrame({"series_id": ["a"] * 6,
    ...                       "timestamp": pd.date_range("2024-01-01", periods=6, freq="h")})
    >>> fold_split_labels(frame, n_folds=2, fold=0, val=1, test=1).tolist()
    ['train', 'train', 'train', 'val', 'test', 'unused']
    """
    _check_int("n_folds", n_folds, minimum=1)
    _check_int("fold", fold, minimum=0)
    if fold >= n_folds:
        raise ValueError(f"`fold` must be in 0..{n_folds - 1} (n_folds={n_folds}). Received: fold={fold}")
    for column in (series_column, time_column):
        if column not in frame.columns:
            raise DataValidationError(
                f"fold_split_labels: the frame has no column {column!r}. Columns: {list(frame.columns)}"
            )
    labels = np.full(len(frame), "unused", dtype=object)
    times = frame[time_column].to_numpy()
    for series, positions in frame.groupby(series_column, sort=False).indices.items():
        ordered = positions[np.argsort(times[positions], kind="stable")]
        try:
            train_end, val_end, test_end = expanding_folds(
                len(ordered), n_folds, val, test, min_train_rows=min_train_rows
            )[fold]
        except ValueError as exc:
            raise DataValidationError(f"series {series!r}: {exc}") from exc
        labels[ordered[:train_end]] = "train"
        labels[ordered[train_end:val_end]] = "val"
        labels[ordered[val_end:test_end]] = "test"
    return pd.Series(labels, index=frame.index, name=SPLIT)


def tidy_metrics(fold: int, model: str, metrics: Mapping[str, Any]) -> pd.DataFrame:
    """Long-format backtest rows ``(fold, model, step, metric, value)`` from one metrics dict.

    Scalar entries become rows at ``step = 0`` (:data:`ALL_STEPS`, the whole horizon). An entry
    ``<name>_by_step`` holding an array of shape ``(horizon,)`` becomes rows ``<name>`` at
    steps ``1 .. horizon``. ``None`` becomes NaN.

    Parameters
    ----------
    fold : int
    model : str
    metrics : dict
        e.g. the output of :func:`forecaster.evaluation.point_metrics`, plus any extra scalars
        (``coverage``, ``relative_mae``) or per-step arrays (``coverage_by_step``).

    Returns
    -------
    pd.DataFrame with columns fold (int), model (str), step (int), metric (str), value (float).

    Raises
    ------
    ValueError
        An entry is neither a scalar nor a 1-D ``*_by_step`` array.

    Example
    -------
    >>> tidy_metrics(0, "lstm", {"mae": 1.5, "mae_by_step": np.array([1.0, 2.0])}).values.tolist()
    [[0, 'lstm', 0, 'mae', 1.5], [0, 'lstm', 1, 'mae', 1.0], [0, 'lstm', 2, 'mae', 2.0]]
    """
    rows: list[tuple[int, str, int, str, float]] = []
    for name, value in metrics.items():
        if value is None:
            rows.append((fold, model, ALL_STEPS, name, math.nan))
            continue
        array = np.asarray(value)
        if array.ndim == 0:
            rows.append((fold, model, ALL_STEPS, name, float(array)))
        elif array.ndim == 1 and name.endswith("_by_step"):
            base = name[: -len("_by_step")]
            rows.extend((fold, model, step, base, float(v)) for step, v in enumerate(array, start=1))
        else:
            raise ValueError(
                f"`metrics[{name!r}]` must be a scalar, or a 1-D array under a name ending in "
                f"'_by_step'. Received: shape {array.shape}"
            )
    table = pd.DataFrame(rows, columns=list(TIDY_COLUMNS))
    return table.astype({"fold": "int64", "model": "str", "step": "int64", "metric": "str", "value": "float64"})


def _block_rows(name: str, value: int | float, n_rows: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"`{name}` must be a row count or a fraction. Received: {name}={value!r}")
    if isinstance(value, (int, np.integer)):
        if value < 1:
            raise ValueError(f"`{name}` as a row count must be >= 1. Received: {name}={value}")
        return int(value)
    if not 0 < value < 1:
        raise ValueError(f"`{name}` as a fraction must be in (0, 1). Received: {name}={value}")
    return max(1, int(math.floor(value * n_rows + 0.5)))


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")
