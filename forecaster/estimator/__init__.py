"""Fitted forecasters with one interface: fit, predict, forecast from raw history, save, load.

Owns the fitted, saveable forecaster (scikit-learn contract; safe, data-only files). May import
``features``, ``windowing``, ``models``, ``training``, ``evaluation``, ``data``, ``config`` and the
ground floor; never the comparison, MLflow or the run's scheduling.
"""

from __future__ import annotations

import os
from pathlib import Path

from forecaster.errors import ModelFileError
from forecaster.estimator.base import (
    WindowForecaster,
    WindowPredictions,
    WindowSettings,
)
from forecaster.estimator.baseline import BASELINE_KINDS, BaselineForecaster
from forecaster.estimator.blend import BlendForecaster
from forecaster.estimator.rnn import RNNForecaster
from forecaster.estimator.state_files import META_FILE, read_header

__all__ = ["RNNForecaster", "BaselineForecaster", "BlendForecaster", "WindowForecaster", "WindowPredictions",
           "WindowSettings", "BASELINE_KINDS", "FORECASTER_CLASSES", "load_forecaster"]

#: Every class a saved forecaster's ``forecaster.json`` may name.
FORECASTER_CLASSES = {cls.__name__: cls for cls in (RNNForecaster, BaselineForecaster, BlendForecaster)}


def load_forecaster(directory: str | os.PathLike) -> WindowForecaster | BlendForecaster:
    """Load a forecaster saved by ``save`` (an RNN, a baseline or a blend), in this or a new process.

    Data only: JSON, ``.npz`` read without pickle, ``.keras`` read with ``safe_mode=True``; no code
    from the directory runs.

    Raises
    ------
    ModelFileError
        Not a saved forecaster, or a missing, invalid or tampered file (the message names it).
    """
    directory = Path(directory)
    name = read_header(directory).get("class")
    if name not in FORECASTER_CLASSES:
        raise ModelFileError(f"{directory / META_FILE}: 'class' must be one of {list(FORECASTER_CLASSES)}; "
                             f"received {name!r}")
    return FORECASTER_CLASSES[name].load(directory)
