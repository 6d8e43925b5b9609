"""A per-series scaler fit on the training rows only.

:class:`SeriesScaler` standardises numeric columns per series with a mean and standard deviation
learned from the rows passed to ``fit`` (callers pass the training rows only, so no statistic
leaks from the validation or test period), and maps forecasts back to original units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from forecaster.data.columns import SEGMENT, SERIES_ID

_EXCLUDED_BY_DEFAULT = (SEGMENT,)


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
