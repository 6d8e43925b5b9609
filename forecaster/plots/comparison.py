"""Model comparison charts: a metric per model as bars, and MAE per horizon step."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.patches import Patch

from forecaster.plots._style import BASELINE_COLOUR, FIGSIZE, MODEL_COLOUR, _epoch_ticks, _figure, _save


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
