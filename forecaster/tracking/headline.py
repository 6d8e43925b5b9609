"""What the parent run of a comparison shows on its first screen in the MLflow UI.

- headline metrics (contract names): ``best_val_mae``, ``best_test_mae``, ``best_test_rel_mae``
  and ``persistence_test_mae``, so the runs list shows them on the parent's row;
- the description (``mlflow.note.content``): who won, what was compared, the champion, then a
  compact ranking table;
- after the gate, :func:`mark_champion`: ``forecaster.champion_version`` on the parent, and on the
  child whose model became champion ``forecaster.champion=true``, a run name starting with
  ``champion:`` and a description saying so.

Nothing here decides anything: the comparison and the gate's decision are read, then written down.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from forecaster.comparison.results import ROLE_BASELINE, ROLE_ENSEMBLE, ComparisonResult
from forecaster.tracking.artifacts import persistence_verdict
from forecaster.tracking.labels import clipping_label
from forecaster.tracking.runnames import champion_run_name, short_run_name

logger = logging.getLogger(__name__)

# --- the contract ------------------------------------------------------------------------------
METRIC_BEST_VAL_MAE = "best_val_mae"
METRIC_BEST_TEST_MAE = "best_test_mae"
METRIC_BEST_TEST_REL_MAE = "best_test_rel_mae"
METRIC_PERSISTENCE_TEST_MAE = "persistence_test_mae"
HEADLINE_METRICS = (METRIC_BEST_VAL_MAE, METRIC_BEST_TEST_MAE, METRIC_BEST_TEST_REL_MAE,
                    METRIC_PERSISTENCE_TEST_MAE)
TAG_CHAMPION = "forecaster.champion"
TAG_CHAMPION_VERSION = "forecaster.champion_version"

_MAX_NOTE = 8000
NOTE_COLUMNS = ("rank", "name", "val_mae", "val_rel_mae", "test_mae", "test_rel_mae", "status")


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def headline_metrics(comparison: ComparisonResult) -> dict[str, float]:
    """The parent run's headline figures; a figure that does not exist is left out (never NaN)."""
    values: dict[str, float] = {}
    best = comparison.best_candidate
    if best is not None:
        values[METRIC_BEST_VAL_MAE] = _number(best.val_mae)
        values[METRIC_BEST_TEST_MAE] = _number(best.metrics.get("test_mae"))
        values[METRIC_BEST_TEST_REL_MAE] = _number(best.metrics.get("test_rel_mae"))
    persistence = comparison.baseline("persistence")
    if persistence is not None:
        values[METRIC_PERSISTENCE_TEST_MAE] = _number(persistence.metrics.get("test_mae"))
    return {k: v for k, v in values.items() if math.isfinite(v)}


def compared_sentence(comparison: ComparisonResult) -> str:
    """One line: which networks, clipping settings, ensembles and baselines were compared."""
    networks = [c for c in comparison.candidates if c.role != ROLE_ENSEMBLE]
    specs = list(dict.fromkeys(c.plan.architecture if c.plan is not None else c.name for c in networks))
    clippings = list(dict.fromkeys(clipping_label(c.params) for c in networks))
    ensembles = [c for c in comparison.candidates if c.role == ROLE_ENSEMBLE]
    failed = [c for c in comparison.candidates if c.failed]
    parts = [f"{len(networks)} network run(s) ({', '.join(specs) or 'none'} x clipping "
             f"{', '.join(clippings) or 'none'})"]
    if ensembles:
        parts.append(f"{len(ensembles)} blend(s)")
    parts.append(f"{len(comparison.baselines)} baseline(s) ({', '.join(b.name for b in comparison.baselines)})")
    sentence = "Compared " + ", ".join(parts) + " on the same windows, ranked by validation MAE"
    if failed:
        sentence += f"; {len(failed)} failed ({', '.join(c.name for c in failed)})"
    return sentence + "."


def winner_sentence(comparison: ComparisonResult) -> str:
    """One line naming the best candidate and its figures against persistence."""
    best = comparison.best_candidate
    if best is None:
        return "**No winner**: every candidate failed."
    persistence = comparison.baseline("persistence")
    text = f"**Winner: {best.name}**: {_mae_figures(best)}"
    persistence_test = _number(persistence.metrics.get("test_mae")) if persistence is not None else math.nan
    if math.isfinite(_number(best.metrics.get("test_mae"))) and math.isfinite(persistence_test):
        text += f" (persistence {persistence_test:.4g})"
    return text + "."


def _mae_figures(result: Any) -> str:
    """``val MAE v (r x persistence), test MAE t``; the parts that are not finite are left out."""
    text = f"val MAE {_number(result.val_mae):.4g}"
    rel = _number(result.metrics.get("val_rel_mae"))
    if math.isfinite(rel):
        text += f" ({rel:.3f}x persistence)"
    test = _number(result.metrics.get("test_mae"))
    if math.isfinite(test):
        text += f", test MAE {test:.4g}"
    return text


def parent_note(comparison: ComparisonResult, table: pd.DataFrame, champion_line: str | None = None) -> str:
    """The parent's description: winner, champion, what was compared, verdict, ranking table."""
    lines = [winner_sentence(comparison)]
    if champion_line:
        lines.append(champion_line)
    lines += [compared_sentence(comparison), "", persistence_verdict(comparison), ""]
    columns = [c for c in NOTE_COLUMNS if c in table.columns]
    lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for _, row in table[columns].iterrows():
        cells = []
        for column, value in zip(columns, row):
            if isinstance(value, float):
                cells.append("" if math.isnan(value) else f"{value:.4g}")
            elif value is None or value is pd.NA:
                cells.append("")
            else:
                cells.append(str(value).replace("|", "\\|"))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Full table with every metric: artifact `comparison.md`; charts: `test_mae.png`, "
              "`mae_by_step.png`, `clipping_study.png`."]
    return "\n".join(lines)[:_MAX_NOTE]


def child_note(result: Any, comparison: ComparisonResult) -> str:
    """A child run's description: its full name, rank, val/test MAE against persistence, training."""
    ranked = [r.name for r in comparison.all_results if not r.failed and math.isfinite(_number(r.val_mae))]
    if result.failed:
        return f"{result.name}: **failed** ({result.failure_reason or 'unknown reason'}); not ranked."
    text = f"{result.name}: "
    if result.name in ranked:
        text += f"rank {ranked.index(result.name) + 1} of {len(ranked)} by validation MAE; "
    text += _mae_figures(result)
    epochs, seconds = _number(result.metrics.get("epochs_run")), _number(result.metrics.get("train_seconds"))
    if result.role != ROLE_BASELINE and math.isfinite(epochs) and epochs > 0:
        text += f"; trained {epochs:.0f} epoch(s) in {seconds:.1f} s"
    return text + "."


def champion_line(decision: Any, registered_model: str) -> str:
    """A line for the parent's description: which version is champion after this run."""
    version = getattr(decision, "version", None)
    if getattr(decision, "promoted", False):
        return f"**Champion: {registered_model} v{version}**, promoted in this run."
    current = getattr(decision, "champion_version", None)
    kept = f"{registered_model} v{current} stays champion" if current else "no champion"
    reason = getattr(decision, "reason", "")
    why = f" Gate: {reason}." if reason else ""  # e.g. the walk-forward or significance rule that failed
    return f"Champion unchanged ({kept}); this run registered v{version} as {getattr(decision, 'alias', '?')}.{why}"


def mark_champion(
    parent_run_id: str,
    child_run_ids: Mapping[str, str] | None,
    comparison: ComparisonResult,
    decision: Any,
    registered_model: str,
    client: Any = None,
) -> None:
    """Write the gate's decision on the runs: the parent's champion version, the champion child.

    ``decision`` is the gate's decision (:class:`forecaster.comparison.gate.GateDecision`) for
    ``comparison.best_candidate``, called once it is committed; ``child_run_ids`` maps candidate
    names to run ids (looked up from the parent's children, by their ``forecaster.candidate`` tag,
    when None); ``client`` an :class:`mlflow.tracking.MlflowClient` (a new one on the current store
    when None). The parent's description is rewritten with the champion line.
    """
    from mlflow.tracking import MlflowClient
    from mlflow.utils.mlflow_tags import MLFLOW_RUN_NOTE

    from forecaster.tracking.artifacts import comparison_table, write_comparison_charts

    client = client or MlflowClient()
    if child_run_ids is None:
        child_run_ids = _child_run_ids(client, parent_run_id)
    best = comparison.best_candidate
    promoted = bool(getattr(decision, "promoted", False))
    version = getattr(decision, "version", None)
    champion_version = version if promoted else getattr(decision, "champion_version", None)
    if champion_version is not None:
        client.set_tag(parent_run_id, TAG_CHAMPION_VERSION, str(champion_version))
    if promoted and best is not None and best.name in child_run_ids:
        run_id = child_run_ids[best.name]
        client.set_tag(run_id, TAG_CHAMPION, "true")
        client.set_tag(run_id, MLFLOW_RUN_NOTE,
                       f"**Champion**: registered as {registered_model} v{version} and promoted to "
                       f"`@champion` by this comparison. Full name: {best.name}.")
        client.update_run(run_id, name=champion_run_name(short_run_name(best)))
        logger.debug("marked run %s (%s) as champion %s v%s", run_id, best.name, registered_model, version)
        # Redraw the comparison charts with the champion marked (they were drawn before the gate).
        with tempfile.TemporaryDirectory(prefix="forecaster-charts-") as scratch:
            write_comparison_charts(comparison, Path(scratch), champion=best.name)
            client.log_artifacts(parent_run_id, scratch)
    table = comparison_table(comparison, child_run_ids)
    client.set_tag(parent_run_id, MLFLOW_RUN_NOTE,
                   parent_note(comparison, table, champion_line(decision, registered_model)))


def _child_run_ids(client: Any, parent_run_id: str) -> dict[str, str]:
    parent = client.get_run(parent_run_id)
    children = client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.`mlflow.parentRunId` = '{parent_run_id}'", max_results=1000)
    return {run.data.tags.get("forecaster.candidate", run.info.run_name): run.info.run_id for run in children}


__all__ = [
    "HEADLINE_METRICS", "METRIC_BEST_TEST_MAE", "METRIC_BEST_TEST_REL_MAE", "METRIC_BEST_VAL_MAE",
    "METRIC_PERSISTENCE_TEST_MAE", "TAG_CHAMPION", "TAG_CHAMPION_VERSION", "champion_line", "child_note",
    "compared_sentence", "headline_metrics", "mark_champion", "parent_note", "winner_sentence",
]
