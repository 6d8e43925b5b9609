"""The ledger's two steps in a run (and the whole of ``forecaster monitor``).

* :func:`score_ledger` (before any training): score the pipeline's committed ledger rows against
  the actual values now in the data, log the live scores to MLflow, judge the champion
  (:func:`forecaster.lifecycle.monitoring.decide_drift`) and tag its version, and judge the fallback
  baseline too when it served the latest forecast (a degraded fallback forces the next run to retrain).
* :func:`stage_forecast`: write the served forecast's rows with ``committed=0`` before the run's
  commit point; applying the commit journal flips them to 1 (:func:`forecaster.scheduling.commit.apply`, one
  transaction each, see :mod:`forecaster.lifecycle.ledger`); :func:`discard_uncommitted` removes the rows of
  a run killed before its commit point.

One ledger per pipeline name and tracking store, like the run lock.

Imports neither TensorFlow nor Keras: ``forecaster monitor`` stays cheap.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import pandas as pd

from forecaster.lifecycle.ledger import Ledger, ledger_rows
from forecaster.lifecycle.monitoring import (
    EXIT_DEGRADED,
    DriftDecision,
    LiveScores,
    Served,
    decide_drift,
    latest_served,
    live_scores,
    no_verdict_yet,
    score_rows,
    served_rows,
)

logger = logging.getLogger(__name__)


def _store(cfg: Any) -> str:
    """The tracking URI a run of ``cfg`` uses: one ledger per pipeline and store, like its lock."""
    from forecaster.tracking.storeuri import resolve_tracking_uri

    return resolve_tracking_uri(cfg.tracking.tracking_uri)


@dataclass
class LedgerScoring:
    """What one scoring of the ledger found.

    ``decision``: the champion's verdict on the values its version served. ``served``: what
    served the latest forecast; when that was the fallback baseline (no champion to serve),
    ``fallback_decision`` is the same rules' verdict on the values the fallback served. Either
    degraded makes the scoring degraded (``forecaster monitor`` exits 6, the next run retrains).
    """

    pipeline: str
    n_rows: int
    scored: pd.DataFrame
    scores: LiveScores
    window: int = 0
    champion: Any = None  # forecaster.tracking.monitoring.ChampionInfo
    decision: DriftDecision | None = None
    served: Served | None = None
    fallback_decision: DriftDecision | None = None
    fallback_test_mae: float | None = None

    @property
    def champion_degraded(self) -> bool:
        """The champion's verdict; without a new verdict, the one its version is tagged with."""
        if self.decision is not None and self.decision.judged:
            return self.decision.degraded
        return bool(self.champion is not None and self.champion.degraded)

    @property
    def fallback_degraded(self) -> bool:
        return bool(self.fallback_decision is not None and self.fallback_decision.degraded)

    @property
    def degraded(self) -> bool:
        return self.champion_degraded or self.fallback_degraded

    @property
    def subject(self) -> str:
        """What is degraded: ``champion`` and/or ``fallback baseline <kind>``."""
        names = (["champion"] if self.champion_degraded else []) + (
            [f"fallback {self.served.served_by}"] if self.fallback_degraded and self.served else [])
        return " and ".join(names)

    @property
    def reason(self) -> str:
        """Why it is degraded (empty when it is not)."""
        reasons = []
        if self.champion_degraded:
            judged = self.decision is not None and self.decision.judged
            reasons.append(self.decision.reason if judged else self.champion.degraded_reason)
        if self.fallback_degraded:
            reasons.append(self.fallback_decision.reason)
        return "; ".join(reasons)

    @property
    def exit_code(self) -> int:
        return EXIT_DEGRADED if self.degraded else 0

    def _verdict(self, decision: DriftDecision | None, degraded: bool, reason: str) -> str:
        if decision is not None and decision.judged:
            return "DEGRADED: " + decision.reason if decision.degraded else "ok"
        if degraded:
            return "DEGRADED: " + reason
        return no_verdict_yet(decision.scores.n if decision is not None else 0, self.window)

    def summary(self) -> str:
        """A short text table: live scores per step and overall, and the verdict on what served."""
        lines = [(f"pipeline {self.pipeline!r}: {self.n_rows} forecast values in the ledger, {len(self.scored)} "
                  "with actuals")]
        if self.scores.n:
            s = self.scores
            lines.append(f"last {s.n} scored values (targets {s.first_target} .. {s.last_target}): "
                         f"live MAE {s.mae:.4g}, same-origin persistence MAE {s.persistence_mae:.4g}, "
                         f"live relative MAE {s.rel_mae:.3f}, interval coverage {s.coverage:.3f}")
            lines.append(s.table().to_string(index=False, float_format="{:.4g}".format))
        if self.champion is not None:
            test = f"{self.champion.test_mae:.4g}" if self.champion.test_mae is not None else "unknown"
            lines.append(f"champion {self.champion.registered_model} v{self.champion.version} (test MAE {test}): "
                         + self._verdict(self.decision, self.champion.degraded, self.champion.degraded_reason))
        if self.served is not None and self.served.is_baseline:
            test = f"{self.fallback_test_mae:.4g}" if self.fallback_test_mae is not None else "unknown"
            lines.append(f"served by the fallback {self.served.served_by} (test MAE {test}): "
                         + self._verdict(self.fallback_decision, False, ""))
        elif self.champion is None:
            lines.append("no champion and no fallback served: no drift verdict")
        return "\n".join(lines)


def score_ledger(cfg: Any, frame: pd.DataFrame, state_dir: str | os.PathLike[str] | None = None, *,
                 log: bool = True) -> LedgerScoring:
    """Score ``cfg``'s ledger rows against the canonical ``frame``; log and judge when ``log``.

    The pipeline-wide live scores (every served forecast, last ``monitoring.window`` scored values)
    go to the monitoring run; the champion is judged on the values its version served, and the
    fallback baseline, when it served the latest forecast, on the values it served.
    """
    rows = Ledger.in_state_dir(state_dir).forecasts(cfg.name, _store(cfg))
    scored = score_rows(rows, frame)
    window = cfg.monitoring.window
    result = LedgerScoring(pipeline=cfg.name, n_rows=len(rows), scored=scored,
                           scores=live_scores(scored, window), window=window, served=latest_served(rows))
    if scored.empty or not log:
        return result
    from forecaster.tracking.monitoring import baseline_test_mae, champion_info, log_live_scores

    rules = {"window": window, "interval_level": cfg.evaluation.interval_level,
             "coverage_tolerance": cfg.monitoring.coverage_tolerance, "mae_tolerance": cfg.monitoring.mae_tolerance}
    champion = champion_info(cfg)
    result.champion = champion
    if champion is not None:
        own = served_rows(scored, Served(f"{champion.registered_model} v{champion.version}", champion.version, ""))
        result.decision = decide_drift(live_scores(own, window), test_mae=champion.test_mae, **rules)
    served = result.served
    if served is not None and served.is_baseline:
        result.fallback_test_mae = baseline_test_mae(cfg, served.run_id, served.baseline)
        result.fallback_decision = decide_drift(live_scores(served_rows(scored, served), window),
                                                test_mae=result.fallback_test_mae, **rules)
    log_live_scores(cfg, result.scores, scored, champion=champion, decision=result.decision,
                    served=served, fallback_decision=result.fallback_decision)
    s = result.scores
    logger.info("ledger of %r: %d scored forecast values; last %d: live MAE %.4g, live relative MAE %.3f, "
                "coverage %.3f", cfg.name, len(scored), s.n, s.mae, s.rel_mae, s.coverage)
    if result.champion_degraded:
        logger.warning("champion %s v%s is DEGRADED: %s", champion.registered_model, champion.version,
                       result.decision.reason if result.decision is not None and result.decision.judged
                       else champion.degraded_reason)
    if result.fallback_degraded:
        logger.warning("the fallback %s, which served the latest forecast, is DEGRADED: %s", served.served_by,
                       result.fallback_decision.reason)
    return result


def stage_forecast(cfg: Any, run_id: str, forecast: pd.DataFrame, history: pd.DataFrame, *, served_by: str,
                   model_version: str | None, state_dir: str | os.PathLike[str] | None = None) -> int:
    """Write the served forecast's ledger rows, not yet committed (before the commit point)."""
    rows = ledger_rows(forecast, history, list(cfg.data.target))
    return Ledger.in_state_dir(state_dir).stage(run_id, cfg.name, rows, served_by=served_by,
                                                model_version=model_version, store=_store(cfg))


def discard_uncommitted(cfg: Any, state_dir: str | os.PathLike[str] | None = None) -> int:
    """Remove rows of earlier runs of ``cfg`` that never committed (call holding the run lock)."""
    return Ledger.in_state_dir(state_dir).discard_uncommitted(cfg.name, _store(cfg))


def served_identity(cfg: Any, outcome: Any) -> tuple[str, str | None]:
    """``(served_by, model_version)`` of the forecast a run wrote, for its ledger rows."""
    served = outcome.served_by or "unknown"
    gate = outcome.gate
    best = outcome.comparison.best_candidate if outcome.comparison is not None else None
    version = None
    if gate is not None and gate.promoted and best is not None and served == best.name:
        version = outcome.model_version
    elif served.startswith("models:/") and gate is not None:
        version = gate.champion_version
    if version is not None:
        return f"{cfg.registered_model_name} v{version}", str(version)
    return (served if served.startswith("models:/") else f"baseline {served}"), None
