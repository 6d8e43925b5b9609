"""Short gaps filled, long ones cut: the second step of :func:`forecaster.data.regularise.regularise`.

On the regular grid, runs of at most ``max_gap`` missing values are interpolated linearly (per
column, between observed values of the same segment); longer runs, and missing values at a
series' start or end, are dropped, and the rows left are numbered into contiguous ``segment`` s.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster.data.columns import SEGMENT, TIMESTAMP
from forecaster.data.columns import SERIES_ID as SERIES


def fill_and_split(
    grid: pd.DataFrame, values: list[str], max_gap: int
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Interpolate short NaN runs, drop long/edge runs, number the segments.

    ``grid`` has shape ``(n_steps, 2 + n_values)`` with every series complete on its grid.
    """
    n = len(grid)
    data = grid[values].to_numpy(dtype="float64", copy=True)  # (n_steps, n_values)
    sid = grid[SERIES].to_numpy()
    first = np.ones(n, dtype=bool)
    first[1:] = sid[1:] != sid[:-1]
    last = np.ones(n, dtype=bool)
    last[:-1] = first[1:]
    nan = np.isnan(data)

    drop = np.zeros(n, dtype=bool)
    for j in range(data.shape[1]):
        drop |= _long_or_edge_runs(nan[:, j], first, last, max_gap)

    keep = ~drop
    segment_key = _segment_starts(keep, first).cumsum()  # unique per (series, segment)
    filled = _interpolate(data, nan, keep, segment_key)

    # Values still missing sit at a segment's edge (next to a run dropped for another column).
    keep &= ~np.isnan(filled).any(axis=1)
    positions = np.flatnonzero(keep)
    out = grid.loc[keep, [SERIES, TIMESTAMP]].reset_index(drop=True)
    for j, col in enumerate(values):
        out[col] = filled[keep, j]
    starts = _segment_starts(keep, first)[keep]
    out[SEGMENT] = (
        pd.Series(starts.astype("int64")).groupby(out[SERIES].to_numpy(), sort=False).cumsum() - 1
    ).to_numpy(dtype="int64")
    counts = {
        "missing_steps": nan.all(axis=1),
        "filled": (nan & keep[:, None]).sum(axis=1),
        "kept": keep,
        "positions": positions,
    }
    return out, counts


def _long_or_edge_runs(
    missing: np.ndarray, first: np.ndarray, last: np.ndarray, max_gap: int
) -> np.ndarray:
    """Rows in runs of ``missing`` longer than ``max_gap`` or touching a series' first/last row."""
    if not missing.any():
        return np.zeros_like(missing)
    prev = np.zeros_like(missing)
    prev[1:] = missing[:-1]
    prev[first] = False
    run_start = missing & ~prev
    run_id = np.cumsum(run_start)  # 1.. on missing rows
    ids = run_id[missing]
    lengths = np.bincount(ids)
    edge = np.zeros(len(lengths), dtype=bool)
    edge[run_id[missing & first]] = True
    edge[run_id[missing & last]] = True
    bad = (lengths[ids] > max_gap) | edge[ids]
    rows = np.zeros_like(missing)
    rows[np.flatnonzero(missing)[bad]] = True
    return rows


def _segment_starts(keep: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Kept rows that begin a segment: a series' first kept row, or one after a dropped row."""
    prev_kept = np.zeros_like(keep)
    prev_kept[1:] = keep[:-1]
    prev_kept[first] = False
    return keep & ~prev_kept


def _interpolate(
    data: np.ndarray, nan: np.ndarray, keep: np.ndarray, segment_key: np.ndarray
) -> np.ndarray:
    """Linear interpolation by step within each segment; edges stay NaN. ``(n_steps, n_values)``."""
    filled = data.copy()
    todo = nan & keep[:, None]
    columns = np.flatnonzero(todo.any(axis=0))
    if len(columns) == 0:
        return filled
    rows = np.flatnonzero(keep)  # kept rows of a segment are consecutive steps
    n_kept = len(rows)
    step = np.arange(n_kept)
    key = segment_key[rows]
    for j in columns:
        column = data[rows, j]  # (n_kept,)
        missing = np.isnan(column)
        # Index of the last observed value at or before each row, and the next at or after.
        before = np.maximum.accumulate(np.where(missing, -1, step))
        after = np.minimum.accumulate(np.where(missing, n_kept, step)[::-1])[::-1]
        r = np.flatnonzero(missing)
        lo, hi = before[r], after[r]
        inside = (lo >= 0) & (hi < n_kept)
        r, lo, hi = r[inside], lo[inside], hi[inside]
        same = (key[lo] == key[r]) & (key[hi] == key[r])
        r, lo, hi = r[same], lo[same], hi[same]
        column[r] = column[lo] + (column[hi] - column[lo]) * ((r - lo) / (hi - lo))
        filled[rows, j] = column
    return filled
