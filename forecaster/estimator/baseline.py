"""Baselines behind the same interface as the networks: persistence, seasonal naive, ridge."""

from __future__ import annotations

import numpy as np

from forecaster.estimator.base import WindowForecaster
from forecaster.windowing import gather_windows


def center_on_last(X: np.ndarray, targets: list[int], scale: bool = False):
    """Targets' channels relative to their last value (and, with ``scale``, in units of the window's
    step volatility), as the networks see them (:mod:`forecaster.models.layers`).

    Returns ``(X_centred, last, scale)`` with ``last`` and ``scale`` of shape ``(n_samples, 1, n_targets)``.
    """
    from forecaster.models.layers import SCALE_EPSILON

    last = X[:, -1:, :][:, :, targets]
    Xc = X.copy()
    Xc[:, :, targets] -= last
    factor = np.ones_like(last)
    if scale:
        steps = np.diff(X[:, :, targets], axis=1)
        factor = np.maximum(np.sqrt(np.mean(steps**2, axis=1, keepdims=True)), SCALE_EPSILON)
        Xc[:, :, targets] /= factor
    return Xc, last, factor

BASELINE_KINDS = ("persistence", "seasonal_naive", "linear")


class BaselineForecaster(WindowForecaster):
    """A baseline fit and evaluated on exactly the windows the networks use.

    Parameters
    ----------
    kind : {'persistence', 'seasonal_naive', 'linear'}
    season : int or None
        Season length in steps for ``seasonal_naive``; inferred from the data frequency when None.
    alpha : float
        Ridge penalty for ``linear`` (fit on the training windows only, flattened; with
        ``features.known_future`` the target steps' known-future block is among its regressors).
    center_targets : bool
        ``linear`` regresses the change from the last value on the window with the targets'
        channels relative to their last value (level-invariant, like the networks).
    Other parameters as :class:`forecaster.estimator.rnn.RNNForecaster`.
    """

    def __init__(self, kind="persistence", target=("y",), lookback=24, horizon=1, stride=1, season=None,
                 alpha=1.0, center_targets=True, scale_targets=False, val_fraction=0.25, features=None, interval_level=0.9, interval_scale="absolute", calibration_window=None,
                 data=None):
        self.kind = kind
        self.target = target
        self.lookback = lookback
        self.horizon = horizon
        self.stride = stride
        self.season = season
        self.alpha = alpha
        self.center_targets = center_targets
        self.scale_targets = scale_targets
        self.val_fraction = val_fraction
        self.features = features
        self.interval_level = interval_level
        self.interval_scale = interval_scale
        self.calibration_window = calibration_window
        self.data = data

    def _fit_windows(self, values, starts, scaled) -> None:
        from forecaster.models.baselines import LinearBaseline, resolve_season

        if self.kind not in BASELINE_KINDS:
            raise ValueError(f"baseline kind must be one of {BASELINE_KINDS}; received {self.kind!r}")
        self.n_params_ = 0
        self.history_ = {}
        self.failed_ = False
        if self.kind == "seasonal_naive":
            self.season_ = resolve_season(self.season, self.frequency_, self.lookback)
        if self.kind == "linear":
            targets = list(self.preprocessor_.target_indices_)
            X, y = gather_windows(values, starts["train"], self.lookback, self.horizon, targets)
            if self.center_targets:
                X, last, scale = center_on_last(X, targets, self.scale_targets)
                y = (y - last) / scale
            # Known-future inputs (the window's last columns) enter as the target steps' block.
            known = len(getattr(self.preprocessor_, "known_columns_", []))
            self.linear_ = LinearBaseline(alpha=self.alpha, known=known).fit(X, y)
            self.n_params_ = int(self.linear_.model_.coef_.size + self.linear_.model_.intercept_.size)

    def _extra_state(self) -> dict:
        return {"linear": self.linear_.to_state()} if hasattr(self, "linear_") else {}

    def _load_extra_state(self, state: dict) -> None:
        from forecaster.models.baselines import LinearBaseline

        if "linear" in state:
            self.linear_ = LinearBaseline.from_state(state.pop("linear"))
        elif self.kind == "linear":
            raise ValueError("a linear baseline's state must hold its 'linear' coefficients")

    def _predict_scaled(self, X: np.ndarray) -> np.ndarray:
        from forecaster.models.baselines import persistence, seasonal_naive

        targets = list(self.preprocessor_.target_indices_)
        if self.kind == "persistence":
            return persistence(X, targets, self.horizon)
        if self.kind == "seasonal_naive":
            return seasonal_naive(X, targets, self.horizon, self.season_)
        if not self.center_targets:
            return self.linear_.predict(X)
        Xc, last, scale = center_on_last(X, targets, self.scale_targets)
        return self.linear_.predict(Xc) * scale + last
