"""The ledger's two steps in a run (and the whole of ``forecaster monitor``).

* :func:`score_ledger` (before any training): score the pipeline's committed ledger rows against
  the actual values now in the data, log the live scores to MLflow, judge the champion
  (:func:`forecaster.lifecycle.monitoring.decide_drift`) and tag its version.
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
    decide_drift,
    live_scores,
    score_rows,
)

logger = logging.getLogger(__name__)


def _store(cfg: Any) -> str:
    """The tracking URI a run of ``cfg`` uses: one ledger per pipeline and store, like its lock."""
    from forecaster.tracking.storeuri import resolve_tracking_uri

    return resolve_tracking_uri(cfg.tracking.tracking_uri)


@dataclass
class LedgerScoring:
    """What one scoring of the ledger found."""

    pipeline: str
    n_rows: int
    scored: pd.DataFrame
    scores: LiveScores
    champion: Any = None  # forecaster.tracking.monitoring.ChampionInfo
    decision: DriftDecision | None = None

    @property
    def degraded(self) -> bool:
        """The champion's verdict; without a new verdict, the one its version is tagged with."""
        if self.decision is not None and self.decision.judged:
            return self.decision.degraded
        return bool(self.champion is not None and self.champion.degraded)

    @property
    def reason(self) -> str:
        if self.decision is not None and self.decision.judged:
            return self.decision.reason
        return self.champion.degraded_reason if self.champion is not None else ""

    @property
    def exit_code(self) -> int:
        return EXIT_DEGRADED if self.degraded else 0

    def summary(self) -> str:
        """A short text table: live scores per step and overall, and the verdict."""
        lines = [f"pipeline {self.pipeline!r}: {self.n_rows} forecast values in the ledger, {len(self.scored)} "
                 "with actuals"]
        if self.scores.n:
            s = self.scores
            lines.append(f"last {s.n} scored values (targets {s.first_target} .. {s.last_target}): "
                         f"live MAE {s.mae:.4g}, same-origin persistence MAE {s.persistence_mae:.4g}, "
                         f"live relative MAE {s.rel_mae:.3f}, interval coverage {s.coverage:.3f}")
            lines.append(s.table().to_string(index=False, float_format="{:.4g}".format))
        if self.champion is None:
            lines.append("no champion: no drift verdict")
        else:
            test = f"{self.champion.test_mae:.4g}" if self.champion.test_mae is not None else "unknown"
            lines.append(f"champion {self.champion.registered_model} v{self.champion.version} (test MAE {test}): "
                         + ("DEGRADED: " + self.reason if self.degraded else
                            "ok" if self.decision is not None and self.decision.judged else
                            (self.decision.reason if self.decision is not None else "no verdict")))
        return "\n".join(lines)


def score_ledger(cfg: Any, frame: pd.DataFrame, state_dir: str | os.PathLike[str] | None = None, *,
                 log: bool = True) -> LedgerScoring:
    """Score ``cfg``'s ledger rows against the canonical ``frame``; log and judge when ``log``.

    The pipeline-wide live scores (every served forecast, last ``monitoring.window`` scored values)
    go to the monitoring run; the champion is judged on the values its version served.
    """
    rows = Ledger.in_state_dir(state_dir).forecasts(cfg.name, _store(cfg))
    scored = score_rows(rows, frame)
    window = cfg.monitoring.window
    result = LedgerScoring(pipeline=cfg.name, n_rows=len(rows), scored=scored,
                           scores=live_scores(scored, window))
    if scored.empty or not log:
        return result
    from forecaster.tracking.monitoring import champion_info, log_live_scores

    champion = champion_info(cfg)
    result.champion = champion
    if champion is not None:
        own = scored[scored["model_version"].astype(str) == champion.version]
        result.decision = decide_drift(
            live_scores(own, window), window=window, interval_level=cfg.evaluation.interval_level,
            coverage_tolerance=cfg.monitoring.coverage_tolerance, mae_tolerance=cfg.monitoring.mae_tolerance,
            test_mae=champion.test_mae)
    log_live_scores(cfg, result.scores, scored, champion=champion, decision=result.decision)
    s = result.scores
    logger.info("ledger of %r: %d scored forecast values; last %d: live MAE %.4g, live relative MAE %.3f, "
                "coverage %.3f", cfg.name, len(scored), s.n, s.mae, s.rel_mae, s.coverage)
    if result.degraded:
        logger.warning("champion %s v%s is DEGRADED: %s", champion.registered_model, champion.version, result.reason)
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
