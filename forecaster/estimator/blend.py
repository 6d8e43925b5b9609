"""A per-step blend of two fitted forecasters (e.g. the best network and the ridge baseline).

For each horizon step ``k`` the blend forecasts ``w_k * a + (1 - w_k) * b`` with ``w_k`` chosen from
a grid on the VALIDATION windows only (minimum validation MAE at that step); its conformal
intervals are calibrated on its own validation residuals. With ``w_k = 1`` or ``0`` it is exactly
one of its members, so its validation MAE is never above either member's.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from forecaster.atomic import atomic_directory
from forecaster.estimator.base import (
    META_FILE,
    WindowForecaster,
    WindowPredictions,
    calibrated_half_widths,
    forecast_quantiles,
)
from forecaster.evaluation import conformal_quantiles, interval_scales

WEIGHT_GRID = np.round(np.linspace(0.0, 1.0, 11), 2)
BLEND_FILE = "blend.json"


class BlendForecaster(BaseEstimator):
    """Blend of two fitted :class:`WindowForecaster` s that share lookback, horizon and targets.

    Parameters
    ----------
    interval_level : float
        Split-conformal level of the blend's own intervals.
    interval_scale : {'absolute', 'local'}
        How the conformal scores are scaled (see :mod:`forecaster.evaluation.intervals`).
    calibration_window : int or None
        Rolling calibration on each series' most recent windows (see
        :mod:`forecaster.evaluation.rolling`); None: the validation windows.

    Attributes
    ----------
    members_ : list of two fitted forecasters
    weights_ : np.ndarray, shape (horizon,), the weight of the first member per step
    quantiles_ : np.ndarray, shape (horizon, n_targets)
    """

    kind = "blend"

    def __init__(self, interval_level=0.9, interval_scale="absolute", calibration_window=None):
        self.interval_level = interval_level
        self.interval_scale = interval_scale
        self.calibration_window = calibration_window

    def fit(self, frame: pd.DataFrame, members: list[WindowForecaster]) -> "BlendForecaster":
        """Choose the per-step weights and calibrate intervals on ``frame``'s validation windows."""
        a, b = members
        if (a.lookback, a.horizon, list(a.target)) != (b.lookback, b.horizon, list(b.target)):
            raise ValueError(
                "blend members must share lookback, horizon and target; received "
                f"{(a.lookback, a.horizon, list(a.target))} and {(b.lookback, b.horizon, list(b.target))}"
            )
        self.members_ = [a, b]
        va, vb = a.evaluate_windows(frame, splits=("val",))["val"], b.evaluate_windows(frame, splits=("val",))["val"]
        err = np.stack([np.abs(w * va.y_pred + (1 - w) * vb.y_pred - va.y_true).mean(axis=(0, 2))
                        for w in WEIGHT_GRID])  # -> (n_grid, horizon)
        self.weights_ = WEIGHT_GRID[np.argmin(err, axis=0)]
        blended = self._combine(va, vb)
        self.quantiles_ = conformal_quantiles(np.abs(blended.y_pred - blended.y_true) / self.interval_scales(blended),
                                              self.interval_level)
        return self

    def interval_scales(self, preds: WindowPredictions) -> np.ndarray:
        """Per-window scale ``s`` of the conformal intervals ``ŷ ± q * s`` (``(n, 1, n_targets)``)."""
        return interval_scales(self.interval_scale, preds.spread, preds.scale)

    def half_widths(self, preds: WindowPredictions, history: WindowPredictions | None = None) -> np.ndarray:
        """Interval half-widths of each window, ``(n_samples, horizon, n_targets)`` (``history``:
        earlier windows for rolling calibration)."""
        return calibrated_half_widths(self, preds, history)

    def recent_windows(self, frame: pd.DataFrame) -> WindowPredictions | None:
        """The blend's forecasts on the members' recent calibration windows (see
        :meth:`WindowForecaster.recent_windows`)."""
        if not self.calibration_window:
            return None
        a, b = (m.recent_windows(frame, window=self.calibration_window) for m in self.members_)
        return None if a is None or b is None else self._combine(a, b)

    # The members' shared settings, so callers can treat a blend like any forecaster.
    @property
    def target(self):
        return self.members_[0].target

    @property
    def lookback(self):
        return self.members_[0].lookback

    @property
    def horizon(self):
        return self.members_[0].horizon

    @property
    def data(self):
        """The members' data section (how raw history is read); the members share it."""
        return self.members_[0].data

    @property
    def frequency_(self):
        return self.members_[0].frequency_

    @property
    def n_params_(self):
        return sum(int(getattr(m, "n_params_", 0)) for m in self.members_)

    def _combine(self, pa: WindowPredictions, pb: WindowPredictions) -> WindowPredictions:
        w = self.weights_[None, :, None]
        return WindowPredictions(y_true=pa.y_true, y_pred=w * pa.y_pred + (1 - w) * pb.y_pred,
                                 series_ids=pa.series_ids, timestamps=pa.timestamps, scale=pa.scale,
                                 spread=pa.spread)

    def evaluate_windows(self, frame: pd.DataFrame, splits=("val", "test")) -> dict[str, WindowPredictions]:
        check_is_fitted(self, "weights_")
        a = self.members_[0].evaluate_windows(frame, splits)
        b = self.members_[1].evaluate_windows(frame, splits)
        return {s: self._combine(a[s], b[s]) for s in splits}

    def _blend_frames(self, fa: pd.DataFrame, fb: pd.DataFrame, halves: dict[str, np.ndarray]) -> pd.DataFrame:
        """Blend the members' forecast frames; ``halves``: ``{series_id: (horizon, n_targets)}``."""
        out = fa.copy()
        steps = out["step"].to_numpy() - 1
        w = self.weights_[steps]
        out["forecast"] = w * fa["forecast"].to_numpy() + (1 - w) * fb["forecast"].to_numpy()
        t_idx = ([list(self.target).index(t) for t in out["target"]] if "target" in out.columns
                 else np.zeros(len(out), dtype=int))
        half = np.array([halves[str(sid)][k, t] for sid, k, t in zip(out["series_id"], steps, t_idx)], dtype=float)
        out["lower"], out["upper"] = out["forecast"] - half, out["forecast"] + half
        return out

    def predict(self, frame: pd.DataFrame, horizon: int | None = None) -> pd.DataFrame:
        check_is_fitted(self, "weights_")
        a, b = (m.predict(frame, horizon=horizon) for m in self.members_)
        first = self.members_[0]
        _, series_ids, last_ts = first._last_windows(frame)
        scales = first.tail_interval_scales(frame, mode=self.interval_scale)
        q = forecast_quantiles(self, self.recent_windows(frame), series_ids, last_ts)
        halves = {str(sid): q[i] * scales[str(sid)][None, :] for i, sid in enumerate(series_ids)}
        return self._blend_frames(a, b, halves)

    def forecast(self, history: pd.DataFrame, horizon: int | None = None) -> pd.DataFrame:
        check_is_fitted(self, "weights_")
        return self.predict(self.members_[0].canonical_history(history), horizon=horizon)

    def save(self, directory: str | os.PathLike) -> Path:
        """Save both members and the weights to ``directory`` atomically."""
        check_is_fitted(self, "weights_")
        target = Path(directory)
        with atomic_directory(target) as tmp:
            for i, member in enumerate(self.members_):
                member.save(tmp / f"member{i}")
            (tmp / BLEND_FILE).write_text(json.dumps({
                "interval_level": self.interval_level, "interval_scale": self.interval_scale,
                "calibration_window": self.calibration_window,
                "weights": self.weights_.tolist(),
                "quantiles": np.asarray(self.quantiles_).tolist()}, indent=2))
            (tmp / META_FILE).write_text(json.dumps({
                "kind": self.kind, "class": type(self).__name__, "target": list(self.target),
                "lookback": self.lookback, "horizon": self.horizon, "frequency": self.frequency_}, indent=2))
        return target

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "BlendForecaster":
        from forecaster.estimator import load_forecaster

        directory = Path(directory)
        blob = json.loads((directory / BLEND_FILE).read_text())
        obj = cls(interval_level=blob["interval_level"], interval_scale=blob.get("interval_scale", "absolute"),
                  calibration_window=blob.get("calibration_window"))
        obj.members_ = [load_forecaster(directory / "member0"), load_forecaster(directory / "member1")]
        obj.weights_ = np.asarray(blob["weights"], dtype=float)
        obj.quantiles_ = np.asarray(blob["quantiles"], dtype=float)
        return obj
