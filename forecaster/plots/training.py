"""Training charts: learning curves, gradient norms and the gradient-clipping study, per epoch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from forecaster.plots._style import LOG_RANGE, _epoch_ticks, _figure, _log_if_positive, _save


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


# --- helpers ---------------------------------------------------------------------------------


def _maybe_log(ax, values: np.ndarray) -> None:
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > LOG_RANGE:
        ax.set_yscale("log")


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
