"""The units of distribution: plain module-level functions of (shared data, item).

:func:`candidate_task` trains and evaluates one candidate; :func:`fold_task` runs one walk-forward
backtest fold. Each depends only on its arguments (the frame from the object store, the pipeline
config as a dict, the plan), so any executor can run it anywhere. A trained model comes back as the
bytes of its saved directory (a tar archive; the directory's format is the estimator's business),
which the driver unpacks where the local path would have saved it.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from forecaster.comparison.candidates import slug, train_candidate
from forecaster.comparison.folds import backtest_fold
from forecaster.comparison.plans import contract_params
from forecaster.comparison.results import ROLE_CANDIDATE, CandidateResult
from forecaster.config import PipelineConfig
from forecaster.execution.archive import pack_dir, unpack_dir
from forecaster.execution.outcome import TaskOutcome

logger = logging.getLogger(__name__)


def candidate_task(shared: pd.DataFrame | tuple[pd.DataFrame, bytes | None], item: tuple[dict[str, Any], Any]):
    """Train one candidate ``item = (config dict, CandidatePlan)`` on the frame.

    ``shared`` is the frame, or ``(frame, archive of the champion to warm-start from, or None)``.
    Returns ``(CandidateResult without model_dir, model archive bytes or None)``.
    """
    frame, warm = shared if isinstance(shared, tuple) else (shared, None)
    cfg, plan = item
    with tempfile.TemporaryDirectory(prefix="forecaster-task-") as tmp:
        warm_dir = str(unpack_dir(warm, Path(tmp) / "warm_start_champion")) if warm is not None else None
        result = train_candidate(cfg, plan, frame, out_dir=Path(tmp) / "models", warm_start_from=warm_dir)
        blob = pack_dir(result.model_dir) if result.model_dir else None
    result.model_dir = None
    return result, blob


def fold_task(frame: pd.DataFrame, item: tuple[dict[str, Any], list, int, int]):
    """One walk-forward fold ``item = (config dict, plans, folds, fold)`` on the whole ``frame``.

    Returns :func:`forecaster.comparison.backtest.backtest_fold`'s :class:`~forecaster.comparison.backtest.FoldOutcome` (data only).
    """
    cfg, plans, folds, fold = item
    return backtest_fold(PipelineConfig.model_validate(cfg), plans, frame, folds, fold)


def failed_candidate(cfg, plan, reason: str):
    """The record of a candidate whose task failed for good (after the executor's retries)."""
    params = contract_params(cfg, plan)
    result = CandidateResult(name=plan.name, role=ROLE_CANDIDATE, params=params, failed=True,
                             failure_reason=f"task failed: {reason}", plan=plan)
    result.metrics.update(train_seconds=0.0, epochs_run=0.0)
    return result


def train_candidates(executor, cfg, plans, frame: pd.DataFrame, models_dir: str | Path,
                     on_result: Callable[[Any], None] | None = None,
                     task: Callable = candidate_task, warm_start_from: str | None = None) -> list:
    """Every plan as one task of ``executor``; results in plan order, models unpacked under ``models_dir``.

    A task that fails for good becomes a FAILED candidate with its reason; the others go on.
    ``task`` is the unit run per plan (``candidate_task``; tests pass a failing one). A champion to
    warm-start from travels with the frame, as the bytes of its saved directory.
    """
    cfg_dict = cfg.model_dump(mode="json")
    by_name = {p.name: p for p in plans}

    def finish(outcome: TaskOutcome):
        plan = by_name[outcome.name]
        if outcome.failed:
            result = failed_candidate(cfg, plan, outcome.error)
        else:
            result, blob = outcome.value
            if blob is not None:
                result.model_dir = str(unpack_dir(blob, Path(models_dir) / slug(plan.name)))
        result.worker = dict(outcome.worker)
        return result

    results: dict[str, Any] = {}

    def collect(outcome: TaskOutcome) -> None:
        results[outcome.name] = finish(outcome)
        if on_result is not None:
            on_result(results[outcome.name])

    warm = pack_dir(warm_start_from) if warm_start_from else None
    executor.map(task, (frame, warm), [(cfg_dict, p) for p in plans], names=[p.name for p in plans],
                 on_result=collect)
    return [results[p.name] for p in plans]
