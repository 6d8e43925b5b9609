"""Tests of forecaster.comparison.gate: the champion gate's rule, pure (no MLflow, no store)."""

from __future__ import annotations

import math
import sys

import pytest

from forecaster.exitcodes import EXIT_OK, EXIT_QUALITY_GATE
from forecaster.comparison.gate import ChampionEvidence, GateEvidence, decide


def evidence(val_mae=0.8, rel=0.8, **kwargs) -> GateEvidence:
    return GateEvidence("lstm-1x16", val_mae=val_mae, val_rel_mae=rel, **kwargs)


def champ(val_mae=0.9, source="recorded on the same data") -> ChampionEvidence:
    return ChampionEvidence(version="3", val_mae=val_mae, source=source)


def test_the_gate_imports_no_mlflow():
    import subprocess

    code = "import sys, forecaster.comparison.gate; print(any(m.startswith('mlflow') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_first_version_beating_persistence_and_baselines_is_promoted():
    d = decide(evidence(baseline_name="linear", baseline_val_mae=0.85), None, pipeline="p")
    assert (d.promoted, d.alias, d.exit_code, d.quality_gate) == (True, "champion", EXIT_OK, False)
    assert d.reason == "no current champion; val_rel_mae=0.8000 < 1 beats persistence"
    assert d.registered("7").message == ("pipeline 'p': best candidate lstm-1x16 val_mae=0.8000 (val_rel_mae=0.800); "
                                         "version 7 -> champion (no current champion; val_rel_mae=0.8000 < 1 "
                                         "beats persistence)")


def test_strictly_better_than_the_champion_is_promoted_a_tie_is_not():
    assert decide(evidence(val_mae=0.8), champ(0.8000001)).promoted
    tie = decide(evidence(val_mae=0.8), champ(0.8))
    assert (tie.promoted, tie.alias, tie.exit_code) == (False, "challenger", EXIT_OK)
    assert tie.reason == "val MAE 0.8 does not beat champion v3's 0.8 (recorded on the same data)"
    assert tie.champion_version == "3" and tie.champion_val_mae == 0.8
    worse = decide(evidence(val_mae=0.95), champ(0.9))
    assert not worse.promoted and worse.exit_code == EXIT_OK


def test_a_champion_without_a_known_mae_is_kept():
    d = decide(evidence(), ChampionEvidence("2", None, "the champion has no recorded validation MAE"))
    assert not d.promoted and "so the champion is kept" in d.reason and d.exit_code == EXIT_OK


def test_not_beating_persistence_is_a_challenger_without_quality_gate():
    d = decide(evidence(val_mae=0.5, rel=1.0), None)
    assert (d.promoted, d.exit_code) == (False, EXIT_OK)
    assert d.reason == "val_rel_mae=1.0000 >= 1: does not beat persistence on validation"


def test_non_finite_numbers_are_never_promoted():
    d = decide(evidence(val_mae=math.nan), None)
    assert not d.promoted and "not a finite number" in d.reason


def test_a_tie_with_the_best_baseline_is_a_quality_gate():
    d = decide(evidence(val_mae=0.9, baseline_name="linear", baseline_val_mae=0.9), None, pipeline="p")
    assert (d.promoted, d.alias, d.exit_code, d.quality_gate) == (False, "challenger", EXIT_QUALITY_GATE, True)
    assert d.reason == "val MAE 0.9 does not beat the best baseline linear (0.9) on validation"
    assert d.registered("4").message == (
        "pipeline 'p': no candidate beat the baselines on validation (best candidate lstm-1x16 val_mae=0.9000, "
        "best baseline linear val_mae=0.9000); version 4 registered as challenger, champion unchanged")


@pytest.mark.parametrize("backtest, worst, words", [
    (1.01, None, "has a walk-forward MAE 1.0100x persistence's over 3 folds: it does not beat the random walk"),
    (0.99, ("AMZN", 1.0001), "beats the random walk over all series (walk-forward MAE 0.9900x persistence's) "
                             "but not on series 'AMZN' (1.0001x)"),
])
def test_losing_to_the_random_walk_out_of_sample_is_a_quality_gate(backtest, worst, words):
    d = decide(evidence(backtest_rel_mae=backtest, backtest_folds=3, worst_series=worst), champ(2.0), pipeline="p")
    assert (d.promoted, d.exit_code) == (False, EXIT_QUALITY_GATE)
    assert d.registered("5").message == (f"pipeline 'p': the best candidate lstm-1x16 {words}; "
                                         "version 5 registered as challenger, champion unchanged")
    ok = decide(evidence(backtest_rel_mae=0.99, backtest_folds=3, worst_series=("KO", 0.999)), champ(2.0))
    assert ok.promoted and ok.exit_code == EXIT_OK


def test_quality_gate_exit_code_holds_even_when_persistence_already_failed():
    d = decide(evidence(val_mae=0.9, rel=1.2, baseline_name="linear", baseline_val_mae=0.5), None)
    assert d.exit_code == EXIT_QUALITY_GATE and "does not beat persistence" in d.reason


def test_significance_refuses_a_noise_level_win_with_exit_4():
    kwargs = dict(baseline_name="linear", baseline_val_mae=0.85, backtest_rel_mae=0.993, backtest_folds=3,
                  significance=0.05)
    noise = decide(evidence(dm_pvalue=0.31, **kwargs), None, pipeline="stocks")
    assert (noise.promoted, noise.alias, noise.exit_code, noise.quality_gate) == (
        False, "challenger", EXIT_QUALITY_GATE, True)
    assert noise.reason == ("walk-forward Diebold-Mariano p=0.31 >= significance 0.05 (pooled over all series): "
                            "the win over persistence could be noise")
    assert "does not beat the random walk significantly" in noise.headline and "persistence is served" in noise.headline
    one_series = decide(evidence(dm_pvalue=0.001, dm_worst_series=("IBM", 0.4), **kwargs), None)
    assert one_series.exit_code == EXIT_QUALITY_GATE and "on series 'IBM'" in one_series.reason
    unknown = decide(evidence(dm_pvalue=None, **kwargs), None)  # no evidence is no win
    assert unknown.exit_code == EXIT_QUALITY_GATE and "p=nan" in unknown.reason
    # the walk-forward rules still come first
    worse = decide(evidence(dm_pvalue=0.9, **{**kwargs, "backtest_rel_mae": 1.01}), None)
    assert "walk-forward MAE is 1.0100x" in worse.reason


def test_significance_accepts_a_clear_win_and_says_so():
    d = decide(evidence(baseline_name="linear", baseline_val_mae=0.85, backtest_rel_mae=0.8, significance=0.05,
                        dm_pvalue=0.0012, dm_worst_series=("AAPL", 0.03)), None)
    assert (d.promoted, d.exit_code) == (True, EXIT_OK)
    assert d.reason.endswith("; walk-forward DM p=0.0012 < 0.05")
    off = decide(evidence(dm_pvalue=0.9), None)  # significance off: the p-value is not a rule
    assert off.promoted and "DM" not in off.reason
