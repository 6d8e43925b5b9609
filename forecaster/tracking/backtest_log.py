"""Log a walk-forward backtest onto a comparison's parent run."""

from __future__ import annotations

import logging
import math
import tempfile
from pathlib import Path

import pandas as pd
from mlflow.tracking import MlflowClient

from forecaster.tracking.artifacts import table_markdown
from forecaster.tracking.labels import metric_safe

#: The parent-run metric holding the pooled walk-forward DM p-value (``evaluation.significance``).
METRIC_DM_PVALUE = "dm_pvalue"

logger = logging.getLogger(__name__)


def log_backtest(parent_run_id: str, tidy: pd.DataFrame, summary: pd.DataFrame, *, best: str | None = None,
                 significance=None) -> None:
    """Artifacts ``backtest/backtest.csv`` (tidy), ``backtest/summary.{csv,md}``; metrics
    ``backtest_rel_mae``, ``backtest_mae`` (and with several series ``backtest_worst_series_rel_mae``)
    of the best candidate; tag ``forecaster.backtest_folds``. With ``significance`` (a
    :class:`forecaster.evaluation.SignificanceResult`): metrics ``dm_pvalue`` (pooled) and
    ``dm_pvalue.<series>`` (the series id made metric-safe), tag ``forecaster.dm_model``."""
    client = MlflowClient()
    with tempfile.TemporaryDirectory(prefix="forecaster-backtest-") as tmp:
        folder = Path(tmp) / "backtest"
        folder.mkdir()
        tidy.to_csv(folder / "backtest.csv", index=False)
        summary.to_csv(folder / "summary.csv", index=False)
        beaten = summary[(summary["model"] != "persistence") & (summary["rel_mae"] < 1)]
        verdict = ("Models with a walk-forward MAE below persistence's: " + ", ".join(beaten["model"])
                   if len(beaten) else "No model beats persistence (the random walk) over the walk-forward folds.")
        (folder / "summary.md").write_text(table_markdown(summary, "Walk-forward backtest", verdict))
        client.log_artifacts(parent_run_id, str(folder), artifact_path="backtest")
    client.set_tag(parent_run_id, "forecaster.backtest_folds", str(int(tidy["fold"].nunique())))
    if best is not None:
        row = summary[summary["model"] == best]
        if len(row):
            for key in ("rel_mae", "mae", "worst_series_rel_mae"):
                if key not in row:
                    continue
                value = float(row[key].iloc[0])
                if math.isfinite(value):
                    client.log_metric(parent_run_id, f"backtest_{key}", value)
    if significance is not None:
        log_significance(parent_run_id, significance)


def log_significance(parent_run_id: str, significance) -> None:
    """Metrics ``dm_pvalue`` and ``dm_pvalue.<series>`` (finite values only) on the parent run."""
    client = MlflowClient()
    client.set_tag(parent_run_id, "forecaster.dm_model", significance.model)
    values = {METRIC_DM_PVALUE: significance.p_value,
              **{f"{METRIC_DM_PVALUE}.{metric_safe(sid)}": p for sid, p in significance.by_series.items()}}
    for key, value in values.items():
        if math.isfinite(value):
            client.log_metric(parent_run_id, key, float(value))
