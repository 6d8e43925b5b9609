"""Ending MLflow runs outside :func:`~forecaster.tracking.runs.log_comparison`.

A pipeline's parent run stays RUNNING until the run's commit point (:mod:`forecaster.scheduling.commit`):
:func:`end_run` sets it FINISHED then, or FAILED/KILLED when the run fails or is interrupted
before it. :func:`close_stale_pipeline_runs` is the next run's recovery for a killed one.
"""

from __future__ import annotations

import logging

from mlflow.tracking import MlflowClient

from forecaster.tracking.runs import close_stale_runs

logger = logging.getLogger(__name__)


def end_run(run_id: str, status: str) -> None:
    """Set run ``run_id`` to ``status`` (``FINISHED``, ``FAILED`` or ``KILLED``); idempotent."""
    MlflowClient().set_terminated(run_id, status)


def close_stale_pipeline_runs(experiment: str, pipeline: str) -> int:
    """Mark ``pipeline``'s runs left RUNNING in ``experiment`` as KILLED; returns how many."""
    client = MlflowClient()
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return 0
    return close_stale_runs(client, found.experiment_id, pipeline)
