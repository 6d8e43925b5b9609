"""Derived input features: scikit-learn transformers over the canonical frame.

Every transformer takes the canonical frame (``series_id``, ``timestamp``, optional ``segment``,
numeric columns) and returns a new frame with the same rows in the same order plus the derived
columns. ``__init__`` only stores its arguments, ``fit`` checks the columns and returns ``self``
(nothing is learned from the data, so nothing can leak from validation or test rows), so
:func:`sklearn.base.clone`, pickling and :class:`sklearn.pipeline.Pipeline` just work.

Example
-------
>>> import pandas as pd
>>> frame = pd.DataFrame({
...     "series_id": ["a", "a"],
...     "timestamp": pd.to_datetime(["2024-01-01 00:00", "2024-01-01 06:00"]),
...     "price": [100.0, 110.0],
... })
>>> out = LogReturns(columns=("price",)).fit_transform(frame)
>>> out["price_logret"].round(4).tolist()
[0.0, 0.0953]
>>> CalendarFeatures().fit_transform(frame)["hour_of_day_sin"].round(3).tolist()
[0.0, 1.0]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from forecaster.config import CALENDAR_SIGNALS, FeaturesConfig
from forecaster.data.columns import KEY_COLUMNS, SEGMENT, SERIES_ID, TIMESTAMP
from forecaster.errors import DataValidationError

logger = logging.getLogger(__name__)

#: Columns of the canonical frame that are never model inputs.
NON_FEATURE_COLUMNS = KEY_COLUMNS

#: Period of each calendar signal, in the unit :func:`_calendar_position` returns.
CALENDAR_PERIODS = {"hour_of_day": 24.0, "day_of_week": 7.0, "day_of_year": 365.2425}

DIRECTION_UNITS = ("deg", "rad")


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], who: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"{who}: column(s) {missing} not found in the frame; "
            f"columns found: {list(map(str, frame.columns))}"
        )


class _StatelessTransformer(TransformerMixin, BaseEstimator):
    """A transformer that learns nothing: ``fit`` only checks the columns.

    The ``requires_fit=False`` tag tells scikit-learn (``check_is_fitted``, ``Pipeline``) that a
    fitted instance has no learned attributes.
    """

    def _check(self, frame: pd.DataFrame):
        raise NotImplementedError

    def fit(self, X: pd.DataFrame, y=None):
        """Check that ``X`` has the needed columns; return ``self``."""
        self._check(X)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags


def _calendar_position(timestamps: pd.Series, signal: str) -> np.ndarray:
    """Position of each timestamp within the signal's period (hours, days, ...)."""
    dt = timestamps.dt
    if signal == "hour_of_day":
        return (dt.hour + dt.minute / 60.0).to_numpy(dtype=np.float64)
    if signal == "day_of_week":
        return dt.day_of_week.to_numpy(dtype=np.float64)
    # day_of_year: fractional day, 0.0 at midnight of 1 January.
    hours = dt.hour + dt.minute / 60.0 + dt.second / 3600.0
    return ((dt.day_of_year - 1) + hours / 24.0).to_numpy(dtype=np.float64)


def calendar_encoding(timestamps: pd.Series, signal: str) -> tuple[np.ndarray, np.ndarray]:
    """``(sin, cos)`` of ``signal`` at each timestamp: the one owner of the calendar encoding
    (:class:`CalendarFeatures` and the known-future inputs, :mod:`forecaster.features.knownfuture`)."""
    angle = 2.0 * np.pi * _calendar_position(timestamps, signal) / CALENDAR_PERIODS[signal]
    return np.sin(angle), np.cos(angle)


class CalendarFeatures(_StatelessTransformer):
    """Add cyclic calendar signals as ``<signal>_sin`` and ``<signal>_cos`` columns.

    Each signal is mapped onto the unit circle, so the end of a period is next to its start
    (23:00 is next to 00:00, 31 December next to 1 January).

    Parameters
    ----------
    signals : sequence of str, default ("hour_of_day",)
        Any of ``hour_of_day`` (period 24 h, hour + minute/60), ``day_of_week`` (period 7,
        Monday = 0) and ``day_of_year`` (period 365.2425 days, fractional day).
    timestamp_column : str, default "timestamp"
        The datetime column to read.

    Raises
    ------
    ValueError
        An unknown signal (the message names it and the allowed ones).
    DataValidationError
        The timestamp column is missing or is not datetime.

    Example
    -------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-01 18:00"])})
    >>> out = CalendarFeatures(signals=("hour_of_day",)).fit_transform(frame)
    >>> out["hour_of_day_sin"].round(3).tolist()
    [-1.0]
    """

    def __init__(self, signals=("hour_of_day",), timestamp_column=TIMESTAMP):
        self.signals = signals
        self.timestamp_column = timestamp_column

    def _check(self, frame: pd.DataFrame) -> list[str]:
        signals = [self.signals] if isinstance(self.signals, str) else list(self.signals)
        for signal in signals:
            if signal not in CALENDAR_SIGNALS:
                raise ValueError(
                    f"CalendarFeatures: unknown signal {signal!r}; allowed: {list(CALENDAR_SIGNALS)}. "
                    f"Received: signals={self.signals!r}"
                )
        _require_columns(frame, [self.timestamp_column], "CalendarFeatures")
        if not pd.api.types.is_datetime64_any_dtype(frame[self.timestamp_column]):
            raise DataValidationError(
                f"CalendarFeatures: column {self.timestamp_column!r} must be datetime; "
                f"received dtype {frame[self.timestamp_column].dtype}"
            )
        return signals

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        signals = self._check(X)
        out = X.copy()
        for signal in signals:
            out[f"{signal}_sin"], out[f"{signal}_cos"] = calendar_encoding(X[self.timestamp_column], signal)
        return out


class LogReturns(_StatelessTransformer):
    """Add ``<col>_logret = log(x_t / x_{t-1})`` within each series and segment.

    Rows must be in time order within each (series, segment) group, as in the canonical frame;
    the rows are not reordered. The first row of each group gets 0.0, so no return is ever
    computed across two series or across a gap between segments.

    Parameters
    ----------
    columns : sequence of str
        Strictly positive columns (prices, volumes, ...).
    series_column : str, default "series_id"
    segment_column : str, default "segment"
        Used when present (after regularisation); ignored when the frame has no such column.

    Raises
    ------
    DataValidationError
        A column is missing, or holds a value <= 0 (the message names the column, the first bad
        value, its series and timestamp).

    Example
    -------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"series_id": ["a", "a", "b", "b"],
    ...                       "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02"] * 2),
    ...                       "close": [1.0, 2.0, 10.0, 5.0]})
    >>> LogReturns(columns=["close"]).fit_transform(frame)["close_logret"].round(3).tolist()
    [0.0, 0.693, 0.0, -0.693]
    """

    def __init__(self, columns=(), series_column=SERIES_ID, segment_column=SEGMENT):
        self.columns = columns
        self.series_column = series_column
        self.segment_column = segment_column

    def _columns(self) -> list[str]:
        return [self.columns] if isinstance(self.columns, str) else list(self.columns)

    def _check(self, frame: pd.DataFrame) -> list[str]:
        columns = self._columns()
        _require_columns(frame, [self.series_column, *columns], "LogReturns")
        for column in columns:
            values = frame[column].to_numpy(dtype=np.float64)
            bad = np.flatnonzero(values <= 0)
            if bad.size:
                row = frame.iloc[bad[0]]
                where = f"series {row[self.series_column]!r}"
                if TIMESTAMP in frame.columns:
                    where += f" at timestamp {row['timestamp']}"
                raise DataValidationError(
                    f"LogReturns: column {column!r} must be > 0 to take log returns; "
                    f"received {float(values[bad[0]])!r} ({where}, {bad.size} non-positive value(s) in all)"
                )
        return columns

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        columns = self._check(X)
        out = X.copy()
        keys = [self.series_column]
        if self.segment_column in X.columns:
            keys.append(self.segment_column)
        groups = [X[k] for k in keys]
        # The first row of each group has no predecessor in its group: its return is 0.0.
        first = X.groupby(keys, sort=False, dropna=False).cumcount().to_numpy() == 0
        for column in columns:
            log_values = np.log(X[column].astype(np.float64))
            previous = log_values.groupby(groups, sort=False, dropna=False).shift(1)
            logret = np.array(log_values - previous, dtype=np.float64)  # a writable copy
            logret[first] = 0.0
            out[f"{column}_logret"] = logret
        return out


class WindVector(_StatelessTransformer):
    """Replace a wind direction by the wind vector ``wind_x``, ``wind_y``.

    A direction as a raw number is meaningless to a network (359 and 1 degrees are neighbours),
    so the direction column is dropped and ``wind_x = speed * cos(direction)``,
    ``wind_y = speed * sin(direction)`` are added. The speed column is kept.

    Parameters
    ----------
    speed, direction : str
        Column names.
    direction_unit : {"deg", "rad"}, default "deg"

    Raises
    ------
    ValueError
        An unknown ``direction_unit``.
    DataValidationError
        A column is missing (the message lists the columns found).

    Example
    -------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"wv": [2.0], "wd": [90.0]})
    >>> WindVector("wv", "wd").fit_transform(frame).round(6).to_dict("list")
    {'wv': [2.0], 'wind_x': [0.0], 'wind_y': [2.0]}
    """

    def __init__(self, speed, direction, direction_unit="deg"):
        self.speed = speed
        self.direction = direction
        self.direction_unit = direction_unit

    def _check(self, frame: pd.DataFrame) -> None:
        if self.direction_unit not in DIRECTION_UNITS:
            raise ValueError(
                f"WindVector: `direction_unit` must be one of {list(DIRECTION_UNITS)}. "
                f"Received: direction_unit={self.direction_unit!r}"
            )
        _require_columns(frame, [self.speed, self.direction], "WindVector")

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        self._check(X)
        direction = X[self.direction].to_numpy(dtype=np.float64)
        if self.direction_unit == "deg":
            direction = np.deg2rad(direction)
        speed = X[self.speed].to_numpy(dtype=np.float64)
        out = X.drop(columns=[self.direction])
        out["wind_x"] = speed * np.cos(direction)
        out["wind_y"] = speed * np.sin(direction)
        return out


def build_feature_transformer(cfg: FeaturesConfig) -> Pipeline | FunctionTransformer:
    """The configured feature transformers as one scikit-learn object.

    Steps run in the order ``wind`` -> ``log_returns`` -> ``calendar``. With nothing configured
    the result is an identity :class:`~sklearn.preprocessing.FunctionTransformer`. The result is
    picklable with joblib and clone-able.

    Example
    -------
    >>> from forecaster.config import FeaturesConfig
    >>> build_feature_transformer(FeaturesConfig(calendar=["hour_of_day"])).steps[0][0]
    'calendar'
    """
    steps = []
    if cfg.wind is not None:
        steps.append(("wind", WindVector(speed=cfg.wind.speed, direction=cfg.wind.direction)))
    if cfg.log_returns:
        steps.append(("log_returns", LogReturns(columns=tuple(cfg.log_returns))))
    if cfg.calendar:
        steps.append(("calendar", CalendarFeatures(signals=tuple(cfg.calendar))))
    if not steps:
        return FunctionTransformer(func=None, validate=False)
    logger.debug("feature steps: %s", [name for name, _ in steps])
    return Pipeline(steps)


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The numeric model-input columns of a frame, in frame order.

    Everything numeric (booleans excluded) except ``series_id``, ``timestamp``, ``segment`` and
    ``split``. Transformers append their columns at the end, so the order is stable.

    Example
    -------
    >>> import pandas as pd
    >>> feature_columns(pd.DataFrame({"series_id": ["a"], "segment": [0], "t": [1.0], "p": [2]}))
    ['t', 'p']
    """
    return [
        str(c)
        for c in frame.columns
        if c not in NON_FEATURE_COLUMNS
        and pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
    ]
