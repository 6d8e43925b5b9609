"""PNG charts of forecasts, training curves, gradient telemetry and model comparisons.

Owns every figure the product draws. May import the ground floor (atomic writes) and the canonical
column names of ``data``; never a model, MLflow or anything above.

Every ``plot_*`` function takes data and an output path, draws on its own :class:`matplotlib.figure.Figure`
with the Agg canvas (no pyplot, no global state), writes the PNG atomically with
:func:`forecaster.atomic.atomic_output` (a hidden temporary file in the same directory, then
:func:`os.replace`) and returns the path as a :class:`pathlib.Path`. Parent directories are
created when missing. The ``*_figure`` functions return the figure itself (tests read its legend,
axis labels and lines back).

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

from forecaster.plots._style import (
    BASELINE_COLOUR,
    DPI,
    FIGSIZE,
    LOG_RANGE,
    MODEL_COLOUR,
)
from forecaster.plots.comparison import (
    mae_by_step_figure,
    metric_bars_figure,
    plot_mae_by_step,
    plot_metric_bars,
)
from forecaster.plots.forecast import (
    band_legend,
    forecast_figure,
    plot_forecast,
    plot_forecast_vs_actual,
)
from forecaster.plots.forecast_frame import plot_forecast_frame
from forecaster.plots.gradients import plot_gradient_by_lag, plot_memory_study
from forecaster.plots.titles import forecast_title, model_kind
from forecaster.plots.training import (
    clipping_study_figure,
    learning_curves_figure,
    plot_clipping_study,
    plot_gradient_norms,
    plot_learning_curves,
)

__all__ = [
    "BASELINE_COLOUR",
    "DPI",
    "FIGSIZE",
    "LOG_RANGE",
    "MODEL_COLOUR",
    "band_legend",
    "clipping_study_figure",
    "forecast_figure",
    "learning_curves_figure",
    "mae_by_step_figure",
    "metric_bars_figure",
    "forecast_title",
    "model_kind",
    "plot_clipping_study",
    "plot_forecast",
    "plot_forecast_frame",
    "plot_forecast_vs_actual",
    "plot_gradient_by_lag",
    "plot_gradient_norms",
    "plot_learning_curves",
    "plot_mae_by_step",
    "plot_memory_study",
    "plot_metric_bars",
]
