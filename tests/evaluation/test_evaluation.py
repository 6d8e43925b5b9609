"""Tests of forecaster.evaluation: metrics, conformal intervals, DM test, backtest helpers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from forecaster.errors import DataValidationError
from forecaster.evaluation import (
    ALL_STEPS,
    Fold,
    conformal_quantiles,
    coverage,
    coverage_by_step,
    diebold_mariano,
    expanding_folds,
    fold_split_labels,
    interval,
    interval_scales,
    naive_scale,
    point_metrics,
    relative_mae,
    sample_scale,
    tidy_metrics,
    window_spread,
)
from forecaster.evaluation.rolling import rolling_quantiles

# --- point metrics ----------------------------------------------------------------------------


def _tiny():
    # (n_samples=2, horizon=2, n_targets=1); errors ŷ - y: [1, 0], [-2, 2]
    y_true = np.array([[[1.0], [2.0]], [[3.0], [4.0]]])
    y_pred = np.array([[[2.0], [2.0]], [[1.0], [6.0]]])
    return y_true, y_pred


def test_point_metrics_match_hand_computation():
    y_true, y_pred = _tiny()
    m = point_metrics(y_true, y_pred)
    assert m["mae"] == pytest.approx(5 / 4)
    assert m["rmse"] == pytest.approx(1.5)
    # 200*1/3, 200*0/4, 200*2/4, 200*2/10
    assert m["smape"] == pytest.approx((200 / 3 + 0 + 100 + 40) / 4)
    assert math.isnan(m["mase"])
    np.testing.assert_allclose(m["mae_by_step"], [1.5, 1.0])
    np.testing.assert_allclose(m["rmse_by_step"], [math.sqrt(2.5), math.sqrt(2.0)])
    assert m["mae_by_step"].shape == (2,)


def test_mase_by_hand_with_per_series_scale():
    # training parts: a = [1, 3, 2] -> mean(|2|, |-1|) = 1.5 ; b = [10, 10.5, 11.5] -> mean(0.5, 1) = 0.75
    train = np.array([1.0, 3.0, 2.0, 10.0, 10.5, 11.5])
    scales = naive_scale(train, series_ids=["a", "a", "a", "b", "b", "b"])
    assert scales == pytest.approx({"a": 1.5, "b": 0.75})
    y_true = np.zeros((2, 2, 1))
    y_pred = np.array([[[3.0], [0.0]], [[0.75], [-1.5]]])  # sample 0 is series a, sample 1 series b
    scale = sample_scale(scales, ["a", "b"])
    assert scale.shape == (2, 1, 1)
    # |e|/scale: 3/1.5=2, 0, 0.75/0.75=1, 1.5/0.75=2 -> mean 1.25
    assert point_metrics(y_true, y_pred, scale=scale)["mase"] == pytest.approx(1.25)
    # a scalar scale divides everything
    assert point_metrics(y_true, y_pred, scale=2.0)["mase"] == pytest.approx(5.25 / 4 / 2)


def test_smape_edge_cases():
    zeros = np.zeros((1, 3, 1))
    assert point_metrics(zeros, zeros)["smape"] == 0.0  # both zero counts as 0, not NaN
    assert point_metrics(zeros, zeros + 5.0)["smape"] == pytest.approx(200.0)  # the maximum
    y = np.array([[[0.0], [2.0], [-1.0]]])
    p = np.array([[[0.0], [1.0], [1.0]]])
    forward, backward = point_metrics(y, p)["smape"], point_metrics(p, y)["smape"]
    assert forward == pytest.approx(backward)  # symmetric
    assert forward == pytest.approx((0 + 200 * 1 / 3 + 200 * 2 / 2) / 3)


def test_naive_scale_shapes_targets_and_segments():
    values = np.array([[0.0, 10.0], [1.0, 14.0], [3.0, 14.0], [100.0, 0.0], [101.0, 2.0]])
    np.testing.assert_allclose(naive_scale(values), [(1 + 2 + 97 + 1) / 4, (4 + 0 + 14 + 2) / 4])
    # a new segment at row 3: the jump 3 -> 100 is not a step
    np.testing.assert_allclose(naive_scale(values, segments=[0, 0, 0, 1, 1]), [4 / 3, 6 / 3])
    assert isinstance(naive_scale([1.0, 2.0, 4.0]), float)
    scales = naive_scale([1.0, 2.0, 5.0], series_ids=["a", "a", "b"])
    assert scales["a"] == 1.0 and math.isnan(scales["b"])


def test_point_metrics_reject_bad_inputs():
    y_true, y_pred = _tiny()
    with pytest.raises(ValueError, match=r"same shape.*y_pred.shape=\(2, 1, 1\)"):
        point_metrics(y_true, y_pred[:, :1])
    bad = y_pred.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="`y_pred` must not contain NaN. Received: 1 NaN"):
        point_metrics(y_true, bad)
    with pytest.raises(ValueError, match="`y_true` must have 3 dimension"):
        point_metrics(y_true[0], y_pred[0])
    with pytest.raises(ValueError, match=r"`scale` must broadcast.*scale.shape=\(3,\)"):
        point_metrics(y_true, y_pred, scale=np.ones(3))


def test_mase_is_nan_for_zero_scale():
    y_true, y_pred = _tiny()
    assert math.isnan(point_metrics(y_true, y_pred, scale=0.0)["mase"])


def test_relative_mae():
    assert relative_mae(0.5, 2.0) == 0.25
    assert relative_mae(0.0, 0.0) == 1.0
    assert relative_mae(1.0, 0.0) == math.inf
    with pytest.raises(ValueError, match="persistence_mae=-1"):
        relative_mae(1.0, -1.0)


# --- conformal intervals ------------------------------------------------------------------------


def test_conformal_quantile_is_the_corrected_order_statistic():
    residuals = np.arange(9.0, 0.0, -1.0).reshape(9, 1, 1)  # 9..1, unsorted on purpose
    assert conformal_quantiles(residuals, 0.8)[0, 0] == 8.0  # ceil(10 * 0.8) = 8th smallest
    assert conformal_quantiles(residuals, 0.9)[0, 0] == 9.0  # ceil(10 * 0.9) = 9 despite float noise
    assert conformal_quantiles(residuals, 0.5)[0, 0] == 5.0
    two = np.stack([np.arange(1.0, 10.0), 10 * np.arange(1.0, 10.0)], axis=1).reshape(9, 2, 1)
    np.testing.assert_array_equal(conformal_quantiles(two, 0.8), [[8.0], [80.0]])


def test_conformal_quantile_too_few_residuals_is_infinite_with_warning():
    with pytest.warns(UserWarning, match="too few for level=0.9"):
        q = conformal_quantiles(np.ones((5, 2, 1)), 0.9)  # ceil(6 * 0.9) = 6 > 5
    assert q.shape == (2, 1) and np.isinf(q).all()


def test_conformal_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"`level` must be in \(0, 1\). Received: level=1.5"):
        conformal_quantiles(np.ones((10, 1, 1)), 1.5)
    with pytest.raises(ValueError, match=r"absolute residuals.*minimum -1.0"):
        conformal_quantiles(-np.ones((10, 1, 1)), 0.9)


def test_conformal_coverage_on_gaussian_noise():
    rng = np.random.default_rng(7)
    sigma = np.array([0.5, 1.0, 3.0]).reshape(1, 3, 1)  # noise grows with the horizon step
    cal_pred = rng.normal(size=(2000, 3, 1))
    cal_true = cal_pred + sigma * rng.normal(size=(2000, 3, 1))
    q = conformal_quantiles(np.abs(cal_true - cal_pred), level=0.9)
    assert q[0, 0] < q[1, 0] < q[2, 0]
    test_pred = rng.normal(size=(5000, 3, 1))
    test_true = test_pred + sigma * rng.normal(size=(5000, 3, 1))
    lower, upper = interval(test_pred, q)
    assert 0.87 <= coverage(test_true, lower, upper) <= 0.93
    by_step = coverage_by_step(test_true, lower, upper)
    assert by_step.shape == (3,)
    assert ((by_step > 0.87) & (by_step < 0.93)).all()


def test_coverage_by_hand_and_interval_shapes():
    y = np.array([[[0.0], [5.0]], [[1.0], [1.0]]])
    lower, upper = interval(np.ones((2, 2, 1)), np.array([[1.0], [2.0]]))
    np.testing.assert_array_equal(lower[:, :, 0], [[0.0, -1.0], [0.0, -1.0]])
    assert coverage(y, lower, upper) == 0.75  # only 5.0 > 3.0 is outside
    np.testing.assert_array_equal(coverage_by_step(y, lower, upper), [1.0, 0.5])
    single_lower, _ = interval(np.ones((2, 1)), np.array([[1.0], [2.0]]))
    assert single_lower.shape == (2, 1)
    with pytest.raises(ValueError, match=r"`q` must have shape \(horizon, n_targets\)"):
        interval(np.ones((2, 2, 1)), np.ones((3, 1)))


# --- Diebold-Mariano --------------------------------------------------------------------------


def test_dm_identical_errors_give_no_evidence():
    e = np.random.default_rng(0).normal(size=50)
    assert diebold_mariano(e, e) == (0.0, 1.0)
    assert diebold_mariano(e, e.copy(), horizon=3, loss="squared") == (0.0, 1.0)


def test_dm_clearly_better_errors_and_sign_convention():
    rng = np.random.default_rng(1)
    small, large = 0.5 * rng.normal(size=300), 2.0 * rng.normal(size=300)
    stat, p = diebold_mariano(small, large)
    assert stat < 0 and p < 1e-6  # negative: a has the lower loss
    stat_rev, p_rev = diebold_mariano(large, small)
    assert stat_rev == pytest.approx(-stat) and p_rev == pytest.approx(p)
    stat_sq, p_sq = diebold_mariano(small, large, horizon=4, loss="squared")
    assert stat_sq < 0 and p_sq < 1e-6


def test_dm_matches_hand_computation():
    a = np.array([1.0, -2.0, 2.5, 3.0, -1.0, 0.2, 0.4])
    b = np.array([0.5, 1.0, -1.5, 1.0, 2.0, 0.1, -0.3])
    d = np.abs(a) - np.abs(b)
    n, h = len(d), 2
    c = d - d.mean()
    gamma0, gamma1 = (c @ c) / n, (c[1:] @ c[:-1]) / n
    dm = d.mean() / math.sqrt((gamma0 + 2 * gamma1) / n)
    expected = dm * math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    from scipy import stats

    stat, p = diebold_mariano(a, b, horizon=h)
    assert stat == pytest.approx(expected)
    assert p == pytest.approx(2 * stats.t.sf(abs(expected), df=n - 1))


def test_dm_falls_back_to_bartlett_weights_when_the_variance_is_negative():
    a = np.array([1.0, -2.0, 0.5, 3.0, -1.0, 0.2])
    b = np.array([0.5, 1.0, -1.5, 1.0, 2.0, 0.1])
    d = np.abs(a) - np.abs(b)
    n, h = len(d), 2
    c = d - d.mean()
    gamma0, gamma1 = (c @ c) / n, (c[1:] @ c[:-1]) / n
    assert gamma0 + 2 * gamma1 < 0  # the rectangular window fails on this sample
    bartlett = gamma0 + 2 * (1 - 1 / h) * gamma1
    expected = d.mean() / math.sqrt(bartlett / n) * math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    stat, p = diebold_mariano(a, b, horizon=h)
    assert stat == pytest.approx(expected) and 0 <= p <= 1


def test_dm_rejects_at_about_the_nominal_rate_under_the_null():
    rng = np.random.default_rng(3)
    rejections = sum(
        diebold_mariano(rng.normal(size=80), rng.normal(size=80))[1] < 0.05 for _ in range(400)
    )
    assert 0.02 <= rejections / 400 <= 0.09


def test_dm_constant_differential_and_bad_arguments():
    assert diebold_mariano(np.ones(10), 2 * np.ones(10)) == (-math.inf, 0.0)
    with pytest.raises(ValueError, match=r"horizon.*\[1, n=5\). Received: horizon=5"):
        diebold_mariano(np.ones(5), np.zeros(5), horizon=5)
    with pytest.raises(ValueError, match="`loss` must be one of"):
        diebold_mariano(np.ones(5), np.zeros(5), loss="mape")
    with pytest.raises(ValueError, match="same shape"):
        diebold_mariano(np.ones(5), np.zeros(6))


# --- backtest helpers -------------------------------------------------------------------------


def test_expanding_folds_layout():
    folds = expanding_folds(100, 3, val=10, test=10)
    assert folds == [Fold(60, 70, 80), Fold(70, 80, 90), Fold(80, 90, 100)]
    # fractions are of n_rows; test blocks are consecutive, equal and end the data
    folds = expanding_folds(200, 2, val=0.1, test=0.15)
    assert folds == [Fold(120, 140, 170), Fold(150, 170, 200)]
    for earlier, later in zip(folds, folds[1:]):
        assert later.val_end == earlier.test_end
    assert expanding_folds(3, 1, val=1, test=1) == [Fold(1, 2, 3)]


def test_expanding_folds_validation():
    with pytest.raises(ValueError, match="`n_folds` must be an integer >= 1. Received: n_folds=0"):
        expanding_folds(100, 0, val=10, test=10)
    with pytest.raises(ValueError, match=r"need min_train_rows=20 \+ val=10 \+ n_folds \* test=3\*30 = 120 rows. Received: n_rows=100"):
        expanding_folds(100, 3, val=10, test=30, min_train_rows=20)
    with pytest.raises(ValueError, match=r"`test` as a fraction must be in \(0, 1\). Received: test=1.5"):
        expanding_folds(100, 2, val=10, test=1.5)


def _two_series_frame():
    ts_a = pd.date_range("2024-01-01", periods=8, freq="h")
    ts_b = pd.date_range("2024-03-01", periods=6, freq="D")
    frame = pd.DataFrame(
        {
            "series_id": ["a"] * 8 + ["b"] * 6,
            "timestamp": list(ts_a) + list(ts_b),
            "value": np.arange(14.0),
        }
    )
    return frame.iloc[::-1].reset_index(drop=True)  # rows out of time order on purpose


def test_fold_split_labels_per_series_in_time_order():
    frame = _two_series_frame()
    labels = fold_split_labels(frame, n_folds=2, fold=0, val=1, test=2)
    assert labels.name == "split" and labels.index.equals(frame.index)
    in_time = pd.concat([frame, labels], axis=1).sort_values(["series_id", "timestamp"])
    by_series = in_time.groupby("series_id")["split"].apply(list).to_dict()
    assert by_series["a"] == ["train"] * 3 + ["val"] + ["test"] * 2 + ["unused"] * 2
    assert by_series["b"] == ["train"] + ["val"] + ["test"] * 2 + ["unused"] * 2
    last = fold_split_labels(frame, n_folds=2, fold=1, val=1, test=2)
    assert (last != "unused").all()
    assert (last == "test").sum() == 4


def test_fold_split_labels_errors_name_the_problem():
    frame = _two_series_frame()
    with pytest.raises(DataValidationError, match=r"series 'b': `n_rows` is too small.*n_rows=6"):
        fold_split_labels(frame, n_folds=3, fold=0, val=1, test=2)
    with pytest.raises(ValueError, match=r"`fold` must be in 0..1 \(n_folds=2\). Received: fold=2"):
        fold_split_labels(frame, n_folds=2, fold=2, val=1, test=1)
    with pytest.raises(DataValidationError, match="no column 'series_id'"):
        fold_split_labels(frame.drop(columns="series_id"), n_folds=1, fold=0, val=1, test=1)


def test_tidy_metrics_rows():
    y_true, y_pred = _tiny()
    metrics = point_metrics(y_true, y_pred, scale=1.0) | {"coverage": 0.9}
    table = tidy_metrics(2, "lstm", metrics)
    assert list(table.columns) == ["fold", "model", "step", "metric", "value"]
    aggregate = table[table.step == ALL_STEPS].set_index("metric")["value"]
    assert aggregate.to_dict() == pytest.approx(
        {"mae": 1.25, "rmse": 1.5, "smape": metrics["smape"], "mase": 1.25, "coverage": 0.9}
    )
    per_step = table[table.step > 0]
    assert sorted(per_step.metric.unique()) == ["mae", "rmse"]
    assert per_step[per_step.metric == "mae"].set_index("step")["value"].to_dict() == {1: 1.5, 2: 1.0}
    assert (table.fold == 2).all() and (table.model == "lstm").all()
    assert table.step.dtype == np.int64
    with pytest.raises(ValueError, match=r"`metrics\['curve'\]` must be a scalar"):
        tidy_metrics(0, "x", {"curve": np.ones(3)})


# --- Interval scales --------------------------------------------------------------------------


def test_window_spread_is_mean_absolute_step_change():
    history = np.array([[[0.0, 10.0], [1.0, 10.0], [3.0, 16.0]]])  # (1 window, lookback 3, 2 targets)
    np.testing.assert_allclose(window_spread(history), [[[1.5, 3.0]]])
    assert window_spread(np.zeros((0, 4, 1))).shape == (0, 1, 1)
    with pytest.raises(ValueError, match=r"lookback >= 2.*shape=\(2, 1, 1\)"):
        window_spread(np.zeros((2, 1, 1)))


def test_interval_scales_absolute_local_floor_and_bad_mode():
    spread = np.array([[[2.0]], [[0.0]], [[0.0]]])
    series = np.array([[[1.0]], [[1.0]], [[0.0]]])
    np.testing.assert_array_equal(interval_scales("absolute", spread, series), np.ones((3, 1, 1)))
    # a flat window gets a tenth of its series' training scale; a never-moving series gets 1
    np.testing.assert_allclose(interval_scales("local", spread, series).ravel(), [2.0, 0.1, 1.0])
    with pytest.raises(ValueError, match=r"`interval_scale` must be one of \('absolute', 'local'\)\. Received: 'relative'"):
        interval_scales("relative", spread, series)


def test_local_scale_calibrates_series_of_different_volatility():
    """Pooled absolute quantiles over-cover the calm series and under-cover the wild one."""
    rng = np.random.default_rng(3)
    sigma = np.repeat([1.0, 20.0], 2000)[:, None, None]  # two series, 20x apart
    spread = sigma * rng.uniform(0.8, 1.2, size=sigma.shape)  # a noisy local estimate of sigma
    err_cal, err_test = (np.abs(sigma * rng.normal(size=(4000, 2, 1))) for _ in range(2))
    calm, wild = slice(0, 2000), slice(2000, 4000)
    q_abs = conformal_quantiles(err_cal, 0.9)
    assert (err_test[calm] <= q_abs).mean() > 0.99 and (err_test[wild] <= q_abs).mean() < 0.85
    s = interval_scales("local", spread, np.ones_like(spread))
    q_loc = conformal_quantiles(err_cal / s, 0.9)
    lower, upper = interval(np.zeros_like(err_test), q_loc * s)  # per-window half-widths
    for part in (calm, wild):
        assert 0.87 <= coverage(err_test[part], lower[part], upper[part]) <= 0.93


# --- Rolling calibration ----------------------------------------------------------------------


def _brute_rolling(scores, known, series, qtime, qseries, level, window, fallback):
    out = np.empty((len(qtime), *scores.shape[1:]))
    for i, (t, s) in enumerate(zip(qtime, qseries)):
        idx = [j for j in np.argsort(known, kind="stable") if series[j] == s and known[j] < t][-window:]
        k = math.ceil((len(idx) + 1) * level - 1e-9)
        out[i] = np.sort(scores[idx], axis=0)[k - 1] if idx and k <= len(idx) else fallback
    return out


def test_rolling_quantiles_match_a_brute_force_per_series_and_never_look_ahead():
    rng = np.random.default_rng(1)
    n = 120
    scores = rng.exponential(size=(n, 2, 1))
    known = rng.permutation(n).astype(float)  # pool order does not matter, known_at does
    series = np.where(rng.random(n) < 0.5, "a", "b")
    qtime = np.array([0.0, 5.0, 30.0, 30.0, 90.0, 200.0])
    qseries = np.array(["a", "a", "a", "b", "b", "b"])
    fallback = np.full((2, 1), -1.0)
    got = rolling_quantiles(scores, known, series, qtime, qseries, level=0.8, window=20, fallback=fallback)
    np.testing.assert_array_equal(got, _brute_rolling(scores, known, series, qtime, qseries, 0.8, 20, fallback))
    assert (got[0] == -1.0).all()  # nothing known before t=0: the static fallback
    # a score that becomes known only at the query time is not used
    spiked = scores.copy()
    spiked[known == 30.0] = 1e9
    again = rolling_quantiles(spiked, known, series, qtime, qseries, level=0.8, window=20, fallback=fallback)
    np.testing.assert_array_equal(again[2:4], got[2:4])


def test_rolling_quantiles_reject_bad_arguments():
    with pytest.raises(ValueError, match=r"`window` must be >= 1\. Received: window=0"):
        rolling_quantiles(np.ones((3, 1, 1)), [0, 1, 2], ["a"] * 3, [5], ["a"], level=0.9, window=0,
                          fallback=np.ones((1, 1)))
    with pytest.raises(ValueError, match=r"one `known_at` and `series` per window"):
        rolling_quantiles(np.ones((3, 1, 1)), [0, 1], ["a"] * 3, [5], ["a"], level=0.9, window=2,
                          fallback=np.ones((1, 1)))
