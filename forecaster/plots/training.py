"""Training charts: learning curves, gradient norms and the gradient-clipping study, per epoch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from forecaster.plots._style import (
    LOG_RANGE,
    _epoch_ticks,
    _figure,
    _figure_grid,
    _log_if_positive,
    _save,
)

#: What the training loss is computed on: the network's scaled targets, not the data's units.
SCALED_UNITS = "scaled target units"

_MARKERS = ("o", "x", "^", "s", "v", "D", "+")
_CLIP_KIND_WORDS = {"clipnorm": "norm threshold", "global_clipnorm": "global norm threshold",
                    "clipvalue": "value threshold (per element)"}


def loss_label(loss: str | None = None) -> str:
    """``training loss (mse, scaled target units)``: the y label of loss curves."""
    return f"training loss ({loss + ', ' if loss else ''}{SCALED_UNITS})"


def learning_curves_figure(history: Mapping[str, Sequence[float]], title: str, *,
                           loss: str | None = None) -> Figure:
    """``train_loss`` and ``val_loss`` per epoch; log y axis when the range is wide.

    Parameters
    ----------
    history : dict
        Per-epoch lists (the ``history`` of a TrainResult); needs ``train_loss``, uses
        ``val_loss`` when present.
    loss : str, optional
        The loss function (``training.loss``, e.g. ``mse``), named on the y axis. The loss is
        computed on scaled targets, and the axis says so.
    """
    series = _history_series(history, ("train_loss", "val_loss"), required=("train_loss",))
    fig, (ax,) = _figure()
    names = {"train_loss": "training windows", "val_loss": "validation windows"}
    for key, values in series.items():
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", markersize=3, label=names[key])
    _maybe_log(ax, np.concatenate(list(series.values())))
    ax.set_xlabel("epoch")
    ax.set_ylabel(loss_label(loss))
    ax.set_title(title or "Learning curves")
    _epoch_ticks(ax)
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(loc="upper right", fontsize="small")
    return fig


def plot_learning_curves(history: Mapping[str, Sequence[float]], title: str, path, *,
                         loss: str | None = None) -> Path:
    """Write :func:`learning_curves_figure` as a PNG; returns the path."""
    return _save(learning_curves_figure(history, title, loss=loss), path)


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


def clipping_study_figure(
    histories: Mapping[str, Mapping[str, Sequence[float]]], title: str, *, loss: str | None = None
) -> Figure:
    """Did clipping help? Gradient norm before clipping per epoch under each clipping setting
    (thresholds drawn as horizontal lines, log y), and the validation loss beside it.

    Parameters
    ----------
    histories : dict
        ``{clipping label: history}`` with labels such as ``none`` or ``clipnorm=1``; each history
        needs ``grad_norm_mean`` and may hold ``grad_norm_max`` (dashed, same colour) and
        ``val_loss`` (right panel).
    loss : str, optional
        The loss function, for the right panel's y label.
    """
    if not histories:
        raise ValueError("`histories` must hold at least one clipping setting. Received: {}")
    fig, (ax, loss_ax) = _figure_grid(2, height=4.5, width_ratios=[3, 2])
    everything = []
    for i, (label, history) in enumerate(histories.items()):
        series = _history_series(
            history, ("grad_norm_mean", "grad_norm_max"), required=("grad_norm_mean",),
            where=f"histories[{label!r}]",
        )
        colour, marker = f"C{i % 10}", _MARKERS[i % len(_MARKERS)]  # markers keep overlapping curves visible
        mean = series["grad_norm_mean"]
        ax.plot(np.arange(1, len(mean) + 1), mean, color=colour, marker=marker, markersize=5,
                fillstyle="none", label=f"{label}: mean")
        if "grad_norm_max" in series:
            peak = series["grad_norm_max"]
            ax.plot(np.arange(1, len(peak) + 1), peak, color=colour, linestyle="--", alpha=0.6,
                    label=f"{label}: max")
        kind, threshold = _threshold(label)
        if threshold is not None:
            ax.axhline(threshold, color=colour, linestyle=":", linewidth=1.5,
                       label=f"{label}: {_CLIP_KIND_WORDS.get(kind, 'threshold')}")
            everything.append(np.array([threshold]))
        val = history.get("val_loss")
        if val is not None and len(val):
            val = np.asarray(val, dtype=np.float64)
            loss_ax.plot(np.arange(1, len(val) + 1), val, color=colour, marker=marker, markersize=5,
                         fillstyle="none", label=label)
        everything.extend(series.values())
    _log_if_positive(ax, np.concatenate(everything))
    ax.set_xlabel("epoch")
    ax.set_ylabel("gradient norm before clipping")
    ax.set_title("Gradient norm per epoch")
    _epoch_ticks(ax)
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.2), fontsize="small", ncol=3, borderaxespad=0.0)
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel(f"validation {loss_label(loss)[len('training '):]}")
    loss_ax.set_title("Validation loss (lower is better)")
    _epoch_ticks(loss_ax)
    loss_ax.grid(True, alpha=0.3)
    if loss_ax.lines:
        _maybe_log(loss_ax, np.concatenate([line.get_ydata() for line in loss_ax.lines]))
        loss_ax.legend(loc="upper right", fontsize="small", title="clipping")
    else:
        loss_ax.text(0.5, 0.5, "no validation loss recorded", ha="center", va="center",
                     transform=loss_ax.transAxes, color="0.4")
    fig.suptitle(title or "Gradient clipping study")
    return fig


def plot_clipping_study(
    histories: Mapping[str, Mapping[str, Sequence[float]]], title: str, path, *, loss: str | None = None
) -> Path:
    """Write :func:`clipping_study_figure` as a PNG; returns the path."""
    return _save(clipping_study_figure(histories, title, loss=loss), path)


def _threshold(label: str) -> tuple[str, float | None]:
    """``clipnorm=1`` -> ``("clipnorm", 1.0)``; ``none`` -> ``("none", None)``."""
    kind, _, value = str(label).partition("=")
    try:
        return kind, float(value) if value else None
    except ValueError:
        return kind, None


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
