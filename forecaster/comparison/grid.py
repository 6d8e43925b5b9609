"""The comparison grid: every candidate (model x clipping x bptt) and baseline on the same windows.

:func:`run_comparison` trains the baselines, then every candidate plan here, in a ``--jobs``
process pool or as executor tasks (:mod:`forecaster.comparison.tasks`), adds the blend, the
metrics relative to persistence and the Diebold-Mariano test against it, and returns one
:class:`~forecaster.comparison.results.ComparisonResult`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from forecaster.comparison.advice import advise
from forecaster.comparison.candidates import (
    blend_candidate,
    check_baselines,
    common_params,
    evaluate_baseline,
    train_candidate,
)
from forecaster.comparison.plans import (
    plan_candidates,
)
from forecaster.comparison.progress import NullProgress, Progress
from forecaster.comparison.results import CandidateResult, ComparisonResult
from forecaster.comparison.tasks import train_candidates
from forecaster.config import PipelineConfig
from forecaster.estimator import BaselineForecaster
from forecaster.evaluation import diebold_mariano
from forecaster.execution import termination

logger = logging.getLogger(__name__)


def epoch_progress_callback(progress: Progress, name: str, epochs: int):
    """A Keras callback that reports each finished epoch of one candidate to ``progress``."""
    import keras

    class _EpochProgress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            progress.start("epochs", total=epochs)

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            progress.advance("epochs", candidate=name, loss=logs.get("loss"), val_loss=logs.get("val_loss"))

        def on_train_end(self, logs=None):
            progress.finish("epochs")

    return _EpochProgress()


def _worker_init(threads: int) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def run_comparison(cfg: PipelineConfig, frame: pd.DataFrame, workdir: str | os.PathLike, *, jobs: int = 1,
                   progress: Progress | None = None,
                   epoch_callback_factory: Callable[[], Any] | None = None,
                   warm_start_from: str | None = None, executor=None) -> ComparisonResult:
    """Baselines and every candidate on ``frame`` (a canonical frame with a ``split`` column).

    ``warm_start_from``: a saved champion; matching candidates start from its weights.
    With a distributed ``executor`` (:mod:`forecaster.execution`), every candidate is one of its tasks.
    """
    progress = progress or NullProgress()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    models_dir = workdir / "models"
    data_ref = workdir / "frame.parquet"  # for the --jobs pool: Parquet, never a pickle loaded from a file
    frame.to_parquet(data_ref)
    check_baselines(cfg, frame)
    advise(cfg, frame)

    baselines = []
    for kind in cfg.baselines:
        termination.check()  # a safe point: between baselines and candidates
        baselines.append(evaluate_baseline(cfg, kind, frame, models_dir))
        logger.info("baseline %-15s val_mae=%.4f test_mae=%.4f", kind,
                    baselines[-1].metrics.get("val_mae", math.nan), baselines[-1].metrics.get("test_mae", math.nan))

    plans = plan_candidates(cfg)
    progress.start("candidates", total=len(plans))
    candidates: list[CandidateResult] = []
    if executor is not None and executor.distributed:
        def _done(result: CandidateResult) -> None:
            _log_candidate(result)
            progress.advance("candidates", name=result.name)

        candidates = train_candidates(executor, cfg, plans, frame, models_dir, on_result=_done,
                                      warm_start_from=warm_start_from)
    elif jobs <= 1 or len(plans) <= 1:
        for plan in plans:
            termination.check()
            callbacks = [epoch_callback_factory()] if epoch_callback_factory else []
            if not isinstance(progress, NullProgress):
                callbacks.append(epoch_progress_callback(progress, plan.name, cfg.training.epochs))
            candidates.append(train_candidate(cfg, plan, data_ref, models_dir, callbacks=callbacks,
                                              warm_start_from=warm_start_from))
            _log_candidate(candidates[-1])
            progress.advance("candidates", name=plan.name)
    else:
        threads = max(1, (os.cpu_count() or 1) // jobs)
        ctx = multiprocessing.get_context("spawn")
        cfg_dict = cfg.model_dump(mode="json")
        by_name: dict[str, CandidateResult] = {}
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_init,
                                 initargs=(threads,)) as pool:
            futures = {pool.submit(train_candidate, cfg_dict, plan, str(data_ref), str(models_dir),
                                   warm_start_from=warm_start_from): plan
                       for plan in plans}
            try:
                for result in _as_finished(futures):
                    by_name[result.name] = result
                    _log_candidate(result)
                    progress.advance("candidates", name=result.name)
            except BaseException:
                _stop_pool(pool)
                raise
        candidates = [by_name[p.name] for p in plans]
    progress.finish("candidates")
    termination.check()

    blend = blend_candidate(cfg, frame, candidates, baselines, models_dir)
    if blend is not None:
        candidates.append(blend)
    comparison = ComparisonResult(pipeline=cfg.name, candidates=candidates, baselines=baselines,
                                  horizon=cfg.window.horizon, target=list(cfg.data.target))
    _add_relative_metrics(comparison)
    _add_significance(comparison, frame, cfg)
    return comparison


def _as_finished(futures) -> Any:
    """The pool's results as they finish, with a SIGTERM check at least every second."""
    waiting = set(futures)
    while waiting:
        done, waiting = wait(waiting, timeout=1.0, return_when=FIRST_COMPLETED)
        termination.check()
        for future in done:
            yield future.result()


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop a ``--jobs`` pool now (a SIGTERM or an error): queued candidates are cancelled and the
    workers still training are terminated rather than awaited."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # shutdown forgets them
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()


def _log_candidate(result: CandidateResult) -> None:
    if result.failed:
        logger.warning("candidate %s FAILED: %s", result.name, result.failure_reason)
    else:
        logger.info("candidate %-35s val_mae=%.4f test_mae=%.4f epochs=%d (%.1fs)", result.name,
                    result.metrics.get("val_mae", math.nan), result.metrics.get("test_mae", math.nan),
                    int(result.metrics.get("epochs_run", 0)), result.metrics.get("train_seconds", 0.0))


def _add_relative_metrics(comparison: ComparisonResult) -> None:
    persistence = comparison.baseline("persistence")
    if persistence is None:
        return
    for result in [*comparison.candidates, *comparison.baselines]:
        for split in ("val", "test"):
            base = persistence.metrics.get(f"{split}_mae", math.nan)
            own = result.metrics.get(f"{split}_mae", math.nan)
            if base and not math.isnan(base) and not math.isnan(own):
                result.metrics[f"{split}_rel_mae"] = own / base


def _add_significance(comparison: ComparisonResult, frame: pd.DataFrame, cfg: PipelineConfig) -> None:
    """Diebold-Mariano test of each result's test errors against persistence's, same windows."""
    persistence = comparison.baseline("persistence")
    if persistence is None or persistence.test_forecast is None:
        return
    est = BaselineForecaster(kind="persistence", **common_params(cfg)).fit(frame)
    actual = est.evaluate_windows(frame, splits=("test",))["test"].y_true
    comparison.test_actual = actual
    base_err = np.abs(persistence.test_forecast - actual).mean(axis=(1, 2))
    for result in [*comparison.candidates, *comparison.baselines]:
        if result is persistence or result.test_forecast is None:
            continue
        err = np.abs(result.test_forecast - actual).mean(axis=(1, 2))
        stat, p_value = diebold_mariano(err, base_err, horizon=cfg.window.horizon, loss="abs")
        comparison.significance[result.name] = {"dm_stat": float(stat), "dm_p_value": float(p_value)}
