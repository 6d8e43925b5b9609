"""Walk-forward backtest: expanding-window folds, everything refit inside each fold.

Fold ``k`` trains on everything before its validation block, validates on that block (early
stopping, conformal calibration) and tests on the block after it; test blocks are consecutive and
equal-sized at the end of each series. Scalers, features and models are fit inside each fold (the
forecasters fit their preprocessing on that fold's training rows), so no fold sees its future.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster.comparison import (
    CandidatePlan,
    blend_candidate,
    check_baselines,
    evaluate_baseline,
    plan_candidates,
    train_candidate,
)
from forecaster.config import PipelineConfig
from forecaster.evaluation import fold_split_labels, tidy_metrics
from forecaster.progress import NullProgress, Progress
from forecaster.schema import SERIES_ID, SPLIT

logger = logging.getLogger(__name__)

#: Prefix of the per-series MAE metric names in the tidy backtest rows.
SERIES_MAE = "series_mae:"


def fold_sizes(cfg: PipelineConfig, folds: int) -> tuple[float, float]:
    """Validation and test block sizes of each fold, as fractions of each series.

    The pipeline's test share is divided into ``folds`` consecutive test blocks; each fold
    validates on a block of the same size as the pipeline's validation share divided likewise
    (at least the test block's size).
    """
    test = (cfg.split.test or cfg.split.val) / folds
    val = max(cfg.split.val / folds, test)
    return val, test


@dataclass
class FoldOutcome:
    """What one walk-forward fold returns (data only: a fold may run as a cluster task)."""

    rows: pd.DataFrame  # tidy rows ``fold, model, step, metric, value``
    line: str  # a one-line summary for the log
    windows: pd.DataFrame  # per-window test errors ``fold, model, role, series_id, time, abs_error, ...``


def run_backtest(cfg: PipelineConfig, frame: pd.DataFrame, folds: int, *,
                 plans: list[CandidatePlan] | None = None, progress: Progress | None = None,
                 workdir: str | os.PathLike | None = None, executor=None) -> pd.DataFrame:
    """Backtest the baselines and ``plans`` (default: every candidate) over ``folds`` folds.

    Parameters
    ----------
    frame : pd.DataFrame
        The regularised canonical frame (no ``split`` column needed; each fold makes its own).

    Returns
    -------
    pd.DataFrame
        Tidy rows ``fold, model, step, metric, value``: ``step = 0`` holds whole-horizon metrics
        (``mae``, ``rmse``, ``smape``, ``mase``, ``coverage``, ``rel_mae`` against persistence on the
        same windows); steps ``1..horizon`` hold ``mae``, ``rmse`` and ``coverage`` per step. With
        several series, ``series_mae:<series_id>`` rows (step 0) hold each series' test MAE.

    With a distributed ``executor`` (:mod:`forecaster.execution`), every fold is one of its tasks.
    """
    outcomes = run_folds(cfg, frame, folds, plans=plans, progress=progress, workdir=workdir, executor=executor)
    return pd.concat([o.rows for o in outcomes], ignore_index=True)


def backtest_window_errors(cfg: PipelineConfig, frame: pd.DataFrame, folds: int, *,
                           plans: list[CandidatePlan] | None = None, progress: Progress | None = None,
                           workdir: str | os.PathLike | None = None, executor=None) -> pd.DataFrame:
    """The same walk-forward folds as :func:`run_backtest`, as per-window test errors.

    Returns one row per model, fold and test window: ``fold, model, role`` then the columns of
    :func:`forecaster.evaluation.windows.window_errors` (``series_id, time, abs_error,
    scaled_error, inside_1..inside_<horizon>``). Failed models have no rows.
    """
    outcomes = run_folds(cfg, frame, folds, plans=plans, progress=progress, workdir=workdir, executor=executor)
    return pd.concat([o.windows for o in outcomes], ignore_index=True)


def run_folds(cfg: PipelineConfig, frame: pd.DataFrame, folds: int, *,
              plans: list[CandidatePlan] | None = None, progress: Progress | None = None,
              workdir: str | os.PathLike | None = None, executor=None) -> list[FoldOutcome]:
    """Every fold's :class:`FoldOutcome`, in fold order (here, or one executor task per fold)."""
    if folds < 1:
        raise ValueError(f"`folds` must be >= 1. Received: folds={folds}")
    progress = progress or NullProgress()
    check_baselines(cfg, frame)
    plans = plan_candidates(cfg) if plans is None else plans
    progress.start("folds", total=folds)
    if executor is not None and executor.distributed:
        from forecaster.execution.tasks import fold_task

        def _done(outcome) -> None:
            if not outcome.failed:
                logger.info("%s", outcome.value.line)
            progress.advance("folds")

        cfg_dict = cfg.model_dump(mode="json")
        outcomes = executor.map(fold_task, frame, [(cfg_dict, plans, folds, k) for k in range(folds)],
                                names=[f"fold{k}" for k in range(folds)], on_result=_done)
        failed = [o for o in outcomes if o.failed]
        if failed:
            raise RuntimeError(f"backtest {failed[0].name} failed: {failed[0].error}")
        results = [o.value for o in outcomes]
    else:
        results = []
        with tempfile.TemporaryDirectory(prefix="forecaster-backtest-", dir=workdir) as tmp:
            for fold in range(folds):
                results.append(backtest_fold(cfg, plans, frame, folds, fold, workdir=tmp))
                logger.info("%s", results[-1].line)
                progress.advance("folds")
    progress.finish("folds")
    return results


def backtest_fold(cfg: PipelineConfig, plans: list[CandidatePlan], frame: pd.DataFrame, folds: int, fold: int,
                  workdir: str | os.PathLike | None = None) -> FoldOutcome:
    """Fold ``fold`` of ``folds``: baselines and ``plans`` refit on the fold, as a :class:`FoldOutcome`.

    A plain function of its arguments: the unit of distribution of a backtest (one task per fold).
    """
    val, test = fold_sizes(cfg, folds)
    labels = fold_split_labels(frame, folds, fold, val, test,
                               min_train_rows=cfg.window.lookback + cfg.window.horizon)
    fold_frame = frame.assign(split=labels.to_numpy())
    fold_frame = fold_frame[fold_frame[SPLIT] != "unused"].reset_index(drop=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix=f"fold{fold}-", dir=workdir) as tmp:
        models_dir = Path(tmp) / f"fold{fold}-models"
        baselines = [evaluate_baseline(cfg, kind, fold_frame, models_dir) for kind in cfg.baselines]
        candidates = [train_candidate(cfg, plan, fold_frame, models_dir) for plan in plans]
        blend = blend_candidate(cfg, fold_frame, candidates, baselines, models_dir)
    results = baselines + candidates + ([blend] if blend is not None else [])
    persistence = next(r for r in results if r.name == "persistence")
    for r in results:
        metrics = {k[5:]: v for k, v in r.metrics.items() if k.startswith("test_") and k != "test_rel_mae"}
        metrics["coverage"] = r.metrics.get("interval_coverage", math.nan)
        base = persistence.metrics.get("test_mae", math.nan)
        metrics["rel_mae"] = metrics.get("mae", math.nan) / base if base else math.nan
        if len(r.test_mae_by_step):
            metrics["mae_by_step"] = r.test_mae_by_step
            metrics["coverage_by_step"] = r.coverage_by_step
        if len(r.test_mae_by_series) > 1:
            metrics.update({f"{SERIES_MAE}{sid}": v for sid, v in r.test_mae_by_series.items()})
        if r.failed:
            metrics = {"mae": math.nan, "rel_mae": math.nan}
        rows.append(tidy_metrics(fold, r.name, metrics))
    windows = [r.window_errors.assign(fold=fold, model=r.name, role=r.role)
               for r in results if not r.failed and r.window_errors is not None]
    line = "backtest fold %d/%d: %s" % (fold + 1, folds, ", ".join(
        f"{r.name} rel_mae={r.metrics.get('test_mae', math.nan) / persistence.metrics['test_mae']:.3f}"
        for r in results if not r.failed))
    return FoldOutcome(rows=pd.concat(rows, ignore_index=True), line=line,
                       windows=pd.concat(windows, ignore_index=True) if windows else pd.DataFrame())


def series_rel_mae(tidy: pd.DataFrame) -> pd.DataFrame:
    """Walk-forward relative MAE of every model on each series (ratio of mean per-fold MAEs).

    Returns
    -------
    pd.DataFrame
        Columns ``model, series_id, rel_mae``; empty when the backtest has a single series.
    """
    rows = tidy[(tidy["step"] == 0) & tidy["metric"].str.startswith(SERIES_MAE)]
    if rows.empty:
        return pd.DataFrame(columns=["model", SERIES_ID, "rel_mae"])
    rows = rows.assign(series_id=rows["metric"].str[len(SERIES_MAE):])
    mean = rows.groupby(["model", SERIES_ID])["value"].mean()
    base = mean.xs("persistence", level="model")
    rel = mean / base.reindex(mean.index.get_level_values(SERIES_ID)).to_numpy()
    return rel.rename("rel_mae").reset_index()


def backtest_summary(tidy: pd.DataFrame) -> pd.DataFrame:
    """Per model over all folds: mean MAE, walk-forward relative MAE (ratio of mean MAEs) and coverage.

    With several series, also the series on which the model does worst against persistence
    (``worst_series``, ``worst_series_rel_mae``). Ranked by walk-forward relative MAE; below 1
    beats persistence (the random walk).
    """
    by_series = series_rel_mae(tidy)
    whole = tidy[(tidy["step"] == 0) & ~tidy["metric"].str.startswith(SERIES_MAE)]
    wide = whole.pivot_table(index=["model", "fold"], columns="metric", values="value").reset_index()
    per_fold_base = wide[wide["model"] == "persistence"].set_index("fold")["mae"]
    out = []
    for model, group in wide.groupby("model"):
        base = per_fold_base.reindex(group["fold"]).to_numpy()
        out.append({
            "model": model,
            "folds": int(group["fold"].nunique()),
            "mae": float(group["mae"].mean()),
            "rel_mae": float(np.nanmean(group["mae"].to_numpy()) / np.nanmean(base)),
            "worst_fold_rel_mae": float(np.nanmax(group["mae"].to_numpy() / base)),
            "mase": float(group["mase"].mean()) if "mase" in group else math.nan,
            "coverage": float(group["coverage"].mean()) if "coverage" in group else math.nan,
        })
        mine = by_series[by_series["model"] == model].dropna(subset=["rel_mae"])
        if len(mine):
            worst = mine.loc[mine["rel_mae"].idxmax()]
            out[-1].update(worst_series=str(worst[SERIES_ID]), worst_series_rel_mae=float(worst["rel_mae"]))
    return pd.DataFrame(out).sort_values("rel_mae", kind="stable").reset_index(drop=True)
