"""Frequencies: parse pandas offset aliases, infer a series' step, refuse upsampling.

Example
-------
>>> import pandas as pd
>>> infer_frequency(pd.date_range("2024-01-01", periods=30, freq="B").delete([3, 9]))
'B'
>>> infer_frequency(pd.date_range("2020-01-01 00:10", periods=7, freq="10min"))
'10min'
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from forecaster.errors import DataValidationError

logger = logging.getLogger(__name__)

_DAY = pd.Timedelta(days=1)


def parse_frequency(frequency: str) -> pd.DateOffset:
    """The pandas offset of an alias like ``'1h'``, ``'10min'``, ``'D'``, ``'B'``.

    Raises
    ------
    DataValidationError
        ``frequency`` is not a pandas offset alias.
    """
    try:
        return to_offset(frequency)
    except (ValueError, TypeError) as exc:
        raise DataValidationError(
            f"`frequency` must be a pandas offset alias such as '10min', '1h', 'D' or 'B'. "
            f"Received: frequency={frequency!r}"
        ) from exc


def nominal_step(offset: pd.DateOffset) -> pd.Timedelta:
    """The typical length of one step of ``offset`` (exact for fixed steps; median otherwise)."""
    try:
        return pd.Timedelta(offset.nanos)
    except (ValueError, AttributeError):
        stamps = pd.date_range("2001-01-01", periods=120, freq=offset)
        return pd.Series(stamps).diff().median()


def is_fixed(offset: pd.DateOffset) -> bool:
    """True when every step of ``offset`` has the same length (10min, h; not B, D across DST)."""
    return isinstance(offset, pd.offsets.Tick)


def typical_step(timestamps: np.ndarray) -> pd.Timedelta | None:
    """The most common difference between consecutive sorted timestamps (the smallest on ties)."""
    if len(timestamps) < 2:
        return None
    diffs = np.diff(timestamps.astype("datetime64[ns]").astype("int64"))
    diffs = diffs[diffs > 0]
    if len(diffs) == 0:
        return None
    values, counts = np.unique(diffs, return_counts=True)
    return pd.Timedelta(int(values[np.argmax(counts)]))


def infer_frequency(timestamps: np.ndarray | pd.DatetimeIndex) -> str | None:
    """Infer the offset alias of sorted timestamps; ``None`` with fewer than two timestamps.

    ``pandas.infer_freq`` when the timestamps are perfectly regular; otherwise the most common
    step. Daily data without a single Saturday or Sunday is business-daily (``'B'``): missing
    weekdays (holidays) are then gaps, weekends are not.
    """
    index = pd.DatetimeIndex(timestamps)
    if len(index) >= 3:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the future-offset warning of pandas 3
            try:
                inferred = pd.infer_freq(index)
            except (ValueError, TypeError):
                inferred = None
        if inferred is not None:
            return inferred if isinstance(inferred, str) else inferred.freqstr
    step = typical_step(index.to_numpy())
    if step is None:
        return None
    if step % _DAY == pd.Timedelta(0):
        days = step // _DAY
        if days == 1 and not (index.day_of_week >= 5).any():
            return "B"
        return "D" if days == 1 else f"{days}D"
    return to_offset(step).freqstr


def check_not_upsampling(
    series_id: str, timestamps: np.ndarray, frequency: str, offset: pd.DateOffset
) -> None:
    """Raise when ``frequency`` is finer than the typical step of the series (upsampling)."""
    step = typical_step(timestamps)
    if step is None:
        return
    target = nominal_step(offset)
    finer = step > target if is_fixed(offset) else step > target * 1.05
    if finer:
        raise DataValidationError(
            f"`frequency` must not be finer than the data: series {series_id!r} has a typical step "
            f"of {step}, but frequency={frequency!r} is a step of {target}. Upsampling would invent "
            "values; set data.frequency to the data's step or coarser (or leave it empty to infer it)."
        )
