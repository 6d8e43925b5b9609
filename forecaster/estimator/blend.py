"""A per-step blend of two fitted forecasters (e.g. the best network and the ridge baseline).

For each horizon step ``k`` the blend forecasts ``w_k * a + (1 - w_k) * b`` with ``w_k`` chosen from
a grid on the VALIDATION windows only (minimum validation MAE at that step); its conformal
intervals are calibrated on its own validation residuals. With ``w_k = 1`` or ``0`` it is exactly
one of its members, so its validation MAE is never above either member's.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from forecaster.atomic import atomic_directory
from forecaster.data.columns import SERIES_ID
from forecaster.data.schema import HEADER_KEY, DataSchema
from forecaster.errors import ModelFileError
from forecaster.estimator.base import WindowForecaster, WindowSettings
from forecaster.estimator.baseline import BaselineForecaster
from forecaster.estimator.predictions import (
    WindowPredictions,
    calibrated_half_widths,
    forecast_quantiles,
)
from forecaster.estimator.rnn import RNNForecaster
from forecaster.estimator.state_files import (
    META_FILE,
    read_header,
    read_state,
    write_state,
)
from forecaster.evaluation import conformal_quantiles, interval_scales

WEIGHT_GRID = np.round(np.linspace(0.0, 1.0, 11), 2)


class BlendForecaster(BaseEstimator):
    """Blend of two :class:`WindowForecaster` s that share lookback, horizon, targets and data.

    The members enter through ``__init__``, as in :class:`sklearn.ensemble.VotingRegressor`, so
    :func:`sklearn.base.clone` rebuilds a blend (with unfitted clones of its members).

    Parameters
    ----------
    members : sequence of two forecasters
        Members already fitted are used as they are (the pipeline loads them from disk); an
        unfitted member (e.g. after ``clone``) is cloned and fitted on the frame given to ``fit``.
        The members are never modified.
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
    frequency_ : str, the members' data frequency
    n_params_ : int, the members' parameters in all
    """

    kind = "blend"

    def __init__(self, members, interval_level=0.9, interval_scale="absolute", calibration_window=None):
        self.members = members
        self.interval_level = interval_level
        self.interval_scale = interval_scale
        self.calibration_window = calibration_window

    def _fitted_members(self, frame: pd.DataFrame | None) -> list[WindowForecaster]:
        members = list(self.members)
        if len(members) != 2:
            raise ValueError(f"a blend has exactly two members; received {len(members)}")
        out = []
        for member in members:
            try:
                check_is_fitted(member, "preprocessor_")
                out.append(member)
            except NotFittedError:
                if frame is None:
                    raise
                out.append(clone(member).fit(frame))
        a, b = (m.window_settings() for m in out)
        if (a.target, a.lookback, a.horizon) != (b.target, b.lookback, b.horizon):
            raise ValueError(
                "blend members must share lookback, horizon and target; received "
                f"{(a.lookback, a.horizon, list(a.target))} and {(b.lookback, b.horizon, list(b.target))}"
            )
        return out

    def _set_members(self, members: list[WindowForecaster]) -> None:
        self.members_ = members
        self.frequency_ = members[0].frequency_
        self.n_params_ = sum(int(getattr(m, "n_params_", 0)) for m in members)

    def fit(self, frame: pd.DataFrame, y=None) -> "BlendForecaster":
        """Choose the per-step weights and calibrate intervals on ``frame``'s validation windows."""
        self._set_members(self._fitted_members(frame))
        a, b = self.members_
        va, vb = a.evaluate_windows(frame, splits=("val",))["val"], b.evaluate_windows(frame, splits=("val",))["val"]
        err = np.stack([np.abs(w * va.y_pred + (1 - w) * vb.y_pred - va.y_true).mean(axis=(0, 2))
                        for w in WEIGHT_GRID])  # -> (n_grid, horizon)
        self.weights_ = WEIGHT_GRID[np.argmin(err, axis=0)]
        blended = self._combine(va, vb)
        self.quantiles_ = conformal_quantiles(np.abs(blended.y_pred - blended.y_true) / self.interval_scales(blended),
                                              self.interval_level)
        return self

    def window_settings(self) -> WindowSettings:
        """The members' shared target, lookback, horizon, data section and frequency."""
        check_is_fitted(self, "members_")
        return self.members_[0].window_settings()

    def data_schema(self) -> DataSchema:
        """How the blend reads raw history: its first member's schema, reading the inputs of both."""
        check_is_fitted(self, "members_")
        schemas = [m.data_schema() for m in self.members_]
        inputs = tuple(dict.fromkeys(c for schema in schemas for c in schema.inputs))
        return replace(schemas[0], inputs=inputs)

    def input_columns(self) -> list[str]:
        """The raw history columns :meth:`forecast` reads: those of the members."""
        return list(self.data_schema().inputs)

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
        target = list(self.window_settings().target)
        t_idx = ([target.index(t) for t in out["target"]] if "target" in out.columns
                 else np.zeros(len(out), dtype=int))
        half = np.array([halves[str(sid)][k, t] for sid, k, t in zip(out[SERIES_ID], steps, t_idx)], dtype=float)
        out["lower"], out["upper"] = out["forecast"] - half, out["forecast"] + half
        return out

    def predict(self, frame: pd.DataFrame, horizon: int | None = None) -> pd.DataFrame:
        check_is_fitted(self, "weights_")
        a, b = (m.predict(frame, horizon=horizon) for m in self.members_)
        first = self.members_[0]
        series_ids, last_ts = first.forecast_origins(frame)
        scales = first.tail_interval_scales(frame, mode=self.interval_scale)
        q = forecast_quantiles(self, self.recent_windows(frame), series_ids, last_ts)
        halves = {str(sid): q[i] * scales[str(sid)][None, :] for i, sid in enumerate(series_ids)}
        return self._blend_frames(a, b, halves)

    def forecast(self, history: pd.DataFrame, horizon: int | None = None) -> pd.DataFrame:
        check_is_fitted(self, "weights_")
        return self.predict(self.members_[0].canonical_history(history), horizon=horizon)

    # ------------------------------------------------------------ persistence
    def to_state(self) -> dict:
        """The blend's own state as plain data (the members are saved in their own directories)."""
        check_is_fitted(self, "weights_")
        return {"params": self.get_params(deep=False) | {"members": len(self.members_)},
                "weights": np.asarray(self.weights_, dtype=np.float64),
                "quantiles": np.asarray(self.quantiles_, dtype=np.float64)}

    def save(self, directory: str | os.PathLike) -> Path:
        """Save both members (``member0/``, ``member1/``) and the weights to ``directory`` atomically."""
        check_is_fitted(self, "weights_")
        target = Path(directory)
        settings = self.window_settings()
        with atomic_directory(target) as tmp:
            for i, member in enumerate(self.members_):
                member.save(tmp / f"member{i}")
            write_state(tmp, {"kind": self.kind, "class": type(self).__name__, "target": list(settings.target),
                              "lookback": settings.lookback, "horizon": settings.horizon,
                              "frequency": self.frequency_,
                              # What forecast() needs, readable without loading the model.
                              HEADER_KEY: self.data_schema().to_json()}, self.to_state())
        return target

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "BlendForecaster":
        """Load a blend saved by :meth:`save` (data only; see :mod:`forecaster.estimator.state_files`).

        Raises
        ------
        ModelFileError
            A missing, invalid or tampered file (the message names it).
        """
        directory = Path(directory)
        _, state = read_state(directory, known_classes=(cls.__name__,))
        members = [_load_member(directory / f"member{i}") for i in range(2)]
        try:
            params = dict(state.pop("params"))
            if params.pop("members") != 2 or set(params) != {"interval_level", "interval_scale", "calibration_window"}:
                raise ValueError(f"unexpected blend parameters {sorted(params)}")
            obj = cls(members=members, **params)
            obj._set_members(members)
            obj.weights_ = np.asarray(state.pop("weights"), dtype=np.float64)
            obj.quantiles_ = np.asarray(state.pop("quantiles"), dtype=np.float64)
            horizon = members[0].window_settings().horizon
            if obj.weights_.shape != (horizon,) or obj.quantiles_.shape[0] != horizon or state:
                raise ValueError(f"weights {obj.weights_.shape} and quantiles {obj.quantiles_.shape} must cover "
                                 f"horizon={horizon}; extra entries {sorted(state)}")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelFileError(
                f"{directory / META_FILE}: invalid saved blend ({type(exc).__name__}: {exc})") from None
        return obj


#: The classes a blend member can be (a blend is never a member).
MEMBER_CLASSES = {cls.__name__: cls for cls in (RNNForecaster, BaselineForecaster)}


def _load_member(directory: Path) -> WindowForecaster:
    name = read_header(directory).get("class")
    if name not in MEMBER_CLASSES:
        raise ModelFileError(f"{directory / META_FILE}: a blend member's 'class' must be one of "
                             f"{list(MEMBER_CLASSES)}; received {name!r}")
    return MEMBER_CLASSES[name].load(directory)
