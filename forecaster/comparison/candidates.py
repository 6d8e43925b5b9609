"""One candidate or baseline, trained and evaluated on the shared windows: a plain function each.

:func:`train_candidate` is a plain function of (pipeline config, candidate plan, data reference)
that returns a picklable :class:`~forecaster.comparison.results.CandidateResult`, so this process,
a process pool (``--jobs``) or a cluster executor runs it unchanged. :func:`evaluate_baseline`
does the same for a baseline, :func:`blend_candidate` for the blend of the best network with the
linear baseline, and :func:`summarise` scores any fitted forecaster on the validation and test
windows in original units. :func:`check_baselines` maps the seasonal-naive rule to pipeline keys.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecaster.comparison.plans import (
    BLEND_PARTNER,
    CandidatePlan,
    blend_name,
    contract_params,
)
from forecaster.comparison.results import (
    ROLE_BASELINE,
    ROLE_CANDIDATE,
    ROLE_ENSEMBLE,
    CandidateResult,
)
from forecaster.config import PipelineConfig
from forecaster.data import infer_frequency
from forecaster.data.columns import SERIES_ID, TIMESTAMP
from forecaster.errors import ConfigError
from forecaster.estimator import (
    BaselineForecaster,
    BlendForecaster,
    RNNForecaster,
    WindowForecaster,
    load_forecaster,
)
from forecaster.evaluation import coverage, coverage_by_step, point_metrics
from forecaster.evaluation.windows import window_errors
from forecaster.models.baselines import SeasonError, resolve_season

logger = logging.getLogger(__name__)


def common_params(cfg: PipelineConfig) -> dict[str, Any]:
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
        **common_params(cfg),
        "cell": model["cell"], "layers": model["layers"], "units": model["units"],
        "bidirectional": model["bidirectional"], "dropout": model["dropout"],
        "recurrent_dropout": model["recurrent_dropout"], "head": model["head"],
        "segment": model.get("segment"), "norm": model.get("norm", "revin"),
        "channel_embedding": model.get("channel_embedding", True), "highway": model.get("highway", False),
        "clipping": plan.clipping["kind"], "clip_threshold": plan.clipping["threshold"],
        "loss": t.loss, "learning_rate": t.learning_rate, "batch_size": t.batch_size,
        "epochs": t.epochs, "patience": t.patience, "seed": t.seed, "residual": t.residual,
        "center_targets": t.center_targets, "scale_targets": t.scale_targets,
        "truncate": plan.bptt["truncate"],
        "warm_epochs": t.warm_epochs, "warm_patience": t.warm_patience, "warm_learning_rate": t.warm_learning_rate,
        "jit_compile": t.jit_compile, "lr_schedule": t.lr_schedule, "ensemble": t.ensemble,
        "horizon_weights": t.horizon_weights,
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
    if hasattr(est, "xla_"):  # a network: what its epochs cost beyond the steps, and how it compiled
        result.metrics["first_epoch_overhead_seconds"] = float(est.first_epoch_overhead_seconds_)
        result.metrics["xla"] = float(est.xla_)
    if getattr(est, "input_grad_by_lag_", None) is not None:
        result.input_grad_by_lag = np.asarray(est.input_grad_by_lag_, dtype=float)
        result.lag_final = {k: float(v) for k, v in (getattr(est, "lag_final_", None) or {}).items()}
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
    result.val_mae_by_step = np.asarray(vm["mae_by_step"], dtype=float)
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
            "scale_targets": cfg.training.scale_targets, **common_params(cfg)}


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


def blend_candidate(cfg: PipelineConfig, frame: pd.DataFrame, candidates: list[CandidateResult],
                     baselines: list[CandidateResult], models_dir: Path) -> CandidateResult | None:
    """The best network blended with the linear baseline, weights per step chosen on validation."""

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


