"""Tests of forecaster.models.baselines (numpy and scikit-learn only, no Keras)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from forecaster.models.baselines import (
    LinearBaseline,
    persistence,
    season_from_frequency,
    seasonal_naive,
)


def _windows_of(series: np.ndarray, lookback: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (X, y) window of a (n_timesteps, n_features) array; y is all columns."""
    n = len(series) - lookback - horizon + 1
    X = np.stack([series[i : i + lookback] for i in range(n)])
    y = np.stack([series[i + lookback : i + lookback + horizon] for i in range(n)])
    return X, y


def test_persistence_error_is_zero_on_a_constant_series():
    series = np.full((40, 2), 3.25)
    X, y = _windows_of(series, lookback=6, horizon=4)
    forecast = persistence(X, targets=[0, 1], horizon=4)
    assert forecast.shape == (len(X), 4, 2)
    assert np.abs(forecast - y).max() == 0.0


def test_persistence_repeats_the_last_value_of_each_target_in_target_order():
    X = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    forecast = persistence(X, targets=[3, 1], horizon=2)
    np.testing.assert_array_equal(forecast[:, 0, :], X[:, -1, [3, 1]])
    np.testing.assert_array_equal(forecast[:, 1, :], X[:, -1, [3, 1]])


@pytest.mark.parametrize("horizon", [1, 5, 12])
def test_seasonal_naive_is_exact_on_a_periodic_series(horizon):
    season = 5
    t = np.arange(80)
    pattern = np.array([1.0, -2.0, 0.5, 4.0, 3.0])
    series = np.column_stack([pattern[t % season], np.sin(t)])  # target 0 is periodic
    X, y = _windows_of(series, lookback=7, horizon=horizon)
    forecast = seasonal_naive(X, targets=[0], horizon=horizon, season=season)
    assert forecast.shape == (len(X), horizon, 1)
    np.testing.assert_array_equal(forecast[:, :, 0], y[:, :, 0])
    # Persistence is not exact on the same series.
    assert np.abs(persistence(X, [0], horizon)[:, :, 0] - y[:, :, 0]).max() > 1.0


def test_seasonal_naive_indices_follow_the_formula():
    lookback, season, horizon = 6, 4, 9
    X = np.arange(lookback, dtype=float).reshape(1, lookback, 1)
    forecast = seasonal_naive(X, targets=[0], horizon=horizon, season=season)[0, :, 0]
    expected = [lookback - 1 + k - season * int(np.ceil(k / season)) for k in range(1, horizon + 1)]
    assert forecast.tolist() == expected == [2, 3, 4, 5, 2, 3, 4, 5, 2]


def test_seasonal_naive_of_season_one_is_persistence():
    X = np.random.default_rng(0).normal(size=(4, 3, 2))
    np.testing.assert_array_equal(seasonal_naive(X, [1], 3, season=1), persistence(X, [1], 3))


def test_seasonal_naive_rejects_a_season_longer_than_the_window():
    X = np.zeros((2, 12, 1))
    with pytest.raises(ValueError, match=r"Received: season=24, lookback=12"):
        seasonal_naive(X, [0], horizon=3, season=24)


def test_the_season_rule_has_one_owner_shared_by_the_pipeline_check():
    from forecaster.comparison.candidates import check_baselines
    from forecaster.config import PipelineConfig
    from forecaster.errors import ConfigError
    from forecaster.models.baselines import SeasonError, resolve_season

    assert resolve_season(None, "30min", 48) == 48 and resolve_season(5, "1h", 5) == 5  # explicit wins
    with pytest.raises(SeasonError, match="frequency 'YS' has no known season") as unknown:
        resolve_season(None, "YS", 48)
    assert unknown.value.season is None
    with pytest.raises(SeasonError, match=r"season=24, lookback=12") as long:
        resolve_season(None, "h", 12)
    assert long.value.season == 24
    cfg = PipelineConfig.model_validate({"name": "s", "data": {"path": "x.csv", "target": "y", "frequency": "YS"},
                                         "window": {"lookback": 4, "horizon": 1}, "models": [{"cell": "gru"}]})
    frame = pd.DataFrame({"series_id": "a", "timestamp": pd.date_range("2000", periods=30, freq="YS"), "y": 1.0})
    with pytest.raises(ConfigError, match="set evaluation.season or remove seasonal_naive from baselines"):
        check_baselines(cfg, frame)
    check_baselines(cfg.model_copy(update={"baselines": ["persistence"]}), frame)  # no seasonal_naive: no rule


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: persistence(np.zeros((2, 3)), [0], 1), r"Received: X.shape=\(2, 3\)"),
        (lambda: persistence(np.zeros((2, 3, 2)), [2], 1), r"in \[0, 2\). Received: targets=\[2\]"),
        (lambda: persistence(np.zeros((2, 3, 2)), [0], 0), r"Received: horizon=0"),
        (lambda: seasonal_naive(np.zeros((2, 3, 2)), [0], 1, 0), r"Received: season=0"),
    ],
)
def test_argument_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    "freq, season",
    [
        ("h", 24), ("1h", 24), ("H", 24), ("10min", 144), ("30min", 48), ("2h", 12),
        ("D", 7), ("B", 5), ("W", 52), ("W-MON", 52), ("MS", 12), ("ME", 12), ("QS", 4),
        ("7min", None), ("2D", None), ("YS", None), ("not-a-frequency", None), (None, None),
    ],
)
def test_season_from_frequency(freq, season):
    assert season_from_frequency(freq) == season


def test_linear_baseline_recovers_an_ar_process():
    rng = np.random.default_rng(42)
    n = 3000
    x = np.zeros(n)
    for t in range(2, n):
        x[t] = 0.6 * x[t - 1] - 0.3 * x[t - 2] + 0.1 * rng.normal()
    X, y = _windows_of(x[:, None], lookback=6, horizon=2)
    train = slice(0, 2000)
    model = LinearBaseline(alpha=1e-3).fit(X[train], y[train])
    # One-step coefficients: the last window step is lag 1.
    coef = model.model_.coef_[0]
    np.testing.assert_allclose(coef[-1], 0.6, atol=0.05)
    np.testing.assert_allclose(coef[-2], -0.3, atol=0.05)
    np.testing.assert_allclose(coef[:-2], 0.0, atol=0.05)
    # Held-out one-step error close to the noise level, far below persistence.
    test = slice(2000, None)
    forecast = model.predict(X[test])
    assert forecast.shape == (len(X[test]), 2, 1)
    rmse = np.sqrt(np.mean((forecast[:, 0, 0] - y[test][:, 0, 0]) ** 2))
    rmse_persistence = np.sqrt(np.mean((X[test][:, -1, 0] - y[test][:, 0, 0]) ** 2))
    assert rmse < 0.105 and rmse < 0.9 * rmse_persistence
    # And close to the true conditional mean of the process.
    Xt = X[test]
    true_mean = 0.6 * Xt[:, -1, 0] - 0.3 * Xt[:, -2, 0]
    assert np.abs(forecast[:, 0, 0] - true_mean).max() < 0.02


def test_linear_baseline_lags_use_only_the_last_steps():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 8, 2))
    y = (2.0 * X[:, -1, 0] - X[:, -2, 1])[:, None, None]
    model = LinearBaseline(alpha=1e-6, lags=2).fit(X, y)
    assert np.atleast_2d(model.model_.coef_).shape == (1, 2 * 2)
    np.testing.assert_allclose(model.predict(X), y, atol=1e-4)
    assert clone(model).get_params() == {"alpha": 1e-6, "lags": 2, "known": 0}


def test_linear_baseline_errors():
    X, y = np.zeros((10, 4, 2)), np.zeros((10, 3, 1))
    with pytest.raises(NotFittedError):
        LinearBaseline().predict(X)
    with pytest.raises(ValueError, match=r"Received: lags=5, lookback=4"):
        LinearBaseline(lags=5).fit(X, y)
    with pytest.raises(ValueError, match=r"Received: y.shape=\(9, 3, 1\)"):
        LinearBaseline().fit(X, y[:9])
    model = LinearBaseline().fit(X, y)
    with pytest.raises(ValueError, match=r"\(n_samples, 4, 2\) as in fit. Received: X.shape=\(1, 5, 2\)"):
        model.predict(np.zeros((1, 5, 2)))


def test_ridge_normal_equations_equal_sklearns_float64_ridge():
    # The linear baseline's own solve (float64, chunked, one BLAS thread) is scikit-learn's Ridge.
    from sklearn.linear_model import Ridge

    from forecaster.models.blas import ridge_normal_equations

    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 12)).astype(np.float32) * np.linspace(0.1, 10, 12)
    y = X @ rng.normal(size=(12, 3)) + 5.0 + rng.normal(size=(500, 3))
    ref = Ridge(alpha=2.0).fit(X.astype(np.float64), y)
    coef, intercept = ridge_normal_equations(X, y, 2.0, chunk=64)
    np.testing.assert_allclose(coef, ref.coef_, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(intercept, ref.intercept_, rtol=1e-9, atol=1e-10)


def test_linear_baseline_takes_the_known_future_block_as_regressors():
    """With ``known`` trailing columns the ridge reads them only at the window's last horizon steps."""
    rng = np.random.default_rng(1)
    lookback, horizon = 6, 2
    X = rng.normal(size=(300, lookback, 3))
    # target step k depends on the last observation and on step k's known-future column 2
    y = np.stack([X[:, -1, 0] + 3.0 * X[:, lookback - horizon + k, 2] for k in range(horizon)], axis=1)[:, :, None]
    model = LinearBaseline(alpha=1e-6, known=1).fit(X, y)
    assert model.model_.coef_.shape == (horizon, lookback * 2 + horizon * 1)
    np.testing.assert_allclose(model.predict(X), y, atol=1e-4)
    again = LinearBaseline.from_state(model.to_state())
    np.testing.assert_allclose(again.predict(X), model.predict(X))
    assert "known" not in LinearBaseline(alpha=1.0).fit(X, y).to_state()  # older states read as known=0
