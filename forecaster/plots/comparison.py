"""Model comparison charts: a metric per model as dots, and MAE per horizon step.

Each chart has a ``*_figure`` function that returns the :class:`~matplotlib.figure.Figure` (tests
read its legend, labels and lines back) and a ``plot_*`` function that writes it as a PNG.
Every model gets its own colour (grey shades for baselines), legends sit outside the data, the
champion (or the best candidate) is marked, and models left out are named in a note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from forecaster.plots._style import (
    FIGSIZE,
    _epoch_ticks,
    _figure,
    _save,
    series_colours,
)

_MARKERS = ("o", "x", "^", "s", "v", "D", "+", "<", ">", "p")  # overlapping lines stay visible
NOTE_STYLE = {"fontsize": "small", "color": "0.3", "ha": "left", "va": "bottom"}


def metric_bars_figure(
    names: Sequence[str],
    values: Sequence[float],
    title: str,
    baseline_names: Sequence[str] = (),
    *,
    xlabel: str = "test MAE",
    champion: str | None = None,
    champion_label: str = "champion",
    reference: str | None = "persistence",
) -> Figure:
    """A dot per model on a range that shows the differences, best (lowest) at the top.

    Parameters
    ----------
    names : sequence of str, length n_models
    values : sequence of float, length n_models
        NaN values are not drawn; a note under the chart names them.
    baseline_names : sequence of str
        Names drawn in grey shades (each its own).
    champion : str, optional
        Drawn as a star and named ``<name> (<champion_label>)`` on the axis.
    reference : str, optional
        A model drawn as a vertical dotted line too (persistence: left of it beats it).
    """
    names = [str(n) for n in names]
    numbers = np.asarray(values, dtype=np.float64)
    if not names or numbers.shape != (len(names),):
        raise ValueError(
            "`names` and `values` must be non-empty and of the same length. "
            f"Received: {len(names)} names, values of shape {numbers.shape}"
        )
    finite = np.isfinite(numbers)
    order = [i for i in np.argsort(numbers, kind="stable") if finite[i]]
    left_out = [names[i] for i in range(len(names)) if not finite[i]]
    baselines = set(map(str, baseline_names))
    colours = series_colours([names[i] for i in order], baselines)
    fig, (ax,) = _figure(height=max(FIGSIZE[1], 0.35 * len(order) + 1.6))
    labels = []
    for position, i in enumerate(order):
        name = names[i]
        is_champion = name == champion
        ax.hlines(position, numbers[order[0]] if order else 0, numbers[i], color=colours[name], alpha=0.35,
                  linewidth=2)
        ax.plot(numbers[i], position, marker="*" if is_champion else ("s" if name in baselines else "o"),
                markersize=14 if is_champion else 8, color=colours[name], linestyle="none",
                label=f"{name} ({champion_label})" if is_champion else name)
        ax.annotate(f"{numbers[i]:.4g}", (numbers[i], position), xytext=(8, 0), textcoords="offset points",
                    va="center", fontsize="small")
        labels.append(f"{name} ({champion_label})" if is_champion else
                      (f"{name} (baseline)" if name in baselines else name))
    ax.set_yticks(range(len(order)), labels)
    for tick, i in zip(ax.get_yticklabels(), order):
        if names[i] == champion:
            tick.set_fontweight("bold")
    ax.invert_yaxis()
    if order:
        low, high = float(numbers[order[0]]), float(numbers[order[-1]])
        pad = 0.08 * (high - low) if high > low else 0.05 * max(abs(high), 1e-9)
        ax.set_xlim(low - pad, high + 2.5 * pad)
        if reference in names and finite[names.index(reference)]:
            ax.axvline(numbers[names.index(reference)], color="0.3", linestyle=":", linewidth=1)
    ax.set_xlabel(f"{xlabel} (lower is better; axis starts near the best value)")
    ax.set_ylabel("model, ranked")
    ax.set_title(title or xlabel)
    ax.grid(True, axis="x", alpha=0.3)
    if left_out:
        fig.text(0.01, 0.01, "not drawn (no value): " + ", ".join(left_out), **NOTE_STYLE)
    return fig


def plot_metric_bars(
    names: Sequence[str],
    values: Sequence[float],
    title: str,
    path,
    baseline_names: Sequence[str] = (),
    *,
    xlabel: str = "test MAE",
    champion: str | None = None,
    champion_label: str = "champion",
) -> Path:
    """Write :func:`metric_bars_figure` as a PNG; returns the path."""
    return _save(metric_bars_figure(names, values, title, baseline_names, xlabel=xlabel, champion=champion,
                                    champion_label=champion_label), path)


def mae_by_step_figure(
    curves: Mapping[str, Sequence[float]],
    title: str,
    *,
    ylabel: str = "MAE",
    baseline_names: Sequence[str] = (),
    champion: str | None = None,
    champion_label: str = "champion",
    left_out: Sequence[str] = (),
) -> Figure:
    """MAE per horizon step (1..horizon), one line per model, legend outside the axes.

    Parameters
    ----------
    curves : dict
        ``{model name: array (horizon,)}``.
    baseline_names : names drawn dashed in grey shades.
    champion : drawn thick, labelled ``<name> (<champion_label>)``.
    left_out : models not drawn, named in a note under the chart.
    """
    if not curves:
        raise ValueError("`curves` must hold at least one model. Received: {}")
    baselines = set(baseline_names)
    colours = series_colours(list(curves), baselines)
    fig, (ax,) = _figure()
    fig.set_size_inches(FIGSIZE[0] * 1.25, FIGSIZE[1] * 1.1)
    for index, (name, values) in enumerate(curves.items()):
        array = np.asarray(values, dtype=np.float64)
        if array.ndim != 1 or array.size == 0:
            raise ValueError(
                f"`curves[{name!r}]` must be a non-empty 1-D array (horizon,). Received: shape {array.shape}"
            )
        is_champion = name == champion
        ax.plot(np.arange(1, array.size + 1), array, color=colours[name],
                linestyle="--" if name in baselines else "-",
                marker="*" if is_champion else _MARKERS[index % len(_MARKERS)], fillstyle="none",
                markersize=10 if is_champion else 5, linewidth=3.0 if is_champion else 1.3,
                label=f"{name} ({champion_label})" if is_champion else
                (f"{name} (baseline)" if name in baselines else str(name)), zorder=3 if is_champion else 2)
    ax.set_xlabel("horizon step (steps ahead of the last observation)")
    ax.set_ylabel(f"{ylabel} on the test windows")
    ax.set_title(title or f"{ylabel} by horizon step")
    _epoch_ticks(ax)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", borderaxespad=0.0)
    if left_out:
        fig.text(0.01, 0.01, "not drawn: " + ", ".join(left_out), **NOTE_STYLE)
    return fig


def plot_mae_by_step(
    curves: Mapping[str, Sequence[float]], title: str, path, *, ylabel: str = "MAE",
    baseline_names: Sequence[str] = (), champion: str | None = None, champion_label: str = "champion",
    left_out: Sequence[str] = (),
) -> Path:
    """Write :func:`mae_by_step_figure` as a PNG; returns the path."""
    return _save(mae_by_step_figure(curves, title, ylabel=ylabel, baseline_names=baseline_names,
                                    champion=champion, champion_label=champion_label, left_out=left_out), path)
