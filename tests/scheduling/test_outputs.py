"""Which model serves a run's forecast (:mod:`forecaster.scheduling.outputs`)."""

from __future__ import annotations

import pandas as pd

from forecaster.comparison.results import CandidateResult, ComparisonResult
from forecaster.scheduling.outputs import fallback_baseline


def test_thefallback_baseline_must_beat_the_random_walk_walk_forward():
    def baseline(name, val_mae):
        return CandidateResult(name=name, role="baseline", params={}, metrics={"val_mae": val_mae})

    comparison = ComparisonResult(pipeline="p", candidates=[], horizon=1, target=["y"],
                                  baselines=[baseline("persistence", 2.0), baseline("linear", 1.9)])
    assert fallback_baseline(comparison, None).name == "linear"  # no backtest: validation decides
    summary = pd.DataFrame({"model": ["persistence", "linear"], "rel_mae": [1.0, 0.98],
                            "worst_series_rel_mae": [1.0, 1.02]})
    assert fallback_baseline(comparison, summary).name == "persistence"  # loses on one series
    summary["worst_series_rel_mae"] = [1.0, 0.99]
    assert fallback_baseline(comparison, summary).name == "linear"
    summary["rel_mae"] = [1.0, 1.01]
    assert fallback_baseline(comparison, summary.drop(columns="worst_series_rel_mae")).name == "persistence"


def test_with_significance_the_fallback_is_persistence():
    def baseline(name, val_mae):
        return CandidateResult(name=name, role="baseline", params={}, metrics={"val_mae": val_mae})

    comparison = ComparisonResult(pipeline="p", candidates=[], horizon=1, target=["y"],
                                  baselines=[baseline("persistence", 2.0), baseline("linear", 1.9)])
    summary = pd.DataFrame({"model": ["persistence", "linear"], "rel_mae": [1.0, 0.98]})
    assert fallback_baseline(comparison, summary).name == "linear"
    assert fallback_baseline(comparison, summary, persistence_only=True).name == "persistence"
    assert fallback_baseline(comparison, None, persistence_only=True).name == "persistence"
