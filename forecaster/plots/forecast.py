"""Forecast charts: history, forecast, interval band and actual values over time."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
from matplotlib.figure import Figure

from forecaster.plots._style import MODEL_COLOUR, _figure, _save


def plot_forecast(
    history_ts,
    history_values,
    forecast_ts,
    forecast,
    lower=None,
    upper=None,
    actual=None,
    title: str = "",
    *,
    path: str | os.PathLike,
    units: str = "",
    target_names: Sequence[str] | None = None,
    level: float | None = None,
) -> Path:
    """Write :func:`forecast_figure` as a PNG (``path``, keyword-only); returns the path."""
    return _save(forecast_figure(history_ts, history_values, forecast_ts, forecast, lower, upper, actual,
                                 title, units=units, target_names=target_names, level=level), path)


def forecast_figure(
    history_ts,
    history_values,
    forecast_ts,
    forecast,
    lower=None,
    upper=None,
    actual=None,
    title: str = "",
    *,
    units: str = "",
    target_names: Sequence[str] | None = None,
    level: float | None = None,
) -> Figure:
    """Recent history, the forecast with its interval band and, optionally, the actual values.

    Parameters
    ----------
    history_ts : array-like of datetimes, shape (n_history,)
    history_values : array-like, shape (n_history,) or (n_history, n_targets)
    forecast_ts : array-like of datetimes, shape (horizon,)
    forecast, lower, upper, actual : array-like, shape (horizon,) or (horizon, n_targets)
        ``lower``/``upper`` (both or neither) draw the interval band; ``actual`` the true values.
    title : str
    units : str
        Unit of the values (e.g. ``"degC"``), shown after the target name on the y axis
        (``temp_max [degC]``); without it the target name alone.
    level : float, optional
        Interval level shown in the legend (e.g. 0.9 -> "90% interval").

    The forecast line (and band) starts from the last observation, so the two read as one curve.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        Lengths or target counts disagree, or only one of ``lower``/``upper`` is given.
    """
    history_ts = _timestamps("history_ts", history_ts)
    forecast_ts = _timestamps("forecast_ts", forecast_ts)
    hist = _columns("history_values", history_values, len(history_ts))
    pred = _columns("forecast", forecast, len(forecast_ts), n_targets=hist.shape[1])
    low, high = _band(lower, upper, len(forecast_ts), hist.shape[1])
    true = None if actual is None else _columns("actual", actual, len(forecast_ts), hist.shape[1])
    names = _target_names(target_names, hist.shape[1])

    fig, axes = _figure(n_rows=hist.shape[1])
    band_label = band_legend(level)
    # Join the forecast to the last observation: one curve, no gap at the forecast origin.
    joined_ts = np.concatenate([history_ts[-1:], forecast_ts])
    for j, ax in enumerate(axes):
        last = hist[-1:, j]
        ax.plot(history_ts, hist[:, j], color="black", linewidth=1.2, label="history")
        if low is not None:
            ax.fill_between(joined_ts, np.concatenate([last, low[:, j]]),
                            np.concatenate([last, high[:, j]]), color=MODEL_COLOUR, alpha=0.2,
                            label=band_label)
        ax.plot(joined_ts, np.concatenate([last, pred[:, j]]), color=MODEL_COLOUR, marker="o",
                markersize=3, linewidth=1.5, label="forecast", markevery=list(range(1, len(joined_ts))))
        if true is not None:
            ax.plot(forecast_ts, true[:, j], color="tab:orange", marker=".", linewidth=1.0,
                    label="actual")
        ax.axvline(history_ts[-1], color="gray", linestyle=":", linewidth=1)
        _finish_axis(ax, _ylabel(names[j], units))
    axes[0].set_title(title or "Forecast")
    axes[-1].set_xlabel("date (dotted line: last observation)")
    return fig


def plot_forecast_vs_actual(
    timestamps,
    actual,
    forecast,
    lower,
    upper,
    title: str,
    path: str | os.PathLike,
    *,
    units: str = "",
    target_names: Sequence[str] | None = None,
    level: float | None = None,
) -> Path:
    """A test slice: actual values, forecasts and the interval band over the same timestamps.

    Parameters
    ----------
    timestamps : array-like of datetimes, shape (n,)
    actual, forecast : array-like, shape (n,) or (n, n_targets)
    lower, upper : array-like shaped like ``forecast``, or both None (no band)
    title : str
    path : path-like
        Output PNG.

    Returns
    -------
    pathlib.Path
    """
    timestamps = _timestamps("timestamps", timestamps)
    true = _columns("actual", actual, len(timestamps))
    pred = _columns("forecast", forecast, len(timestamps), n_targets=true.shape[1])
    low, high = _band(lower, upper, len(timestamps), true.shape[1])
    names = _target_names(target_names, true.shape[1])

    fig, axes = _figure(n_rows=true.shape[1])
    band_label = band_legend(level)
    for j, ax in enumerate(axes):
        if low is not None:
            ax.fill_between(timestamps, low[:, j], high[:, j], color=MODEL_COLOUR, alpha=0.2,
                            label=band_label)
        ax.plot(timestamps, true[:, j], color="black", linewidth=1.2, label="actual")
        ax.plot(timestamps, pred[:, j], color=MODEL_COLOUR, linewidth=1.2, label="forecast")
        _finish_axis(ax, _ylabel(names[j], units))
    axes[0].set_title(title or "Forecast vs actual")
    axes[-1].set_xlabel("date of the forecast target")
    return _save(fig, path)


# --- drawing helpers -------------------------------------------------------------------------


def band_legend(level: float | None) -> str:
    """The interval's legend label: ``90% interval`` for level 0.9, ``interval`` when unknown."""
    return "interval" if level is None else f"{level:.0%} interval"


def _finish_axis(ax, ylabel: str) -> None:
    """The y label, a readable date axis, a light grid and the legend outside on the right."""
    ax.set_ylabel(ylabel)
    _date_axis(ax)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", borderaxespad=0.0)


def _date_axis(ax) -> None:
    """Dates a reader can read on their own: ``15 Nov``, ``Dec 2015``, ``2016``; no offset text
    in the corner (which named the year of the last tick only)."""
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    formatter = mdates.ConciseDateFormatter(
        locator,
        formats=["%Y", "%b %Y", "%d %b", "%H:%M", "%H:%M", "%S.%f"],
        zero_formats=["", "%Y", "%b %Y", "%d %b", "%d %b %H:%M", "%H:%M"],
        show_offset=False,
    )
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(formatter)


def _ylabel(name: str | None, units: str) -> str:
    if name and units:
        return f"{name} [{units}]"
    return name or units or "value"


# --- argument checks ----------------------------------------------------------------------------


def _timestamps(name: str, values) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"`{name}` must be a non-empty 1-D sequence of timestamps. Received: shape {array.shape}")
    if not np.issubdtype(array.dtype, np.datetime64):
        try:
            array = np.asarray(array, dtype="datetime64[ns]")
        except (TypeError, ValueError) as exc:
            raise ValueError(f"`{name}` must hold timestamps. Received dtype {array.dtype}") from exc
    return array


def _columns(name: str, values, n: int, n_targets: int | None = None) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, np.newaxis]
    if array.ndim != 2 or array.shape[0] != n:
        raise ValueError(
            f"`{name}` must have shape ({n},) or ({n}, n_targets) to match its timestamps. "
            f"Received: shape {np.shape(values)}"
        )
    if n_targets is not None and array.shape[1] != n_targets:
        raise ValueError(
            f"`{name}` must have {n_targets} target column(s). Received: shape {np.shape(values)}"
        )
    return array


def _band(lower, upper, n: int, n_targets: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    if (lower is None) != (upper is None):
        raise ValueError(
            "`lower` and `upper` must be given together. "
            f"Received: lower is {'None' if lower is None else 'set'}, upper is {'None' if upper is None else 'set'}"
        )
    if lower is None:
        return None, None
    return _columns("lower", lower, n, n_targets), _columns("upper", upper, n, n_targets)


def _target_names(names: Sequence[str] | None, n_targets: int) -> list[str | None]:
    if names is None:
        return [None] * n_targets
    names = list(names)
    if len(names) != n_targets:
        raise ValueError(
            f"`target_names` must name the {n_targets} target(s). Received: {names}"
        )
    return names
