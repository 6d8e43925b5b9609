"""Forecasts on windows, in the data's units, and their conformal interval widths.

:class:`WindowPredictions` is what every forecaster returns for a split's windows (the same
windows for networks and baselines); :func:`calibrated_half_widths` and
:func:`forecast_quantiles` turn validation (or recent) residuals into interval half-widths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from forecaster.evaluation.rolling import rolling_quantiles


@dataclass
class WindowPredictions:
    """Forecasts on one split's windows, in the data's original units.

    ``y_true``, ``y_pred``: ``(n_samples, horizon, n_targets)``; ``series_ids``: ``(n_samples,)``;
    ``timestamps``: ``(n_samples, horizon)`` label timestamps; ``scale``: the per-sample MASE scale
    ``(n_samples, 1, n_targets)``; ``spread``: each window's mean absolute one-step change of the
    target over its lookback ``(n_samples, 1, n_targets)`` (the ``local`` interval scale).
    """

    y_true: np.ndarray
    y_pred: np.ndarray
    series_ids: np.ndarray
    timestamps: np.ndarray
    scale: np.ndarray
    spread: np.ndarray

    @property
    def n_samples(self) -> int:
        return int(self.y_true.shape[0])



def concat_predictions(*parts: WindowPredictions) -> WindowPredictions:
    """Stack the windows of several :class:`WindowPredictions` (same horizon and targets)."""
    return WindowPredictions(**{name: np.concatenate([getattr(p, name) for p in parts])
                                for name in ("y_true", "y_pred", "series_ids", "timestamps", "scale", "spread")})


def calibrated_half_widths(model, preds: WindowPredictions, history: WindowPredictions | None = None) -> np.ndarray:
    """Interval half-widths ``q * s`` of each window of ``preds``, ``(n_samples, horizon, n_targets)``.

    Static (the validation quantiles) unless ``model.calibration_window`` is set and ``history``
    (earlier windows, e.g. the validation ones) is given: then each window's quantile comes from
    the ``calibration_window`` most recent windows of its series whose labels were known before it
    (from ``history`` and the earlier windows of ``preds`` itself), see
    :func:`forecaster.evaluation.rolling.rolling_quantiles`.
    """
    check_is_fitted(model, "quantiles_")
    scales = model.interval_scales(preds)
    window = getattr(model, "calibration_window", None)
    if not window or history is None:
        return np.asarray(model.quantiles_)[None, :, :] * scales
    pool = concat_predictions(history, preds)
    scores = np.abs(pool.y_pred - pool.y_true) / model.interval_scales(pool)
    q = rolling_quantiles(scores, pool.timestamps[:, -1], pool.series_ids, preds.timestamps[:, 0], preds.series_ids,
                          level=model.interval_level, window=window, fallback=model.quantiles_)
    return q * scales


def forecast_quantiles(model, recent: WindowPredictions | None, series_ids, last_ts: pd.Series) -> np.ndarray:
    """Conformal quantiles ``(n_series, horizon, n_targets)`` of a forecast from the end of each series.

    With ``model.calibration_window`` and ``recent`` (the last windows of each series, labels in
    the data): rolling quantiles of their scores; else the static validation quantiles.
    """
    static = np.asarray(model.quantiles_)
    n_series = len(series_ids)
    window = getattr(model, "calibration_window", None)
    if not window or recent is None or not recent.n_samples:
        return np.broadcast_to(static, (n_series, *static.shape)).copy()
    scores = np.abs(recent.y_pred - recent.y_true) / model.interval_scales(recent)
    query = np.asarray([pd.Timestamp(last_ts.loc[s]) for s in series_ids], dtype="datetime64[ns]") + np.timedelta64(1, "ns")
    return rolling_quantiles(scores, recent.timestamps[:, -1], recent.series_ids, query, series_ids,
                             level=model.interval_level, window=window, fallback=static)

