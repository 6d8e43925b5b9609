"""The tables and figures a comparison logs: built into a directory, logged by :mod:`.runs`.

Nothing here talks to MLflow; it turns a :class:`~forecaster.comparison.results.ComparisonResult` into files.

Example
-------
>>> table = comparison_table(comparison)            # doctest: +SKIP
>>> table[["rank", "name", "val_mae", "test_rel_mae"]].head()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecaster import plots
from forecaster.comparison.results import (
    ROLE_BASELINE,
    ROLE_CANDIDATE,
    CandidateResult,
    ComparisonResult,
)
from forecaster.tracking.labels import architecture_label, clipping_label
from forecaster.tracking.memory_study import write_gradient_by_lag, write_memory_study

logger = logging.getLogger(__name__)

#: Keys of ``ComparisonResult.significance[name]`` read as the Diebold-Mariano p-value vs persistence.
P_VALUE_KEYS = ("dm_p_value", "p_value", "pvalue")

TABLE_METRICS = (
    "val_mae", "val_rmse", "val_rel_mae", "test_mae", "test_rmse", "test_smape", "test_mase",
    "test_rel_mae", "interval_coverage",
)
ARCHITECTURE_KEYS = ("cell", "layers", "units", "bidirectional", "dropout", "recurrent_dropout", "head")
MAX_STEP_CURVES = 8


def dm_p_value(comparison: ComparisonResult, name: str) -> float:
    """The Diebold-Mariano p-value of ``name`` against persistence, NaN when not computed."""
    entry = comparison.significance.get(name) or {}
    for key in P_VALUE_KEYS:
        if key in entry:
            return float(entry[key])
    return math.nan


def comparison_table(comparison: ComparisonResult, run_ids: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Every candidate and baseline, ranked by validation MAE (failed runs last, unranked).

    Parameters
    ----------
    comparison : ComparisonResult
    run_ids : mapping of name -> MLflow run id, optional
        Adds a ``run_id`` column.

    Returns
    -------
    pandas.DataFrame
        One row per result: ``rank`` (nullable int), ``name``, ``role``, ``cell``, ``clipping``,
        the validation/test metrics (``val_mae`` ... ``interval_coverage``), ``dm_p_value``
        (vs persistence, NaN when absent), ``epochs_run``, ``train_seconds``, ``n_params``,
        ``status`` (``ok`` or ``failed: <reason>``) and ``run_id`` when given.
    """
    rows: list[dict[str, Any]] = []
    rank = 0
    for result in comparison.all_results:
        ok = not result.failed and not math.isnan(result.val_mae)
        if ok:
            rank += 1
        row: dict[str, Any] = {
            "rank": rank if ok else pd.NA,
            "name": result.name,
            "role": result.role,
            "cell": result.params.get("cell", result.name if result.role == ROLE_BASELINE else ""),
            "clipping": clipping_label(result.params) if result.role != ROLE_BASELINE else "none",
        }
        for key in TABLE_METRICS:
            row[key] = _number(result.metrics.get(key))
        row["dm_p_value"] = dm_p_value(comparison, result.name)
        row["epochs_run"] = _number(result.metrics.get("epochs_run"))
        row["train_seconds"] = _number(result.metrics.get("train_seconds"))
        row["n_params"] = _number(result.params.get("n_params"))
        row["status"] = "ok" if not result.failed else f"failed: {result.failure_reason or 'unknown'}"
        if run_ids is not None:
            row["run_id"] = run_ids.get(result.name, "")
        rows.append(row)
    table = pd.DataFrame(rows)
    if not table.empty:
        table["rank"] = table["rank"].astype("Int64")
    return table


def persistence_verdict(comparison: ComparisonResult) -> str:
    """One plain sentence: does any candidate beat persistence on validation MAE?"""
    persistence = comparison.baseline("persistence")
    best = comparison.best_candidate
    if best is None:
        return "No candidate finished training, so no candidate beats persistence."
    rel = _number(best.metrics.get("val_rel_mae"))
    if math.isnan(rel) and persistence is not None and persistence.val_mae > 0:
        rel = best.val_mae / persistence.val_mae
    if math.isnan(rel):
        return f"Best candidate: {best.name} (val MAE {best.val_mae:.4g}); no persistence baseline to compare with."
    if rel < 1:
        return (f"Best candidate {best.name} beats persistence on validation: "
                f"val MAE {best.val_mae:.4g}, relative MAE {rel:.3f} (below 1 is better).")
    return (f"No candidate beats persistence on validation: the best candidate, {best.name}, has "
            f"relative MAE {rel:.3f} (val MAE {best.val_mae:.4g}); persistence is the better forecast.")


def table_markdown(table: pd.DataFrame, title: str, verdict: str) -> str:
    """Render the comparison table as GitHub Markdown with a title and the verdict sentence."""
    lines = [f"# {title}", "", verdict, "", "Ranked by validation MAE; relative MAE is MAE / persistence MAE "
             "on the same windows (below 1 beats persistence); `dm_p_value` is the Diebold-Mariano "
             "p-value against persistence on the test windows.", ""]
    columns = [str(c) for c in table.columns]
    lines.append("| " + " | ".join(columns) + " |")
    aligns = ("---:" if pd.api.types.is_numeric_dtype(table[c]) else "---" for c in table.columns)
    lines.append("|" + "|".join(aligns) + "|")
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(_cell(row[c]) for c in table.columns) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def clipping_study(comparison: ComparisonResult) -> tuple[str, dict[str, dict[str, list[float]]]] | None:
    """The histories of one architecture under each of its clipping settings.

    Picks the architecture with the most distinct clipping settings (the first one on ties) among
    non-ensemble candidates that have a ``grad_norm_mean`` history; failed runs are kept (their
    exploding norms are the point of the study).

    Returns
    -------
    (architecture label, {clipping label: history}) or None when no candidate has gradient norms.
    """
    groups: dict[tuple, dict[str, dict[str, list[float]]]] = {}
    labels: dict[tuple, str] = {}
    for result in comparison.candidates:
        if result.role != ROLE_CANDIDATE or not result.history.get("grad_norm_mean"):
            continue
        key = tuple(repr(result.params.get(k)) for k in ARCHITECTURE_KEYS)
        labels.setdefault(key, architecture_label(result.params))
        groups.setdefault(key, {}).setdefault(clipping_label(result.params), result.history)
    if not groups:
        return None
    best_key = max(groups, key=lambda k: len(groups[k]))  # max keeps the first on ties
    return labels[best_key], groups[best_key]


def write_parent_artifacts(
    comparison: ComparisonResult, directory: Path, run_ids: Mapping[str, str] | None = None,
    *, champion: str | None = None, loss: str | None = None,
) -> list[Path]:
    """Write ``comparison.csv``, ``comparison.md`` and the parent's PNG charts into ``directory``.

    The charts mark ``champion`` (after the gate promoted it), else the best candidate as
    "best on validation"; ``loss`` (``training.loss``) labels the clipping study's loss panel.

    Returns
    -------
    list of pathlib.Path
        The files written: the two tables, ``test_mae.png`` (when any test MAE is finite),
        ``mae_by_step.png`` (when any run has per-step MAE), ``clipping_study.png`` (when any
        candidate has gradient norms) and ``memory_study.png`` (when any has a lag profile).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    table = comparison_table(comparison, run_ids)
    csv_path = directory / "comparison.csv"
    table.to_csv(csv_path, index=False)
    md_path = directory / "comparison.md"
    md_path.write_text(
        table_markdown(table, f"Comparison: {comparison.pipeline}", persistence_verdict(comparison)),
        encoding="utf-8",
    )
    written += [csv_path, md_path]

    written += write_comparison_charts(comparison, directory, champion=champion)
    study = clipping_study(comparison)
    if study is not None:
        label, histories = study
        written.append(plots.plot_clipping_study(
            histories, f"{comparison.pipeline}: did gradient clipping help {label}?",
            directory / "clipping_study.png", loss=loss,
        ))
    return written


def write_comparison_charts(comparison: ComparisonResult, directory: Path, *, champion: str | None = None
                            ) -> list[Path]:
    """``test_mae.png`` and ``mae_by_step.png``: every model in its own colour, the champion (or
    the best candidate, "best on validation") marked, models left out named in a note."""
    directory = Path(directory)
    written: list[Path] = []
    best = comparison.best_candidate
    mark, mark_label = (champion, "champion") if champion else (best.name if best else None, "best on validation")
    baseline_names = [b.name for b in comparison.baselines]
    failed = [r.name for r in comparison.all_results if r.failed]
    finished = [r for r in comparison.all_results if not r.failed]
    names = [r.name for r in finished] + failed
    values = [_number(r.metrics.get("test_mae")) for r in finished] + [math.nan] * len(failed)
    if any(math.isfinite(v) for v in values):
        written.append(plots.plot_metric_bars(
            names, values, f"{comparison.pipeline}: test MAE of every model (dotted line: persistence)",
            directory / "test_mae.png", baseline_names=baseline_names, champion=mark, champion_label=mark_label,
        ))

    curves: dict[str, np.ndarray] = {}
    candidates = [r for r in finished if r.role != ROLE_BASELINE]
    shown = candidates[:MAX_STEP_CURVES]
    if mark is not None and all(r.name != mark for r in shown):
        shown = [*shown[:MAX_STEP_CURVES - 1], *[r for r in candidates if r.name == mark]]
    left_out = [r.name for r in candidates if r not in shown]
    for result in [*shown, *[r for r in finished if r.role == ROLE_BASELINE]]:
        steps = np.asarray(result.test_mae_by_step, dtype=np.float64).ravel()
        if steps.size and np.isfinite(steps).any():
            curves[result.name] = steps
        else:
            left_out.append(result.name)
    left_out += [f"{name} (failed)" for name in failed]
    if curves:
        written.append(plots.plot_mae_by_step(
            curves, f"{comparison.pipeline}: test MAE by horizon step", directory / "mae_by_step.png",
            baseline_names=baseline_names, champion=mark, champion_label=mark_label, left_out=left_out,
        ))
    written += write_memory_study(comparison, directory)
    return written


def write_candidate_artifacts(
    result: CandidateResult, directory: Path, *, level: float | None = None, target_name: str | None = None,
    loss: str | None = None, units: str | None = None,
) -> list[Path]:
    """Write a run's PNGs into ``directory``: forecast vs actual, learning curves, gradient norms, by lag.

    Each figure is written only when its data is there (baselines have no training history; a
    run that failed before predicting has no ``plot_data``).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    data = result.plot_data or {}
    if all(k in data for k in ("timestamps", "actual", "forecast")) and len(data["timestamps"]):
        written.append(plots.plot_forecast_vs_actual(
            data["timestamps"], data["actual"], data["forecast"], data.get("lower"), data.get("upper"),
            f"{result.name}: forecast vs actual (test slice)", directory / "forecast_vs_actual.png",
            level=level, units=units or "",
            target_names=[target_name] if target_name and np.ndim(data["actual"]) == 1 else None,
        ))
    if result.history.get("train_loss"):
        written.append(plots.plot_learning_curves(
            result.history, f"{result.name}: loss per epoch", directory / "learning_curves.png", loss=loss
        ))
    if result.history.get("grad_norm_mean"):
        written.append(plots.plot_gradient_norms(
            result.history, f"{result.name}: gradient norms", directory / "gradient_norms.png"
        ))
    written += write_gradient_by_lag(result, directory)
    return written


__all__ = [
    "comparison_table", "persistence_verdict", "table_markdown",
    "clipping_study", "write_comparison_charts", "write_parent_artifacts", "write_candidate_artifacts", "dm_p_value",
]
