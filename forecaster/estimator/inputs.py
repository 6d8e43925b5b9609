"""From a canonical frame to a fitted forecaster's inputs, and from its outputs to the forecast frame.

The raw <-> canonical conversion is the schema's (:class:`forecaster.data.schema.DataSchema`); this
module takes over where it stops: the key columns a canonical frame may omit, the last window of
each series (what a forecast starts from), and the dated forecast frame. A served model's caller
(the ``pyfunc`` model, ``forecaster forecast``) knows the model's input columns, not the pipeline
file that trained it, so the messages name input columns and row counts, never pipeline keys.

Example
-------
>>> import pandas as pd
>>> frame = ensure_canonical(pd.DataFrame({"timestamp": pd.date_range("2024", periods=3), "t": 1.0}), ["t"])
>>> frame.columns.tolist()
['timestamp', 't', 'series_id', 'segment']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster.data.columns import DEFAULT_SERIES_ID, SEGMENT, SERIES_ID, TIMESTAMP
from forecaster.errors import DataValidationError

#: The forecast frame's columns (a CSV and ``pyfunc`` output contract; ``target`` follows
#: ``series_id`` when a model has several targets).
FORECAST_COLUMNS = (SERIES_ID, TIMESTAMP, "step", "forecast", "lower", "upper")


def ensure_canonical(frame: pd.DataFrame, target: list[str]) -> pd.DataFrame:
    """Add the optional key columns (``series_id``, ``segment``) a canonical frame may omit."""
    if TIMESTAMP not in frame.columns:
        raise ValueError(f"the frame has no {TIMESTAMP!r} column; columns: {list(frame.columns)}")
    missing = [t for t in target if t not in frame.columns]
    if missing:
        raise ValueError(f"target column(s) {missing} not in the frame; columns: {list(frame.columns)}")
    out = frame
    if SERIES_ID not in out.columns or SEGMENT not in out.columns:
        out = out.copy()
        if SERIES_ID not in out.columns:
            out[SERIES_ID] = DEFAULT_SERIES_ID
        if SEGMENT not in out.columns:
            out[SEGMENT] = 0
    return out


def last_windows(frame: pd.DataFrame, target: list[str], lookback: int, preprocessor) -> tuple[np.ndarray, np.ndarray, pd.Series]:
    """``(X, series_ids, last timestamps)`` of the last full window of each series.

    ``X``: ``(n_series, lookback, n_features)`` scaled inputs of the last ``lookback`` rows of each
    series' last segment; ``series_ids`` sorted; ``last timestamps`` indexed by series id. The row
    before the window (when the segment has one) is transformed with it, so a derived feature that
    looks one row back (log returns) has at the window's first step the value it had in training.

    Raises
    ------
    DataValidationError
        A series has fewer than ``lookback`` rows in its last segment.
    """
    frame = ensure_canonical(frame, target)
    tail = _one_series_tail(frame, lookback + 1)
    if tail is not None:  # one series (a served request): numpy, no sort or group-by
        index = pd.Index([tail[SERIES_ID].iloc[0]], dtype=object, name=SERIES_ID)
        counts = pd.Series([len(tail)], index=index)
    else:
        frame = frame.sort_values([SERIES_ID, TIMESTAMP], kind="stable").reset_index(drop=True)
        # The last `lookback` rows of each series' last segment, and the row before them.
        last_seg = frame.groupby(SERIES_ID)[SEGMENT].transform("max")
        tail = frame[frame[SEGMENT] == last_seg].groupby(SERIES_ID, sort=True).tail(lookback + 1)
        counts = tail.groupby(SERIES_ID).size()
    short = counts[counts < lookback]
    if len(short):
        raise short_history_error("model input", short.index[0], int(short.iloc[0]), lookback)
    tail = tail.reset_index(drop=True)
    _, values = preprocessor.transform_values(tail)
    # Drop each series' extra leading row: keep the last `lookback` rows of each.
    keep = tail.groupby(SERIES_ID, sort=False).cumcount(ascending=False).to_numpy() < lookback
    tail = tail[keep]
    counts = counts.clip(upper=lookback)
    X = values[keep].reshape(len(counts), lookback, -1)  # -> (n_series, lookback, n_features)
    if len(counts) == 1:
        last_ts = pd.Series([tail[TIMESTAMP].to_numpy().max()], index=counts.index, name=TIMESTAMP)
    else:
        last_ts = tail.groupby(SERIES_ID, sort=True)[TIMESTAMP].max()
    return X, counts.index.to_numpy(), last_ts


def _one_series_tail(frame: pd.DataFrame, lookback: int) -> pd.DataFrame | None:
    """The last ``lookback`` rows of the last segment when ``frame`` holds one series in time order
    (what a served request becomes), by numpy; None otherwise (the caller sorts and groups)."""
    ids = frame[SERIES_ID].to_numpy()
    if not len(ids) or not (ids == ids[0]).all():
        return None
    stamps = frame[TIMESTAMP].to_numpy()
    if not (stamps[1:] >= stamps[:-1]).all():
        return None
    segment = frame[SEGMENT].to_numpy()
    return frame.iloc[np.flatnonzero(segment == segment.max())[-lookback:]]


def short_history_error(source: str, series_id: object, found: int, lookback: int) -> DataValidationError:
    """One line naming the rows a forecast needs and the rows found."""
    where = "" if str(series_id) == DEFAULT_SERIES_ID else f" of series {str(series_id)!r}"
    return DataValidationError(
        f"{source}: too short a history{where}: the model needs the last {lookback} rows (its lookback) "
        f"without a long gap; found {found}. Send at least {lookback} recent rows per series."
    )


def future_timestamps(last: pd.Timestamp, horizon: int, frequency: str | None) -> pd.DatetimeIndex:
    """The ``horizon`` timestamps after ``last`` at ``frequency``."""
    if not frequency:
        raise ValueError("the model does not know its data frequency; cannot date the forecast")
    offset = pd.tseries.frequencies.to_offset(frequency)
    return pd.date_range(start=last + offset, periods=horizon, freq=offset)


def forecast_frame(series_ids, last_ts, y, half, frequency, target) -> pd.DataFrame:
    """One row per series, target and step (:data:`FORECAST_COLUMNS`); ``y``, ``half``: forecasts
    and interval half-widths ``(n_series, horizon, n_targets)``."""
    rows = []
    horizon = y.shape[1]
    series, stamp, step, point, lower, upper = FORECAST_COLUMNS
    for i, sid in enumerate(series_ids):
        stamps = future_timestamps(pd.Timestamp(last_ts.loc[sid]), horizon, frequency)
        for t_i, name in enumerate(target):
            block = pd.DataFrame({
                series: str(sid),
                stamp: stamps,
                step: np.arange(1, horizon + 1),
                point: y[i, :, t_i],
                lower: y[i, :, t_i] - half[i, :, t_i],
                upper: y[i, :, t_i] + half[i, :, t_i],
            })
            if len(target) > 1:
                block.insert(1, "target", name)
            rows.append(block)
    return pd.concat(rows, ignore_index=True)
