"""Log one comparison to MLflow: a parent run with one nested child run per candidate and baseline.

The tag names below are a contract (dashboards and checks rely on them); so are the parameter and
metric names each run carries (:mod:`forecaster.tracking.runparams`, re-exported here).
Every run is created RUNNING and ended explicitly: FINISHED, FAILED (a failed candidate, or an
exception while logging) or KILLED (interrupted), so a run never looks successful by accident.

Example
-------
>>> info = log_comparison(comparison, cfg, data_path="data/temperature.csv",
...                       data_sha256=sha, code_version=code, workdir=Path(".forecaster"))  # doctest: +SKIP
>>> info.best_run_id  # doctest: +SKIP
'3f0c...'
"""

from __future__ import annotations

import logging
import tempfile
import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from mlflow.entities import DatasetInput, InputTag, Metric, Param, RunStatus, RunTag
from mlflow.tracking import MlflowClient
from mlflow.tracking.context.registry import resolve_tags
from mlflow.utils.mlflow_tags import (
    MLFLOW_DATASET_CONTEXT,
    MLFLOW_PARENT_RUN_ID,
    MLFLOW_RUN_NOTE,
)

from forecaster.comparison.plans import CONTRACT_PARAMS  # noqa: F401 - re-exported (owned by forecaster.comparison.plans)
from forecaster.comparison.results import (
    ROLE_BASELINE,
    ROLE_CANDIDATE,
    ROLE_ENSEMBLE,
    CandidateResult,
    ComparisonResult,
)
from forecaster.execution import termination
from forecaster.tracking.artifacts import (
    comparison_table,
    write_candidate_artifacts,
    write_parent_artifacts,
)
from forecaster.tracking.headline import child_note, headline_metrics, parent_note
from forecaster.tracking.runnames import short_run_name
from forecaster.tracking.runparams import (  # noqa: F401 - the metric names re-exported
    EPOCH_METRICS,
    FINAL_METRICS,
    STEP_METRIC,
    child_metrics,
    child_params,
    finite,
    parent_params,
)
from forecaster.tracking.store import (
    artifact_root_for,
    configure,
    get_or_create_experiment,
)
from forecaster.tracking.wrapper import link_wrapper_run

logger = logging.getLogger(__name__)

# --- the contract ------------------------------------------------------------------------------
TAG_ROLE = "forecaster.role"
TAG_PIPELINE = "forecaster.pipeline"
TAG_CANDIDATE = "forecaster.candidate"
TAG_ENSEMBLE = "forecaster.ensemble"
TAG_DATA_SHA = "forecaster.data_sha256"
TAG_CONFIG_SHA = "forecaster.config_sha256"
TAG_PACKAGE_VERSION = "forecaster.package_version"
TAG_GIT_COMMIT = "forecaster.git_commit"
TAG_CODE_SHA = "forecaster.code_sha256"
TAG_BEST_RUN = "best_run"
TAG_BEST_CANDIDATE = "forecaster.best_candidate"
TAG_FAILURE_REASON = "forecaster.failure_reason"
TAG_FAILED_EPOCH = "forecaster.failed_epoch"
ROLE_COMPARISON = "comparison"
# CONTRACT_PARAMS (every child run's parameter names) and their values are owned by forecaster.comparison.plans;
# the metric names and the values each run carries are in forecaster.tracking.runparams.

_BATCH = 1000  # MLflow's limit on metrics per log_batch call
_PARAM_BATCH = 100  # ... and on params/tags per call
_MAX_TAG = 8000


@dataclass
class ComparisonRunInfo:
    """Ids of the runs :func:`log_comparison` created."""

    experiment_id: str
    parent_run_id: str
    child_run_ids: dict[str, str] = field(default_factory=dict)
    best_run_id: str | None = None



def _millis(seconds: Any) -> int | None:
    """Unix seconds (float) -> MLflow's milliseconds; None when unknown."""
    number = finite(seconds)
    return None if number is None else int(number * 1000)


def _dataset_input(data_path: str | Path, data_sha256: str) -> DatasetInput:
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    path = Path(data_path)
    with warnings.catch_warnings():  # "can be interpreted in multiple ways": both are the local source
        warnings.simplefilter("ignore")
        source = resolve_dataset_source(path.resolve().as_uri())
    dataset = MetaDataset(source, name=path.name, digest=data_sha256[:16])
    return DatasetInput(dataset._to_mlflow_entity(), tags=[InputTag(MLFLOW_DATASET_CONTEXT, "training")])


# --- logging ----------------------------------------------------------------------------------
def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _log_batch(client: MlflowClient, run_id: str, *, metrics=(), params=None, tags=None) -> None:
    param_list = [Param(k, v) for k, v in (params or {}).items()]
    tag_list = [RunTag(k, str(v)[:_MAX_TAG]) for k, v in (tags or {}).items()]
    for chunk in _chunks(param_list, _PARAM_BATCH):
        client.log_batch(run_id, params=chunk)
    for chunk in _chunks(tag_list, _PARAM_BATCH):
        client.log_batch(run_id, tags=chunk)
    for chunk in _chunks(list(metrics), _BATCH):
        client.log_batch(run_id, metrics=chunk)


def _child_tags(result: CandidateResult, pipeline: str, parent_run_id: str) -> dict[str, str]:
    role = ROLE_CANDIDATE if result.role in (ROLE_CANDIDATE, ROLE_ENSEMBLE) else ROLE_BASELINE
    tags = {
        MLFLOW_PARENT_RUN_ID: parent_run_id,
        TAG_ROLE: role,
        TAG_PIPELINE: pipeline,
        TAG_CANDIDATE: result.name,
    }
    if result.role == ROLE_ENSEMBLE:
        tags[TAG_ENSEMBLE] = "true"
    if result.failed:
        tags[TAG_FAILURE_REASON] = result.failure_reason or "unknown"
        if result.failed_epoch is not None:
            tags[TAG_FAILED_EPOCH] = str(result.failed_epoch)
    return tags


def _log_child(
    client: MlflowClient,
    run_id: str,
    result: CandidateResult,
    cfg: Any,
    dataset: DatasetInput,
    directory: Path,
    target_name: str | None,
) -> None:
    _log_batch(client, run_id, params=child_params(result, cfg),
               metrics=child_metrics(result, int(time.time() * 1000)))
    client.log_inputs(run_id, datasets=[dataset])
    files = write_candidate_artifacts(
        result, directory, level=cfg.evaluation.interval_level, target_name=target_name,
        loss=cfg.training.loss, units=cfg.data.units,
    )
    if files:
        client.log_artifacts(run_id, str(directory), artifact_path="plots")


def _terminate(client: MlflowClient, run_id: str, status: str) -> None:
    try:
        client.set_terminated(run_id, status)
    except Exception:  # noqa: BLE001 - never hide the original error behind a bookkeeping one
        logger.exception("could not mark MLflow run %s as %s", run_id, status)


def close_stale_runs(client: MlflowClient, experiment_id: str, pipeline: str) -> int:
    """Mark this pipeline's runs still RUNNING as KILLED: a previous run died (SIGKILL, power loss).

    Called while the pipeline's lock is held, so no live run of the same pipeline can be among them.
    """
    stale = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{TAG_PIPELINE}` = '{pipeline}' and attributes.status = 'RUNNING'",
        max_results=1000,
    )
    for run in stale:
        client.set_tag(run.info.run_id, "forecaster.closed_reason", "process died before the run ended")
        client.set_terminated(run.info.run_id, status="KILLED")
    if stale:
        logger.warning("marked %d stale RUNNING run(s) of pipeline %r as KILLED", len(stale), pipeline)
    return len(stale)


def log_comparison(
    comparison: ComparisonResult,
    cfg: Any,
    *,
    data_path: str | Path,
    data_sha256: str,
    code_version: Mapping[str, Any],
    workdir: Path,
    extra_tags: Mapping[str, str] | None = None,
    finish_parent: bool = True,
) -> ComparisonRunInfo:
    """Log a comparison as one parent run with a nested child run per candidate and baseline.

    Parameters
    ----------
    comparison : ComparisonResult
        Every candidate (incl. an ensemble) and baseline, trained on the same windows.
    cfg : forecaster.config.PipelineConfig
        The validated pipeline; ``tracking`` picks the store and experiment.
    data_path, data_sha256 :
        The training data file and the sha256 of its bytes (logged as an MLflow dataset).
    code_version : mapping
        ``package_version``, ``git_commit`` (or None), ``source_sha256``.
    workdir : pathlib.Path
        Scratch space; tables and figures are built in a temporary directory under it.
    extra_tags : mapping, optional
        More tags for the parent run.
    finish_parent : bool
        Set the parent run FINISHED at the end (default). The pipeline passes False and ends it
        at its commit point (:mod:`forecaster.scheduling.commit`).

    Returns
    -------
    ComparisonRunInfo

    Raises
    ------
    Exception
        Whatever failed while logging, after marking the open runs FAILED (KILLED when interrupted).
    """
    configure(cfg.tracking)
    client = MlflowClient()
    tracking_uri = client.tracking_uri
    experiment_id = get_or_create_experiment(cfg.experiment_name, artifact_root_for(tracking_uri))
    close_stale_runs(client, experiment_id, cfg.name)

    tags = {
        TAG_ROLE: ROLE_COMPARISON,
        TAG_PIPELINE: comparison.pipeline,
        TAG_DATA_SHA: data_sha256,
        TAG_CONFIG_SHA: cfg.sha256(),
        TAG_PACKAGE_VERSION: str(code_version.get("package_version")),
        TAG_CODE_SHA: str(code_version.get("source_sha256")),
    }
    if code_version.get("git_commit"):
        tags[TAG_GIT_COMMIT] = str(code_version["git_commit"])
    tags.update({str(k): str(v) for k, v in (extra_tags or {}).items()})
    run_name = f"{comparison.pipeline}-{time.strftime('%Y%m%d-%H%M%S')}"
    # The parent spans the comparison: it starts when the first candidate or baseline started training.
    starts = [t for t in (_millis(getattr(r, "started_at", None)) for r in comparison.all_results) if t]
    parent = client.create_run(experiment_id, tags=resolve_tags(tags), run_name=run_name,
                               start_time=min(starts) if starts else None)
    parent_id = parent.info.run_id
    info = ComparisonRunInfo(experiment_id=experiment_id, parent_run_id=parent_id)
    link_wrapper_run(parent_id, tracking_uri)
    open_child: str | None = None
    logger.info("logging comparison %r to MLflow run %s (%s)", comparison.pipeline, parent_id, tracking_uri)

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        dataset = _dataset_input(data_path, data_sha256)
        _log_batch(client, parent_id, params=parent_params(cfg, data_path))
        client.log_inputs(parent_id, datasets=[dataset])
        client.log_text(
            parent_id, yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), "pipeline.yaml"
        )
        target_name = comparison.target[0] if comparison.target else None
        with tempfile.TemporaryDirectory(prefix="tracking-", dir=workdir) as scratch:
            scratch_dir = Path(scratch)
            for index, result in enumerate([*comparison.candidates, *comparison.baselines]):
                termination.check()  # a safe point between child runs: a SIGTERM marks them KILLED
                if result.name in info.child_run_ids:
                    logger.warning("two runs are named %r; the run ids map keeps the last", result.name)
                # A short name (cell, size, clipping) fits the runs list; the full one is the
                # forecaster.candidate tag. Start and end are those of the run's training.
                child_tags = _child_tags(result, comparison.pipeline, parent_id)
                child_tags[MLFLOW_RUN_NOTE] = child_note(result, comparison)
                child = client.create_run(
                    experiment_id,
                    tags=resolve_tags(child_tags),
                    run_name=short_run_name(result),
                    start_time=_millis(getattr(result, "started_at", None)),
                )
                open_child = child.info.run_id
                info.child_run_ids[result.name] = open_child
                _log_child(client, open_child, result, cfg, dataset, scratch_dir / f"run{index}", target_name)
                client.set_terminated(
                    open_child, RunStatus.to_string(RunStatus.FAILED if result.failed else RunStatus.FINISHED),
                    end_time=_millis(getattr(result, "finished_at", None)),
                )
                open_child = None

            best = comparison.best_candidate
            info.best_run_id = info.child_run_ids.get(best.name) if best is not None else None
            final_tags = {TAG_BEST_CANDIDATE: best.name if best is not None else "none"}
            if info.best_run_id is not None:
                final_tags[TAG_BEST_RUN] = info.best_run_id
                client.set_tag(info.best_run_id, "forecaster.best", "true")
            table = comparison_table(comparison, info.child_run_ids)
            final_tags[MLFLOW_RUN_NOTE] = parent_note(comparison, table)
            now = int(time.time() * 1000)
            _log_batch(client, parent_id, tags=final_tags,
                       metrics=[Metric(k, v, now, 0) for k, v in headline_metrics(comparison).items()])

            parent_dir = scratch_dir / "parent"
            write_parent_artifacts(comparison, parent_dir, info.child_run_ids, loss=cfg.training.loss)
            client.log_artifacts(parent_id, str(parent_dir))
        if finish_parent:
            client.set_terminated(parent_id, RunStatus.to_string(RunStatus.FINISHED))
    except BaseException as exc:
        status = "FAILED" if isinstance(exc, Exception) else "KILLED"
        why = "stopped by SIGTERM" if isinstance(exc, termination.Terminated) else f"failed ({exc})"
        logger.error("logging to MLflow %s; marking run(s) %s", why, status)
        if open_child is not None:
            _terminate(client, open_child, status)
        _terminate(client, parent_id, status)
        raise
    return info


__all__ = [
    "ComparisonRunInfo", "log_comparison", "comparison_table", "child_params", "child_metrics",
    "parent_params", "CONTRACT_PARAMS", "EPOCH_METRICS", "FINAL_METRICS", "STEP_METRIC",
    "TAG_ROLE", "ROLE_COMPARISON",
]
