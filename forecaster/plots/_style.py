"""Shared figure set-up for :mod:`forecaster.plots`: size, colours, the Agg figure and the atomic save.

Every chart draws on its own :class:`matplotlib.figure.Figure` with the Agg canvas (no pyplot, no
global state) from :func:`_figure`, and ends with :func:`_save`, which writes the PNG atomically
with :func:`forecaster.atomic.atomic_output` and returns the path.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from forecaster.atomic import atomic_output

# The package's name, not this module's: log records keep the logger name "forecaster.plots".
logger = logging.getLogger(__package__)

DPI = 110
FIGSIZE = (10.0, 4.0)
MODEL_COLOUR = "tab:blue"
BASELINE_COLOUR = "tab:gray"
LOG_RANGE = 20.0
"""Use a log y axis when max / min of the (positive) values exceeds this ratio."""


#: Distinct colours for models (tab10 without its grey) and grey shades for baselines.
_MODEL_PALETTE = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
                  "tab:pink", "tab:olive", "tab:cyan", "navy", "darkgoldenrod", "teal", "crimson",
                  "indigo", "darkolivegreen", "sienna")
_BASELINE_PALETTE = ("0.15", "0.45", "0.65", "0.3", "0.55", "0.75")


def series_colours(names, baseline_names=()) -> dict[str, str]:
    """One distinct colour per name: palette colours for models, grey shades for baselines
    (cycling only beyond 16 models or 6 baselines)."""
    baselines = set(baseline_names)
    colours: dict[str, str] = {}
    models = [n for n in names if n not in baselines]
    bases = [n for n in names if n in baselines]
    for i, name in enumerate(models):
        colours[name] = _MODEL_PALETTE[i % len(_MODEL_PALETTE)]
    for i, name in enumerate(bases):
        colours[name] = _BASELINE_PALETTE[i % len(_BASELINE_PALETTE)]
    return colours


def _figure(n_rows: int = 1, height: float | None = None) -> tuple[Figure, list]:
    if height is None:
        height = FIGSIZE[1] if n_rows == 1 else min(3.0 * n_rows, 12.0)
    fig = Figure(figsize=(FIGSIZE[0], height), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(n_rows, 1, sharex=True, squeeze=False)[:, 0]
    return fig, list(axes)


def _figure_grid(n_cols: int, height: float | None = None, width_ratios=None) -> tuple[Figure, list]:
    """One row of ``n_cols`` panels side by side (not sharing x)."""
    fig = Figure(figsize=(FIGSIZE[0] * (1.3 if n_cols > 1 else 1.0), height or FIGSIZE[1]), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n_cols, squeeze=False, width_ratios=width_ratios)[0, :]
    return fig, list(axes)


def _save(fig: Figure, path) -> Path:
    """Write ``fig`` as a PNG to ``path`` atomically and release it."""
    _require_path(path)
    target = Path(path)
    try:
        fig.tight_layout()
        if fig.texts:  # a note under the axes ("not drawn: ..."): make room for it
            fig.subplots_adjust(bottom=min(fig.subplotpars.bottom + 0.07, 0.4))
        with atomic_output(target, suffix=".png") as temp:
            fig.savefig(temp, format="png", dpi=DPI)
    finally:
        fig.clear()
    logger.debug("wrote plot %s", target)
    return target


def _require_path(path) -> None:
    if path is None or str(path) == "":
        raise ValueError(f"`path` must name the output PNG file. Received: path={path!r}")


def _epoch_ticks(ax) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _log_if_positive(ax, values: np.ndarray) -> None:
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() > 0:
        ax.set_yscale("log")
    else:
        logger.info("gradient norms hold zeros or no finite values; using a linear y axis")
