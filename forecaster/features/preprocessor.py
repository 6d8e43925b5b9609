"""From a regularised canonical frame to the scaled float32 array the networks read.

:class:`Preprocessor` bundles the feature transformers and the per-series scaler. It is fit on
the training rows only (no leakage) and travels with the fitted model, so a saved forecaster
turns raw history into network inputs exactly as it did during training.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from forecaster.config import FeaturesConfig
from forecaster.data.columns import KEY_COLUMNS
from forecaster.features.derived import build_feature_transformer, feature_columns
from forecaster.features.knownfuture import KnownFutureFeatures, known_future_columns
from forecaster.features.scaling import SeriesScaler

logger = logging.getLogger(__name__)



class Preprocessor(TransformerMixin, BaseEstimator):
    """Derived features, then per-series standard scaling fit on training rows.

    Parameters
    ----------
    target:
        Target column names; they are always among the network inputs (as their own history).
    features:
        The ``features`` section of a pipeline file as a mapping (calendar, log_returns, wind,
        known_future).
    horizon, frequency:
        With ``known_future``: the forecast horizon and the data frequency its columns are shifted
        by (:mod:`forecaster.features.knownfuture`); unused otherwise.

    Attributes
    ----------
    features_ : the fitted feature transformer.
    scaler_ : :class:`forecaster.data.splits.SeriesScaler` fit on the training rows.
    feature_names_ : list of str, the input columns in network order, ``n_features`` long; the
        known-future columns (not scaled) come last.
    known_columns_ : list of str, those known-future columns (empty without ``known_future``).
    target_indices_ : list of int, positions of the targets among ``feature_names_``.

    Example
    -------
    >>> import pandas as pd, numpy as np
    >>> frame = pd.DataFrame({"series_id": "s", "timestamp": pd.date_range("2024", periods=6, freq="h"),
    ...                       "segment": 0, "t": np.arange(6.0)})
    >>> pre = Preprocessor(target=["t"]).fit(frame)
    >>> pre.transform_values(frame)[1].shape
    (6, 1)
    """

    def __init__(self, target=("y",), features=None, horizon=None, frequency=None):
        self.target = target
        self.features = features
        self.horizon = horizon
        self.frequency = frequency

    def _features_config(self) -> FeaturesConfig:
        return FeaturesConfig.model_validate(self.features or {})

    def fit(self, frame: pd.DataFrame, y: Any = None) -> "Preprocessor":
        """Fit on the TRAINING rows of a canonical frame (callers pass only those)."""
        self.features_ = build_feature_transformer(self._features_config()).fit(frame)
        self._fit_known(frame)
        featured = self.features_.transform(frame)
        names = [n for n in feature_columns(featured) if n not in self.known_columns_]
        targets = list(self.target)
        missing = [t for t in targets if t not in featured.columns]
        if missing:
            raise ValueError(
                f"target column(s) {missing} are not in the frame; columns: {list(featured.columns)}"
            )
        # Targets first so their positions are stable and easy to read.
        self.feature_names_ = targets + [n for n in names if n not in targets] + self.known_columns_
        self.target_indices_ = list(range(len(targets)))
        self.scaler_ = SeriesScaler(columns=self.scaled_columns).fit(featured)
        logger.debug("preprocessor fit: %d features %s", len(self.feature_names_), self.feature_names_)
        return self

    def _fit_known(self, frame: pd.DataFrame | None) -> None:
        """The known-future step (None without ``known_future``) and its columns."""
        signals = list(self._features_config().known_future)
        self.known_, self.known_columns_ = None, known_future_columns(signals)
        if signals:
            if self.horizon is None or not self.frequency:
                raise ValueError("features.known_future needs the horizon and the data frequency "
                                 f"(received horizon={self.horizon!r}, frequency={self.frequency!r})")
            self.known_ = KnownFutureFeatures(signals, horizon=int(self.horizon), frequency=self.frequency)
            if frame is not None:
                self.known_.fit(frame)

    @property
    def scaled_columns(self) -> list[str]:
        """The input columns scaled per series: all but the known-future ones."""
        return [n for n in self.feature_names_ if n not in self.known_columns_]

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return the frame with derived features added and the input columns scaled."""
        check_is_fitted(self, "scaler_")
        featured = self.features_.transform(frame)
        if getattr(self, "known_", None) is not None:
            featured = self.known_.transform(featured)
        return self.scaler_.transform(featured)

    def transform_values(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """Featured, scaled frame plus its input matrix ``(n_rows, n_features)`` as float32."""
        scaled = self.transform(frame)
        values = np.ascontiguousarray(scaled[self.feature_names_].to_numpy(dtype=np.float32))
        if not np.isfinite(values).all():
            bad = int(np.argwhere(~np.isfinite(values))[0, 1])
            raise ValueError(
                f"feature column {self.feature_names_[bad]!r} has missing or infinite values after "
                "preprocessing; check the data's gaps (max_gap) and sentinel values"
            )
        return scaled, values

    def inverse_targets(self, values: np.ndarray, series_ids: np.ndarray) -> np.ndarray:
        """Scaled target arrays ``(n_samples, horizon, n_targets)`` back to original units."""
        return self.scaler_.inverse_transform_values(values, np.asarray(series_ids), list(self.target))

    def to_state(self) -> dict[str, Any]:
        """The fitted preprocessing as plain data (JSON values and float arrays; no pickle).

        The feature transformers learn nothing (see :mod:`forecaster.features`): they are rebuilt
        from ``features``; the scaler's statistics are in ``scaler``.
        """
        check_is_fitted(self, "scaler_")
        state = {"target": [str(t) for t in self.target], "features": self.features,
                 "feature_names": list(self.feature_names_), "target_indices": [int(i) for i in self.target_indices_],
                 "scaler": self.scaler_.to_state()}
        if self.known_columns_:  # a model without known-future inputs saves what it saved before
            state.update(horizon=int(self.horizon), frequency=str(self.frequency))
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "Preprocessor":
        """Rebuild a fitted preprocessor from :meth:`to_state`; ValueError naming the bad entry."""
        obj = cls(target=list(state["target"]), features=state["features"], horizon=state.get("horizon"),
                  frequency=state.get("frequency"))
        obj.features_ = build_feature_transformer(obj._features_config())
        obj._fit_known(None)
        obj.feature_names_ = [str(n) for n in state["feature_names"]]
        obj.target_indices_ = [int(i) for i in state["target_indices"]]
        obj.scaler_ = SeriesScaler.from_state(state["scaler"])
        if obj.known_columns_ and obj.feature_names_[-len(obj.known_columns_):] != obj.known_columns_:
            raise ValueError(f"feature names {obj.feature_names_} must end with the known-future columns "
                             f"{obj.known_columns_}")
        if obj.scaler_.columns_ != obj.scaled_columns:
            raise ValueError(f"scaler columns {obj.scaler_.columns_} differ from feature names {obj.scaled_columns}")
        return obj

    def keys(self, frame: pd.DataFrame) -> list[str]:
        return [c for c in KEY_COLUMNS if c in frame.columns]
