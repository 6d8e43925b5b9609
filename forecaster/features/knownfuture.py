"""Known-future inputs (issue 25, pipeline key ``features.known_future``): the calendar of the
TARGET steps, known when a forecast is made.

For a window whose last input row is at time ``t``, the known-future block is the calendar
encoding of ``t + k * frequency`` for ``k = 1 .. horizon``: shape ``(horizon, 2 * len(signals))``,
columns ``sin, cos`` of each signal in the order given. The encoding is
:func:`forecaster.features.derived.calendar_encoding`, the one used by ``features.calendar``. It
reads timestamps only: nothing is fit and no value of the data can leak into it.

How the block travels: as the last ``2 * len(signals)`` columns of the network input, named
``known_<signal>_sin``/``_cos``, each row holding the encoding of its OWN timestamp shifted by
``horizon`` steps of the data frequency. A window never crosses a gap (its rows are regular), so
its last ``horizon`` rows, at ``t - (horizon - 1 - j) * frequency``, hold the encodings of
``t + (j + 1) * frequency``: exactly the block (:func:`window_block`). Training, evaluation and
serving (the pyfunc model, ``forecaster forecast``: the forecast origin's timestamps and the saved
frequency) therefore all get it through the existing window path. These columns are not scaled.
This needs ``horizon <= lookback`` (the pipeline file's rule). Holidays are not offered.

Example
-------
>>> import pandas as pd
>>> block = target_block(pd.Series(pd.to_datetime(["2024-01-01 05:00"])), 2, "h", ["hour_of_day"])
>>> block.shape, block[0, 0].round(3).tolist()    # 06:00 -> angle pi/2
((1, 2, 2), [1.0, 0.0])
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecaster.config import CALENDAR_SIGNALS
from forecaster.data.columns import TIMESTAMP
from forecaster.features.derived import (
    _require_columns,
    _StatelessTransformer,
    calendar_encoding,
)

#: Prefix of the known-future columns of the network input.
PREFIX = "known_"


def known_future_columns(signals: Sequence[str]) -> list[str]:
    """The network-input columns of ``signals``, in order: ``known_<signal>_sin``, ``..._cos``."""
    return [f"{PREFIX}{s}_{part}" for s in signals for part in ("sin", "cos")]


def shifted_timestamps(timestamps: pd.Series, steps: int, frequency: str | None) -> pd.Series:
    """``timestamps + steps * frequency`` (a pandas offset: ``h``, ``D``, ``MS``, ...)."""
    if not frequency:
        raise ValueError("known-future inputs need the data frequency; the data has none (irregular timestamps)")
    offset = pd.tseries.frequencies.to_offset(frequency)
    if isinstance(offset, pd.offsets.Tick):
        return timestamps + pd.Timedelta(offset) * int(steps)
    with warnings.catch_warnings():  # calendar offsets (MS, W-SUN, B) are applied element by element
        warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
        return pd.Series(pd.DatetimeIndex(timestamps) + int(steps) * offset, index=timestamps.index)


def encode(timestamps: pd.Series, signals: Sequence[str]) -> np.ndarray:
    """``(n, 2 * len(signals))`` float64: ``sin, cos`` of each signal at each timestamp."""
    columns = []
    for signal in signals:
        columns.extend(calendar_encoding(timestamps, signal))
    return np.stack(columns, axis=-1) if columns else np.zeros((len(timestamps), 0))


def target_block(last_timestamps: pd.Series, horizon: int, frequency: str | None,
                 signals: Sequence[str]) -> np.ndarray:
    """The known-future block of forecasts made at ``last_timestamps`` (each window's last input
    time): ``(n, horizon, 2 * len(signals))``, the encoding of ``t + k * frequency``, k = 1..horizon."""
    stamps = pd.Series(pd.to_datetime(np.asarray(last_timestamps)))
    steps = [encode(shifted_timestamps(stamps, k, frequency), signals) for k in range(1, horizon + 1)]
    return np.stack(steps, axis=1)


def window_block(X: np.ndarray, n_known: int, horizon: int) -> np.ndarray:
    """The known-future block carried by network-input windows ``X``: their last ``horizon`` rows
    of the last ``n_known`` columns, ``(n_samples, horizon, n_known)``."""
    return X[:, X.shape[1] - horizon:, X.shape[2] - n_known:]


class KnownFutureFeatures(_StatelessTransformer):
    """Add ``known_<signal>_sin``/``_cos``: each row's timestamp shifted by ``horizon`` steps of
    ``frequency``, encoded like ``features.calendar`` (see the module docstring for why).

    Example
    -------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-01 00:00"])})
    >>> out = KnownFutureFeatures(["hour_of_day"], horizon=6, frequency="h").fit_transform(frame)
    >>> out["known_hour_of_day_sin"].round(3).tolist()   # 06:00
    [1.0]
    """

    def __init__(self, signals=("hour_of_day",), horizon=1, frequency="h", timestamp_column=TIMESTAMP):
        self.signals = signals
        self.horizon = horizon
        self.frequency = frequency
        self.timestamp_column = timestamp_column

    def _check(self, frame: pd.DataFrame) -> list[str]:
        signals = list(self.signals)
        unknown = [s for s in signals if s not in CALENDAR_SIGNALS]
        if unknown:
            raise ValueError(f"KnownFutureFeatures: unknown signal {unknown[0]!r}; allowed: {list(CALENDAR_SIGNALS)}")
        _require_columns(frame, [self.timestamp_column], "KnownFutureFeatures")
        return signals

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        signals = self._check(X)
        values = encode(shifted_timestamps(X[self.timestamp_column], int(self.horizon), self.frequency), signals)
        out = X.copy()
        for j, name in enumerate(known_future_columns(signals)):
            out[name] = values[:, j]
        return out
