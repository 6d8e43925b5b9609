"""Plain result records passed between the comparison, tracking, pipeline and CLI layers.

They hold numbers and file paths only (no Keras or MLflow objects), so a candidate can be
trained in another process (``--jobs``) or on a cluster and its result pickled back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from forecaster.comparison.gate import GateDecision  # noqa: F401 - owned by forecaster.comparison.gate, re-exported
from forecaster.comparison.plans import CandidatePlan

ROLE_CANDIDATE = "candidate"
ROLE_BASELINE = "baseline"
ROLE_ENSEMBLE = "ensemble"


@dataclass
class CandidateResult:
    """One trained candidate (model spec x clipping setting) or one baseline.

    Attributes
    ----------
    name:
        Unique within a comparison, e.g. ``lstm-1x32 | clipnorm=1`` or ``persistence``.
    role:
        ``candidate``, ``baseline`` or ``ensemble``.
    params:
        The contract parameters (``cell``, ``layers``, ``units``, ``bidirectional``, ``dropout``,
        ``recurrent_dropout``, ``head``, ``clipping``, ``clip_threshold``, ``learning_rate``,
        ``batch_size``, ``lookback``, ``horizon``, ``n_features``, ``n_params``, ``seed``,
        ``warm_start``, ``bptt``), written by :func:`forecaster.comparison.plans.contract_params`.
    history:
        Per-epoch lists: ``train_loss``, ``val_loss``, ``grad_norm_mean``, ``grad_norm_max``,
        ``clipped_fraction`` (empty for baselines).
    metrics:
        Final scalar metrics: ``val_mae``, ``val_rmse``, ``test_mae``, ``test_rmse``, ``test_smape``,
        ``test_mase``, ``interval_coverage``, ``train_seconds``, ``epochs_run``, ``val_rel_mae``,
        ``test_rel_mae`` (NaN where not applicable).
    test_mae_by_step:
        MAE per horizon step on the test windows, shape ``(horizon,)``.
    val_mae_by_step:
        MAE per horizon step on the validation windows, shape ``(horizon,)``: what a choice made at one
        horizon (issue 25's levers at 24 h) may read, since the test part is never used for one.
    coverage_by_step:
        Empirical interval coverage per horizon step on the test windows, shape ``(horizon,)``.
    test_mae_by_series:
        MAE on each series' test windows (``{series_id: mae}``).
    failed, failure_reason, failed_epoch:
        A candidate whose loss became NaN/inf is reported, never raised.
    model_dir:
        Directory of the saved fitted forecaster (``RNNForecaster.save``), or ``None``.
    plot_data:
        Small arrays for the forecast-vs-actual plot of a test slice: ``timestamps``, ``actual``,
        ``forecast``, ``lower``, ``upper`` (one series, first target).
    input_grad_by_lag:
        Norm of the loss gradient with respect to the input at each window step of a fixed batch
        of validation windows, final weights, shape ``(lookback,)``, lag 1 (the last observed
        step) first; empty for baselines and ensembles.
    lag_final:
        ``memory_lag`` and ``grad_far_near_ratio`` of ``input_grad_by_lag`` (the final weights),
        logged at step = epochs run; empty where there is no profile.
    val_forecast, test_forecast:
        Forecasts on the comparison's shared validation/test windows, original units, shape
        ``(n_windows, horizon, n_targets)``; kept for ensembling and the Diebold-Mariano test
        (errors are ``forecast - ComparisonResult.val_actual``). Not logged.
    """

    name: str
    role: str
    params: dict[str, Any]
    history: dict[str, list[float]] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    test_mae_by_step: np.ndarray = field(default_factory=lambda: np.zeros(0))
    val_mae_by_step: np.ndarray = field(default_factory=lambda: np.zeros(0))
    coverage_by_step: np.ndarray = field(default_factory=lambda: np.zeros(0))
    test_mae_by_series: dict[str, float] = field(default_factory=dict)
    failed: bool = False
    failure_reason: str | None = None
    failed_epoch: int | None = None
    model_dir: str | None = None
    plot_data: dict[str, Any] = field(default_factory=dict)
    val_forecast: np.ndarray | None = None
    input_grad_by_lag: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lag_final: dict[str, float] = field(default_factory=dict)
    test_forecast: np.ndarray | None = None
    #: Wall-clock start and end of the run's fit (unix seconds); MLflow shows them as the run's times.
    started_at: float | None = None
    finished_at: float | None = None
    #: Where a distributed task ran (``pid``, ``node_id``, ``worker_id``); empty when trained here.
    worker: dict[str, Any] = field(default_factory=dict)
    #: The plan the run was trained from (a blend: its network's plan); None for baselines.
    plan: CandidatePlan | None = None
    #: One row per test window (:func:`forecaster.evaluation.windows.window_errors`); None without test windows.
    window_errors: Any = None

    @property
    def val_mae(self) -> float:
        return float(self.metrics.get("val_mae", math.nan))

    @property
    def sort_key(self) -> tuple[int, float]:
        """Failed runs last, then by validation MAE."""
        value = self.val_mae
        return (1 if self.failed or math.isnan(value) else 0, value if not math.isnan(value) else math.inf)


@dataclass
class ComparisonResult:
    """Every candidate and baseline of one pipeline run, on the same windows."""

    pipeline: str
    candidates: list[CandidateResult]
    baselines: list[CandidateResult]
    horizon: int
    target: list[str]
    val_actual: np.ndarray | None = None
    test_actual: np.ndarray | None = None
    significance: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def all_results(self) -> list[CandidateResult]:
        return sorted([*self.candidates, *self.baselines], key=lambda r: r.sort_key)

    @property
    def best_candidate(self) -> CandidateResult | None:
        ok = [c for c in self.candidates if not c.failed and not math.isnan(c.val_mae)]
        return min(ok, key=lambda c: c.val_mae) if ok else None

    @property
    def best_baseline(self) -> CandidateResult | None:
        ok = [b for b in self.baselines if not math.isnan(b.val_mae)]
        return min(ok, key=lambda b: b.val_mae) if ok else None

    def baseline(self, name: str) -> CandidateResult | None:
        return next((b for b in self.baselines if b.name == name), None)
