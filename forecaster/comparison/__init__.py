"""The comparison: every candidate and baseline on the same windows, the backtest, and the gate.

Owns the candidate plans and the MLflow parameter contract (``plans``), training one candidate
(``candidates``) and the whole grid (``grid``, ``tasks``), the walk-forward backtest (``folds``,
``backtest``), the result records (``results``) and the champion gate (``gate``: a pure decision).
May import the library floors (``estimator``, ``evaluation``, ``models``, ``data``, ``config``) and
``execution``; never MLflow, the run's scheduling or the CLI.
"""

from __future__ import annotations

from forecaster.comparison.backtest import (
    backtest_summary,
    backtest_window_errors,
    run_backtest,
)
from forecaster.comparison.candidates import (
    baseline_params,
    blend_candidate,
    check_baselines,
    evaluate_baseline,
    rnn_params,
    train_candidate,
)
from forecaster.comparison.gate import GateDecision, decide
from forecaster.comparison.grid import run_comparison
from forecaster.comparison.plans import CandidatePlan, plan_candidates
from forecaster.comparison.results import CandidateResult, ComparisonResult

__all__ = [
    "CandidatePlan", "CandidateResult", "ComparisonResult", "GateDecision", "backtest_summary",
    "backtest_window_errors", "baseline_params", "blend_candidate", "check_baselines", "decide",
    "evaluate_baseline", "plan_candidates", "rnn_params", "run_backtest", "run_comparison", "train_candidate",
]
