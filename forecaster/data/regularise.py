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

from forecaster.data.columns import SEGMENT, TIMESTAMP
from forecaster.data.columns import SERIES_ID as SERIES
from forecaster.data.frequency import (
    check_not_upsampling,
    infer_frequency,
    parse_frequency,
)
from forecaster.data.gaps import fill_and_split
from forecaster.data.grid import resample_to_grid
from forecaster.data.validation import canonical_order
from forecaster.errors import DataValidationError

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

    grid = resample_to_grid(frame, values, frequency, aggregate)
    out, counts = fill_and_split(grid, values, max_gap)
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
