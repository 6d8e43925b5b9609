"""The parent run's description lines (forecaster.tracking.headline)."""

from __future__ import annotations

from forecaster.comparison.gate import GateEvidence, decide
from forecaster.tracking.headline import champion_line


def test_a_rejected_version_says_which_gate_rule_kept_the_champion():
    evidence = GateEvidence(candidate="gru", val_mae=0.9, val_rel_mae=0.99, baseline_name="linear",
                            baseline_val_mae=0.95, backtest_rel_mae=0.99, backtest_folds=3, significance=0.05,
                            dm_pvalue=0.31)
    decision = decide(evidence, None, pipeline="stocks").registered(1)
    line = champion_line(decision, "stocks")
    assert line.startswith("Champion unchanged (no champion); this run registered v1 as challenger. Gate: ")
    assert "Diebold-Mariano p=0.31 >= significance 0.05" in line
    promoted = decide(GateEvidence(candidate="gru", val_mae=0.5, val_rel_mae=0.5), None).registered(2)
    assert champion_line(promoted, "stocks") == "**Champion: stocks v2**, promoted in this run."
