"""Live accuracy of served forecasts and the drift verdict: pure functions, no store, no MLflow.

* :func:`score_rows`: join ledger rows (:mod:`forecaster.lifecycle.ledger`) with the actual values now in
  the data; each scored row gets its absolute error, the same-origin persistence forecast's
  absolute error (``|actual - last_value|``, the last value observed at the origin) and whether
  the interval covered the actual.
* :func:`live_scores`: MAE per step and overall, persistence MAE, live relative MAE (their
  ratio) and interval coverage over the last ``window`` scored values (time order).
* :func:`decide_drift`: the degradation rules of ``monitoring.*`` -> :class:`DriftDecision`.
* :func:`latest_served`: what served the most recent forecast (:class:`Served`: the champion's
  version, or the fallback baseline): the drift rules judge whatever served it.

Example
-------
>>> import pandas as pd
>>> rows = pd.DataFrame({"series_id": ["s", "s"], "target": ["y", "y"], "step": [1, 2],
...     "origin": pd.to_datetime(["2024-01-01"] * 2), "target_timestamp": pd.to_datetime(["2024-01-02", "2024-01-03"]),
...     "forecast": [10.0, 11.0], "lower": [9.0, 9.0], "upper": [11.0, 13.0], "last_value": [9.5, 9.5]})
>>> data = pd.DataFrame({"series_id": ["s", "s"], "timestamp": pd.to_datetime(["2024-01-02", "2024-01-03"]),
...                      "y": [10.5, 14.0]})
>>> s = live_scores(score_rows(rows, data))
>>> s.n, s.mae, s.persistence_mae, s.coverage
(2, 1.75, 2.75, 0.5)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecaster.exitcodes import (
    EXIT_DEGRADED,  # `forecaster monitor`: the champion is degraded
)


def score_rows(rows: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """The ledger rows whose actual value is in ``frame``, with their errors.

    Parameters
    ----------
    rows : DataFrame
        Ledger rows (``series_id, target, origin, target_timestamp, step, forecast, lower, upper,
        last_value`` and any other columns, kept).
    frame : DataFrame
        A canonical frame (``series_id, timestamp`` and the target columns).

    Returns
    -------
    DataFrame: the scored rows (actual known and finite) plus ``actual``, ``abs_error``,
    ``persistence_abs_error`` and ``covered`` (bool), in time order of the target timestamp.
    """
    extra = ["actual", "abs_error", "persistence_abs_error", "covered"]
    if rows.empty:
        return rows.assign(**{c: pd.Series(dtype=float) for c in extra})
    targets = sorted(set(rows["target"]) & set(frame.columns))
    actual = frame.melt(id_vars=["series_id", "timestamp"], value_vars=targets, var_name="target",
                        value_name="actual")
    actual = actual.assign(series_id=actual["series_id"].astype(str)).rename(columns={"timestamp": "target_timestamp"})
    scored = rows.assign(series_id=rows["series_id"].astype(str)).merge(
        actual, on=["series_id", "target", "target_timestamp"], how="inner")
    scored = scored[np.isfinite(scored["actual"].to_numpy(dtype=float))].copy()
    scored["abs_error"] = (scored["forecast"] - scored["actual"]).abs()
    scored["persistence_abs_error"] = (scored["last_value"].astype(float) - scored["actual"]).abs()
    scored["covered"] = (scored["lower"] <= scored["actual"]) & (scored["actual"] <= scored["upper"])
    return scored.sort_values(["target_timestamp", "origin", "series_id", "target", "step"],
                              kind="stable").reset_index(drop=True)


@dataclass
class LiveScores:
    """Live accuracy over a set of scored forecast values (original units).

    ``rel_mae`` = ``mae / persistence_mae`` (below 1: beats the random walk in production).
    """

    n: int
    mae: float = math.nan
    persistence_mae: float = math.nan
    rel_mae: float = math.nan
    coverage: float = math.nan
    mae_by_step: dict[int, float] = field(default_factory=dict)
    n_by_step: dict[int, int] = field(default_factory=dict)
    first_target: pd.Timestamp | None = None
    last_target: pd.Timestamp | None = None

    def table(self) -> pd.DataFrame:
        """Per step and overall (``step`` ``all``): n, MAE."""
        rows = [{"step": str(k), "n": self.n_by_step[k], "mae": v} for k, v in sorted(self.mae_by_step.items())]
        rows.append({"step": "all", "n": self.n, "mae": self.mae})
        return pd.DataFrame(rows)


def live_scores(scored: pd.DataFrame, window: int | None = None) -> LiveScores:
    """Scores of the last ``window`` scored values (all when None), from :func:`score_rows`."""
    if window is not None:
        scored = scored.tail(int(window))
    if scored.empty:
        return LiveScores(n=0)
    mae = float(scored["abs_error"].mean())
    pers = float(scored["persistence_abs_error"].mean())
    by_step = scored.groupby("step", sort=True)["abs_error"]
    return LiveScores(
        n=int(len(scored)), mae=mae, persistence_mae=pers,
        rel_mae=mae / pers if pers > 0 else math.nan,
        coverage=float(scored["covered"].mean()),
        mae_by_step={int(k): float(v) for k, v in by_step.mean().items()},
        n_by_step={int(k): int(v) for k, v in by_step.size().items()},
        first_target=pd.Timestamp(scored["target_timestamp"].min()),
        last_target=pd.Timestamp(scored["target_timestamp"].max()),
    )


@dataclass(frozen=True)
class DriftDecision:
    """The verdict on a model's last ``window`` scored values; ``reasons`` name each rule broken."""

    degraded: bool
    judged: bool
    reasons: tuple[str, ...]
    scores: LiveScores

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)

    @property
    def exit_code(self) -> int:
        return EXIT_DEGRADED if self.degraded else 0


def decide_drift(scores: LiveScores, *, window: int, interval_level: float, coverage_tolerance: float,
                 mae_tolerance: float, test_mae: float | None) -> DriftDecision:
    """Degraded when, over the last ``window`` scored values (``scores``), any rule holds.

    1. live coverage < ``interval_level - coverage_tolerance``;
    2. live relative MAE > 1 (it loses to the same-origin random walk);
    3. live MAE > ``mae_tolerance`` x ``test_mae`` (skipped when the test MAE is unknown).

    With fewer than ``window`` scored values there is no verdict yet (``judged`` False; the reason
    says ``no verdict yet: N of WINDOW scored values``).
    """
    if scores.n < window:
        return DriftDecision(False, False, (no_verdict_yet(scores.n, window),), scores)
    reasons = []
    floor = interval_level - coverage_tolerance
    if scores.coverage < floor:
        reasons.append(f"live coverage {scores.coverage:.3f} < {floor:.3f} (evaluation.interval_level "
                       f"{interval_level:g} - monitoring.coverage_tolerance {coverage_tolerance:g})")
    if scores.rel_mae > 1:
        reasons.append(f"live relative MAE {scores.rel_mae:.3f} > 1: loses to the same-origin persistence "
                       f"forecast (live MAE {scores.mae:.4g} vs {scores.persistence_mae:.4g})")
    if test_mae is not None and math.isfinite(test_mae) and scores.mae > mae_tolerance * test_mae:
        reasons.append(f"live MAE {scores.mae:.4g} > {mae_tolerance:g} x test MAE {test_mae:.4g} "
                       "(monitoring.mae_tolerance)")
    return DriftDecision(bool(reasons), True, tuple(reasons), scores)


def no_verdict_yet(n: int, window: int) -> str:
    """The words for a model with fewer scored values than ``monitoring.window``."""
    return f"no verdict yet: {n} of {window} scored values"


@dataclass(frozen=True)
class Served:
    """What served a run's forecast, from its ledger rows: ``served_by`` (``<model> v<N>`` or
    ``baseline <kind>``), the registered ``model_version`` (None for a baseline) and the run."""

    served_by: str
    model_version: str | None
    run_id: str

    @property
    def is_baseline(self) -> bool:
        return self.model_version is None

    @property
    def baseline(self) -> str:
        """The baseline's kind (``persistence``), empty for a registered version."""
        return self.served_by.removeprefix("baseline ") if self.is_baseline else ""


def latest_served(rows: pd.DataFrame) -> Served | None:
    """What served the most recently recorded committed forecast among ledger ``rows`` (None: no row)."""
    if rows.empty:
        return None
    last = rows.sort_values(["recorded_at", "origin", "run_id"], kind="stable").iloc[-1]
    version = last["model_version"]
    missing = version is None or (isinstance(version, float) and math.isnan(version)) or str(version) == ""
    return Served(str(last["served_by"]), None if missing else str(version), str(last["run_id"]))


def served_rows(scored: pd.DataFrame, served: Served) -> pd.DataFrame:
    """The scored rows ``served`` wrote: a version's rows, or the rows of that baseline as fallback."""
    if not served.is_baseline:
        return scored[scored["model_version"].astype(str) == served.model_version]
    baseline = scored["model_version"].isna() | (scored["model_version"].astype(str) == "")
    return scored[baseline & (scored["served_by"] == served.served_by)]
