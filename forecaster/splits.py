"""Chronological train/val/test splits and a per-series scaler fit on the training rows only.

- :func:`assign_splits` labels each row ``"train"``, ``"val"`` or ``"test"`` by time within each
  series (never at random: the test rows are the latest ones).
- :class:`SeriesScaler` standardises numeric columns per series with a mean and standard
  deviation learned from the rows passed to ``fit`` (callers pass the training rows only, so no
  statistic leaks from the validation or test period), and maps forecasts back to original units.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from forecaster.schema import SEGMENT, SERIES_ID, SPLIT, TIMESTAMP

logger = logging.getLogger(__name__)

_EXCLUDED_BY_DEFAULT = (SEGMENT,)


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


class SeriesScaler(TransformerMixin, BaseEstimator):
    """Standardise numeric columns per series: ``(x - mean) / std`` with statistics from ``fit``.

    Fit it on the training rows only. Statistics are the per-series mean and the population
    standard deviation (``ddof=0``, as :class:`sklearn.preprocessing.StandardScaler`), NaN
    ignored. A standard deviation of 0 or NaN (a constant column, a single row) becomes 1.0 and a
    NaN mean (a column with no values) becomes 0.0, so those columns pass through unscaled.

    Parameters
    ----------
    columns : list of str, optional
        Columns to scale. Default: every numeric (not boolean) column except ``segment``.
    series_column : str, default "series_id"

    Attributes
    ----------
    columns_ : list of str
        The scaled columns.
    mean_, scale_ : DataFrame
        Indexed by series id, one column per scaled column.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"series_id": ["a", "a", "b", "b"], "x": [1.0, 3.0, 10.0, 10.0]})
    >>> scaler = SeriesScaler().fit(frame)
    >>> scaler.mean_["x"].tolist(), scaler.scale_["x"].tolist()
    ([2.0, 10.0], [1.0, 1.0])
    >>> scaler.transform(frame)["x"].tolist()
    [-1.0, 1.0, 0.0, 0.0]
    """

    def __init__(self, columns: Sequence[str] | None = None, series_column: str = SERIES_ID):
        self.columns = columns
        self.series_column = series_column

    # ------------------------------------------------------------------ fit

    def _default_columns(self, frame: pd.DataFrame) -> list[str]:
        return [
            name
            for name in frame.columns
            if name != self.series_column
            and name not in _EXCLUDED_BY_DEFAULT
            and pd.api.types.is_numeric_dtype(frame[name])
            and not pd.api.types.is_bool_dtype(frame[name])
        ]

    def _check_frame(self, frame: Any, columns: Sequence[str]) -> None:
        if not isinstance(frame, pd.DataFrame):
            raise ValueError(
                f"SeriesScaler expects a pandas DataFrame. Received: {type(frame).__name__}"
            )
        missing = [c for c in [self.series_column, *columns] if c not in frame.columns]
        if missing:
            raise ValueError(
                f"SeriesScaler: column(s) {missing} not found. Received columns: {list(frame.columns)}"
            )

    def fit(self, frame: pd.DataFrame, y: Any = None) -> "SeriesScaler":
        """Learn per-series, per-column mean and std from ``frame`` (the training rows)."""
        columns = list(self.columns) if self.columns is not None else None
        self._check_frame(frame, columns or [])
        if columns is None:
            columns = self._default_columns(frame)
        if not columns:
            raise ValueError(
                "SeriesScaler: no numeric column to scale. "
                f"Received columns: {list(frame.columns)}"
            )
        if len(frame) == 0:
            raise ValueError("SeriesScaler: cannot fit on an empty frame. Received: 0 rows")
        grouped = frame[columns].astype(np.float64).groupby(frame[self.series_column], sort=True)
        mean = grouped.mean()
        std = grouped.std(ddof=0)
        self.columns_ = columns
        self.mean_ = mean.fillna(0.0)
        self.scale_ = std.where((std > 0) & std.notna(), 1.0)
        self.n_features_in_ = len(columns)
        return self

    # ------------------------------------------------------------------ state

    def to_state(self) -> dict[str, Any]:
        """The fitted statistics as plain data (JSON values and float arrays; no pickle).

        ``mean`` and ``scale`` are ``(n_series, n_columns)`` float64 arrays, rows in ``series`` order.
        """
        check_is_fitted(self, "mean_")
        return {
            "columns": None if self.columns is None else [str(c) for c in self.columns],
            "series_column": self.series_column,
            "fitted_columns": [str(c) for c in self.columns_],
            "series": [str(s) for s in self.mean_.index],
            "mean": self.mean_[self.columns_].to_numpy(dtype=np.float64),
            "scale": self.scale_[self.columns_].to_numpy(dtype=np.float64),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "SeriesScaler":
        """Rebuild a fitted scaler from :meth:`to_state`; ValueError naming the bad entry."""
        scaler = cls(columns=state["columns"], series_column=state["series_column"])
        columns, series = list(state["fitted_columns"]), list(state["series"])
        for key in ("mean", "scale"):
            array = np.asarray(state[key])
            if array.dtype.kind != "f" or array.shape != (len(series), len(columns)):
                raise ValueError(
                    f"scaler {key!r} must be a float array of shape ({len(series)}, {len(columns)}); "
                    f"received dtype {array.dtype}, shape {array.shape}"
                )
        if not (np.asarray(state["scale"]) > 0).all():
            raise ValueError("scaler 'scale' must be > 0 everywhere")
        index = pd.Index(series, dtype=object, name=scaler.series_column)
        scaler.columns_ = columns
        scaler.mean_ = pd.DataFrame(np.asarray(state["mean"]), index=index, columns=columns)
        scaler.scale_ = pd.DataFrame(np.asarray(state["scale"]), index=index, columns=columns)
        scaler.n_features_in_ = len(columns)
        return scaler

    # ------------------------------------------------------------------ helpers

    def _rows(self, series_ids: Any) -> np.ndarray:
        """Row of ``mean_``/``scale_`` for each series id; ValueError naming unseen series."""
        # Each distinct id is looked up once (one hash pass over the rows, no object array of the
        # whole column: a canonical frame's ids are pyarrow strings).
        if not isinstance(series_ids, (pd.Series, pd.Index)):
            series_ids = np.asarray(series_ids, dtype=object).ravel()
        codes, uniques = pd.factorize(series_ids, use_na_sentinel=False)
        known = self.mean_.index.get_indexer(pd.Index(np.asarray(uniques, dtype=object)))
        where = known[codes]
        if (known < 0).any():
            names = [u for u, k in zip(np.asarray(uniques, dtype=object), known) if k < 0]
            raise ValueError(
                f"SeriesScaler: series {names[:5]} were not seen in fit "
                f"(fitted series: {list(self.mean_.index)[:5]}{'...' if len(self.mean_) > 5 else ''})"
            )
        return where

    def _stats(self, columns: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        unknown = [c for c in columns if c not in self.mean_.columns]
        if unknown:
            raise ValueError(
                f"SeriesScaler: column(s) {unknown} were not fitted. Fitted columns: {self.columns_}"
            )
        return self.mean_[list(columns)].to_numpy(), self.scale_[list(columns)].to_numpy()

    # ------------------------------------------------------------------ frames

    def _apply(self, frame: pd.DataFrame, inverse: bool) -> pd.DataFrame:
        check_is_fitted(self, "mean_")
        self._check_frame(frame, self.columns_)
        rows = self._rows(frame[self.series_column])
        mean, scale = self._stats(self.columns_)
        data = frame[self.columns_].to_numpy(dtype=np.float64)
        if inverse:
            data = data * scale[rows] + mean[rows]
        else:
            data = (data - mean[rows]) / scale[rows]
        out = frame.copy(deep=False)  # the other columns are shared, not copied (copy-on-write)
        for j, column in enumerate(self.columns_):
            out[column] = data[:, j]
        return out

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return a copy of ``frame`` with the fitted columns scaled per series."""
        return self._apply(frame, inverse=False)

    def inverse_transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return a copy of ``frame`` with the fitted columns back in original units."""
        return self._apply(frame, inverse=True)

    # ------------------------------------------------------------------ arrays

    def _apply_values(
        self, values: Any, series_ids: Any, columns: Sequence[str], inverse: bool
    ) -> np.ndarray:
        check_is_fitted(self, "mean_")
        array = np.asarray(values, dtype=np.float64)
        columns = [columns] if isinstance(columns, str) else list(columns)
        ids = np.asarray(series_ids, dtype=object).ravel()
        if array.ndim < 2 or array.shape[0] != ids.size or array.shape[-1] != len(columns):
            raise ValueError(
                "SeriesScaler: `values` must have shape (n_samples, ..., n_targets) with n_samples = "
                "len(series_ids) and n_targets = len(columns). Received: "
                f"values.shape={array.shape}, len(series_ids)={ids.size}, len(columns)={len(columns)}"
            )
        rows = self._rows(ids)
        mean, scale = self._stats(columns)
        # (n_samples, n_targets) -> (n_samples, 1, ..., 1, n_targets) to broadcast over the steps.
        shape = (array.shape[0],) + (1,) * (array.ndim - 2) + (len(columns),)
        mean = mean[rows].reshape(shape)
        scale = scale[rows].reshape(shape)
        return array * scale + mean if inverse else (array - mean) / scale

    def transform_values(self, values: Any, series_ids: Any, columns: Sequence[str]) -> np.ndarray:
        """Scale an array whose last axis holds ``columns``, one series per sample.

        Parameters
        ----------
        values : array-like, shape (n_samples, horizon, n_targets)
            Any shape ``(n_samples, ..., n_targets)`` works.
        series_ids : array-like, shape (n_samples,)
        columns : list of str, length n_targets
            Names of the last axis.

        Returns
        -------
        ndarray of float64, same shape as ``values``.
        """
        return self._apply_values(values, series_ids, columns, inverse=False)

    def inverse_transform_values(
        self, values: Any, series_ids: Any, columns: Sequence[str]
    ) -> np.ndarray:
        """Map scaled forecasts back to original units (the inverse of :meth:`transform_values`).

        Parameters
        ----------
        values : array-like, shape (n_samples, horizon, n_targets)
            Any shape ``(n_samples, ..., n_targets)`` works.
        series_ids : array-like, shape (n_samples,)
            Series of each sample.
        columns : list of str, length n_targets
            Names of the last axis.

        Returns
        -------
        ndarray of float64, same shape as ``values``.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> frame = pd.DataFrame({"series_id": ["a", "a"], "x": [1.0, 3.0]})
        >>> scaler = SeriesScaler().fit(frame)
        >>> scaler.inverse_transform_values(np.zeros((1, 2, 1)), ["a"], ["x"]).tolist()
        [[[2.0], [2.0]]]
        """
        return self._apply_values(values, series_ids, columns, inverse=True)
