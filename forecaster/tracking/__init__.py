"""MLflow tracking: the only package of forecaster that imports mlflow.

- :mod:`.store`: which tracking store (config > ``MLFLOW_TRACKING_URI`` > ``./mlflow.db``), where
  artifacts go, the ``mlflow ui`` command;
- :mod:`.runs`: a comparison as one parent run with nested child runs (contract names);
- :mod:`.artifacts`: the comparison table and the figures a comparison logs;
- :mod:`.pyfunc_model`: the served model, forecasting from raw history;
- :mod:`.registry`: registration and the champion gate (aliases, never stages).
"""

from __future__ import annotations

from forecaster.tracking.artifacts import comparison_table
from forecaster.tracking.backtest_log import log_backtest
from forecaster.tracking.pyfunc_model import ForecasterModel, load_forecaster_from_uri, log_forecaster_model
from forecaster.tracking.registry import champion_uri, register_and_gate
from forecaster.tracking.runs import ComparisonRunInfo, log_comparison
from forecaster.tracking.store import (
    artifact_root_for,
    configure,
    get_or_create_experiment,
    resolve_tracking_uri,
    ui_command,
)

__all__ = [
    "ComparisonRunInfo",
    "ForecasterModel",
    "artifact_root_for",
    "champion_uri",
    "comparison_table",
    "configure",
    "get_or_create_experiment",
    "load_forecaster_from_uri",
    "log_backtest",
    "log_comparison",
    "log_forecaster_model",
    "register_and_gate",
    "resolve_tracking_uri",
    "ui_command",
]
