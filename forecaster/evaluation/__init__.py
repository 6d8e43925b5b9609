"""Evaluation in the data's original units: point metrics, conformal intervals, the
Diebold-Mariano tests (two-sided for the table, one-sided walk-forward for the gate's
significance rule) and walk-forward backtest helpers.

Owns every metric, the interval rules, the Diebold-Mariano test and the fold layout. May import the
canonical column names of ``data`` and the ground floor; never a model or MLflow.

Callers inverse-transform forecasts and labels first; both have the shape
``(n_samples, horizon, n_targets)``.

Example
-------
>>> import numpy as np
>>> from forecaster.evaluation import point_metrics, conformal_quantiles, interval, coverage
>>> y = np.zeros((10, 2, 1))
>>> point_metrics(y, y + 1.0)["mae"]
1.0
"""

from __future__ import annotations

from forecaster.evaluation.backtest import (
    ALL_STEPS,
    TIDY_COLUMNS,
    Fold,
    expanding_folds,
    fold_split_labels,
    tidy_metrics,
)
from forecaster.evaluation.comparison import diebold_mariano
from forecaster.evaluation.intervals import (
    INTERVAL_SCALES,
    conformal_quantiles,
    coverage,
    coverage_by_step,
    interval,
    interval_scales,
    window_spread,
)
from forecaster.evaluation.significance import (
    DMResult,
    SignificanceResult,
    dm_test,
    walk_forward_significance,
)
from forecaster.evaluation.metrics import (
    naive_scale,
    point_metrics,
    relative_mae,
    sample_scale,
)

__all__ = [
    "DMResult",
    "SignificanceResult",
    "dm_test",
    "walk_forward_significance",
    "ALL_STEPS",
    "INTERVAL_SCALES",
    "TIDY_COLUMNS",
    "Fold",
    "conformal_quantiles",
    "coverage",
    "coverage_by_step",
    "diebold_mariano",
    "expanding_folds",
    "fold_split_labels",
    "interval",
    "interval_scales",
    "naive_scale",
    "point_metrics",
    "relative_mae",
    "sample_scale",
    "tidy_metrics",
    "window_spread",
]
