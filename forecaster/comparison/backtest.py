"""Walk-forward backtest: every fold (here, or one executor task each), tidy rows and summaries.

The folds themselves (:func:`~forecaster.comparison.folds.backtest_fold`: expanding window,
everything refit inside each fold, so no fold sees its future) live in
:mod:`forecaster.comparison.folds`; this module runs them and summarises the walk-forward relative
MAE per model and per series, which the champion gate reads.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile

import numpy as np
import pandas as pd

from forecaster.comparison.candidates import check_baselines
from forecaster.comparison.folds import SERIES_MAE, FoldOutcome, backtest_fold
from forecaster.comparison.plans import CandidatePlan, plan_candidates
from forecaster.comparison.progress import NullProgress, Progress
from forecaster.comparison.tasks import fold_task
from forecaster.config import PipelineConfig
from forecaster.data.columns import SERIES_ID
from forecaster.execution import termination

logger = logging.getLogger(__name__)


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
                termination.check()  # a safe point between folds
                results.append(backtest_fold(cfg, plans, frame, folds, fold, workdir=tmp))
                logger.info("%s", results[-1].line)
                progress.advance("folds")
    progress.finish("folds")
    return results


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
