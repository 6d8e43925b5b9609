"""PNG charts of forecasts, training curves, gradient telemetry and model comparisons.

Every function takes data and an output path, draws on its own :class:`matplotlib.figure.Figure`
with the Agg canvas (no pyplot, no global state), writes the PNG atomically with
:func:`forecaster.atomic.atomic_output` (a hidden temporary file in the same directory, then
:func:`os.replace`) and returns the path as a :class:`pathlib.Path`. Parent directories are
created when missing.

Example
-------
>>> import numpy as np, pandas as pd, tempfile, os
>>> ts = pd.date_range("2024-01-01", periods=48, freq="h")
>>> out = plot_forecast(ts[:36], np.sin(np.arange(36) / 4), ts[36:], np.zeros(12),
...                     title="demo", path=os.path.join(tempfile.mkdtemp(), "f.png"))
>>> out.read_bytes()[:4] == b"\\x89PNG"
True
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from forecaster.atomic import atomic_output

logger = logging.getLogger(__name__)

DPI = 110
FIGSIZE = (10.0, 4.0)
MODEL_COLOUR = "tab:blue"
BASELINE_COLOUR = "tab:gray"
LOG_RANGE = 20.0
"""Use a log y axis when max / min of the (positive) values exceeds this ratio."""


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
    """Recent history, the forecast with its interval band and, optionally, the actual values.

    Parameters
    ----------
    history_ts : array-like of datetimes, shape (n_history,)
    history_values : array-like, shape (n_history,) or (n_history, n_targets)
    forecast_ts : array-like of datetimes, shape (horizon,)
    forecast, lower, upper, actual : array-like, shape (horizon,) or (horizon, n_targets)
        ``lower``/``upper`` (both or neither) draw the interval band; ``actual`` the true values.
    title : str
    path : path-like
        Output PNG (keyword-only).
    units : str
        y-axis label (e.g. ``"degC"``); with several targets each panel is labelled by
        ``target_names``.
    level : float, optional
        Interval level shown in the legend (e.g. 0.9 -> "90% interval").

    Returns
    -------
    pathlib.Path

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
    band_label = "interval" if level is None else f"{level:.0%} interval"
    for j, ax in enumerate(axes):
        ax.plot(history_ts, hist[:, j], color="black", linewidth=1.2, label="history")
        if low is not None:
            ax.fill_between(forecast_ts, low[:, j], high[:, j], color=MODEL_COLOUR, alpha=0.2,
                            label=band_label)
        ax.plot(forecast_ts, pred[:, j], color=MODEL_COLOUR, marker="o", markersize=3,
                linewidth=1.5, label="forecast")
        if true is not None:
            ax.plot(forecast_ts, true[:, j], color="tab:orange", marker=".", linewidth=1.0,
                    label="actual")
        ax.axvline(forecast_ts[0], color="gray", linestyle=":", linewidth=1)
        ax.set_ylabel(_ylabel(names[j], units))
        _date_axis(ax)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    axes[0].set_title(title or "Forecast")
    axes[-1].set_xlabel("time")
    return _save(fig, path)


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
    band_label = "interval" if level is None else f"{level:.0%} interval"
    for j, ax in enumerate(axes):
        if low is not None:
            ax.fill_between(timestamps, low[:, j], high[:, j], color=MODEL_COLOUR, alpha=0.2,
                            label=band_label)
        ax.plot(timestamps, true[:, j], color="black", linewidth=1.2, label="actual")
        ax.plot(timestamps, pred[:, j], color=MODEL_COLOUR, linewidth=1.2, label="forecast")
        ax.set_ylabel(_ylabel(names[j], units))
        _date_axis(ax)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    axes[0].set_title(title or "Forecast vs actual")
    axes[-1].set_xlabel("time")
    return _save(fig, path)


def plot_learning_curves(history: Mapping[str, Sequence[float]], title: str, path) -> Path:
    """``train_loss`` and ``val_loss`` per epoch; log y axis when the range is wide.

    Parameters
    ----------
    history : dict
        Per-epoch lists (the ``history`` of a TrainResult); needs ``train_loss``, uses
        ``val_loss`` when present.

    Returns
    -------
    pathlib.Path
    """
    series = _history_series(history, ("train_loss", "val_loss"), required=("train_loss",))
    fig, (ax,) = _figure()
    for key, values in series.items():
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", markersize=3, label=key)
    _maybe_log(ax, np.concatenate(list(series.values())))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title or "Learning curves")
    _epoch_ticks(ax)
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(loc="best", fontsize="small")
    return _save(fig, path)


def plot_gradient_norms(history: Mapping[str, Sequence[float]], title: str, path) -> Path:
    """``grad_norm_mean`` and ``grad_norm_max`` per epoch (log y), ``clipped_fraction`` on a twin axis.

    Returns
    -------
    pathlib.Path
    """
    series = _history_series(
        history, ("grad_norm_mean", "grad_norm_max"), required=("grad_norm_mean",)
    )
    fig, (ax,) = _figure()
    for key, values in series.items():
        style = "-" if key == "grad_norm_mean" else "--"
        ax.plot(np.arange(1, len(values) + 1), values, style, marker="o", markersize=3, label=key)
    _log_if_positive(ax, np.concatenate(list(series.values())))
    ax.set_xlabel("epoch")
    ax.set_ylabel("gradient norm")
    handles, labels = ax.get_legend_handles_labels()
    if history.get("clipped_fraction") is not None and len(history["clipped_fraction"]):
        fraction = np.asarray(history["clipped_fraction"], dtype=np.float64)
        twin = ax.twinx()
        twin.plot(np.arange(1, len(fraction) + 1), fraction, color="tab:red", alpha=0.6,
                  linestyle=":", marker="s", markersize=3, label="clipped_fraction")
        twin.set_ylim(-0.02, 1.02)
        twin.set_ylabel("fraction of steps clipped")
        more_handles, more_labels = twin.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    ax.set_title(title or "Gradient norms")
    _epoch_ticks(ax)
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(handles, labels, loc="best", fontsize="small")
    return _save(fig, path)


def plot_clipping_study(
    histories: Mapping[str, Mapping[str, Sequence[float]]], title: str, path
) -> Path:
    """Gradient norm per epoch of one architecture under each clipping setting (log y).

    Parameters
    ----------
    histories : dict
        ``{clipping label: history}``; each history needs ``grad_norm_mean`` and may hold
        ``grad_norm_max`` (drawn dashed in the same colour).

    Returns
    -------
    pathlib.Path
    """
    if not histories:
        raise ValueError("`histories` must hold at least one clipping setting. Received: {}")
    fig, (ax,) = _figure()
    everything = []
    for i, (label, history) in enumerate(histories.items()):
        series = _history_series(
            history, ("grad_norm_mean", "grad_norm_max"), required=("grad_norm_mean",),
            where=f"histories[{label!r}]",
        )
        colour = f"C{i % 10}"
        mean = series["grad_norm_mean"]
        ax.plot(np.arange(1, len(mean) + 1), mean, color=colour, marker="o", markersize=3,
                label=f"{label} (mean)")
        if "grad_norm_max" in series:
            peak = series["grad_norm_max"]
            ax.plot(np.arange(1, len(peak) + 1), peak, color=colour, linestyle="--", alpha=0.6,
                    label=f"{label} (max)")
        everything.extend(series.values())
    _log_if_positive(ax, np.concatenate(everything))
    ax.set_xlabel("epoch")
    ax.set_ylabel("gradient norm")
    ax.set_title(title or "Gradient clipping study")
    _epoch_ticks(ax)
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(loc="best", fontsize="small", ncol=2)
    return _save(fig, path)


def plot_metric_bars(
    names: Sequence[str],
    values: Sequence[float],
    title: str,
    path,
    baseline_names: Sequence[str] = (),
    *,
    xlabel: str = "test MAE",
) -> Path:
    """Horizontal bars of a metric per model, best (lowest) at the top, baselines in grey.

    Parameters
    ----------
    names : sequence of str, length n_models
    values : sequence of float, length n_models
        NaN values sort last and draw no bar.
    baseline_names : sequence of str
        Names drawn in the baseline colour.

    Returns
    -------
    pathlib.Path
    """
    names = [str(n) for n in names]
    numbers = np.asarray(values, dtype=np.float64)
    if not names or numbers.shape != (len(names),):
        raise ValueError(
            "`names` and `values` must be non-empty and of the same length. "
            f"Received: {len(names)} names, values of shape {numbers.shape}"
        )
    order = np.argsort(numbers, kind="stable")  # NaN last
    baselines = set(map(str, baseline_names))
    fig, (ax,) = _figure(height=max(FIGSIZE[1], 0.35 * len(names) + 1.2))
    positions = np.arange(len(names))
    colours = [BASELINE_COLOUR if names[i] in baselines else MODEL_COLOUR for i in order]
    bars = ax.barh(positions, np.nan_to_num(numbers[order], nan=0.0), color=colours)
    ax.set_yticks(positions, [names[i] for i in order])
    ax.invert_yaxis()
    finite = numbers[np.isfinite(numbers)]
    offset = 0.01 * (float(finite.max()) if finite.size else 1.0)
    for bar, value in zip(bars, numbers[order]):
        text = "n/a" if not np.isfinite(value) else f"{value:.4g}"
        ax.text(bar.get_width() + offset, bar.get_y() + bar.get_height() / 2, text,
                va="center", fontsize="small")
    if finite.size:
        ax.set_xlim(0, float(finite.max()) * 1.15 if finite.max() > 0 else 1.0)
    if baselines & set(names):
        ax.legend(handles=[Patch(color=MODEL_COLOUR, label="model"),
                           Patch(color=BASELINE_COLOUR, label="baseline")],
                  loc="lower right", fontsize="small")
    ax.set_xlabel(xlabel)
    ax.set_title(title or xlabel)
    ax.grid(True, axis="x", alpha=0.3)
    return _save(fig, path)


def plot_mae_by_step(
    curves: Mapping[str, Sequence[float]], title: str, path, *, ylabel: str = "MAE"
) -> Path:
    """MAE per horizon step (1..horizon) for several models.

    Parameters
    ----------
    curves : dict
        ``{model name: array (horizon,)}``.

    Returns
    -------
    pathlib.Path
    """
    if not curves:
        raise ValueError("`curves` must hold at least one model. Received: {}")
    fig, (ax,) = _figure()
    for name, values in curves.items():
        array = np.asarray(values, dtype=np.float64)
        if array.ndim != 1 or array.size == 0:
            raise ValueError(
                f"`curves[{name!r}]` must be a non-empty 1-D array (horizon,). Received: shape {array.shape}"
            )
        ax.plot(np.arange(1, array.size + 1), array, marker="o", markersize=3, label=str(name))
    ax.set_xlabel("horizon step")
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"{ylabel} by horizon step")
    _epoch_ticks(ax)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small", ncol=2)
    return _save(fig, path)


# --- drawing helpers -------------------------------------------------------------------------


def _figure(n_rows: int = 1, height: float | None = None) -> tuple[Figure, list]:
    if height is None:
        height = FIGSIZE[1] if n_rows == 1 else min(3.0 * n_rows, 12.0)
    fig = Figure(figsize=(FIGSIZE[0], height), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(n_rows, 1, sharex=True, squeeze=False)[:, 0]
    return fig, list(axes)


def _save(fig: Figure, path) -> Path:
    """Write ``fig`` as a PNG to ``path`` atomically and release it."""
    _require_path(path)
    target = Path(path)
    try:
        fig.tight_layout()
        with atomic_output(target, suffix=".png") as temp:
            fig.savefig(temp, format="png", dpi=DPI)
    finally:
        fig.clear()
    logger.info("wrote plot %s", target)
    return target


def _require_path(path) -> None:
    if path is None or str(path) == "":
        raise ValueError(f"`path` must name the output PNG file. Received: path={path!r}")


def _date_axis(ax) -> None:
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _epoch_ticks(ax) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _maybe_log(ax, values: np.ndarray) -> None:
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > LOG_RANGE:
        ax.set_yscale("log")


def _log_if_positive(ax, values: np.ndarray) -> None:
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() > 0:
        ax.set_yscale("log")
    else:
        logger.info("gradient norms hold zeros or no finite values; using a linear y axis")


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


def _history_series(
    history: Mapping[str, Sequence[float]],
    keys: Sequence[str],
    required: Sequence[str],
    where: str = "history",
) -> dict[str, np.ndarray]:
    series = {}
    for key in keys:
        values = history.get(key)
        if values is None or len(values) == 0:
            if key in required:
                raise ValueError(
                    f"`{where}` must hold a non-empty list under {key!r}. Received keys: {sorted(history)}"
                )
            continue
        series[key] = np.asarray(values, dtype=np.float64)
    return series
