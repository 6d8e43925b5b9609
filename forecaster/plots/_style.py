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


def _epoch_ticks(ax) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _log_if_positive(ax, values: np.ndarray) -> None:
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() > 0:
        ax.set_yscale("log")
    else:
        logger.info("gradient norms hold zeros or no finite values; using a linear y axis")
