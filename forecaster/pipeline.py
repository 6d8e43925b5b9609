"""One run of a pipeline file: the product's main job, in stages, safe for a scheduler.

This module only wires the stages; each rule lives in the module that owns it. The stages, each
announced by a ``stage NAME ...`` log line:

``load``      load, validate and regularise the data (:mod:`forecaster.data`)
``train``     train every candidate and baseline on the same windows (:mod:`forecaster.comparison`)
``backtest``  optional walk-forward folds of the best candidate (:mod:`forecaster.comparison.backtest`)
``track``     log the comparison to MLflow; the parent run stays RUNNING (:mod:`forecaster.tracking`)
``register``  gate the best candidate (:func:`forecaster.comparison.gate.decide`) and register it ``pending``
``forecast``  stage the served model's forecast CSV and plot beside their targets (:mod:`forecaster.scheduling.outputs`)
``commit``    the commit point: one journal, then alias, files, run state, parent FINISHED
              (:mod:`forecaster.scheduling.commit`)

Before ``load`` the run probes a tracking server (exit 2 within ``$FORECASTER_STORE_TIMEOUT`` s),
checks that its lock, keyed by pipeline name and tracking store, is free (exit 5 when held), and
checks its outputs (exit 2); ``load`` also checks every rule of the pipeline file on the data
(:mod:`forecaster.comparison.rules`). Only then does it write anything: it takes the lock, opens
the store (exit 2), recovers from a killed previous run, and skips when data, pipeline file and
code are unchanged since the last successful run and its outputs still exist (unless forced).

A SIGTERM is recorded, not raised where it lands (:mod:`forecaster.execution.termination`): the run
checks for it between stages, candidates, epochs and MLflow child runs, and last just before the
commit point, raising :class:`~forecaster.errors.Terminated` (exit 143, nothing consumed changed).
One that arrives after that last check leaves the run's own outcome and exit code.
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pandas as pd

from forecaster.comparison.gate import GateDecision, GateEvidence, decide
from forecaster.comparison.progress import NullProgress, Progress
from forecaster.comparison.results import ComparisonResult
from forecaster.config import PipelineConfig
from forecaster.data.columns import SERIES_ID
from forecaster.data.schema import DataSchema
from forecaster.execution import termination
from forecaster.exitcodes import EXIT_OK, EXIT_QUALITY_GATE
from forecaster.scheduling.commit import (
    Commit,
    commit,
    discard_staged,
    journal_path,
    recover,
    work_folder,
)
from forecaster.scheduling.lock import PipelineLock, run_identity
from forecaster.scheduling.outputs import sha256_file, stage_forecast
from forecaster.scheduling.preflight import check_outputs
from forecaster.scheduling.state import RunState, code_version, run_key
from forecaster.tracking.storeuri import probe_store, resolve_tracking_uri

logger = logging.getLogger(__name__)


@dataclass
class RunOutcome:
    """What a pipeline run did; ``exit_code`` is what the CLI returns."""

    status: str  # success | skipped | quality_gate
    exit_code: int
    message: str
    forecast_path: str | None = None
    plot_path: str | None = None
    parent_run_id: str | None = None
    model_version: str | None = None
    gate: GateDecision | None = None
    comparison: ComparisonResult | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    #: What wrote the forecast: a candidate or baseline name of ``comparison``, or a registry URI.
    served_by: str | None = None
    #: The forecast staged (for the ledger), or None.
    forecast: pd.DataFrame | None = None


@dataclass
class BacktestResult:
    """The walk-forward backtest of the best candidate's architecture and the baselines."""

    tidy: pd.DataFrame
    summary: pd.DataFrame
    #: The best candidate's walk-forward MAE over persistence's (NaN when it has no row).
    rel_mae: float
    #: ``(series_id, relative MAE)`` of its worst series, or None with one series.
    worst_series: tuple[str, float] | None
    folds: int
    #: With ``evaluation.significance``: the best candidate's walk-forward DM test against persistence.
    significance: object | None = None  # forecaster.evaluation.SignificanceResult


class _Stages:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        termination.check()  # a safe point before every stage
        start = time.perf_counter()
        logger.info("stage %s ...", name)
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - start, 3)
            logger.info("stage %s done in %.1fs", name, self.seconds[name])
        termination.check()  # and after it


def load_data(cfg: PipelineConfig):
    """Load, validate and regularise the pipeline's data (no splits yet)."""
    from forecaster.data import SplitRule, load_dataset

    return load_dataset(cfg.data, cfg.window.lookback, cfg.window.horizon, SplitRule.from_config(cfg.split),
                        features=cfg.features)


def check_data(cfg: PipelineConfig):
    """Validate and summarise the pipeline's data: rows, span, frequency, gaps filled, segments."""
    return load_data(cfg)


def backtest_pipeline(cfg: PipelineConfig, folds: int | None = None, progress: Progress | None = None,
                      executor=None) -> pd.DataFrame:
    """Walk-forward backtest of every candidate and baseline of the pipeline (no MLflow, no lock).

    ``folds`` defaults to ``evaluation.backtest_folds`` (3 when that is 0). Returns the tidy frame
    ``fold, model, step, metric, value`` of :func:`forecaster.comparison.backtest.run_backtest`.
    """
    from forecaster.comparison.backtest import run_backtest

    folds = folds or cfg.evaluation.backtest_folds or 3
    loaded = load_data(cfg)
    return run_backtest(cfg, loaded.frame, folds, progress=progress, executor=executor)


def split_frame(cfg: PipelineConfig, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its ``split`` column by the pipeline's split rule (fractions or row counts);
    rows a split with ``split.train_rows`` leaves unused are dropped (logged once)."""
    from forecaster.data.splits import SplitRule, assign_splits, drop_unused

    out = frame.copy()
    out["split"] = assign_splits(out, SplitRule.from_config(cfg.split)).to_numpy()
    return drop_unused(out)


def run_pipeline(cfg: PipelineConfig, *, config_path: str | None = None, force: bool = False, jobs: int = 1,
                 progress: Progress | None = None, state_dir: str | Path | None = None,
                 epoch_callback_factory=None, executor=None) -> RunOutcome:
    """Run a validated pipeline end to end. See the module docstring for the stages.

    Raises
    ------
    LockHeldError
        Another run of the same pipeline on the same tracking store holds its lock (exit 5).
    ConfigError
        An output location or the tracking store cannot be used (exit 2), before any training.
    DataValidationError
        The data breaks a rule (exit 3).
    """
    with termination.deferred():  # a SIGTERM only sets a flag; the stages check it at safe points
        return _run(cfg, config_path=config_path, force=force, jobs=jobs, progress=progress,
                           state_dir=state_dir, epoch_callback_factory=epoch_callback_factory, executor=executor)


def _run(cfg: PipelineConfig, *, config_path, force, jobs, progress, state_dir, epoch_callback_factory,
                executor) -> RunOutcome:
    progress = progress or NullProgress()
    stages = _Stages()
    tracking_uri = resolve_tracking_uri(cfg.tracking.tracking_uri)
    identity = run_identity(cfg.name, tracking_uri)
    # Nothing is written until every check that needs no store has passed: a server that does not
    # answer (exit 2 in seconds), a run already holding the lock (exit 5, before the data is read),
    # the outputs (exit 2), the data (exit 3) and every rule of the pipeline file on it (exit 2/3).
    probe_store(tracking_uri)
    lock = PipelineLock(cfg.name, state_dir, store=tracking_uri)
    lock.check_free()
    targets = {"output.forecast_path": cfg.output.forecast_path, "output.plot_path": cfg.output.plot_path}
    check_outputs(targets)
    with stages("load"):
        loaded = load_data(cfg)
        from forecaster.comparison.rules import check_run

        check_run(cfg, loaded.frame)
    with lock:
        from forecaster import tracking

        tracking.configure(cfg.tracking)  # opens (creates, upgrades) the store: exit 2 when it cannot
        recover(state_dir, identity, pipeline=cfg.name, experiment=cfg.experiment_name,
                registered_model=cfg.registered_model_name, targets=targets.values())
        # Ledger (issue 16): drop rows of killed runs; score earlier forecasts before any training.
        from forecaster.scheduling import ledger_steps

        ledger_steps.discard_uncommitted(cfg, state_dir)
        with stages("score"):
            scoring = ledger_steps.score_ledger(cfg, loaded.frame, state_dir)
        if scoring.degraded and not force:
            logger.warning("pipeline %r: the %s is degraded (%s); retraining even if nothing changed",
                           cfg.name, scoring.subject, scoring.reason)
            force = True
        code = code_version()
        key = run_key(cfg.sha256(), loaded.sha256, code)
        state = RunState(state_dir)
        if not force and state.is_unchanged(identity, key):
            termination.check()
            last = state.last_success(identity) or {}
            msg = (f"pipeline {cfg.name!r}: data, pipeline file and code unchanged since the last successful "
                   f"run ({last.get('finished_at', 'unknown time')}); skipped (use --force to run anyway)")
            logger.info(msg)
            return RunOutcome(status="skipped", exit_code=EXIT_OK, message=msg,
                              forecast_path=last.get("forecast_path"), plot_path=last.get("plot_path"))
        # A champion whose files cannot be loaded safely is quarantined now, before any training:
        # the run goes on as if there were none (forecaster.tracking.quarantine).
        tracking.quarantine_unsafe_champion(cfg.registered_model_name)
        frame = split_frame(cfg, loaded.frame)
        record = Commit(identity=identity, pipeline=cfg.name, tracking_uri=tracking_uri,
                        registered_model=cfg.registered_model_name)
        with work_folder(state_dir, identity) as workdir:
            try:
                outcome = _run_stages(cfg, frame, loaded, code, str(workdir), stages, record, jobs=jobs,
                                      progress=progress, epoch_callback_factory=epoch_callback_factory,
                                      executor=executor)
                if outcome.forecast is not None:  # ledger rows, committed=0: the commit point commits them
                    served_by, version = ledger_steps.served_identity(cfg, outcome)
                    ledger_steps.stage_forecast(cfg, record.parent_run_id, outcome.forecast, loaded.frame,
                                                served_by=served_by, model_version=version, state_dir=state_dir)
                if outcome.status == "success":
                    record.state_key = key
                    record.state_info = {
                        "forecast_path": _absolute(outcome.forecast_path), "plot_path": _absolute(outcome.plot_path),
                        "parent_run_id": outcome.parent_run_id, "model_version": outcome.model_version,
                        "config_path": config_path, "data_sha256": loaded.sha256,
                        **_output_hashes(record, outcome),
                    }
                termination.check()  # the last safe point: past it, the run's outcome stands
                with stages("commit"):
                    commit(state_dir, record)
                    termination.settle()
                if outcome.gate is not None:  # after the commit point: the alias really moved
                    tracking.mark_champion(outcome.parent_run_id, None, outcome.comparison, outcome.gate,
                                           cfg.registered_model_name)
            except BaseException as exc:
                _abandon(state_dir, record, exc)
                raise
        outcome.stage_seconds = stages.seconds
        logger.info("%s", outcome.message)
        return outcome


def _run_stages(cfg, frame, loaded, code, workdir, stages, record: Commit, *, jobs, progress,
                epoch_callback_factory, executor=None) -> RunOutcome:
    """Train, backtest, track, register and stage the forecast; fills ``record`` for the commit."""
    from forecaster import tracking
    from forecaster.comparison.grid import run_comparison
    from forecaster.scheduling.warm_start import champion_source

    with stages("train"):
        comparison = run_comparison(cfg, frame, workdir, jobs=jobs, progress=progress,
                                    epoch_callback_factory=epoch_callback_factory,
                                    warm_start_from=champion_source(cfg, workdir), executor=executor)
    backtest = None
    if cfg.evaluation.backtest_folds and comparison.best_candidate is not None:
        with stages("backtest"):
            backtest = _backtest_best(cfg, comparison, loaded.frame, workdir, progress, executor)
    with stages("track"):
        info = tracking.log_comparison(comparison, cfg, data_path=str(loaded.path), data_sha256=loaded.sha256,
                                       code_version=code, workdir=Path(workdir), finish_parent=False)
        record.parent_run_id = info.parent_run_id
        if backtest is not None:
            tracking.log_backtest(info.parent_run_id, backtest.tidy, backtest.summary,
                                  best=comparison.best_candidate.name, significance=backtest.significance)
    outcome = RunOutcome(status="success", exit_code=EXIT_OK, message="", parent_run_id=info.parent_run_id,
                         comparison=comparison)
    best = comparison.best_candidate
    if best is None:
        outcome.status, outcome.exit_code = "quality_gate", EXIT_QUALITY_GATE
        outcome.message = f"pipeline {cfg.name!r}: every candidate failed; nothing registered"
    else:
        with stages("register"):
            decision = _register(cfg, comparison, frame, loaded, info, backtest)
        record.version, record.alias = decision.version, decision.alias
        outcome.gate, outcome.model_version = decision, decision.version
        outcome.exit_code, outcome.message = decision.exit_code, decision.message
        outcome.status = "quality_gate" if decision.quality_gate else "success"
    with stages("forecast"):
        record.files = stage_forecast(cfg, outcome, comparison, loaded.frame,
                                      backtest_summary=backtest.summary if backtest is not None else None)
    return outcome


def _absolute(path: str | None) -> str | None:
    return str(Path(path).resolve()) if path else None


def _output_hashes(record: Commit, outcome: RunOutcome) -> dict[str, str]:
    """``forecast_sha256`` / ``plot_sha256`` of the staged outputs (the run-state record names the
    exact files the run committed, so a reader can tell that the CSV and the plot belong together)."""
    names = {_absolute(outcome.forecast_path): "forecast_sha256", _absolute(outcome.plot_path): "plot_sha256"}
    return {names[f.target]: sha256_file(f.staged) for f in record.files if f.target in names}


def _abandon(state_dir, record: Commit, exc: BaseException) -> None:
    """A run failed or was interrupted before its commit point: undo what it staged (best effort;
    the next run's recovery finishes the job if this process dies too)."""
    if journal_path(state_dir, record.identity).exists():
        logger.error("the run failed after its commit point; the next run finishes applying its commit")
        return
    discard_staged(record.files)
    status = "FAILED" if isinstance(exc, Exception) else "KILLED"
    try:
        from forecaster import tracking

        if record.parent_run_id is not None:  # under the lock every pending version is this run's
            tracking.abandon_pending(record.registered_model)
            tracking.end_run(record.parent_run_id, status)
            logger.error("marked MLflow run %s %s", record.parent_run_id, status)
    except Exception:  # noqa: BLE001 - never hide the original error behind a bookkeeping one
        logger.exception("could not close the run's MLflow records; the next run will")


def _backtest_best(cfg, comparison, frame, workdir, progress, executor=None) -> BacktestResult:
    """Walk-forward folds of the best candidate's architecture and the baselines."""
    from forecaster.comparison.backtest import backtest_summary, run_folds
    from forecaster.evaluation import walk_forward_significance

    best = comparison.best_candidate
    plans = [best.plan] if best.plan is not None else []  # a blend carries its network's plan, rebuilt per fold
    folds = cfg.evaluation.backtest_folds
    outcomes = run_folds(cfg, frame, folds, plans=plans, progress=progress, workdir=workdir, executor=executor)
    tidy = pd.concat([o.rows for o in outcomes], ignore_index=True)
    significance = None
    if cfg.evaluation.significance is not None:
        windows = pd.concat([o.windows for o in outcomes], ignore_index=True)
        significance = walk_forward_significance(windows, best.name, cfg.window.horizon)
        logger.info("walk-forward Diebold-Mariano test of %s against persistence: p=%.4g (significance %g)%s",
                    best.name, significance.p_value, cfg.evaluation.significance,
                    "".join(f", {k} p={v:.4g}" for k, v in significance.by_series.items()))
    summary = backtest_summary(tidy)
    row = summary[summary["model"] == best.name]
    rel = float(row["rel_mae"].iloc[0]) if len(row) else math.nan
    worst = None
    if len(row) and "worst_series" in row and isinstance(row["worst_series"].iloc[0], str):
        worst = (row["worst_series"].iloc[0], float(row["worst_series_rel_mae"].iloc[0]))
    logger.info("walk-forward backtest (%d folds): %s rel_mae=%.4f%s", folds, best.name, rel,
                f" (worst series {worst[0]}: {worst[1]:.4f})" if worst else "")
    return BacktestResult(tidy=tidy, summary=summary, rel_mae=rel, worst_series=worst, folds=folds,
                          significance=significance)


def _register(cfg, comparison: ComparisonResult, frame, loaded, info, backtest: BacktestResult | None) -> GateDecision:
    """Log the best candidate's model, decide the gate and register the version ``pending``."""
    from forecaster import tracking

    best, base = comparison.best_candidate, comparison.best_baseline
    run_id = info.child_run_ids[best.name]
    model_uri = tracking.log_forecaster_model(best.model_dir, input_example=_input_example(cfg, loaded.frame),
                                              run_id=run_id)
    termination.check()  # safe points inside register: after each long MLflow call
    evidence = GateEvidence(
        candidate=best.name, val_mae=best.val_mae, val_rel_mae=best.metrics.get("val_rel_mae", math.nan),
        baseline_name=base.name if base else None, baseline_val_mae=base.val_mae if base else None,
        backtest_rel_mae=backtest.rel_mae if backtest else None, backtest_folds=cfg.evaluation.backtest_folds,
        worst_series=backtest.worst_series if backtest else None,
        significance=cfg.evaluation.significance,
        dm_pvalue=backtest.significance.p_value if backtest and backtest.significance else None,
        dm_worst_series=backtest.significance.worst_series() if backtest and backtest.significance else None,
    )
    champion = tracking.champion_evidence(cfg.registered_model_name, lambda uri: _champion_val_mae(uri, frame),
                                          loaded.sha256)
    termination.check()
    decision = decide(evidence, champion, pipeline=cfg.name)
    return tracking.register_pending(model_uri, decision, evidence, registered_model=cfg.registered_model_name,
                                     run_id=run_id, data_sha256=loaded.sha256)


def _champion_val_mae(uri: str, frame: pd.DataFrame) -> float:
    """The current champion's MAE on this run's validation windows (original units)."""
    from forecaster.evaluation import point_metrics
    from forecaster.tracking import load_forecaster_from_uri

    champion = load_forecaster_from_uri(uri)
    val = champion.evaluate_windows(frame, splits=("val",))["val"]
    return float(point_metrics(val.y_true, val.y_pred, val.scale)["mae"])


def _input_example(cfg: PipelineConfig, frame: pd.DataFrame) -> pd.DataFrame:
    """Recent raw history in the file's own column names: what the served model accepts."""
    tail = frame.groupby(SERIES_ID, sort=True).tail(cfg.window.lookback + 1)
    return DataSchema.from_config(cfg.data).to_raw(tail)
