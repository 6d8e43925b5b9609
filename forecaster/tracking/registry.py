"""Register the best candidate and move the ``champion`` alias only for a better model.

The gate: a new version becomes ``champion`` only if it beats persistence on validation
(``val_rel_mae < 1``), beats the best baseline when the caller names one, AND its validation MAE is
no worse than the current champion's on the same validation data. Otherwise it becomes
``challenger`` and the champion stays. The decision and its numbers are written to the version's
tags and description. Aliases only: stages are deprecated.

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

from forecaster.results import GateDecision

logger = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
TAG_DECISION = "forecaster.gate_decision"
TAG_VAL_MAE = "forecaster.val_mae"
TAG_VAL_REL_MAE = "forecaster.val_rel_mae"
TAG_CHAMPION_VAL_MAE = "forecaster.champion_val_mae"
TAG_DATA_SHA = "forecaster.data_sha256"
TAG_RUN_ID = "forecaster.run_id"
TAG_BASELINE_VAL_MAE = "forecaster.baseline_val_mae"


def champion_uri(name: str) -> str | None:
    """``models:/<name>@champion`` when registered model ``name`` has a champion, else None."""
    return f"models:/{name}@{CHAMPION}" if _champion(MlflowClient(), name) is not None else None


def _champion(client: MlflowClient, name: str) -> ModelVersion | None:
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise


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
    """Register ``model_uri`` as a new version and decide between ``champion`` and ``challenger``.

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
    client = MlflowClient()
    candidate_val_mae = float(candidate_val_mae)
    candidate_val_rel_mae = float(candidate_val_rel_mae)

    champion = _champion(client, registered_model)
    champion_val_mae: float | None = None
    source = ""
    if champion is not None:
        champion_val_mae, source = _champion_val_mae(champion, registered_model, evaluate_champion, data_sha256)

    version = mlflow.register_model(model_uri, registered_model).version

    if not math.isfinite(candidate_val_mae) or not math.isfinite(candidate_val_rel_mae):
        promoted, reason = False, (
            f"validation MAE {candidate_val_mae:.4g} / relative MAE {candidate_val_rel_mae:.4g} "
            "is not a finite number"
        )
    elif candidate_val_rel_mae >= 1:
        promoted, reason = False, (
            f"val_rel_mae={candidate_val_rel_mae:.4f} >= 1: does not beat persistence on validation"
        )
    elif baseline_val_mae is not None and math.isfinite(float(baseline_val_mae)) and not (
        candidate_val_mae < float(baseline_val_mae)
    ):
        promoted, reason = False, (
            f"val MAE {candidate_val_mae:.4g} does not beat the best baseline "
            f"{baseline_name or 'baseline'} ({float(baseline_val_mae):.4g}) on validation"
        )
    elif backtest_rel_mae is not None and not float(backtest_rel_mae) < 1:
        promoted, reason = False, (
            f"walk-forward MAE is {float(backtest_rel_mae):.4f}x persistence's (>= 1): "
            "does not beat the random walk out of sample"
        )
    elif backtest_worst_series is not None and not float(backtest_worst_series[1]) < 1:
        promoted, reason = False, (
            f"walk-forward MAE on series {backtest_worst_series[0]!r} is "
            f"{float(backtest_worst_series[1]):.4f}x persistence's (>= 1): does not beat the random walk "
            "on every series it would serve"
        )
    elif champion is None:
        promoted, reason = True, (
            f"no current champion; val_rel_mae={candidate_val_rel_mae:.4f} < 1 beats persistence"
        )
    elif champion_val_mae is None:
        promoted, reason = False, (
            f"beats persistence (val_rel_mae={candidate_val_rel_mae:.4f}) but {source} "
            f"(version {champion.version}), so the champion is kept"
        )
    elif candidate_val_mae <= champion_val_mae:
        promoted, reason = True, (
            f"beats persistence (val_rel_mae={candidate_val_rel_mae:.4f}) and val MAE "
            f"{candidate_val_mae:.4g} <= champion v{champion.version}'s {champion_val_mae:.4g} ({source})"
        )
    else:
        promoted, reason = False, (
            f"val MAE {candidate_val_mae:.4g} is worse than champion v{champion.version}'s "
            f"{champion_val_mae:.4g} ({source})"
        )

    alias = CHAMPION if promoted else CHALLENGER
    client.set_registered_model_alias(registered_model, alias, version)
    tags = {
        TAG_DECISION: "promoted" if promoted else "rejected",
        TAG_VAL_MAE: repr(candidate_val_mae),
        TAG_VAL_REL_MAE: repr(candidate_val_rel_mae),
        TAG_CHAMPION_VAL_MAE: "none" if champion_val_mae is None else repr(champion_val_mae),
        TAG_RUN_ID: run_id,
    }
    if data_sha256 is not None:
        tags[TAG_DATA_SHA] = data_sha256
    if baseline_val_mae is not None:
        tags[TAG_BASELINE_VAL_MAE] = repr(float(baseline_val_mae))
    if backtest_rel_mae is not None:
        tags["forecaster.backtest_rel_mae"] = repr(float(backtest_rel_mae))
    if backtest_worst_series is not None:
        tags["forecaster.backtest_worst_series"] = str(backtest_worst_series[0])
        tags["forecaster.backtest_worst_series_rel_mae"] = repr(float(backtest_worst_series[1]))
    for key, value in tags.items():
        client.set_model_version_tag(registered_model, version, key, value)
    verdict = "Promoted to champion" if promoted else "Kept as challenger (champion unchanged)"
    description = (
        f"{verdict}: validation MAE {candidate_val_mae:.4g}, {candidate_val_rel_mae:.3f}x persistence's; "
        f"{reason}."
    )
    client.update_model_version(registered_model, version, description=description)
    logger.info("%s v%s: %s", registered_model, version, description)
    return GateDecision(
        promoted=promoted,
        alias=alias,
        reason=reason,
        version=str(version),
        candidate_val_mae=candidate_val_mae,
        candidate_val_rel_mae=candidate_val_rel_mae,
        champion_val_mae=champion_val_mae,
        champion_version=None if champion is None else str(champion.version),
    )


__all__ = ["register_and_gate", "champion_uri", "CHAMPION", "CHALLENGER"]
