"""Is a win over persistence significant? The one-sided Diebold-Mariano test the champion gate reads.

The loss of a forecast window is its mean absolute error (the loss the product ranks models by,
MAE). With the model's and the baseline's losses on the same windows, the loss differential is
``d_t = L_model,t - L_base,t``; the model is better when ``E[d] < 0``. Windows ``h`` steps ahead
overlap, so ``d`` is autocorrelated up to lag ``h - 1``: its long-run variance is the Newey-West
(Bartlett) estimate with ``h - 1`` lags,

    ``V = g_0 + 2 * sum_{k=1}^{h-1} (1 - k/h) g_k``,   ``g_k = (1/n) sum_t (d_t - dbar)(d_{t-k} - dbar)``,

the statistic ``DM = dbar / sqrt(V / n)`` is scaled by the Harvey-Leybourne-Newbold (1997)
small-sample factor ``sqrt((n + 1 - 2h + h(h-1)/n) / n)`` and compared with Student t, ``n - 1``
degrees of freedom, one-sided: ``p = P(T <= DM*)``. A small p says the model's lower loss is no
accident. Pooled over several series, ``dbar`` is the mean of every differential and each
autocovariance sums products WITHIN a series only (series are not lagged into one another).

The two-sided test of the comparison table is :func:`forecaster.evaluation.comparison.diebold_mariano`.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> base = np.abs(rng.normal(size=300))
>>> clear = dm_test(0.5 * base, base, horizon=3)
>>> noise = dm_test(base + rng.normal(scale=0.5, size=300) - 0.005, base, horizon=3)
>>> bool(clear.p_value < 0.001), bool(noise.p_value > 0.05)
(True, True)
>>> dm_test([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]).p_value  # identical losses: no evidence
1.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from forecaster.data.columns import SERIES_ID


@dataclass(frozen=True)
class DMResult:
    """One-sided Diebold-Mariano test: ``statistic`` (HLN-corrected, negative = model better),
    ``p_value`` (of "the model is not better"), ``n`` differentials, ``mean_diff`` (``dbar``)."""

    statistic: float
    p_value: float
    n: int
    mean_diff: float


def dm_test(model_loss, base_loss, horizon: int = 1) -> DMResult:
    """One-sided DM test (module docstring) of ``model_loss`` against ``base_loss`` (one series,
    in time order). Pass lists of arrays (one per series) to pool several series.

    Raises
    ------
    ValueError
        Shapes differ, a value is not finite, ``horizon < 1``, or there are too few points for
        the HLN factor (``n + 1 - 2h + h(h-1)/n <= 0``) or fewer than 2.
    """
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"`horizon` must be an integer >= 1. Received: horizon={horizon!r}")
    pooled = isinstance(model_loss, (list, tuple)) and len(model_loss) > 0 and np.ndim(model_loss[0]) == 1
    groups_a = list(model_loss) if pooled else [model_loss]
    groups_b = list(base_loss) if pooled else [base_loss]
    if len(groups_a) != len(groups_b):
        raise ValueError(f"model and base losses must hold as many series: {len(groups_a)} != {len(groups_b)}")
    diffs = []
    for a, b in zip(groups_a, groups_b):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if a.shape != b.shape or a.ndim != 1:
            raise ValueError(f"model and base losses must be 1-D and of one shape: {a.shape} != {b.shape}")
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            raise ValueError("model and base losses must be finite numbers")
        diffs.append(a - b)
    n = sum(len(d) for d in diffs)
    h = int(horizon)
    hln = (n + 1 - 2 * h + h * (h - 1) / n) / n if n else 0.0
    if n < 2 or hln <= 0:
        raise ValueError(f"too few loss differentials for a {h}-step DM test: n={n}")
    mean = float(np.concatenate(diffs).mean())
    centred = [d - mean for d in diffs]
    gammas = np.array([sum(float(c[k:] @ c[: len(c) - k]) for c in centred if len(c) > k) / n for k in range(h)])
    weights = 1.0 - np.arange(1, h) / h
    long_run = float(gammas[0] + 2.0 * (weights * gammas[1:]).sum())
    scale = float(np.abs(np.concatenate(diffs)).max())
    if long_run <= (1e-12 * scale) ** 2:  # a constant differential: the sign decides
        p = 0.0 if mean < 0 else 1.0
        return DMResult(-math.inf if mean < 0 else (math.inf if mean > 0 else 0.0), p, n, mean)
    statistic = mean / math.sqrt(long_run / n) * math.sqrt(hln)
    return DMResult(float(statistic), float(stats.t.cdf(statistic, df=n - 1)), n, mean)


@dataclass(frozen=True)
class SignificanceResult:
    """The champion's walk-forward DM test against a baseline: pooled and per series (p-values)."""

    model: str
    baseline: str
    pooled: DMResult | None
    by_series: dict[str, float] = field(default_factory=dict)

    @property
    def p_value(self) -> float:
        """The pooled p-value (NaN when it could not be computed)."""
        return self.pooled.p_value if self.pooled is not None else math.nan

    def worst_series(self) -> tuple[str, float] | None:
        """``(series_id, p)`` of the series with the largest p-value (NaN counts as largest)."""
        if not self.by_series:
            return None
        return max(self.by_series.items(), key=lambda kv: math.inf if math.isnan(kv[1]) else kv[1])

    def passes(self, alpha: float) -> bool:
        """Pooled and every series' p-value below ``alpha``."""
        values = [self.p_value, *self.by_series.values()]
        return all(not math.isnan(p) and p < alpha for p in values)


def walk_forward_significance(windows: pd.DataFrame, model: str, horizon: int,
                              baseline: str = "persistence") -> SignificanceResult:
    """DM test of ``model`` against ``baseline`` on walk-forward per-window errors.

    Parameters
    ----------
    windows : pd.DataFrame
        Columns ``fold, model, series_id, time, abs_error`` (what the backtest's folds return):
        the two models' windows are matched on ``fold, series_id, time``, each series' in time order.
    horizon : int
        The forecast horizon (autocovariance lags ``horizon - 1``).

    Returns
    -------
    SignificanceResult
        Pooled over all series and per series; a series (or the pool) with too few matched windows
        has p NaN, which never passes.
    """
    keys = ["fold", SERIES_ID, "time"]
    if windows.empty or not {"model", "abs_error", *keys} <= set(windows.columns):
        return SignificanceResult(model=model, baseline=baseline, pooled=None)
    mine = windows[windows["model"] == model][keys + ["abs_error"]]
    base = windows[windows["model"] == baseline][keys + ["abs_error"]]
    both = mine.merge(base, on=keys, suffixes=("_model", "_base")).sort_values([SERIES_ID, "time"], kind="stable")
    groups = [(str(sid), g) for sid, g in both.groupby(SERIES_ID, sort=True)]

    def test(parts) -> DMResult | None:
        try:
            return dm_test([g["abs_error_model"].to_numpy() for _, g in parts],
                           [g["abs_error_base"].to_numpy() for _, g in parts], horizon=horizon)
        except ValueError:
            return None

    pooled = test(groups) if groups else None
    by_series = {}
    if len(groups) > 1:
        for sid, g in groups:
            result = test([(sid, g)])
            by_series[sid] = result.p_value if result is not None else math.nan
    return SignificanceResult(model=model, baseline=baseline, pooled=pooled, by_series=by_series)


__all__ = ["DMResult", "SignificanceResult", "dm_test", "walk_forward_significance"]
