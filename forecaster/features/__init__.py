"""What the network sees besides the raw columns: derived features and per-series scaling.

Owns the derived inputs (calendar sin/cos, log returns, wind vector: stateless transformers in
:mod:`~forecaster.features.derived`), the known-future inputs (the target steps' calendar,
:mod:`~forecaster.features.knownfuture`), the per-series scaler fit on the training rows only
(:mod:`~forecaster.features.scaling`) and the two bundled as one fitted
:class:`~forecaster.features.preprocessor.Preprocessor`. May import ``config``, ``data`` and the
ground floor; never windows, models or anything above.
"""

from __future__ import annotations

from forecaster.features.derived import (
    CALENDAR_PERIODS,
    CalendarFeatures,
    LogReturns,
    WindVector,
    build_feature_transformer,
    feature_columns,
)
from forecaster.features.preprocessor import Preprocessor
from forecaster.features.scaling import SeriesScaler

__all__ = ["CALENDAR_PERIODS", "CalendarFeatures", "LogReturns", "Preprocessor", "SeriesScaler", "WindVector",
           "build_feature_transformer", "feature_columns"]
