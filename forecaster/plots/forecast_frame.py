"""The forecast file's plot: one series' recent history, its forecast and interval, from the frames.

Takes the canonical history frame and a forecast frame (``series_id, timestamp, step, forecast,
lower, upper`` and ``target`` with several targets) as the run and ``forecaster forecast`` write
them, and draws them with :func:`forecaster.plots.forecast.plot_forecast`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from forecaster.data.columns import SERIES_ID, TIMESTAMP
from forecaster.plots.forecast import plot_forecast

logger = logging.getLogger(__name__)


def plot_forecast_frame(
    history: pd.DataFrame,
    forecast: pd.DataFrame,
    targets: Sequence[str],
    path: str | os.PathLike[str],
    title: str = "",
    n_history: int | None = None,
    level: float | None = None,
    units: str | None = None,
) -> Path:
    """Plot one series' recent history, forecast and interval (one panel per target).

    Parameters
    ----------
    history:
        Canonical frame with ``series_id``, ``timestamp`` and the target columns.
    forecast:
        A forecast frame (``series_id, timestamp, step, forecast, lower, upper`` and ``target``
        when there are several targets).
    targets:
        Target column names, in the model's order.
    path:
        Output PNG (written atomically by :func:`forecaster.plots.plot_forecast`).
    n_history:
        History steps shown; default ``max(3 * horizon, 48)``.
    level:
        Interval level for the legend (0.9 -> "90% interval").
    units:
        Unit of the targets for the y axis (the pipeline's ``data.units``).

    Returns
    -------
    pathlib.Path
        The plot. With several series only the first is drawn (the CSV holds all of them).
    """
    targets = [str(t) for t in targets]
    sid = str(forecast[SERIES_ID].iloc[0])
    if forecast[SERIES_ID].nunique() > 1:
        logger.info("The plot %s shows series %r; the forecast CSV holds all series", path, sid)
    fc = forecast[forecast[SERIES_ID].astype(str) == sid]
    if "target" in fc.columns:
        wide = {col: fc.pivot(index=TIMESTAMP, columns="target", values=col)[targets]
                for col in ("forecast", "lower", "upper")}
        forecast_ts = wide["forecast"].index
        values = {col: frame.to_numpy(dtype=float) for col, frame in wide.items()}
    else:
        targets = targets[:1]
        forecast_ts = pd.DatetimeIndex(fc[TIMESTAMP])
        values = {col: fc[col].to_numpy(dtype=float) for col in ("forecast", "lower", "upper")}
    hist = history[history[SERIES_ID].astype(str) == sid]
    hist = hist.tail(n_history or max(3 * len(forecast_ts), 48))
    return plot_forecast(
        pd.DatetimeIndex(hist[TIMESTAMP]), hist[targets].to_numpy(dtype=float), forecast_ts,
        values["forecast"], lower=values["lower"], upper=values["upper"],
        title=title if sid == "series" else f"{title} ({sid})",
        path=path, target_names=targets, level=level, units=units or "",
    )
