"""Shared machinery of every fitted forecaster: splits, preprocessing, windows, intervals, forecasts.

A subclass only says how to fit on training windows and how to predict scaled windows;
everything that decides *which* windows and *which* units lives here, once, so the networks and
the baselines are always evaluated on exactly the same windows in the same units.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from forecaster.atomic import atomic_directory
from forecaster.data.columns import SEGMENT, SERIES_ID, SPLIT, TIMESTAMP
from forecaster.data.schema import HEADER_KEY, DataSchema
from forecaster.data.splits import assign_splits
from forecaster.errors import ModelFileError
from forecaster.estimator.inputs import ensure_canonical, forecast_frame, last_windows
from forecaster.estimator.predictions import (  # noqa: F401 - also imported from here
    WindowPredictions,
    calibrated_half_widths,
    concat_predictions,
    forecast_quantiles,
)
from forecaster.estimator.state_files import META_FILE, read_state, write_state
from forecaster.evaluation import (
    conformal_quantiles,
    interval_scales,
    naive_scale,
    window_spread,
)
from forecaster.features.preprocessor import Preprocessor
from forecaster.windowing import gather_windows, window_starts

logger = logging.getLogger(__name__)

#: Windows gathered and predicted at a time when evaluating a split (a multiple of
#: ``inference.CHUNK``, so the predict calls see the same batches as in one piece).
PREDICT_CHUNK = 16 * 4096

#: The learned attributes saved as JSON values (the arrays and the preprocessor are saved apart).
PLAIN_ATTRIBUTES = (
    "n_features_", "feature_names_", "frequency_", "series_", "fitted_ok_", "n_params_", "history_", "epochs_run_",
    "train_seconds_", "failed_", "failure_reason_", "failed_epoch_", "season_",
)


@dataclass(frozen=True)
class WindowSettings:
    """What a fitted forecaster reads and forecasts: ``target`` columns, ``lookback`` and ``horizon``
    steps, the pipeline's ``data`` section (how raw history is read; None for canonical frames)
    and the data ``frequency``."""

    target: tuple[str, ...]
    lookback: int
    horizon: int
    data: dict[str, Any] | None
    frequency: str | None


class WindowForecaster(BaseEstimator):
    """Base class: subclasses implement ``_fit_windows`` and ``_predict_scaled``.

    Parameters common to every forecaster (subclasses add their own):
    ``target``, ``lookback``, ``horizon``, ``stride``, ``val_fraction`` (used only when the frame
    passed to ``fit`` has no ``split`` column), ``features`` (the pipeline's features section),
    ``interval_level``, ``interval_scale`` (``"absolute"`` or ``"local"``, see
    :mod:`forecaster.evaluation.intervals`), ``calibration_window`` (None: intervals calibrated
    once on the validation windows; N: on each series' N most recent windows with known labels,
    see :mod:`forecaster.evaluation.rolling`), ``data`` (the pipeline's data section, used by
    :meth:`forecast` to read raw history exactly like the training file).
    """

    kind = "base"

    # ----------------------------------------------------------------- fitting
    def _prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        frame = ensure_canonical(frame, list(self.target))
        if SPLIT not in frame.columns:
            frame = frame.copy()
            frame[SPLIT] = assign_splits(frame, self.val_fraction, 0.0).to_numpy()
        return frame

    def fit(self, frame: pd.DataFrame, y: Any = None) -> "WindowForecaster":
        """Fit on a canonical frame (rows of ``split == 'train'``; ``val`` for early stopping/intervals).

        Returns
        -------
        self
        """
        frame = self._prepare(frame)
        train_rows = frame[frame[SPLIT].to_numpy() == "train"]
        if train_rows.empty:
            raise ValueError("the frame has no training rows (split == 'train')")
        self.frequency_ = _infer_frequency(frame)
        self.preprocessor_ = Preprocessor(target=list(self.target), features=self.features, horizon=self.horizon,
                                          frequency=self.frequency_).fit(train_rows)
        scaled, values = self.preprocessor_.transform_values(frame)
        starts = window_starts(scaled, self.lookback, self.horizon, self.stride)
        scaled = scaled[[SERIES_ID, TIMESTAMP]]  # all the evaluation reads: its scaled float64 copies are freed
        n_train, n_val = len(starts["train"]), len(starts["val"])
        if n_train == 0 or n_val == 0:
            raise ValueError(
                f"not enough rows for lookback={self.lookback} + horizon={self.horizon}: "
                f"{n_train} training and {n_val} validation windows (both must be >= 1)"
            )
        self.n_features_ = values.shape[1]
        self.feature_names_ = list(self.preprocessor_.feature_names_)
        self.series_ = sorted(frame[SERIES_ID].astype(str).unique().tolist())
        self.naive_scale_ = _naive_scales(train_rows, list(self.target))
        self.schema_ = DataSchema.from_config(self.data, self.target, self.feature_names_, self.features)
        del train_rows  # a copy of most of the frame: not held while training
        self._fit_windows(values, starts, scaled)
        self.fitted_ok_ = not getattr(self, "failed_", False)
        if self.fitted_ok_:
            val = self._predict_split(scaled, values, starts["val"])
            self.quantiles_ = conformal_quantiles(np.abs(val.y_pred - val.y_true) / self.interval_scales(val),
                                                  self.interval_level)
        else:
            self.quantiles_ = np.full((self.horizon, len(self.target)), np.nan)
        return self

    # Subclass hooks -------------------------------------------------------
    def _fit_windows(self, values: np.ndarray, starts: dict[str, np.ndarray], scaled: pd.DataFrame) -> None:
        raise NotImplementedError

    def _predict_scaled(self, X: np.ndarray) -> np.ndarray:
        """``(n_samples, lookback, n_features)`` scaled -> ``(n_samples, horizon, n_targets)`` scaled."""
        raise NotImplementedError

    # -------------------------------------------------------------- evaluation
    def _predict_split(self, scaled: pd.DataFrame, values: np.ndarray, starts: np.ndarray) -> WindowPredictions:
        if len(starts) > PREDICT_CHUNK:  # windows gathered a chunk at a time, never all at once
            return concat_predictions(*(self._predict_split(scaled, values, starts[i:i + PREDICT_CHUNK])
                                        for i in range(0, len(starts), PREDICT_CHUNK)))
        targets = list(self.preprocessor_.target_indices_)
        X, y = gather_windows(values, starts, self.lookback, self.horizon, targets)
        series_ids = scaled[SERIES_ID].iloc[starts].to_numpy()  # the chunk's ids, not the whole column
        y_pred = self._predict_scaled(X) if len(starts) else np.zeros_like(y)
        y_true = self.preprocessor_.inverse_targets(y, series_ids)
        y_pred = self.preprocessor_.inverse_targets(y_pred, series_ids)
        ts = scaled[TIMESTAMP].to_numpy()
        label_pos = starts[:, None] + self.lookback + np.arange(self.horizon)[None, :]
        return WindowPredictions(
            y_true=y_true,
            y_pred=y_pred,
            series_ids=series_ids,
            timestamps=ts[label_pos] if len(starts) else np.empty((0, self.horizon), dtype="datetime64[ns]"),
            scale=self._series_scales(series_ids),
            spread=self._spread(X, series_ids),
        )

    def _series_scales(self, series_ids: np.ndarray) -> np.ndarray:
        """The training one-step (MASE) scale of each sample's series, ``(n_samples, 1, n_targets)``."""
        ones = np.ones(len(self.target))
        rows = [self.naive_scale_.get(str(s), ones) for s in series_ids]
        return (np.stack(rows) if rows else np.ones((0, len(self.target))))[:, None, :]

    def _spread(self, X: np.ndarray, series_ids: np.ndarray) -> np.ndarray:
        """Each window's mean absolute one-step target change over its lookback, original units."""
        history = self.preprocessor_.inverse_targets(X[:, :, list(self.preprocessor_.target_indices_)], series_ids)
        return window_spread(history)

    def interval_scales(self, preds: WindowPredictions) -> np.ndarray:
        """Per-window scale ``s`` of the conformal intervals ``ŷ ± q * s`` (``(n, 1, n_targets)``)."""
        return interval_scales(self.interval_scale, preds.spread, preds.scale)

    def half_widths(self, preds: WindowPredictions, history: WindowPredictions | None = None) -> np.ndarray:
        """Interval half-widths of each window, ``(n_samples, horizon, n_targets)``.

        ``history``: earlier windows (e.g. validation) for rolling calibration, see
        :func:`calibrated_half_widths`.
        """
        return calibrated_half_widths(self, preds, history)

    def recent_windows(self, frame: pd.DataFrame, window: int | None = None) -> WindowPredictions | None:
        """Forecasts on the last ``window`` (default ``calibration_window``) windows, stride 1, of
        each series of a canonical frame whose labels are all in the frame; None without either."""
        check_is_fitted(self, "preprocessor_")
        window = window or getattr(self, "calibration_window", None)
        if not window or len(frame) < self.lookback + self.horizon:  # no window fits: nothing to calibrate on
            return None
        frame = ensure_canonical(frame, list(self.target)).drop(columns=SPLIT, errors="ignore")
        frame = frame.sort_values([SERIES_ID, TIMESTAMP], kind="stable").reset_index(drop=True)
        scaled, values = self.preprocessor_.transform_values(frame)
        starts = window_starts(scaled, self.lookback, self.horizon, 1)["train"]  # no split column: all windows
        ids = scaled[SERIES_ID].to_numpy()[starts]
        keep = pd.Series(starts).groupby(ids).tail(int(window)).to_numpy()
        if not len(keep):  # history shorter than lookback + horizon: nothing to calibrate on
            return None
        return self._predict_split(scaled, values, np.sort(keep))

    def evaluate_windows(self, frame: pd.DataFrame, splits=("val", "test")) -> dict[str, WindowPredictions]:
        """Forecasts on the windows of each split of ``frame`` (same windows for every forecaster)."""
        check_is_fitted(self, "preprocessor_")
        frame = self._prepare(frame)
        scaled, values = self.preprocessor_.transform_values(frame)
        starts = window_starts(scaled, self.lookback, self.horizon, self.stride)
        return {s: self._predict_split(scaled, values, starts[s]) for s in splits}

    # --------------------------------------------------------------- forecasts
    def predict(self, frame: pd.DataFrame, horizon: int | None = None) -> pd.DataFrame:
        """Forecast ``horizon`` steps after the end of each series of a canonical frame.

        Returns a DataFrame with columns ``series_id, timestamp, step, forecast, lower, upper``
        (plus ``target`` when the model has several targets), one row per series and step.
        """
        check_is_fitted(self, "preprocessor_")
        horizon = self.horizon if horizon is None else int(horizon)
        if not 1 <= horizon <= self.horizon:
            raise ValueError(f"horizon must be between 1 and {self.horizon}; received {horizon}")
        X, series_ids, last_ts = self._last_windows(frame)
        y = self.preprocessor_.inverse_targets(self._predict_scaled(X), series_ids)[:, :horizon, :]
        q = forecast_quantiles(self, self.recent_windows(frame), series_ids, last_ts)
        half = q[:, :horizon, :] * self._tail_scales(X, series_ids)
        return forecast_frame(series_ids, last_ts, y, half, self.frequency_, list(self.target))

    def tail_interval_scales(self, frame: pd.DataFrame, mode: str | None = None) -> dict[str, np.ndarray]:
        """Interval scale ``(n_targets,)`` of the last window of each series of a canonical frame.

        ``mode`` overrides this forecaster's ``interval_scale`` (a blend scales its own intervals).
        """
        check_is_fitted(self, "preprocessor_")
        X, series_ids, _ = self._last_windows(frame)
        scales = self._tail_scales(X, series_ids, mode)
        return {str(sid): scales[i, 0] for i, sid in enumerate(series_ids)}

    def _tail_scales(self, X: np.ndarray, series_ids: np.ndarray, mode: str | None = None) -> np.ndarray:
        return interval_scales(mode or self.interval_scale, self._spread(X, series_ids), self._series_scales(series_ids))

    def _last_windows(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, pd.Series]:
        """``(X, series_ids, last timestamps)`` of the last full window of each series."""
        return last_windows(frame, list(self.target), self.lookback, self.preprocessor_)

    def forecast_origins(self, frame: pd.DataFrame) -> tuple[np.ndarray, pd.Series]:
        """``(series_ids, last timestamps)``: where :meth:`predict` starts each series' forecast."""
        check_is_fitted(self, "preprocessor_")
        _, series_ids, last_ts = self._last_windows(frame)
        return series_ids, last_ts

    def window_settings(self) -> WindowSettings:
        """The target, lookback, horizon, data section and frequency of this fitted forecaster."""
        check_is_fitted(self, "preprocessor_")
        return WindowSettings(target=tuple(str(t) for t in self.target), lookback=int(self.lookback),
                              horizon=int(self.horizon), data=self.data, frequency=self.frequency_)

    def forecast(self, history: pd.DataFrame, horizon: int | None = None) -> pd.DataFrame:
        """Forecast from RAW history (columns as in the training file), e.g. a request DataFrame."""
        return self.predict(self.canonical_history(history), horizon=horizon)

    def canonical_history(self, history: pd.DataFrame) -> pd.DataFrame:
        """RAW history (columns as in the training file) -> the canonical frame :meth:`predict` takes."""
        return self.data_schema().to_model_frame(history, self.frequency_)

    def data_schema(self) -> DataSchema:
        """How this forecaster reads raw history: its data section and raw input columns."""
        check_is_fitted(self, "preprocessor_")
        schema = getattr(self, "schema_", None)  # set by fit and load; derived after from_state
        return schema or DataSchema.from_config(self.data, self.target, self.feature_names_, self.features)

    def input_columns(self) -> list[str]:
        """The raw history columns :meth:`forecast` reads (timestamp, series, value inputs)."""
        return list(self.data_schema().inputs)

    # ------------------------------------------------------------ persistence
    def to_state(self) -> dict[str, Any]:
        """The fitted forecaster as plain data: JSON values and numeric arrays (no pickle).

        The Keras model is not in it (see ``save``). :meth:`from_state` rebuilds the forecaster.
        """
        check_is_fitted(self, "preprocessor_")
        series = sorted(self.naive_scale_)
        return {
            "params": self.get_params(deep=False),
            "attributes": {k: getattr(self, k) for k in PLAIN_ATTRIBUTES if hasattr(self, k)},
            "preprocessor": self.preprocessor_.to_state(),
            "quantiles": np.asarray(self.quantiles_, dtype=np.float64),
            "naive_scale": {"series": series,
                            "values": np.stack([np.asarray(self.naive_scale_[s], dtype=np.float64) for s in series])
                            if series else np.ones((0, len(self.target)))},
            **self._extra_state(),
        }

    def _extra_state(self) -> dict[str, Any]:
        """Subclasses add their own learned state (plain data)."""
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        """Subclasses restore what :meth:`_extra_state` added."""

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "WindowForecaster":
        """Rebuild a fitted forecaster from :meth:`to_state` (ValueError naming a bad entry)."""
        state = dict(state)
        params, attributes = dict(state.pop("params")), dict(state.pop("attributes"))
        unknown = sorted(set(params) - set(cls._get_param_names()))
        if unknown:
            raise ValueError(f"unknown {cls.__name__} parameter(s) {unknown}")
        unknown = sorted(set(attributes) - set(PLAIN_ATTRIBUTES))
        if unknown:
            raise ValueError(f"unknown attribute(s) {unknown}")
        obj = cls(**params)
        obj.__dict__.update(attributes)
        obj.preprocessor_ = Preprocessor.from_state(state.pop("preprocessor"))
        n_targets = len(obj.target)
        obj.quantiles_ = np.asarray(state.pop("quantiles"))
        if obj.quantiles_.shape != (obj.horizon, n_targets):
            raise ValueError(f"quantiles must have shape ({obj.horizon}, {n_targets}); received {obj.quantiles_.shape}")
        naive = state.pop("naive_scale")
        values = np.asarray(naive["values"], dtype=np.float64)
        if values.shape != (len(naive["series"]), n_targets):
            raise ValueError(f"naive_scale values must have shape ({len(naive['series'])}, {n_targets}); "
                             f"received {values.shape}")
        obj.naive_scale_ = {str(s): values[i] for i, s in enumerate(naive["series"])}
        obj._load_extra_state(state)
        if state:
            raise ValueError(f"unknown state entries {sorted(state)}")
        return obj

    def save(self, directory: str | os.PathLike) -> Path:
        """Save the fitted forecaster to ``directory`` atomically (built beside it, then renamed).

        Data only: ``forecaster.json`` + ``arrays.npz`` (see :mod:`forecaster.estimator.state_files`)
        and what the subclass adds (``model.keras``).
        """
        check_is_fitted(self, "preprocessor_")
        target = Path(directory)
        with atomic_directory(target) as tmp:
            header = {"kind": self.kind, "class": type(self).__name__, "target": list(self.target),
                      "lookback": self.lookback, "horizon": self.horizon, "frequency": self.frequency_,
                      "features": self.feature_names_,
                      # What forecast() needs, readable without loading the model (forecasting.py).
                      HEADER_KEY: self.data_schema().to_json()}
            write_state(tmp, header, self.to_state())
            self._save_model(tmp)
        return target

    def _save_model(self, directory: Path) -> None:
        """Subclasses save what the state does not hold (e.g. the Keras model)."""

    def _load_model(self, directory: Path) -> None:
        """Subclasses load what ``_save_model`` wrote."""

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "WindowForecaster":
        """Load a forecaster saved by :meth:`save`; never unpickles nor runs code from the files.

        Raises
        ------
        ModelFileError
            A missing, invalid or tampered file (the message names it).
        """
        directory = Path(directory)
        header, state = read_state(directory, known_classes=(cls.__name__,))
        try:
            obj = cls.from_state(state)
            obj.schema_ = DataSchema.from_header(header)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelFileError(
                f"{directory / META_FILE}: invalid saved state ({type(exc).__name__}: {exc})") from None
        obj._load_model(directory)
        return obj


def _infer_frequency(frame: pd.DataFrame) -> str | None:
    """The data frequency, from the longest segment of the first series."""
    from forecaster.data import infer_frequency

    first = frame[frame[SERIES_ID] == frame[SERIES_ID].iloc[0]]
    sizes = first.groupby(SEGMENT).size()
    longest = first[first[SEGMENT] == sizes.idxmax()]
    return infer_frequency(longest[TIMESTAMP].to_numpy())


def _naive_scales(train_rows: pd.DataFrame, target: list[str]) -> dict[str, np.ndarray]:
    scales: dict[str, np.ndarray] = {}
    for sid, group in train_rows.groupby(SERIES_ID, sort=True):
        scales[str(sid)] = np.atleast_1d(np.asarray(naive_scale(group[target].to_numpy(dtype=float)), dtype=float))
    return scales

