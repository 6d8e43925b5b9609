"""The champion gate: one pure rule deciding whether a new version replaces the champion.

:func:`decide` reads numbers only (no store, no MLflow), so every branch is unit-testable. The
registry (:mod:`forecaster.tracking.registry`) gathers the champion's numbers, calls
:func:`decide` and writes what it decided; the pipeline reports :attr:`GateDecision.message` and
returns :attr:`GateDecision.exit_code`.

The rule, in order (the first that fails decides):

1. the candidate's validation MAE and MAE relative to persistence are finite numbers;
2. it beats persistence on validation: ``val_rel_mae < 1``;
3. it is strictly better than the best baseline on validation (a tie is not promoted);
4. with a walk-forward backtest: its MAE over persistence's is ``< 1`` over all series,
5. ... and on every single series;
5b. with ``evaluation.significance`` (alpha): the walk-forward folds' one-sided Diebold-Mariano
   test of it against persistence (:mod:`forecaster.evaluation.significance`) gives ``p < alpha``
   pooled over all series and on every series (a win that could be noise is not claimed);
6. it is strictly better than the current champion on the same validation windows (a version
   that only ties the champion is NOT promoted: a scheduler must not churn the alias).

Failing 3, 4, 5 or 5b is a *quality gate* (exit 4): no candidate is worth serving. Failing 1, 2 or
6 registers a challenger and exits 0 when the champion (or nothing) still serves.

Example
-------
>>> d = decide(GateEvidence("lstm-1x16", val_mae=0.8, val_rel_mae=0.8, baseline_name="linear",
...                         baseline_val_mae=0.9), champion=None, pipeline="demo")
>>> d.promoted, d.alias, d.exit_code
(True, 'champion', 0)
>>> tie = decide(GateEvidence("lstm-1x16", val_mae=0.8, val_rel_mae=0.8),
...              champion=ChampionEvidence(version="1", val_mae=0.8, source="recorded on the same data"))
>>> tie.promoted, tie.reason
(False, "val MAE 0.8 does not beat champion v1's 0.8 (recorded on the same data)")
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from forecaster.exitcodes import EXIT_OK, EXIT_QUALITY_GATE

CHAMPION = "champion"
CHALLENGER = "challenger"


@dataclass(frozen=True)
class GateEvidence:
    """What the gate knows about the best candidate of a run.

    ``backtest_rel_mae`` (walk-forward MAE over persistence's, all series) and ``worst_series``
    (``(series_id, relative MAE)`` of the worst series) are None without a backtest.
    """

    candidate: str
    val_mae: float
    val_rel_mae: float
    baseline_name: str | None = None
    baseline_val_mae: float | None = None
    backtest_rel_mae: float | None = None
    backtest_folds: int = 0
    worst_series: tuple[str, float] | None = None
    #: ``evaluation.significance`` (alpha), or None when the rule is off.
    significance: float | None = None
    #: The pooled one-sided DM p-value against persistence over the folds (None: not computed).
    dm_pvalue: float | None = None
    #: ``(series_id, p)`` of the series with the largest DM p-value (None with one series).
    dm_worst_series: tuple[str, float] | None = None

    def significance_failure(self) -> str | None:
        """Why the win is not significant (rule 5b), or None when it is or the rule is off."""
        alpha = self.significance
        if alpha is None:
            return None
        p = math.nan if self.dm_pvalue is None else float(self.dm_pvalue)
        if not p < alpha:  # NaN too: no evidence is no win
            return (f"walk-forward Diebold-Mariano p={p:.4g} >= significance {alpha:g} (pooled over all series): "
                    "the win over persistence could be noise")
        if self.dm_worst_series is not None and not float(self.dm_worst_series[1]) < alpha:
            series, p_series = self.dm_worst_series[0], float(self.dm_worst_series[1])
            return (f"walk-forward Diebold-Mariano p={p_series:.4g} >= significance {alpha:g} on series "
                    f"{series!r} (pooled p={p:.4g}): the win over persistence could be noise there")
        return None

    def significance_note(self) -> str:
        """``; DM p=... < alpha`` for a reason when the rule is on and passed, else ``""``."""
        if self.significance is None or self.dm_pvalue is None or self.significance_failure() is not None:
            return ""
        return f"; walk-forward DM p={float(self.dm_pvalue):.3g} < {self.significance:g}"


@dataclass(frozen=True)
class ChampionEvidence:
    """The current champion: its version, validation MAE (None when unknown) and where that came from."""

    version: str
    val_mae: float | None
    source: str


@dataclass(frozen=True)
class GateDecision:
    """What the champion gate decided for a new version (``version`` is set once registered)."""

    promoted: bool
    alias: str  # "champion" or "challenger"
    reason: str
    exit_code: int = EXIT_OK
    quality_gate: bool = False
    candidate: str = ""
    pipeline: str = ""
    version: str | None = None
    candidate_val_mae: float = math.nan
    candidate_val_rel_mae: float = math.nan
    champion_val_mae: float | None = None
    champion_version: str | None = None
    #: The quality-gate sentence without the version (see :attr:`message`).
    headline: str = ""

    def registered(self, version: str) -> "GateDecision":
        """This decision for the registered ``version``."""
        return dataclasses.replace(self, version=str(version))

    @property
    def message(self) -> str:
        """The run's one-line outcome, as the CLI logs it."""
        if self.quality_gate:
            return f"{self.headline}; version {self.version} registered as {self.alias}, champion unchanged"
        return (f"pipeline {self.pipeline!r}: best candidate {self.candidate} val_mae={self.candidate_val_mae:.4f} "
                f"(val_rel_mae={self.candidate_val_rel_mae:.3f}); version {self.version} -> {self.alias} "
                f"({self.reason})")


def _quality(evidence: GateEvidence, pipeline: str) -> tuple[str, str] | None:
    """(reason, headline) when the candidate fails a quality rule (3-5), else None.

    The reason names the first failed rule in gate order; the headline (the run's message) puts
    the walk-forward evidence first, as the pipeline always has.
    """
    e = evidence
    name = f"pipeline {pipeline!r}: the best candidate {e.candidate}"
    reasons: list[str] = []
    headlines: list[str] = []
    base = e.baseline_val_mae
    if base is not None and math.isfinite(float(base)) and not e.val_mae < float(base):
        reasons.append(f"val MAE {e.val_mae:.4g} does not beat the best baseline "
                       f"{e.baseline_name or 'baseline'} ({float(base):.4g}) on validation")
    if e.backtest_rel_mae is not None and not float(e.backtest_rel_mae) < 1:
        reasons.append(f"walk-forward MAE is {float(e.backtest_rel_mae):.4f}x persistence's (>= 1): "
                       "does not beat the random walk out of sample")
        headlines.append(f"{name} has a walk-forward MAE {float(e.backtest_rel_mae):.4f}x persistence's over "
                         f"{e.backtest_folds} folds: it does not beat the random walk")
    elif e.worst_series is not None and not float(e.worst_series[1]) < 1:
        series, rel = e.worst_series[0], float(e.worst_series[1])
        reasons.append(f"walk-forward MAE on series {series!r} is {rel:.4f}x persistence's (>= 1): does not "
                       "beat the random walk on every series it would serve")
        headlines.append(f"{name} beats the random walk over all series (walk-forward MAE "
                         f"{float(e.backtest_rel_mae):.4f}x persistence's) but not on series {series!r} "
                         f"({rel:.4f}x)")
    not_significant = e.significance_failure()
    if not_significant is not None:
        reasons.append(not_significant)
        headlines.append(f"{name} does not beat the random walk significantly: {not_significant}; "
                         "persistence is served")
    if base is not None and math.isfinite(float(base)) and not e.val_mae < float(base):
        headlines.append(f"pipeline {pipeline!r}: no candidate beat the baselines on validation (best candidate "
                         f"{e.candidate} val_mae={e.val_mae:.4f}, best baseline {e.baseline_name} "
                         f"val_mae={float(base):.4f})")
    return (reasons[0], headlines[0]) if reasons else None


def decide(evidence: GateEvidence, champion: ChampionEvidence | None, pipeline: str = "") -> GateDecision:
    """Apply the gate rule (module docstring) to a candidate and the current champion.

    Parameters
    ----------
    evidence : GateEvidence
        The best candidate's validation (and walk-forward) numbers and the best baseline's.
    champion : ChampionEvidence or None
        The current champion, or None when the registered model has none.
    pipeline : str
        The pipeline's name, for the message.

    Returns
    -------
    GateDecision
        ``promoted``, ``alias``, ``reason``, ``exit_code`` (0, or 4 for a quality gate) and the
        numbers; ``version`` is None until the registry sets it with :meth:`GateDecision.registered`.
    """
    e = evidence
    val_mae, rel = float(e.val_mae), float(e.val_rel_mae)
    common = dict(candidate=e.candidate, pipeline=pipeline, candidate_val_mae=val_mae, candidate_val_rel_mae=rel,
                  champion_val_mae=None if champion is None else champion.val_mae,
                  champion_version=None if champion is None else champion.version)

    def verdict(promoted: bool, reason: str, quality: tuple[str, str] | None = None) -> GateDecision:
        return GateDecision(promoted=promoted, alias=CHAMPION if promoted else CHALLENGER, reason=reason,
                            exit_code=EXIT_QUALITY_GATE if quality else EXIT_OK, quality_gate=quality is not None,
                            headline=quality[1] if quality else "", **common)

    quality = _quality(e, pipeline) if math.isfinite(val_mae) else None
    if not math.isfinite(val_mae) or not math.isfinite(rel):
        return verdict(False, f"validation MAE {val_mae:.4g} / relative MAE {rel:.4g} is not a finite number")
    if rel >= 1:
        return verdict(False, f"val_rel_mae={rel:.4f} >= 1: does not beat persistence on validation", quality)
    if quality is not None:
        return verdict(False, quality[0], quality)
    if champion is None:
        return verdict(True, f"no current champion; val_rel_mae={rel:.4f} < 1 beats persistence"
                             f"{e.significance_note()}")
    if champion.val_mae is None:
        return verdict(False, f"beats persistence (val_rel_mae={rel:.4f}) but {champion.source} "
                              f"(version {champion.version}), so the champion is kept")
    if val_mae < champion.val_mae:
        return verdict(True, f"beats persistence (val_rel_mae={rel:.4f}) and val MAE {val_mae:.4g} < "
                             f"champion v{champion.version}'s {champion.val_mae:.4g} ({champion.source})"
                             f"{e.significance_note()}")
    return verdict(False, f"val MAE {val_mae:.4g} does not beat champion v{champion.version}'s "
                          f"{champion.val_mae:.4g} ({champion.source})")


__all__ = ["CHALLENGER", "CHAMPION", "ChampionEvidence", "GateDecision", "GateEvidence", "decide"]
