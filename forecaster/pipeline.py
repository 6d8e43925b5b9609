"""One run of a pipeline file: the product's main job, in stages, safe for a scheduler.

load + validate -> regularise -> split -> (features, scaling, windows inside each forecaster)
-> train every candidate and baseline -> log the comparison to MLflow -> register and gate the
champion -> write the champion's forecast from the end of the data (CSV + plot).

A per-pipeline lock stops concurrent runs (exit 5); a run whose data, pipeline file and code are
unchanged since the last successful run is skipped unless forced; outputs are written atomically.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from forecaster.atomic import atomic_output
from forecaster.config import PipelineConfig
from forecaster.progress import NullProgress, Progress
from forecaster.results import ComparisonResult, GateDecision
from forecaster.runstate import PipelineLock, RunState, code_version, run_key

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_QUALITY_GATE = 4


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


class _Stages:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        logger.info("stage %s ...", name)
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - start, 3)
            logger.info("stage %s done in %.1fs", name, self.seconds[name])


def load_data(cfg: PipelineConfig):
    """Load, validate and regularise the pipeline's data (no splits yet)."""
    from forecaster.data import load_dataset

    return load_dataset(cfg.data, cfg.window.lookback, cfg.window.horizon, cfg.split.val, cfg.split.test)


def check_data(cfg: PipelineConfig):
    """Validate and summarise the pipeline's data: rows, span, frequency, gaps filled, segments."""
    return load_data(cfg)


def backtest_pipeline(cfg: PipelineConfig, folds: int | None = None, progress: Progress | None = None) -> pd.DataFrame:
    """Walk-forward backtest of every candidate and baseline of the pipeline (no MLflow, no lock).

    ``folds`` defaults to ``evaluation.backtest_folds`` (3 when that is 0). Returns the tidy frame
    ``fold, model, step, metric, value`` of :func:`forecaster.backtest.run_backtest`.
    """
    from forecaster.backtest import run_backtest

    folds = folds or cfg.evaluation.backtest_folds or 3
    loaded = load_data(cfg)
    return run_backtest(cfg, loaded.frame, folds, progress=progress)


def split_frame(cfg: PipelineConfig, frame: pd.DataFrame) -> pd.DataFrame:
    from forecaster.splits import assign_splits

    out = frame.copy()
    out["split"] = assign_splits(out, cfg.split.val, cfg.split.test).to_numpy()
    return out


def run_pipeline(cfg: PipelineConfig, *, config_path: str | None = None, force: bool = False, jobs: int = 1,
                 progress: Progress | None = None, state_dir: str | Path | None = None,
                 epoch_callback_factory=None) -> RunOutcome:
    """Run a validated pipeline end to end. See the module docstring for the stages.

    Raises
    ------
    LockHeldError
        Another run of the same pipeline holds its lock (exit 5).
    DataValidationError
        The data breaks a rule (exit 3).
    """
    progress = progress or NullProgress()
    stages = _Stages()
    with PipelineLock(cfg.name, state_dir):
        with stages("load"):
            loaded = load_data(cfg)
        code = code_version()
        key = run_key(cfg.sha256(), loaded.sha256, code)
        state = RunState(state_dir)
        if not force and state.is_unchanged(cfg.name, key):
            last = state.last_success(cfg.name) or {}
            msg = (f"pipeline {cfg.name!r}: data, pipeline file and code unchanged since the last successful "
                   f"run ({last.get('finished_at', 'unknown time')}); skipped (use --force to run anyway)")
            logger.info(msg)
            return RunOutcome(status="skipped", exit_code=EXIT_OK, message=msg,
                              forecast_path=last.get("forecast_path"), plot_path=last.get("plot_path"))
        frame = split_frame(cfg, loaded.frame)
        with tempfile.TemporaryDirectory(prefix=f"forecaster-{cfg.name}-") as workdir:
            from forecaster.comparison import run_comparison

            with stages("train"):
                comparison = run_comparison(cfg, frame, workdir, jobs=jobs, progress=progress,
                                            epoch_callback_factory=epoch_callback_factory)
            backtest = None
            if cfg.evaluation.backtest_folds and comparison.best_candidate is not None:
                with stages("backtest"):
                    backtest = _backtest_best(cfg, comparison, loaded.frame, workdir, progress)
            outcome = _track_and_gate(cfg, comparison, frame, loaded, code, workdir, stages, backtest)
            with stages("forecast"):
                _write_forecast(cfg, outcome, comparison, loaded.frame,
                                backtest_summary=backtest[1] if backtest is not None else None)
        outcome.stage_seconds = stages.seconds
        if outcome.status == "success":
            state.record_success(cfg.name, key, {
                "forecast_path": outcome.forecast_path, "plot_path": outcome.plot_path,
                "parent_run_id": outcome.parent_run_id, "model_version": outcome.model_version,
                "config_path": config_path, "data_sha256": loaded.sha256,
            })
        logger.info("%s", outcome.message)
        return outcome


def _beats_baselines(comparison: ComparisonResult) -> bool:
    best, base = comparison.best_candidate, comparison.best_baseline
    return best is not None and (base is None or best.val_mae < base.val_mae)


def _backtest_best(cfg, comparison, frame, workdir, progress):
    """Walk-forward folds of the best candidate's architecture and the baselines."""
    from forecaster.backtest import backtest_summary, run_backtest
    from forecaster.comparison import blend_base, plan_candidates

    best = comparison.best_candidate
    network = blend_base(best.name) or best.name  # a blend is rebuilt inside each fold
    plans = [p for p in plan_candidates(cfg) if p.name == network]
    tidy = run_backtest(cfg, frame, cfg.evaluation.backtest_folds, plans=plans, progress=progress, workdir=workdir)
    summary = backtest_summary(tidy)
    row = summary[summary["model"] == best.name]
    rel = float(row["rel_mae"].iloc[0]) if len(row) else math.nan
    worst = None
    if len(row) and "worst_series" in row and isinstance(row["worst_series"].iloc[0], str):
        worst = (row["worst_series"].iloc[0], float(row["worst_series_rel_mae"].iloc[0]))
    logger.info("walk-forward backtest (%d folds): %s rel_mae=%.4f%s", cfg.evaluation.backtest_folds, best.name, rel,
                f" (worst series {worst[0]}: {worst[1]:.4f})" if worst else "")
    return tidy, summary, rel, worst


def _track_and_gate(cfg, comparison, frame, loaded, code, workdir, stages, backtest=None) -> RunOutcome:
    from forecaster import tracking

    with stages("track"):
        tracking.configure(cfg.tracking)
        info = tracking.log_comparison(comparison, cfg, data_path=str(loaded.path), data_sha256=loaded.sha256,
                                       code_version=code, workdir=Path(workdir))
        if backtest is not None:
            tracking.log_backtest(info.parent_run_id, backtest[0], backtest[1],
                                  best=comparison.best_candidate.name)
    best = comparison.best_candidate
    outcome = RunOutcome(status="success", exit_code=EXIT_OK, message="", parent_run_id=info.parent_run_id,
                         comparison=comparison)
    if best is None:
        outcome.status, outcome.exit_code = "quality_gate", EXIT_QUALITY_GATE
        outcome.message = f"pipeline {cfg.name!r}: every candidate failed; nothing registered"
        return outcome
    with stages("register"):
        example = _input_example(cfg, loaded.frame)
        model_uri = tracking.log_forecaster_model(best.model_dir, input_example=example,
                                                  run_id=info.child_run_ids[best.name])
        base = comparison.best_baseline
        decision = tracking.register_and_gate(
            model_uri, registered_model=cfg.registered_model_name, run_id=info.child_run_ids[best.name],
            candidate_val_mae=best.val_mae, candidate_val_rel_mae=best.metrics.get("val_rel_mae", math.nan),
            baseline_val_mae=base.val_mae if base else None, baseline_name=base.name if base else None,
            evaluate_champion=lambda uri: _champion_val_mae(uri, frame), data_sha256=loaded.sha256,
            backtest_rel_mae=backtest[2] if backtest is not None else None,
            backtest_worst_series=backtest[3] if backtest is not None else None,
        )
    outcome.gate, outcome.model_version = decision, decision.version
    if backtest is not None and not backtest[2] < 1:
        outcome.status, outcome.exit_code = "quality_gate", EXIT_QUALITY_GATE
        outcome.message = (
            f"pipeline {cfg.name!r}: the best candidate {best.name} has a walk-forward MAE "
            f"{backtest[2]:.4f}x persistence's over {cfg.evaluation.backtest_folds} folds: it does not beat "
            f"the random walk; version {decision.version} registered as {decision.alias}, champion unchanged")
    elif backtest is not None and backtest[3] is not None and not backtest[3][1] < 1:
        outcome.status, outcome.exit_code = "quality_gate", EXIT_QUALITY_GATE
        outcome.message = (
            f"pipeline {cfg.name!r}: the best candidate {best.name} beats the random walk over all series "
            f"(walk-forward MAE {backtest[2]:.4f}x persistence's) but not on series {backtest[3][0]!r} "
            f"({backtest[3][1]:.4f}x); version {decision.version} registered as {decision.alias}, "
            "champion unchanged")
    elif not _beats_baselines(comparison):
        outcome.status, outcome.exit_code = "quality_gate", EXIT_QUALITY_GATE
        outcome.message = (
            f"pipeline {cfg.name!r}: no candidate beat the baselines on validation (best candidate "
            f"{best.name} val_mae={best.val_mae:.4f}, best baseline {base.name} val_mae={base.val_mae:.4f}); "
            f"version {decision.version} registered as {decision.alias}, champion unchanged")
    else:
        outcome.message = (f"pipeline {cfg.name!r}: best candidate {best.name} val_mae={best.val_mae:.4f} "
                           f"(val_rel_mae={best.metrics.get('val_rel_mae', math.nan):.3f}); version "
                           f"{decision.version} -> {decision.alias} ({decision.reason})")
    return outcome


def _champion_val_mae(uri: str, frame: pd.DataFrame) -> float:
    """The current champion's MAE on this run's validation windows (original units)."""
    from forecaster.evaluation import point_metrics
    from forecaster.tracking import load_forecaster_from_uri

    champion = load_forecaster_from_uri(uri)
    val = champion.evaluate_windows(frame, splits=("val",))["val"]
    return float(point_metrics(val.y_true, val.y_pred, val.scale)["mae"])


def _input_example(cfg: PipelineConfig, frame: pd.DataFrame) -> pd.DataFrame:
    """Recent raw history in the file's own column names: what the served model accepts."""
    n = cfg.window.lookback + 1
    tail = frame.groupby("series_id", sort=True).tail(n)
    cols = [c for c in tail.columns if c not in ("series_id", "timestamp", "segment", "split")]
    out = pd.DataFrame()
    if cfg.data.series_column:
        out[cfg.data.series_column] = tail["series_id"].to_numpy()
    ts = tail["timestamp"]
    if cfg.data.timestamp_parts:
        parts = cfg.data.timestamp_parts
        for part, column in parts.items():
            out[column] = getattr(ts.dt, part).to_numpy()
    else:
        fmt = cfg.data.timestamp_format or "%Y-%m-%d %H:%M:%S"
        out[cfg.data.timestamp_column] = ts.dt.strftime(fmt).to_numpy()
    for c in cols:
        out[c] = tail[c].to_numpy()
    return out.reset_index(drop=True)


def _fallback_baseline(comparison: ComparisonResult, backtest_summary: pd.DataFrame | None):
    """The baseline served when no candidate passes the gate.

    The best baseline on validation; when a walk-forward backtest ran, only among the baselines
    that beat persistence over the folds (on every series) -- persistence itself always qualifies,
    so a baseline that only looked better on validation never replaces the random walk.
    """
    if backtest_summary is None:
        return comparison.best_baseline
    rows = backtest_summary.set_index("model")
    worst = rows["worst_series_rel_mae"] if "worst_series_rel_mae" in rows else pd.Series(dtype=float)

    def walk_forward_ok(name: str) -> bool:
        if name == "persistence":
            return True
        if name not in rows.index or not rows.loc[name, "rel_mae"] < 1:
            return False
        return not (name in worst.index and worst.loc[name] >= 1)

    ok = [b for b in comparison.baselines if not math.isnan(b.val_mae) and walk_forward_ok(b.name)]
    return min(ok, key=lambda b: b.val_mae) if ok else comparison.best_baseline


def _forecaster_for_output(cfg, outcome: RunOutcome, comparison: ComparisonResult,
                           backtest_summary: pd.DataFrame | None = None):
    """The model whose forecast is written: the champion, or a baseline after a failed gate."""
    from forecaster.estimator import load_forecaster

    if outcome.status == "success":
        if outcome.gate is not None and outcome.gate.promoted:
            outcome.served_by = comparison.best_candidate.name
            return load_forecaster(comparison.best_candidate.model_dir), comparison.best_candidate.name
        from forecaster.tracking import champion_uri, load_forecaster_from_uri

        uri = champion_uri(cfg.registered_model_name)
        if uri is not None:
            outcome.served_by = uri
            return load_forecaster_from_uri(uri), f"{cfg.registered_model_name}@champion"
    base = _fallback_baseline(comparison, backtest_summary)
    if cfg.output.fallback_to_baseline and base is not None:
        logger.warning("writing the forecast of the baseline %s: no candidate passed the gate", base.name)
        outcome.served_by = base.name
        return load_forecaster(base.model_dir), f"baseline {base.name}"
    return None, None


def _write_forecast(cfg: PipelineConfig, outcome: RunOutcome, comparison: ComparisonResult,
                    frame: pd.DataFrame, backtest_summary: pd.DataFrame | None = None) -> None:
    if not cfg.output.forecast_path and not cfg.output.plot_path:
        return
    model, label = _forecaster_for_output(cfg, outcome, comparison, backtest_summary)
    if model is None:
        logger.warning("no forecast written: no champion and no baseline fallback")
        return
    forecast = model.predict(frame)
    if cfg.output.forecast_path:
        path = Path(cfg.output.forecast_path)
        with atomic_output(path) as tmp:
            forecast.to_csv(tmp, index=False)
        outcome.forecast_path = str(path)
        logger.info("forecast from %s written to %s (%d rows)", label, path, len(forecast))
    if cfg.output.plot_path:
        from forecaster.forecasting import plot_forecast_frame

        outcome.plot_path = str(plot_forecast_frame(frame, forecast, list(cfg.data.target),
                                                    Path(cfg.output.plot_path), title=f"{cfg.name}: {label}"))
