"""Train every candidate (model spec x clipping setting) and baseline on the same windows.

:func:`train_candidate` is a plain function of (pipeline config, candidate plan, data reference)
that returns a picklable :class:`~forecaster.results.CandidateResult`, so a process pool (``--jobs``)
or a cluster executor can run it unchanged.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable

import multiprocessing
import numpy as np
import pandas as pd

from forecaster.advice import advise
from forecaster.config import PipelineConfig
from forecaster.errors import ConfigError
from forecaster.estimator import BaselineForecaster, RNNForecaster, WindowForecaster
from forecaster.evaluation import coverage, coverage_by_step, diebold_mariano, point_metrics
from forecaster.evaluation.windows import window_errors
from forecaster.plans import (  # noqa: F401 - bptt_param, plan_candidates, blend_name re-exported
    BLEND_PARTNER,
    CandidatePlan,
    blend_name,
    bptt_param,
    contract_params,
    plan_candidates,
)
from forecaster.progress import NullProgress, Progress
from forecaster.results import ROLE_BASELINE, ROLE_CANDIDATE, ROLE_ENSEMBLE, CandidateResult, ComparisonResult
from forecaster.schema import SERIES_ID, TIMESTAMP

logger = logging.getLogger(__name__)


def _common_params(cfg: PipelineConfig) -> dict[str, Any]:
    return {
        "target": list(cfg.data.target),
        "lookback": cfg.window.lookback,
        "horizon": cfg.window.horizon,
        "stride": cfg.window.stride,
        "features": cfg.features.model_dump(mode="json"),
        "interval_level": cfg.evaluation.interval_level,
        "interval_scale": cfg.evaluation.interval_scale,
        "calibration_window": cfg.evaluation.calibration_window,
        "data": cfg.data.model_dump(mode="json"),
    }


def rnn_params(cfg: PipelineConfig, plan: CandidatePlan) -> dict[str, Any]:
    """Keyword arguments of :class:`RNNForecaster` for one candidate."""
    model = plan.model
    t = cfg.training
    return {
        **_common_params(cfg),
        "cell": model["cell"], "layers": model["layers"], "units": model["units"],
        "bidirectional": model["bidirectional"], "dropout": model["dropout"],
        "recurrent_dropout": model["recurrent_dropout"], "head": model["head"],
        "clipping": plan.clipping["kind"], "clip_threshold": plan.clipping["threshold"],
        "loss": t.loss, "learning_rate": t.learning_rate, "batch_size": t.batch_size,
        "epochs": t.epochs, "patience": t.patience, "seed": t.seed, "residual": t.residual,
        "center_targets": t.center_targets, "scale_targets": t.scale_targets,
        "truncate": plan.bptt["truncate"],
        "warm_epochs": t.warm_epochs, "warm_patience": t.warm_patience, "warm_learning_rate": t.warm_learning_rate,
    }


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", name).strip("_")


def summarise(est: WindowForecaster, frame: pd.DataFrame, cfg: PipelineConfig, *, name: str, role: str,
              params: dict[str, Any], out_dir: str | os.PathLike | None) -> CandidateResult:
    """Evaluate a fitted forecaster on the shared validation/test windows (original units)."""
    result = CandidateResult(name=name, role=role, params=params,
                             history={k: list(v) for k, v in getattr(est, "history_", {}).items()})
    result.metrics["train_seconds"] = float(getattr(est, "train_seconds_", 0.0))
    result.metrics["epochs_run"] = float(getattr(est, "epochs_run_", 0))
    if getattr(est, "input_grad_by_lag_", None) is not None:
        result.input_grad_by_lag = np.asarray(est.input_grad_by_lag_, dtype=float)
        result.metrics["lag_gradient_seconds"] = float(est.lag_gradient_seconds_)
        result.metrics["lag_gradient_cpu_seconds"] = float(est.lag_gradient_cpu_seconds_)
        result.metrics["train_cpu_seconds"] = float(est.train_cpu_seconds_)
    if getattr(est, "failed_", False):
        result.failed = True
        result.failure_reason = est.failure_reason_
        result.failed_epoch = est.failed_epoch_
        logger.warning("candidate %s failed: %s", name, est.failure_reason_)
        return result
    preds = est.evaluate_windows(frame)
    val, test = preds["val"], preds["test"]
    vm = point_metrics(val.y_true, val.y_pred, val.scale)
    result.metrics.update(val_mae=vm["mae"], val_rmse=vm["rmse"])
    result.val_forecast = val.y_pred.astype(np.float32)
    if test.n_samples:
        tm = point_metrics(test.y_true, test.y_pred, test.scale)
        half = est.half_widths(test, history=val)
        lower, upper = test.y_pred - half, test.y_pred + half
        result.metrics.update(test_mae=tm["mae"], test_rmse=tm["rmse"], test_smape=tm["smape"],
                              test_mase=tm["mase"], interval_coverage=coverage(test.y_true, lower, upper))
        result.test_mae_by_step = np.asarray(tm["mae_by_step"], dtype=float)
        result.coverage_by_step = np.asarray(coverage_by_step(test.y_true, lower, upper), dtype=float)
        window_mae = np.abs(test.y_pred - test.y_true).mean(axis=(1, 2))
        result.test_mae_by_series = {str(sid): float(window_mae[test.series_ids == sid].mean())
                                     for sid in pd.unique(test.series_ids)}
        result.test_forecast = test.y_pred.astype(np.float32)
        result.window_errors = window_errors(test, half)
        result.plot_data = _plot_slice(test, lower, upper, cfg.evaluation.plot_steps)
    if out_dir is not None:
        result.model_dir = str(est.save(Path(out_dir) / slug(name)))
    return result


def _plot_slice(preds, lower, upper, n_points: int) -> dict[str, Any]:
    """The last horizon step of consecutive test windows of the first series: a forecast curve."""
    first = preds.series_ids[0]
    idx = np.flatnonzero(preds.series_ids == first)[:n_points]
    step = preds.y_true.shape[1] - 1
    return {
        SERIES_ID: str(first),
        "step": step + 1,
        "timestamps": pd.to_datetime(preds.timestamps[idx, step]).to_numpy(),
        "actual": preds.y_true[idx, step, 0],
        "forecast": preds.y_pred[idx, step, 0],
        "lower": lower[idx, step, 0],
        "upper": upper[idx, step, 0],
    }


def train_candidate(cfg: PipelineConfig | dict[str, Any], plan: CandidatePlan,
                    data_ref: pd.DataFrame | str | os.PathLike,
                    out_dir: str | os.PathLike | None = None, callbacks=(),
                    warm_start_from: str | None = None) -> CandidateResult:
    """Fit one candidate on the prepared frame (or the Parquet file at ``data_ref``) and evaluate it.

    A plain function of its arguments (no global state), so it runs the same in this process,
    in a process pool, or on a cluster worker (which receives the frame from the object store).
    """
    if isinstance(cfg, dict):
        cfg = PipelineConfig.model_validate(cfg)
    frame = data_ref if isinstance(data_ref, pd.DataFrame) else pd.read_parquet(data_ref)
    est = RNNForecaster(**rnn_params(cfg, plan), warm_start_from=warm_start_from)
    started = time.time()
    est.fit(frame, callbacks=callbacks)
    finished = time.time()
    if warm_start_from:
        logger.info("%s start: candidate %s (%s)", "warm" if est.warm_started_ else "cold", plan.name,
                    est.warm_start_note_)
    params = contract_params(cfg, plan, est)
    result = summarise(est, frame, cfg, name=plan.name, role=ROLE_CANDIDATE, params=params, out_dir=out_dir)
    result.plan = plan
    result.started_at, result.finished_at = started, finished
    return result


def baseline_params(cfg: PipelineConfig, kind: str) -> dict[str, Any]:
    """Keyword arguments of :class:`BaselineForecaster` for the baseline ``kind``, as a run fits it."""
    return {"kind": kind, "season": cfg.evaluation.season, "center_targets": cfg.training.center_targets,
            "scale_targets": cfg.training.scale_targets, **_common_params(cfg)}


def evaluate_baseline(cfg: PipelineConfig, kind: str, frame: pd.DataFrame,
                      out_dir: str | os.PathLike | None = None) -> CandidateResult:
    est = BaselineForecaster(**baseline_params(cfg, kind))
    started = time.time()
    est.fit(frame)
    finished = time.time()
    params = contract_params(cfg, None, est, baseline=kind)
    result = summarise(est, frame, cfg, name=kind, role=ROLE_BASELINE, params=params, out_dir=out_dir)
    result.started_at, result.finished_at = started, finished
    return result


def check_baselines(cfg: PipelineConfig, frame: pd.DataFrame) -> None:
    """Fail before any training when a baseline cannot run with this window (exit 2, naming keys).

    The rule is :func:`forecaster.models.baselines.resolve_season`'s; this maps its error to the
    pipeline's keys.
    """
    if "seasonal_naive" not in cfg.baselines:
        return
    from forecaster.data import infer_frequency
    from forecaster.models.baselines import SeasonError, resolve_season

    first = frame[frame[SERIES_ID] == frame[SERIES_ID].iloc[0]]
    frequency = cfg.data.frequency or infer_frequency(first[TIMESTAMP].to_numpy())
    try:
        resolve_season(cfg.evaluation.season, frequency, cfg.window.lookback)
    except SeasonError as err:
        if err.season is None:
            raise ConfigError(
                f"baselines: seasonal_naive needs a season, and frequency {frequency!r} has none known; "
                "set evaluation.season or remove seasonal_naive from baselines"
            ) from None
        raise ConfigError(
            f"baselines: seasonal_naive needs window.lookback >= the season ({err.season} steps at frequency "
            f"{frequency!r}); received window.lookback={cfg.window.lookback}. Raise the lookback, set "
            "evaluation.season, or remove seasonal_naive from baselines"
        ) from None


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
        baselines.append(evaluate_baseline(cfg, kind, frame, models_dir))
        logger.info("baseline %-15s val_mae=%.4f test_mae=%.4f", kind,
                    baselines[-1].metrics.get("val_mae", math.nan), baselines[-1].metrics.get("test_mae", math.nan))

    plans = plan_candidates(cfg)
    progress.start("candidates", total=len(plans))
    candidates: list[CandidateResult] = []
    if executor is not None and executor.distributed:
        from forecaster.execution.tasks import train_candidates

        def _done(result: CandidateResult) -> None:
            _log_candidate(result)
            progress.advance("candidates", name=result.name)

        candidates = train_candidates(executor, cfg, plans, frame, models_dir, on_result=_done,
                                      warm_start_from=warm_start_from)
    elif jobs <= 1 or len(plans) <= 1:
        for plan in plans:
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
            for future in as_completed(futures):
                result = future.result()
                by_name[result.name] = result
                _log_candidate(result)
                progress.advance("candidates", name=result.name)
        candidates = [by_name[p.name] for p in plans]
    progress.finish("candidates")

    blend = blend_candidate(cfg, frame, candidates, baselines, models_dir)
    if blend is not None:
        candidates.append(blend)
    comparison = ComparisonResult(pipeline=cfg.name, candidates=candidates, baselines=baselines,
                                  horizon=cfg.window.horizon, target=list(cfg.data.target))
    _add_relative_metrics(comparison)
    _add_significance(comparison, frame, cfg)
    return comparison


def blend_candidate(cfg: PipelineConfig, frame: pd.DataFrame, candidates: list[CandidateResult],
                     baselines: list[CandidateResult], models_dir: Path) -> CandidateResult | None:
    """The best network blended with the linear baseline, weights per step chosen on validation."""
    from forecaster.estimator import BlendForecaster, load_forecaster

    linear = next((b for b in baselines if b.name == BLEND_PARTNER and b.model_dir), None)
    ok = [c for c in candidates if not c.failed and c.model_dir and not math.isnan(c.val_mae)]
    if not cfg.training.blend or linear is None or not ok:
        return None
    best = min(ok, key=lambda c: c.val_mae)
    started = time.time()
    members = [load_forecaster(best.model_dir), load_forecaster(linear.model_dir)]
    blend = BlendForecaster(members, interval_level=cfg.evaluation.interval_level,
                            interval_scale=cfg.evaluation.interval_scale,
                            calibration_window=cfg.evaluation.calibration_window).fit(frame)
    finished = time.time()
    params = {**best.params, "n_params": blend.n_params_}
    name = blend_name(best.name)
    result = summarise(blend, frame, cfg, name=name, role=ROLE_ENSEMBLE, params=params, out_dir=models_dir)
    result.history = {}
    result.plan = best.plan  # the network the blend was built on (rebuilt inside each backtest fold)
    result.started_at, result.finished_at = started, finished  # the blend's own fit (weights)
    result.metrics["train_seconds"] = best.metrics.get("train_seconds", 0.0)
    result.metrics["epochs_run"] = best.metrics.get("epochs_run", 0.0)
    logger.info("blend of %s and linear: weights per step %s, val_mae=%.4f (network %.4f, linear %.4f)",
                best.name, blend.weights_.tolist(), result.val_mae, best.val_mae, linear.val_mae)
    return result


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
    est = BaselineForecaster(kind="persistence", **_common_params(cfg)).fit(frame)
    actual = est.evaluate_windows(frame, splits=("test",))["test"].y_true
    comparison.test_actual = actual
    base_err = np.abs(persistence.test_forecast - actual).mean(axis=(1, 2))
    for result in [*comparison.candidates, *comparison.baselines]:
        if result is persistence or result.test_forecast is None:
            continue
        err = np.abs(result.test_forecast - actual).mean(axis=(1, 2))
        stat, p_value = diebold_mariano(err, base_err, horizon=cfg.window.horizon, loss="abs")
        comparison.significance[result.name] = {"dm_stat": float(stat), "dm_p_value": float(p_value)}
