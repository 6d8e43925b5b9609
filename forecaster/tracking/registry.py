"""Register the best candidate and move the ``champion`` alias only for a better model.

The gate's rule lives in :func:`forecaster.comparison.gate.decide` (pure, no store); this module gathers the
numbers it needs from the registry and writes what it decided: the version's tags, description
and alias. Aliases only: stages are deprecated.

A run registers in two steps around its commit point (see :mod:`forecaster.scheduling.commit`):
:func:`register_pending` creates the version with its gate tags and ``forecaster.state=pending``
(no alias: nothing a consumer reads has changed); :func:`commit_version` then moves the alias and
tags it ``committed``. A version still ``pending`` after its run died is tagged ``abandoned`` by the
next run (:func:`abandon_pending`).

The champion's validation MAE comes, in order of preference, from

1. ``evaluate_champion("models:/<name>@champion")``: the caller re-scores the champion on the
   current validation windows (the only comparison that is always fair);
2. the champion version's ``forecaster.val_mae`` tag, when its ``forecaster.data_sha256`` tag equals
   the current data's sha256 (same data, so the same validation windows);
3. that tag on different (or unknown) data, said plainly in the reason.

Example
-------
>>> decision = register_and_gate(uri, registered_model="temperature", run_id=run_id,
...                              candidate_val_mae=0.41, candidate_val_rel_mae=0.83)  # doctest: +SKIP
>>> decision.alias, decision.reason  # doctest: +SKIP
('champion', 'no current champion; val_rel_mae=0.8300 < 1 beats persistence')
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from forecaster.comparison.gate import (
    CHALLENGER,
    CHAMPION,
    ChampionEvidence,
    GateDecision,
    GateEvidence,
    decide,
)

logger = logging.getLogger(__name__)

TAG_DECISION = "forecaster.gate_decision"
TAG_VAL_MAE = "forecaster.val_mae"
TAG_VAL_REL_MAE = "forecaster.val_rel_mae"
TAG_CHAMPION_VAL_MAE = "forecaster.champion_val_mae"
TAG_DATA_SHA = "forecaster.data_sha256"
TAG_RUN_ID = "forecaster.run_id"
TAG_BASELINE_VAL_MAE = "forecaster.baseline_val_mae"
#: ``pending`` (registered, its run not committed yet), ``committed`` or ``abandoned``.
TAG_STATE = "forecaster.state"
STATE_PENDING, STATE_COMMITTED, STATE_ABANDONED = "pending", "committed", "abandoned"
#: A champion whose files cannot be loaded safely (:mod:`forecaster.tracking.quarantine`): ``true``,
#: and why. A quarantined champion counts as no champion: not re-scored, not warm-started from,
#: not served; the gate decides as for a first model.
TAG_QUARANTINED = "forecaster.quarantined"
TAG_QUARANTINED_REASON = "forecaster.quarantined_reason"


def champion_uri(name: str) -> str | None:
    """``models:/<name>@champion`` when registered model ``name`` has a champion, else None."""
    return f"models:/{name}@{CHAMPION}" if _champion(MlflowClient(), name) is not None else None


def _champion(client: MlflowClient, name: str, *, quarantined: bool = False) -> ModelVersion | None:
    """The version the ``champion`` alias names; None when there is none or (unless
    ``quarantined``) when it is tagged ``forecaster.quarantined=true``."""
    try:
        version = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise
    if not quarantined and is_quarantined(version):
        return None
    return version


def is_quarantined(version: ModelVersion) -> bool:
    return str((version.tags or {}).get(TAG_QUARANTINED, "")).lower() == "true"


def _tag_float(version: ModelVersion, key: str) -> float | None:
    try:
        value = float(version.tags.get(key, "nan"))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _champion_val_mae(
    champion: ModelVersion,
    name: str,
    evaluate_champion: Callable[[str], float] | None,
    data_sha256: str | None,
) -> tuple[float | None, str]:
    """The champion's validation MAE and where it came from (a phrase for the reason)."""
    if evaluate_champion is not None:
        uri = f"models:/{name}@{CHAMPION}"
        try:
            value = float(evaluate_champion(uri))
        except Exception as exc:  # noqa: BLE001 - a broken old champion must not block the gate
            logger.warning("could not re-evaluate the champion %s (%s); using its recorded val MAE", uri, exc)
        else:
            if math.isfinite(value):
                return value, "re-evaluated on the current validation data"
            logger.warning("re-evaluating the champion %s gave %s; using its recorded val MAE", uri, value)
    recorded = _tag_float(champion, TAG_VAL_MAE)
    if recorded is None:
        return None, "the champion has no recorded validation MAE"
    champion_sha = champion.tags.get(TAG_DATA_SHA)
    if data_sha256 is not None and champion_sha == data_sha256:
        return recorded, "recorded on the same data"
    return recorded, "recorded on DIFFERENT or unknown data (not re-evaluated), so the comparison is approximate"


def champion_evidence(
    registered_model: str,
    evaluate_champion: Callable[[str], float] | None = None,
    data_sha256: str | None = None,
) -> ChampionEvidence | None:
    """The current champion's version and validation MAE for :func:`forecaster.comparison.gate.decide`."""
    champion = _champion(MlflowClient(), registered_model)
    if champion is None:
        return None
    value, source = _champion_val_mae(champion, registered_model, evaluate_champion, data_sha256)
    return ChampionEvidence(version=str(champion.version), val_mae=value, source=source)


def register_pending(
    model_uri: str,
    decision: GateDecision,
    evidence: GateEvidence,
    *,
    registered_model: str,
    run_id: str,
    data_sha256: str | None = None,
) -> GateDecision:
    """Register ``model_uri`` as a new version tagged ``pending`` with the gate's decision.

    No alias moves: :func:`commit_version` does that at the run's commit point. Returns the
    decision with its ``version``.
    """
    client = MlflowClient()
    version = str(mlflow.register_model(model_uri, registered_model).version)
    client.set_model_version_tag(registered_model, version, TAG_STATE, STATE_PENDING)
    decision = decision.registered(version)
    tags = {
        TAG_DECISION: "promoted" if decision.promoted else "rejected",
        TAG_VAL_MAE: repr(decision.candidate_val_mae),
        TAG_VAL_REL_MAE: repr(decision.candidate_val_rel_mae),
        TAG_CHAMPION_VAL_MAE: "none" if decision.champion_val_mae is None else repr(decision.champion_val_mae),
        TAG_RUN_ID: run_id,
    }
    if data_sha256 is not None:
        tags[TAG_DATA_SHA] = data_sha256
    if evidence.baseline_val_mae is not None:
        tags[TAG_BASELINE_VAL_MAE] = repr(float(evidence.baseline_val_mae))
    if evidence.backtest_rel_mae is not None:
        tags["forecaster.backtest_rel_mae"] = repr(float(evidence.backtest_rel_mae))
    if evidence.worst_series is not None:
        tags["forecaster.backtest_worst_series"] = str(evidence.worst_series[0])
        tags["forecaster.backtest_worst_series_rel_mae"] = repr(float(evidence.worst_series[1]))
    if evidence.significance is not None:
        tags["forecaster.significance"] = repr(float(evidence.significance))
        tags["forecaster.dm_pvalue"] = "none" if evidence.dm_pvalue is None else repr(float(evidence.dm_pvalue))
    for key, value in tags.items():
        client.set_model_version_tag(registered_model, version, key, value)
    verdict = "Promoted to champion" if decision.promoted else "Kept as challenger (champion unchanged)"
    description = (
        f"{verdict}: validation MAE {decision.candidate_val_mae:.4g}, "
        f"{decision.candidate_val_rel_mae:.3f}x persistence's; {decision.reason}."
    )
    client.update_model_version(registered_model, version, description=description)
    logger.info("%s v%s (pending until the run commits): %s", registered_model, version, description)
    return decision


def commit_version(registered_model: str, version: str, alias: str) -> None:
    """Point ``alias`` at ``version`` and tag it ``committed`` (idempotent: safe to roll forward)."""
    client = MlflowClient()
    client.set_registered_model_alias(registered_model, alias, str(version))
    client.set_model_version_tag(registered_model, str(version), TAG_STATE, STATE_COMMITTED)


def abandon_pending(registered_model: str) -> list[str]:
    """Tag every ``pending`` version of ``registered_model`` ``abandoned``; returns their numbers.

    Call it only while holding the pipeline's lock with no commit journal left to apply: a
    pending version then belongs to a run that died before its commit point.
    """
    client = MlflowClient()
    try:
        versions = client.search_model_versions(f"name='{registered_model}'", max_results=10000)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
            return []
        raise
    abandoned = [str(v.version) for v in versions if v.tags.get(TAG_STATE) == STATE_PENDING]
    for version in abandoned:
        client.set_model_version_tag(registered_model, version, TAG_STATE, STATE_ABANDONED)
    if abandoned:
        logger.warning("tagged version(s) %s of %r %s=%s: their run died before its commit point",
                       ", ".join(abandoned), registered_model, TAG_STATE, STATE_ABANDONED)
    return abandoned


def register_and_gate(
    model_uri: str,
    *,
    registered_model: str,
    run_id: str,
    candidate_val_mae: float,
    candidate_val_rel_mae: float,
    evaluate_champion: Callable[[str], float] | None = None,
    data_sha256: str | None = None,
    baseline_val_mae: float | None = None,
    baseline_name: str | None = None,
    backtest_rel_mae: float | None = None,
    backtest_worst_series: tuple[str, float] | None = None,
) -> GateDecision:
    """Register ``model_uri``, decide with :func:`forecaster.comparison.gate.decide` and commit at once.

    For callers without a commit point of their own (the pipeline stages and commits separately).

    Parameters
    ----------
    model_uri : str
        The logged model (``models:/m-...`` or ``runs:/<run_id>/model``).
    registered_model : str
        Registered model name (the pipeline's).
    run_id : str
        The run that produced the model (recorded as a tag).
    candidate_val_mae, candidate_val_rel_mae : float
        The new model's validation MAE and MAE relative to persistence on the same windows.
    evaluate_champion : callable, optional
        ``f("models:/<name>@champion") -> val MAE`` of the current champion on the current
        validation data; preferred over the champion's recorded tag.
    data_sha256 : str, optional
        Sha256 of the training data file; recorded, and compared with the champion's.
    baseline_val_mae, baseline_name : optional
        The best baseline's validation MAE and name. When given, the new version must also have
        a strictly lower validation MAE than it to be promoted (a candidate that only ties the
        seasonal-naive or linear baseline is not worth serving).
    backtest_rel_mae : float, optional
        Walk-forward MAE of the candidate's architecture over persistence's, on the same windows.
        When given, it must be below 1 too: a model whose walk-forward MAE is above the random
        walk's is never deployed.
    backtest_worst_series : (series_id, relative MAE), optional
        With several series: the series where the walk-forward MAE relative to persistence is
        highest. It must be below 1 as well: the model is served for every series, so it must
        beat the random walk on each one.

    Returns
    -------
    GateDecision
        ``promoted``, ``alias`` (``champion``/``challenger``), ``reason`` and the numbers.
    """
    evidence = GateEvidence(
        candidate="", val_mae=float(candidate_val_mae), val_rel_mae=float(candidate_val_rel_mae),
        baseline_name=baseline_name, baseline_val_mae=baseline_val_mae, backtest_rel_mae=backtest_rel_mae,
        worst_series=backtest_worst_series,
    )
    champion = champion_evidence(registered_model, evaluate_champion, data_sha256)
    decision = register_pending(model_uri, decide(evidence, champion), evidence,
                                registered_model=registered_model, run_id=run_id, data_sha256=data_sha256)
    commit_version(registered_model, decision.version, decision.alias)
    return decision


__all__ = [
    "register_and_gate", "champion_uri", "champion_evidence", "register_pending", "commit_version",
    "abandon_pending", "CHAMPION", "CHALLENGER", "TAG_STATE",
]
