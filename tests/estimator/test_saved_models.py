"""A forecaster saved before the package was regrouped (0.1.0, flat modules) still loads and forecasts.

The fixture ``fixtures/blend-0.1.0-before-packages`` was saved by the code of commit fdb6cea (the
flat top floor): a blend of an LSTM 1x4 and the ridge baseline on the bundled Seattle data, with
its forecast from ``history.csv``. Its files hold class names (``RNNForecaster``) and Keras's
registered names (``forecaster>LastValueResidual``), no module path of ours but the ``module``
fields Keras writes beside a registered name (``forecaster.models.layers``,
``forecaster.training.optimizer``): those modules did not move, and this test keeps them importable.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster.estimator import BlendForecaster, load_forecaster

FIXTURE = Path(__file__).parent / "fixtures" / "blend-0.1.0-before-packages"


def test_a_blend_saved_before_the_regrouping_loads_and_forecasts_the_same():
    model = load_forecaster(FIXTURE / "model")
    assert isinstance(model, BlendForecaster)
    forecast = model.forecast(pd.read_csv(FIXTURE / "history.csv"))
    expected = pd.read_csv(FIXTURE / "expected_forecast.csv")
    assert forecast[["series_id", "step"]].astype(str).equals(expected[["series_id", "step"]].astype(str))
    for column in ("forecast", "lower", "upper"):
        np.testing.assert_allclose(forecast[column].to_numpy(), expected[column].to_numpy(), rtol=1e-6, atol=1e-6)


def test_the_modules_a_saved_model_names_still_exist():
    """What would break if a module moved: the Keras file names two modules of ours, and they import."""
    import importlib
    import zipfile

    with zipfile.ZipFile(FIXTURE / "model" / "member0" / "model.keras") as keras_file:
        config = keras_file.read("config.json").decode()
    modules = set()

    def walk(node):
        if isinstance(node, dict):
            if str(node.get("module", "")).startswith("forecaster"):
                modules.add(node["module"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(config))
    assert modules == {"forecaster.models.layers", "forecaster.training.optimizer"}
    for module in modules:
        importlib.import_module(module)
    for header in FIXTURE.rglob("forecaster.json"):
        assert "forecaster." not in header.read_text().replace("forecaster_version", "")
