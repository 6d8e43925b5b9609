"""The one-sided Diebold-Mariano test of the significance gate (forecaster.evaluation.significance)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from forecaster.evaluation.significance import dm_test, walk_forward_significance


def test_dm_matches_a_hand_computation_with_hln_and_newey_west():
    # d = model - base = [-1, 0, -2, 1, -3]: n=5, dbar=-1, centred [0, 1, -1, 2, -2]
    # g0 = (0+1+1+4+4)/5 = 2; g1 = (0*1 + 1*-1 + -1*2 + 2*-2)/5 = -1.4
    # h=2: V = g0 + 2*(1 - 1/2)*g1 = 0.6; DM = -1/sqrt(0.6/5) = -2.8868
    # HLN = sqrt((5 + 1 - 4 + 2/5)/5) = sqrt(0.48); DM* = -2.8868 * 0.6928 = -2 exactly
    base = np.array([3.0, 2.0, 4.0, 1.0, 5.0])
    model = base + np.array([-1.0, 0.0, -2.0, 1.0, -3.0])
    result = dm_test(model, base, horizon=2)
    assert result.statistic == pytest.approx(-2.0, abs=1e-12)
    assert result.p_value == pytest.approx(0.0580587, abs=1e-6)  # t(4) lower tail at -2, from tables
    assert (result.n, result.mean_diff) == (5, -1.0)
    # one-sided: the reverse comparison is the other tail
    assert dm_test(base, model, horizon=2).p_value == pytest.approx(1 - 0.0580587, abs=1e-6)


def test_pooled_dm_never_lags_one_series_into_the_next():
    # series 1: d = [-1, 0, -2], series 2: d = [1, -3]; n=5, dbar=-1; centred [0, 1, -1] and [2, -2]
    # g0 = 2; g1 = ((0*1 + 1*-1) + (2*-2))/5 = -1 (the pair -2/2 across the series is not counted)
    # V = 2 + 2*0.5*(-1) = 1; DM = -1/sqrt(1/5) = -sqrt(5); DM* = -sqrt(5 * 0.48) = -sqrt(2.4)
    zeros = [np.zeros(3), np.zeros(2)]
    result = dm_test([np.array([-1.0, 0.0, -2.0]), np.array([1.0, -3.0])], zeros, horizon=2)
    assert result.statistic == pytest.approx(-math.sqrt(2.4), abs=1e-12)
    assert result.p_value == pytest.approx(stats.t.cdf(-math.sqrt(2.4), df=4), abs=1e-12)
    joined = dm_test(np.array([-1.0, 0.0, -2.0, 1.0, -3.0]), np.zeros(5), horizon=2)
    assert joined.statistic != pytest.approx(result.statistic)


def test_dm_edge_cases():
    same = dm_test([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert (same.statistic, same.p_value) == (0.0, 1.0)
    assert dm_test(np.ones(6), 2 * np.ones(6)).p_value == 0.0  # always better by a constant
    assert dm_test(2 * np.ones(6), np.ones(6)).p_value == 1.0
    with pytest.raises(ValueError, match="too few"):
        dm_test(np.ones(3), np.zeros(3), horizon=3)
    with pytest.raises(ValueError, match="one shape"):
        dm_test(np.ones(3), np.zeros(4))
    with pytest.raises(ValueError, match="finite"):
        dm_test([1.0, math.nan, 2.0], np.zeros(3))
    with pytest.raises(ValueError, match="horizon"):
        dm_test(np.ones(3), np.zeros(3), horizon=0)


def test_dm_size_is_about_alpha_under_the_null_with_overlapping_windows():
    rng = np.random.default_rng(1)
    h, rejections = 3, 0
    for _ in range(300):
        shocks = rng.normal(size=(203, 2))
        ma = sum(shocks[k:200 + k] for k in range(h))  # MA(h-1) errors, as h-step windows make
        rejections += dm_test(np.abs(ma[:, 0]), np.abs(ma[:, 1]), horizon=h).p_value < 0.05
    assert 0.01 <= rejections / 300 <= 0.10


def windows_frame(rng, series: dict[str, float], n: int = 120, folds: int = 2) -> pd.DataFrame:
    """Per-window errors of ``gru`` and persistence; ``series`` maps id -> the model's shrink factor
    (its loss is persistence's times it, plus zero-mean noise)."""
    rows = []
    for sid, shrink in series.items():
        base = np.abs(rng.normal(size=n)) + 0.5
        noise = rng.normal(scale=0.3, size=n)
        fold = np.repeat(np.arange(folds), n // folds)
        time = pd.date_range("2024-01-01", periods=n, freq="D")
        rows.append(pd.DataFrame({"fold": fold, "model": "persistence", "series_id": sid, "time": time,
                                  "abs_error": base}))
        rows.append(pd.DataFrame({"fold": fold, "model": "gru", "series_id": sid, "time": time,
                                  "abs_error": np.maximum(base * shrink + noise, 0.0)}))
    return pd.concat(rows, ignore_index=True).sample(frac=1.0, random_state=0)  # order must not matter


def test_walk_forward_significance_pooled_and_per_series():
    rng = np.random.default_rng(0)
    clear = walk_forward_significance(windows_frame(rng, {"A": 0.5, "B": 0.6}), "gru", horizon=2)
    assert clear.p_value < 1e-6 and set(clear.by_series) == {"A", "B"} and clear.passes(0.05)
    mixed = walk_forward_significance(windows_frame(rng, {"A": 0.5, "B": 0.995}), "gru", horizon=2)
    assert mixed.p_value < 0.05 and not mixed.passes(0.05)
    assert mixed.worst_series()[0] == "B" and mixed.worst_series()[1] >= 0.05
    one = walk_forward_significance(windows_frame(rng, {"A": 0.5}), "gru", horizon=2)
    assert one.by_series == {} and one.worst_series() is None and one.passes(0.05)
    empty = walk_forward_significance(pd.DataFrame(), "gru", horizon=2)
    assert math.isnan(empty.p_value) and not empty.passes(0.5)
