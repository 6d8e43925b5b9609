"""A run's forecast outputs: which model writes them, and staging the CSV and plot for the commit.

After the gate, the forecast comes from the newly promoted candidate, else the current champion,
else (``output.fallback_to_baseline``) the best baseline (persistence with ``evaluation.significance``). :func:`stage_forecast` writes the CSV and
the PNG to hidden staged files beside their targets; :mod:`forecaster.scheduling.commit` renames them into
place together at the run's commit point, so they always come from the same run.
"""

from __future__ import annotations

import hashlib
import logging
import math
from pathlib import Path
from typing import Any

import pandas as pd

from forecaster.atomic import _fsync_file
from forecaster.comparison.results import ComparisonResult
from forecaster.scheduling.commit import StagedFile, discard_staged, staged_path

logger = logging.getLogger(__name__)


def fallback_baseline(comparison: ComparisonResult, backtest_summary: pd.DataFrame | None,
                      persistence_only: bool = False):
    """The baseline served when no candidate passes the gate.

    The best baseline on validation; when a walk-forward backtest ran, only among the baselines
    that beat persistence over the folds (on every series) -- persistence itself always qualifies,
    so a baseline that only looked better on validation never replaces the random walk.
    ``persistence_only`` (``evaluation.significance`` is set): persistence, since no other
    baseline's win was tested for significance.
    """
    if persistence_only:
        found = comparison.baseline("persistence")
        if found is not None and not found.failed:
            return found
    if backtest_summary is None:
        return comparison.best_baseline
    rows = backtest_summary.set_index("model")
    worst = rows["worst_series_rel_mae"] if "worst_series_rel_mae" in rows else pd.Series(dtype=float)

    def walk_forward_ok(name: str) -> bool:
        if name == "persistence":
            return True
        if name not in rows.index or not rows.loc[name, "rel_mae"] < 1:
            return False
        return not (name in worst.index and worst.loc[name] >= 1)

    ok = [b for b in comparison.baselines if not math.isnan(b.val_mae) and walk_forward_ok(b.name)]
    return min(ok, key=lambda b: b.val_mae) if ok else comparison.best_baseline


def forecaster_for_output(cfg, outcome: Any, comparison: ComparisonResult,
                          backtest_summary: pd.DataFrame | None = None):
    """The model whose forecast is written and its label: the champion, or a baseline after a failed
    gate. Sets ``outcome.served_by``. Returns ``(None, None)`` when nothing may be served."""
    from forecaster.estimator import load_forecaster

    if outcome.status == "success":
        if outcome.gate is not None and outcome.gate.promoted:
            outcome.served_by = comparison.best_candidate.name
            return load_forecaster(comparison.best_candidate.model_dir), comparison.best_candidate.name
        from forecaster.tracking import champion_uri, load_forecaster_from_uri

        uri = champion_uri(cfg.registered_model_name)
        if uri is not None:
            outcome.served_by = uri
            return load_forecaster_from_uri(uri), f"{cfg.registered_model_name}@champion"
    base = fallback_baseline(comparison, backtest_summary,
                             persistence_only=cfg.evaluation.significance is not None)
    if cfg.output.fallback_to_baseline and base is not None:
        logger.warning("writing the forecast of the baseline %s: no candidate passed the gate", base.name)
        outcome.served_by = base.name
        return load_forecaster(base.model_dir), f"baseline {base.name}"
    return None, None


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stage_forecast(cfg, outcome: Any, comparison: ComparisonResult, frame: pd.DataFrame,
                   backtest_summary: pd.DataFrame | None = None) -> list[StagedFile]:
    """Write the run's forecast CSV and plot to staged files; returns them (nothing renamed yet).

    Sets ``outcome.forecast_path`` / ``outcome.plot_path`` to the targets. On any error the
    staged files are removed and the targets are untouched.
    """
    if not cfg.output.forecast_path and not cfg.output.plot_path:
        return []
    model, label = forecaster_for_output(cfg, outcome, comparison, backtest_summary)
    if model is None:
        logger.warning("no forecast written: no champion and no baseline fallback")
        return []
    forecast = model.predict(frame)
    outcome.forecast = forecast  # for the forecast ledger
    files: list[StagedFile] = []
    try:
        if cfg.output.forecast_path:
            target = Path(cfg.output.forecast_path)
            tmp = staged_path(target)
            files.append(StagedFile(str(tmp.resolve()), str(target.resolve())))
            forecast.to_csv(tmp, index=False)
            _fsync_file(tmp)
            outcome.forecast_path = str(target)
            logger.info("forecast from %s staged for %s (%d rows)", label, target, len(forecast))
        if cfg.output.plot_path:
            from forecaster.plots import forecast_title, plot_forecast_frame

            target = Path(cfg.output.plot_path)
            tmp = staged_path(target, suffix=".png")
            files.append(StagedFile(str(tmp.resolve()), str(target.resolve())))
            plot_forecast_frame(frame, forecast, list(cfg.data.target), tmp,
                                title=forecast_title(cfg.name, label, list(cfg.data.target)),
                                level=cfg.evaluation.interval_level, units=cfg.data.units)
            outcome.plot_path = str(target)
            logger.info("forecast plot staged for %s", target)
    except BaseException:
        discard_staged(files)
        raise
    return files
