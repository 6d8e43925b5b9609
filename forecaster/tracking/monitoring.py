"""Live accuracy in MLflow: the per-pipeline monitoring run, the version tags, ``live_accuracy.png``.

* One monitoring run per pipeline in its experiment (tag ``forecaster.role=monitoring``), created
  on first use and reused: each scoring appends ``live_mae``, ``live_rel_mae``, ``live_coverage``
  and ``live_n`` at ``step`` = the last scored target timestamp in seconds since 1970 (time order;
  a scoring with nothing newer logs nothing), and replaces the artifact ``live_accuracy.png``.
* The champion version gets ``forecaster.live_mae``, ``forecaster.live_rel_mae``,
  ``forecaster.live_coverage``, ``forecaster.live_n`` and, once judged, ``forecaster.degraded``
  (``true``/``false``) with ``forecaster.degraded_reason``.
* The monitoring run gets ``forecaster.served_by`` (what served the latest forecast) and, when
  that was the fallback baseline and it was judged, ``forecaster.degraded`` and
  ``forecaster.degraded_reason`` (a baseline has no registered version to carry them).
"""

from __future__ import annotations

import logging
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from forecaster.lifecycle.monitoring import DriftDecision, LiveScores, Served
from forecaster.tracking.runs import TAG_CANDIDATE, TAG_PIPELINE, TAG_ROLE
from forecaster.tracking.store import (
    artifact_root_for,
    configure,
    get_or_create_experiment,
)

logger = logging.getLogger(__name__)

CHAMPION = "champion"
TAG_RUN_ID = "forecaster.run_id"  # set by the registry on every version: the run that trained it
ROLE_MONITORING = "monitoring"
MONITORING_RUN_NAME = "monitoring"
LIVE_METRICS = ("live_mae", "live_rel_mae", "live_coverage", "live_n")
TAG_LIVE_MAE = "forecaster.live_mae"
TAG_LIVE_REL_MAE = "forecaster.live_rel_mae"
TAG_LIVE_COVERAGE = "forecaster.live_coverage"
TAG_LIVE_N = "forecaster.live_n"
TAG_DEGRADED = "forecaster.degraded"
TAG_DEGRADED_REASON = "forecaster.degraded_reason"
TAG_SERVED_BY = "forecaster.served_by"
PLOT_NAME = "live_accuracy.png"
_MAX_TAG = 5000


@dataclass(frozen=True)
class ChampionInfo:
    """The current champion version and the test MAE of the run that trained it."""

    registered_model: str
    version: str
    test_mae: float | None
    degraded: bool
    degraded_reason: str


def champion_info(cfg: Any) -> ChampionInfo | None:
    """The champion of ``cfg.registered_model_name`` (None without one); configures the store."""
    configure(cfg.tracking)
    client = MlflowClient()
    name = cfg.registered_model_name
    try:
        version = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise
    test_mae = None
    run_id = version.tags.get(TAG_RUN_ID) or version.run_id
    if run_id:
        try:
            value = client.get_run(run_id).data.metrics.get("test_mae")
        except Exception as exc:  # noqa: BLE001 - a deleted run must not stop monitoring
            logger.warning("could not read the test MAE of run %s of %s v%s (%s)", run_id, name, version.version, exc)
            value = None
        test_mae = float(value) if value is not None and math.isfinite(float(value)) else None
    return ChampionInfo(registered_model=name, version=str(version.version), test_mae=test_mae,
                        degraded=version.tags.get(TAG_DEGRADED) == "true",
                        degraded_reason=version.tags.get(TAG_DEGRADED_REASON, ""))


def baseline_test_mae(cfg: Any, parent_run_id: str, baseline: str) -> float | None:
    """The test MAE the baseline ``baseline`` had in the comparison ``parent_run_id`` (None when unknown)."""
    configure(cfg.tracking)
    client = MlflowClient()
    try:
        parent = client.get_run(parent_run_id)
        runs = client.search_runs(
            [parent.info.experiment_id],
            filter_string=f"tags.`mlflow.parentRunId` = '{parent_run_id}' and tags.`{TAG_CANDIDATE}` = '{baseline}'",
            max_results=1)
    except MlflowException as exc:
        logger.warning("could not read the test MAE of the baseline %s of run %s (%s)", baseline, parent_run_id, exc)
        return None
    value = runs[0].data.metrics.get("test_mae") if runs else None
    return float(value) if value is not None and math.isfinite(float(value)) else None


def monitoring_run_id(client: MlflowClient, experiment_id: str, pipeline: str) -> str:
    """The pipeline's monitoring run, created (and ended FINISHED) when absent."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{TAG_ROLE}` = '{ROLE_MONITORING}' and tags.`{TAG_PIPELINE}` = '{pipeline}'",
        order_by=["attributes.start_time ASC"], max_results=1)
    if runs:
        return runs[0].info.run_id
    run = client.create_run(experiment_id, run_name=MONITORING_RUN_NAME,
                            tags={TAG_ROLE: ROLE_MONITORING, TAG_PIPELINE: pipeline})
    client.set_terminated(run.info.run_id, "FINISHED")
    logger.info("created the MLflow monitoring run %s of pipeline %r", run.info.run_id, pipeline)
    return run.info.run_id


def _last_step(client: MlflowClient, run_id: str) -> int | None:
    history = client.get_metric_history(run_id, "live_mae")
    return max((m.step for m in history), default=None)


def _value(x: float) -> float:
    return float(x) if x is not None and math.isfinite(float(x)) else math.nan


def log_live_scores(cfg: Any, scores: LiveScores, scored: pd.DataFrame, *, champion: ChampionInfo | None,
                    decision: DriftDecision | None, served: Served | None = None,
                    fallback_decision: DriftDecision | None = None) -> str | None:
    """Log one scoring of the ledger; returns the monitoring run id (None when nothing is scored).

    ``scores``: the pipeline's last ``monitoring.window`` scored values (every served forecast);
    ``scored``: all scored rows (for the plot); ``decision``: the champion's verdict, whose
    scores go onto the champion version's tags; ``served`` and ``fallback_decision``: what served
    the latest forecast and, for the fallback baseline, its verdict (onto the monitoring run's tags).
    """
    if not scores.n:
        return None
    uri = configure(cfg.tracking)
    client = MlflowClient()
    experiment_id = get_or_create_experiment(cfg.experiment_name, artifact_root_for(uri))
    run_id = monitoring_run_id(client, experiment_id, cfg.name)
    stamp = pd.Timestamp(scores.last_target)
    step = int(stamp.value // 10**9)
    last = _last_step(client, run_id)
    if last is None or step > last:
        ms = int(stamp.value // 10**6)
        values = {"live_mae": scores.mae, "live_rel_mae": scores.rel_mae, "live_coverage": scores.coverage,
                  "live_n": float(scores.n)}
        client.log_batch(run_id, metrics=[Metric(k, _value(v), ms, step) for k, v in values.items()])
        with tempfile.TemporaryDirectory(prefix="forecaster-live-") as tmp:
            from forecaster.plots.live import plot_live_accuracy

            path = plot_live_accuracy(scored, Path(tmp) / PLOT_NAME, title=f"{cfg.name}: live accuracy",
                                      test_mae=champion.test_mae if champion else None)
            client.log_artifact(run_id, str(path))
    else:
        logger.info("monitoring run %s already holds the scores up to %s; nothing new to log", run_id, stamp)
    if served is not None:
        client.set_tag(run_id, TAG_SERVED_BY, served.served_by)
        if fallback_decision is not None and fallback_decision.judged:
            client.set_tag(run_id, TAG_DEGRADED, "true" if fallback_decision.degraded else "false")
            client.set_tag(run_id, TAG_DEGRADED_REASON, (fallback_decision.reason or "no drift rule broken")[:_MAX_TAG])
        elif not served.is_baseline:  # a version serves: its own tags carry the verdict
            for key in set(client.get_run(run_id).data.tags) & {TAG_DEGRADED, TAG_DEGRADED_REASON}:
                client.delete_tag(run_id, key)
    if champion is not None and decision is not None and decision.scores.n:
        s = decision.scores
        tags = {TAG_LIVE_MAE: repr(_value(s.mae)), TAG_LIVE_REL_MAE: repr(_value(s.rel_mae)),
                TAG_LIVE_COVERAGE: repr(_value(s.coverage)), TAG_LIVE_N: str(s.n)}
        if decision.judged:
            tags[TAG_DEGRADED] = "true" if decision.degraded else "false"
            tags[TAG_DEGRADED_REASON] = (decision.reason or "no drift rule broken")[:_MAX_TAG]
        for key, value in tags.items():
            client.set_model_version_tag(champion.registered_model, champion.version, key, value)
    return run_id
