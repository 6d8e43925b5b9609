"""One walk-forward fold: its block sizes, and the baselines and candidates refit inside it.

Fold ``k`` trains on everything before its validation block, validates on that block (early
stopping, conformal calibration) and tests on the block after it; test blocks are consecutive and
equal-sized at the end of each series. Scalers, features and models are fit inside each fold (the
forecasters fit their preprocessing on that fold's training rows), so no fold sees its future.
:func:`backtest_fold` is a plain function of its arguments: the unit of distribution of a backtest.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from forecaster.comparison.candidates import (
    blend_candidate,
    evaluate_baseline,
    train_candidate,
)
from forecaster.comparison.plans import CandidatePlan
from forecaster.config import PipelineConfig
from forecaster.data.columns import SERIES_ID, SPLIT
from forecaster.data.splits import SplitRule, assign_splits
from forecaster.errors import DataValidationError
from forecaster.evaluation import fold_split_labels, tidy_metrics

logger = logging.getLogger(__name__)

#: Prefix of the per-series MAE metric names in the tidy backtest rows.
SERIES_MAE = "series_mae:"


def fold_sizes(cfg: PipelineConfig, folds: int) -> tuple[float, float] | tuple[int, int]:
    """Validation and test block sizes of each fold: fractions of each series, or row counts.

    The pipeline's test share is divided into ``folds`` consecutive test blocks; each fold
    validates on a block of the same size as the pipeline's validation share divided likewise
    (at least the test block's size). With a split by row counts the shares are ``split.test_rows``
    and ``split.val_rows``, and each block is that count divided by ``folds``, rounded half up
    (at least one row), as a fraction's block is rounded on each series.
    """
    split = cfg.split
    if split.by_rows:
        test_rows = _share(split.test_rows or split.val_rows, folds)
        return max(_share(split.val_rows, folds), test_rows), test_rows
    test = (split.test or split.val) / folds
    val = max(split.val / folds, test)
    return val, test


def _share(rows: int, folds: int) -> int:
    return max(1, math.floor(rows / folds + 0.5))


def fold_labels(cfg: PipelineConfig, frame: pd.DataFrame, folds: int, fold: int) -> pd.Series:
    """The split labels of fold ``fold`` of ``folds`` (raises DataValidationError, exit 3, when a
    series is too short for the folds).

    The folds cover the rows the pipeline's split uses: with ``split.train_rows`` the rows after a
    series' first ``train_rows + val_rows + test_rows`` are ``unused`` in every fold.
    """
    val, test = fold_sizes(cfg, folds)
    min_train = cfg.window.lookback + cfg.window.horizon
    if cfg.split.train_rows is None:
        return fold_split_labels(frame, folds, fold, val, test, min_train_rows=min_train)
    rule = SplitRule.from_config(cfg.split)
    counts = frame.groupby(SERIES_ID, sort=True).size()
    short = counts[rule.unused(counts.to_numpy()) < 0]
    if len(short):
        sid, n = next(iter(short.items()))
        raise DataValidationError(
            f"series {str(sid)!r} has {int(n)} rows; the backtest's folds lie within the split's "
            f"train_rows + val_rows + test_rows = {rule.train_rows + rule.val_rows + rule.test_rows} rows"
        )
    used = assign_splits(frame, rule).to_numpy() != "unused"
    labels = pd.Series("unused", index=frame.index, name=SPLIT, dtype=object)
    labels[used] = fold_split_labels(frame[used], folds, fold, val, test, min_train_rows=min_train).to_numpy()
    return labels


def check_folds(cfg: PipelineConfig, frame: pd.DataFrame) -> None:
    """Fail before anything is written when the data is too short for ``evaluation.backtest_folds``
    (the same rule every fold applies: :func:`fold_labels`)."""
    if cfg.evaluation.backtest_folds:
        fold_labels(cfg, frame, cfg.evaluation.backtest_folds, 0)


@dataclass
class FoldOutcome:
    """What one walk-forward fold returns (data only: a fold may run as a cluster task)."""

    rows: pd.DataFrame  # tidy rows ``fold, model, step, metric, value``
    line: str  # a one-line summary for the log
    windows: pd.DataFrame  # per-window test errors ``fold, model, role, series_id, time, abs_error, ...``


def backtest_fold(cfg: PipelineConfig, plans: list[CandidatePlan], frame: pd.DataFrame, folds: int, fold: int,
                  workdir: str | os.PathLike | None = None) -> FoldOutcome:
    """Fold ``fold`` of ``folds``: baselines and ``plans`` refit on the fold, as a :class:`FoldOutcome`.

    A plain function of its arguments: the unit of distribution of a backtest (one task per fold).
    """
    labels = fold_labels(cfg, frame, folds, fold)
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
