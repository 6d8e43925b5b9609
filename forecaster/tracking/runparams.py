"""What each run of a comparison carries: its parameters and metrics as MLflow values.

The names are a contract (dashboards and checks rely on them): every child run's parameter names
and values are owned by :mod:`forecaster.comparison.plans` (:data:`~forecaster.comparison.plans.CONTRACT_PARAMS`) and
stringified here; the metric names are below. :mod:`forecaster.tracking.runs` logs them.

Example
-------
>>> from forecaster.comparison.results import CandidateResult
>>> [(m.key, m.value, m.step) for m in child_metrics(CandidateResult("x", "baseline", {},
...  history={"train_loss": [0.5, float("nan")]}, metrics={"val_mae": 0.25}), timestamp=0)]
[('train_loss', 0.5, 1), ('val_mae', 0.25, 0)]
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
from mlflow.entities import Metric

from forecaster.comparison.plans import CONTRACT_PARAMS, contract_params
from forecaster.comparison.results import ROLE_BASELINE, CandidateResult
from forecaster.estimator.ensemble import MEMBER_VAL_LOSS

logger = logging.getLogger(__name__)

EPOCH_METRICS = (
    "train_loss", "val_loss", "grad_norm_mean", "grad_norm_max", "clipped_fraction",
    "epoch_seconds",  # wall seconds of the epoch's training pass (validation excluded)
)
# Only when a schedule ran (training.lr_schedule: plateau): the rate each epoch trained with
SCHEDULE_EPOCH_METRICS = ("learning_rate",)
# Networks only; NaN epochs (not measured) skipped; the final weights' values at step = epochs run, always
LAG_EPOCH_METRICS = ("memory_lag", "grad_far_near_ratio")
FINAL_METRICS = (
    "val_mae", "val_rmse", "test_mae", "test_rmse", "test_smape", "test_mase", "interval_coverage",
    "train_seconds", "epochs_run", "val_rel_mae", "test_rel_mae",
    "first_epoch_overhead_seconds", "xla",  # networks only: tracing/compiling paid by epoch 1; 1 = trained with XLA
)
STEP_METRIC = "test_mae_by_step"
VAL_STEP_METRIC = "val_mae_by_step"
COVERAGE_STEP_METRIC = "interval_coverage_by_step"
LAG_METRIC = "input_grad_by_lag"  # step = lag (1 = the last observed step)
# training.ensemble > 1: each member's best val_loss, step = member index i (0-based: trained with seed + i)
MEMBER_METRIC = MEMBER_VAL_LOSS


def _param_value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_param_value(v) for v in value) + "]"
    if isinstance(value, np.generic):
        return _param_value(value.item())
    return str(value)


def finite(value: Any) -> float | None:
    """``value`` as a finite float, or None (not a number, NaN or infinite)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def child_params(result: CandidateResult, cfg: Any) -> dict[str, str]:
    """The contract parameters of one run as strings, neutral values where they do not apply.

    Candidates take every name from ``result.params`` (a missing name is logged as ``none``
    with a warning); baselines fall back to :func:`forecaster.comparison.plans.contract_params`' neutral
    values with their own name as ``cell``. ``lookback``, ``horizon`` and ``seed`` fall back to
    the pipeline's settings.
    """
    values: dict[str, Any] = {"lookback": cfg.window.lookback, "horizon": cfg.window.horizon,
                              "seed": cfg.training.seed}
    if result.role == ROLE_BASELINE:
        values = contract_params(cfg, None, baseline=result.name)
    values.update({k: v for k, v in result.params.items() if k in CONTRACT_PARAMS})
    missing = [k for k in CONTRACT_PARAMS if k not in values]
    if missing:
        logger.warning("run %r has no value for contract parameter(s) %s; logging 'none'", result.name, missing)
    return {k: _param_value(values.get(k)) for k in CONTRACT_PARAMS}


def child_metrics(result: CandidateResult, timestamp: int) -> list[Metric]:
    """Per-epoch (``step=epoch``, 1-based), final (``step=0``) and per-horizon-step metrics.

    Non-finite values (a diverged epoch, a metric that does not apply) are skipped. ``memory_lag``
    and ``grad_far_near_ratio`` of the final weights (``result.lag_final``) take the step of the
    last epoch run, in place of that epoch's own measurement (the same weights, unless early
    stopping restored an earlier epoch's): every network has both at its last step, the value
    MLflow's runs table shows and sorts by, even when the telemetry budget measured no epoch.
    """
    metrics: list[Metric] = []
    last = _epochs_run(result)
    for key in (*EPOCH_METRICS, *SCHEDULE_EPOCH_METRICS, *LAG_EPOCH_METRICS):
        final = finite(result.lag_final.get(key)) if key in LAG_EPOCH_METRICS and last else None
        for epoch, value in enumerate(result.history.get(key) or (), start=1):
            number = finite(value)
            if number is not None and not (final is not None and epoch == last):
                metrics.append(Metric(key, number, timestamp, epoch))
        if final is not None:
            metrics.append(Metric(key, final, timestamp, last))
    for key, value in result.metrics.items():
        number = finite(value)
        if number is not None:
            metrics.append(Metric(str(key), number, timestamp, 0))
    for key, values in ((STEP_METRIC, result.test_mae_by_step), (VAL_STEP_METRIC, result.val_mae_by_step),
                        (COVERAGE_STEP_METRIC, result.coverage_by_step),
                        (LAG_METRIC, result.input_grad_by_lag)):
        for step, value in enumerate(np.asarray(values, dtype=np.float64).ravel(), start=1):
            number = finite(value)
            if number is not None:
                metrics.append(Metric(key, number, timestamp, step))
    for member, value in enumerate(result.history.get(MEMBER_METRIC) or ()):
        number = finite(value)
        if number is not None:
            metrics.append(Metric(MEMBER_METRIC, number, timestamp, member))
    return metrics


def _epochs_run(result: CandidateResult) -> int:
    """The epochs the run trained (its ``epochs_run`` metric, else the length of its loss history)."""
    counted = finite(result.metrics.get("epochs_run"))
    return int(counted) if counted else len(result.history.get("train_loss") or ())


def parent_params(cfg: Any, data_path: str | Path) -> dict[str, str]:
    """The pipeline's data/window/split/training settings (and ``features.known_future``) as
    ``section.key`` parameters."""
    params: dict[str, Any] = {
        "data.path": str(data_path),
        "data.target": ", ".join(cfg.data.target),
        "data.frequency": cfg.data.frequency,
        "window.lookback": cfg.window.lookback,
        "window.horizon": cfg.window.horizon,
        "window.stride": cfg.window.stride,
        **_split_params(cfg.split),
        "evaluation.interval_level": cfg.evaluation.interval_level,
        "evaluation.interval_scale": cfg.evaluation.interval_scale,
        "evaluation.calibration_window": cfg.evaluation.calibration_window,
        "models": _model_names(cfg),
        "n_candidates": len(cfg.models) * len(cfg.clipping) * len(getattr(cfg, "bptt", None) or [None]),
        "clipping": [c.label for c in cfg.clipping],
        "bptt": [b.label for b in getattr(cfg, "bptt", ())],
        "baselines": list(cfg.baselines),
        "features.known_future": list(cfg.features.known_future),
    }
    for key, value in cfg.training.model_dump(mode="json").items():
        params[f"training.{key}"] = value
    return {k: _param_value(v)[:6000] for k, v in params.items()}


def _split_params(split: Any) -> dict[str, Any]:
    """``split.val``/``split.test`` for a split by fractions; ``split.train_rows`` (when given),
    ``split.val_rows`` and ``split.test_rows`` for a split by row counts."""
    if getattr(split, "val_rows", None) is None:
        return {"split.val": split.val, "split.test": split.test}
    keys = ("train_rows", "val_rows", "test_rows") if split.train_rows is not None else ("val_rows", "test_rows")
    return {f"split.{key}": getattr(split, key) for key in keys}


def _model_names(cfg: Any) -> list[str]:
    """The architectures compared, e.g. ``[lstm-1x16, gru-2x32-do0.1]`` (the ``models`` param; it
    was a count before, now ``n_candidates`` counts the model x clipping runs)."""
    from forecaster.models.spec import ModelSpec

    return [ModelSpec.from_config(model).name for model in cfg.models]


__all__ = [
    "COVERAGE_STEP_METRIC", "EPOCH_METRICS", "SCHEDULE_EPOCH_METRICS", "FINAL_METRICS", "LAG_EPOCH_METRICS", "LAG_METRIC", "MEMBER_METRIC",
    "STEP_METRIC",
    "child_metrics", "child_params", "finite", "parent_params",
]
