"""Fitted forecasters with one interface: fit, predict, forecast from raw history, save, load."""

from __future__ import annotations

import json
import os
from pathlib import Path

from forecaster.estimator.base import META_FILE, WindowForecaster, WindowPredictions
from forecaster.estimator.baseline import BASELINE_KINDS, BaselineForecaster
from forecaster.estimator.blend import BlendForecaster
from forecaster.estimator.rnn import RNNForecaster

__all__ = ["RNNForecaster", "BaselineForecaster", "BlendForecaster", "WindowForecaster", "WindowPredictions",
           "BASELINE_KINDS", "load_forecaster"]


def load_forecaster(directory: str | os.PathLike) -> WindowForecaster:
    """Load a forecaster saved by ``save`` (an RNN, a baseline or a blend), in this or a new process."""
    directory = Path(directory)
    meta_path = directory / META_FILE
    if not meta_path.is_file():
        raise FileNotFoundError(f"{directory}: not a saved forecaster (no {META_FILE})")
    meta = json.loads(meta_path.read_text())
    classes = {"RNNForecaster": RNNForecaster, "BlendForecaster": BlendForecaster}
    return classes.get(meta.get("class"), BaselineForecaster).load(directory)
