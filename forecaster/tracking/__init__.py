"""MLflow tracking: the only package of forecaster that imports mlflow.

Owns every MLflow call and name, and which tracking store a run uses (``storeuri``). May import
``comparison``, ``estimator``, ``plots``, ``lifecycle``, ``models`` and the floors below; never the
run's scheduling, the pipeline or the CLI.

- :mod:`.store`: which tracking store (config > ``MLFLOW_TRACKING_URI`` > ``./mlflow.db``), where
  artifacts go, the ``mlflow ui`` command;
- :mod:`.runs`: a comparison as one parent run with nested child runs (contract names);
- :mod:`.headline`, :mod:`.runnames`: what the parent shows first (headline metrics, winner,
  champion) and short child run names;
- :mod:`.artifacts`: the comparison table and the figures a comparison logs;
- :mod:`.pyfunc_model`: the served model, forecasting from raw history;
- :mod:`.registry`: registration, writing the champion gate's decision (aliases, never stages);
- :mod:`.quarantine`: a champion whose files cannot be loaded safely is tagged quarantined and
  treated as no champion;
- :mod:`.lifecycle`: ending the pipeline's parent run at its commit point, closing a killed run's.
"""

from __future__ import annotations

from forecaster.tracking.artifacts import comparison_table
from forecaster.tracking.backtest_log import log_backtest
from forecaster.tracking.headline import mark_champion
from forecaster.tracking.lifecycle import close_stale_pipeline_runs, end_run
from forecaster.tracking.pyfunc_model import (
    ForecasterModel,
    load_forecaster_from_uri,
    log_forecaster_model,
)
from forecaster.tracking.quarantine import quarantine_unsafe_champion
from forecaster.tracking.registry import (
    abandon_pending,
    champion_evidence,
    champion_uri,
    commit_version,
    register_and_gate,
    register_pending,
)
from forecaster.tracking.runs import ComparisonRunInfo, log_comparison
from forecaster.tracking.store import (
    artifact_root_for,
    configure,
    get_or_create_experiment,
    open_store,
    resolve_tracking_uri,
    ui_command,
)

__all__ = [
    "abandon_pending",
    "champion_evidence",
    "close_stale_pipeline_runs",
    "commit_version",
    "end_run",
    "open_store",
    "quarantine_unsafe_champion",
    "register_pending",
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
    "mark_champion",
    "register_and_gate",
    "resolve_tracking_uri",
    "ui_command",
]
