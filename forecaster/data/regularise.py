"""Put every series of a canonical frame on a regular time grid, fill short gaps, split at long ones.

Per series: aggregate the rows into bins of ``frequency`` (mean, last or sum), which also creates
the missing steps as rows of NaN; linearly interpolate runs of at most ``max_gap`` missing values
(per column, between observed values); drop longer runs, and leading/trailing missing values.
The rows left are numbered into ``segment`` s: a segment is contiguous at the frequency, and a
dropped run starts a new one.

Example
-------
>>> import numpy as np, pandas as pd
>>> frame = pd.DataFrame({
...     "series_id": "series",
...     "timestamp": pd.to_datetime(["2020-01-01 00:00", "2020-01-01 01:00",
...                                  "2020-01-01 03:00", "2020-01-01 09:00", "2020-01-01 10:00"]),
...     "y": [0.0, 1.0, 3.0, 9.0, 10.0]})
>>> out, report = regularise(frame, "1h", "mean", max_gap=1)
>>> out["y"].tolist(), out["segment"].tolist()
([0.0, 1.0, 2.0, 3.0, 9.0, 10.0], [0, 0, 0, 0, 1, 1])
>>> report.series["series"].cells_filled, report.series["series"].rows_dropped
(1, 5)
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from forecaster.data.frequency import (
    check_not_upsampling,
    infer_frequency,
    parse_frequency,
)
from forecaster.data.validation import canonical_order
from forecaster.errors import DataValidationError
from forecaster.schema import SEGMENT, TIMESTAMP
from forecaster.schema import SERIES_ID as SERIES

logger = logging.getLogger(__name__)

AGGREGATES = ("mean", "last", "sum")


@dataclass
class SeriesReport:
    """What regularisation did to one series.

    ``rows_resampled`` counts the grid rows from the first to the last bin (observed or not);
    ``missing_steps`` the grid rows with no value at all; ``rows_dropped`` the grid rows removed
    (``rows_resampled - rows_out``); ``cells_filled`` the values interpolated in the rows kept.
    """

    series_id: str
    rows_in: int
    rows_resampled: int
    missing_steps: int
    cells_filled: int
    rows_dropped: int
    rows_out: int
    n_segments: int
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    frequency: str


@dataclass
class RegularisationReport:
    """Per-series counts of a :func:`regularise` call, plus its settings."""

    frequency: str
    aggregate: str
    max_gap: int
    series: dict[str, SeriesReport] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready: timestamps as ISO strings."""
        rows = {}
        for sid, rep in self.series.items():
            item = asdict(rep)
            for key in ("start", "end"):
                item[key] = None if item[key] is None else pd.Timestamp(item[key]).isoformat()
            rows[sid] = item
        return {
            "frequency": self.frequency,
            "aggregate": self.aggregate,
            "max_gap": self.max_gap,
            "series": rows,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per series, the :class:`SeriesReport` fields as columns."""
        return pd.DataFrame([asdict(rep) for rep in self.series.values()])

    def totals(self) -> dict[str, int]:
        keys = ("rows_in", "rows_resampled", "missing_steps", "cells_filled", "rows_dropped",
                "rows_out", "n_segments")
        return {k: int(sum(getattr(r, k) for r in self.series.values())) for k in keys}

    def one_line(self) -> str:
        t = self.totals()
        return (
            f"regularised {len(self.series)} series to {self.frequency!r} ({self.aggregate}): "
            f"{t['rows_in']} rows in, {t['rows_out']} out, {t['missing_steps']} missing steps, "
            f"{t['cells_filled']} cells interpolated, {t['rows_dropped']} rows dropped, "
            f"{t['n_segments']} segments (max_gap={self.max_gap})"
        )

    def summary(self) -> str:
        """A short text table: the one-line totals, then one line per series."""
        lines = [self.one_line()]
        for rep in self.series.values():
            span = "empty" if rep.start is None else f"{rep.start} .. {rep.end}"
            lines.append(
                f"  {rep.series_id}: {rep.rows_in} in -> {rep.rows_resampled} steps -> "
                f"{rep.rows_out} out; {rep.missing_steps} missing steps, {rep.cells_filled} filled, "
                f"{rep.rows_dropped} dropped, {rep.n_segments} segment(s); {span}"
            )
        return "\n".join(lines)


def regularise(
    frame: pd.DataFrame,
    frequency: str | None = None,
    aggregate: str = "mean",
    max_gap: int = 3,
) -> tuple[pd.DataFrame, RegularisationReport]:
    """Resample each series to ``frequency``, fill gaps of at most ``max_gap`` steps, split the rest.

    Parameters
    ----------
    frame : pandas.DataFrame
        Canonical frame: ``series_id``, ``timestamp``, numeric columns (a ``segment`` column from
        an earlier call is recomputed).
    frequency : str or None
        pandas offset alias (``'10min'``, ``'1h'``, ``'D'``, ``'B'``...). ``None`` infers it per
        series (all series must agree).
    aggregate : {'mean', 'last', 'sum'}
        How the rows of one bin become one value.
    max_gap : int
        Longest run of missing steps (or of missing values in one column) that is interpolated.

    Returns
    -------
    frame : pandas.DataFrame
        Shape ``(n_rows_out, n_columns + 1)``: the input columns plus ``segment`` (int64, 0.. per
        series), no NaN, sorted by ``series_id, timestamp``, RangeIndex.
    report : RegularisationReport

    Raises
    ------
    DataValidationError
        Unknown ``frequency`` or ``aggregate``; ``frequency`` finer than the data (upsampling);
        a frequency that cannot be inferred, or series that disagree on it.
    """
    if aggregate not in AGGREGATES:
        raise DataValidationError(
            f"`aggregate` must be one of {list(AGGREGATES)}. Received: aggregate={aggregate!r}"
        )
    if not isinstance(max_gap, (int, np.integer)) or isinstance(max_gap, bool) or max_gap < 0:
        raise DataValidationError(f"`max_gap` must be an integer >= 0. Received: max_gap={max_gap!r}")
    missing = [c for c in (SERIES, TIMESTAMP) if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"regularise needs a canonical frame with columns {[SERIES, TIMESTAMP]}; missing "
            f"{missing}. Columns found: {list(frame.columns)}"
        )
    frame = frame.drop(columns=[SEGMENT], errors="ignore")
    values = [c for c in frame.columns if c not in (SERIES, TIMESTAMP)]
    not_numeric = [c for c in values if not pd.api.types.is_numeric_dtype(frame[c].dtype)]
    if not_numeric:
        raise DataValidationError(
            f"regularise needs numeric value columns; {not_numeric} are not numeric."
        )
    order = canonical_order(frame)  # None for a frame in order already (the validated frame)
    if order is not None:
        frame = frame.take(order)
    frequency = _frequency(frame, frequency)

    grid = _resample(frame, values, frequency, aggregate)
    out, counts = _fill_and_split(grid, values, max_gap)
    report = _report(frame, grid, out, counts, frequency, aggregate, max_gap)
    logger.info("%s", report.one_line())
    return out, report


def _stamps_by_series(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each series' timestamps (views of one array, no per-series frame), in series order.

    ``frame`` is sorted by series and time.
    """
    codes, uniques = pd.factorize(frame[SERIES], sort=False)  # contiguous, increasing: frame is sorted
    starts = np.flatnonzero(np.diff(codes, prepend=-1) != 0)
    pieces = np.split(frame[TIMESTAMP].to_numpy(), starts[1:])
    return {str(uniques[codes[start]]): stamps for start, stamps in zip(starts, pieces)}


def _frequency(frame: pd.DataFrame, frequency: str | None) -> str:
    groups = _stamps_by_series(frame)
    if frequency is not None:
        offset = parse_frequency(frequency)
        for sid, stamps in groups.items():
            check_not_upsampling(sid, stamps, frequency, offset)
        return frequency
    inferred = {sid: infer_frequency(stamps) for sid, stamps in groups.items()}
    unknown = [sid for sid, f in inferred.items() if f is None]
    if unknown:
        raise DataValidationError(
            f"cannot infer the frequency of series {unknown} (fewer than two distinct timestamps). "
            "Set data.frequency, e.g. '1h' or 'D'."
        )
    found = sorted(set(inferred.values()))
    if len(found) > 1:
        shown = {sid: f for sid, f in list(inferred.items())[:10]}
        raise DataValidationError(
            f"the series have different frequencies {found} (inferred per series: {shown}). "
            "Set data.frequency to one of them (the coarsest avoids upsampling)."
        )
    logger.info("inferred frequency %r for %d series", found[0], len(inferred))
    return found[0]


def _resample(frame: pd.DataFrame, values: list[str], frequency: str, aggregate: str) -> pd.DataFrame:
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


def _fill_and_split(
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


def _report(
    frame: pd.DataFrame,
    grid: pd.DataFrame,
    out: pd.DataFrame,
    counts: dict[str, np.ndarray],
    frequency: str,
    aggregate: str,
    max_gap: int,
) -> RegularisationReport:
    sid = grid[SERIES].to_numpy()
    kept = counts["kept"]
    per_grid = pd.DataFrame(
        {
            "rows_resampled": 1,
            "missing_steps": counts["missing_steps"].astype("int64"),
            "cells_filled": np.where(kept, counts["filled"], 0),
            "rows_out": kept.astype("int64"),
        }
    ).groupby(sid, sort=True).sum()
    rows_in = frame.groupby(SERIES, sort=True).size()
    spans = out.groupby(SERIES, sort=True).agg(
        start=(TIMESTAMP, "min"), end=(TIMESTAMP, "max"), n_segments=(SEGMENT, "nunique")
    )
    report = RegularisationReport(frequency=frequency, aggregate=aggregate, max_gap=int(max_gap))
    for key in rows_in.index:
        key = str(key)
        g = per_grid.loc[key] if key in per_grid.index else None
        resampled = int(g["rows_resampled"]) if g is not None else 0
        rows_out = int(g["rows_out"]) if g is not None else 0
        has_rows = key in spans.index
        report.series[key] = SeriesReport(
            series_id=key,
            rows_in=int(rows_in.loc[key]),
            rows_resampled=resampled,
            missing_steps=int(g["missing_steps"]) if g is not None else 0,
            cells_filled=int(g["cells_filled"]) if g is not None else 0,
            rows_dropped=resampled - rows_out,
            rows_out=rows_out,
            n_segments=int(spans.loc[key, "n_segments"]) if has_rows else 0,
            start=pd.Timestamp(spans.loc[key, "start"]) if has_rows else None,
            end=pd.Timestamp(spans.loc[key, "end"]) if has_rows else None,
            frequency=frequency,
        )
        if rows_out == 0:
            logger.warning("series %r has no rows left after regularisation", key)
    return report
