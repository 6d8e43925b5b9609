"""Every series on its regular time grid: bins of the frequency, first to last, empty bins as NaN rows.

The first step of :func:`forecaster.data.regularise.regularise`. A series whose timestamps already
sit on the bins (one row per bin) is placed on its grid directly (for a fixed step, all such
series at once, without a loop over series); the others go through pandas'
``groupby(...).resample(...)`` with the pipeline's aggregate (``mean``, ``last`` or ``sum``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster.data.columns import SERIES_ID as SERIES
from forecaster.data.columns import TIMESTAMP
from forecaster.data.frequency import parse_frequency
from forecaster.data.validation import canonical_order


def resample_to_grid(frame: pd.DataFrame, values: list[str], frequency: str, aggregate: str) -> pd.DataFrame:
    """Bins of ``frequency`` per series, first to last bin, empty bins as NaN rows.

    A series whose timestamps already sit on the bins (one row per bin) is placed on its grid
    directly (for a fixed step, all such series at once, without a loop over series); the others
    go through ``groupby(...).resample(...)``.
    """
    offset = parse_frequency(frequency)
    pieces: list[pd.DataFrame] = []
    slow: list[str] = []
    if isinstance(offset, pd.offsets.Tick):
        placed, slow = _place_on_fixed_grid(frame, values, offset)
        if placed is not None:
            pieces.append(placed)
    else:
        for sid, group in frame.groupby(SERIES, sort=True):
            placed = _place_on_grid(str(sid), group, values, offset)
            if placed is None:
                slow.append(sid)
            else:
                pieces.append(placed)
    if slow:
        subset = frame[frame[SERIES].isin(slow)].set_index(TIMESTAMP)
        resampler = subset.groupby(SERIES, sort=True)[values].resample(frequency)
        if aggregate == "sum":
            binned = resampler.sum(min_count=1)
        elif aggregate == "last":
            binned = resampler.last()
        else:
            binned = resampler.mean()
        pieces.append(binned.reset_index())
    grid = pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0]
    grid[SERIES] = grid[SERIES].astype(str)
    grid[TIMESTAMP] = grid[TIMESTAMP].to_numpy().astype("datetime64[ns]")
    order = canonical_order(grid)
    grid = (grid if order is None else grid.take(order)).reset_index(drop=True)
    grid[values] = grid[values].astype("float64")
    return grid[[SERIES, TIMESTAMP, *values]]


_DAY_NS = 86_400 * 10**9


def _place_on_fixed_grid(
    frame: pd.DataFrame, values: list[str], offset: pd.offsets.Tick
) -> tuple[pd.DataFrame | None, list[str]]:
    """:func:`_place_on_grid` for every series at once, for a fixed step (``offset`` a Tick).

    ``frame`` is sorted by series and time. Returns the grid rows of the series whose timestamps
    all sit on their bins (``None`` when there are none), and the ids of the other series.
    """
    n = len(frame)
    if n == 0:
        return None, []
    codes, uniques = pd.factorize(frame[SERIES], sort=False)  # contiguous, increasing: frame is sorted
    uniques = np.asarray(uniques, dtype=object)
    stamps = frame[TIMESTAMP].to_numpy().astype("datetime64[ns]").view("int64")  # (n_rows,)
    first_row = np.ones(n, dtype=bool)
    first_row[1:] = codes[1:] != codes[:-1]
    starts = np.flatnonzero(first_row)  # (n_series,)
    lengths = np.diff(np.append(starts, n))
    series_of_row = np.repeat(np.arange(len(starts)), lengths)
    first, last = stamps[starts], stamps[starts + lengths - 1]
    step = int(offset.nanos)
    # resample bins fixed steps from midnight of the first day (origin="start_day")
    on_grid = (first % _DAY_NS) % step == 0
    since_first = stamps - first[series_of_row]
    off = (since_first % step) != 0
    on_grid &= np.bincount(series_of_row[off], minlength=len(starts)) == 0
    slow = [str(u) for u in uniques[codes[starts[~on_grid]]]]
    fast = np.flatnonzero(on_grid)
    if len(fast) == 0:
        return None, slow
    grid_lengths = (last[fast] - first[fast]) // step + 1  # first to last bin
    grid_starts = np.cumsum(grid_lengths) - grid_lengths
    grid_series = np.repeat(fast, grid_lengths)  # (n_steps,)
    local = np.arange(int(grid_lengths.sum()), dtype=np.int64) - np.repeat(grid_starts, grid_lengths)
    where = np.zeros(len(starts), dtype=np.int64)
    where[fast] = grid_starts
    rows = on_grid[series_of_row]
    position = where[series_of_row[rows]] + since_first[rows] // step
    data = np.full((len(local), len(values)), np.nan)  # (n_steps, n_values)
    data[position] = frame[values].to_numpy(dtype="float64")[rows]
    placed = pd.DataFrame(data, columns=values)
    placed.insert(0, TIMESTAMP, (first[grid_series] + local * step).view("datetime64[ns]"))
    placed.insert(0, SERIES, uniques[codes[starts[grid_series]]])
    return placed, slow


def _place_on_grid(
    sid: str, group: pd.DataFrame, values: list[str], offset: pd.DateOffset
) -> pd.DataFrame | None:
    """The series on its full grid when every timestamp is a bin label already, else ``None``."""
    stamps = pd.DatetimeIndex(group[TIMESTAMP].to_numpy())
    first = stamps[0]
    if not offset.is_on_offset(first):
        return None
    if isinstance(offset, pd.offsets.Tick):
        # resample bins fixed steps from midnight of the first day (origin="start_day").
        if (first - first.normalize()) % pd.Timedelta(offset.nanos) != pd.Timedelta(0):
            return None
    grid = pd.date_range(first, stamps[-1], freq=offset)
    position = grid.searchsorted(stamps)
    if (position >= len(grid)).any() or not (grid[np.minimum(position, len(grid) - 1)] == stamps).all():
        return None
    data = np.full((len(grid), len(values)), np.nan)  # (n_steps, n_values)
    data[position] = group[values].to_numpy(dtype="float64")
    placed = pd.DataFrame(data, columns=values)
    placed.insert(0, TIMESTAMP, grid)
    placed.insert(0, SERIES, sid)
    return placed
