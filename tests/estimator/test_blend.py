"""BlendForecaster's public behaviour: per-step weights chosen on validation, clone, save/load, checks.

Members are baselines (no training), so the module runs in seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from forecaster.estimator import BaselineForecaster, BlendForecaster, load_forecaster
from forecaster.estimator.blend import WEIGHT_GRID
from forecaster.data.splits import assign_splits

COMMON = dict(target=["y"], lookback=24, horizon=4)


def seasonal_frame(n=600, seed=0) -> pd.DataFrame:
    """A daily cycle plus a slow random walk."""
    rng = np.random.default_rng(seed)
    t = pd.date_range("2024-01-01", periods=n, freq="h")
    y = 5 * np.sin(2 * np.pi * np.arange(n) / 24) + np.cumsum(rng.normal(0, 0.3, n))
    frame = pd.DataFrame({"series_id": "s", "timestamp": t, "segment": 0, "y": y})
    frame["split"] = assign_splits(frame, 0.25, 0.25).to_numpy()
    return frame


@pytest.fixture(scope="module")
def fitted():
    frame = seasonal_frame()
    members = [BaselineForecaster(kind="persistence", **COMMON).fit(frame),
               BaselineForecaster(kind="linear", **COMMON).fit(frame)]
    return frame, members, BlendForecaster(members, interval_level=0.8).fit(frame)


def val_mae_by_step(est, frame) -> np.ndarray:
    val = est.evaluate_windows(frame, splits=("val",))["val"]
    return np.abs(val.y_pred - val.y_true).mean(axis=(0, 2))


def test_weights_are_the_grid_point_with_the_lowest_validation_mae_per_step(fitted):
    frame, (a, b), blend = fitted
    assert blend.weights_.shape == (4,) and set(blend.weights_) <= set(WEIGHT_GRID)
    va, vb = (m.evaluate_windows(frame, splits=("val",))["val"] for m in (a, b))
    for step in range(4):
        errs = [np.abs(w * va.y_pred[:, step] + (1 - w) * vb.y_pred[:, step] - va.y_true[:, step]).mean()
                for w in WEIGHT_GRID]
        assert blend.weights_[step] == WEIGHT_GRID[int(np.argmin(errs))]
    # so on validation it is never worse than either member, at any step
    own = val_mae_by_step(blend, frame)
    assert (own <= val_mae_by_step(a, frame) + 1e-9).all() and (own <= val_mae_by_step(b, frame) + 1e-9).all()


def test_forecast_is_the_weighted_members_forecast(fitted):
    frame, (a, b), blend = fitted
    out = blend.predict(frame)
    fa, fb = a.predict(frame), b.predict(frame)
    w = blend.weights_[out["step"].to_numpy() - 1]
    np.testing.assert_allclose(out["forecast"], w * fa["forecast"] + (1 - w) * fb["forecast"])
    assert (out["lower"] < out["forecast"]).all() and (out["forecast"] < out["upper"]).all()
    test = blend.evaluate_windows(frame, splits=("test",))["test"]
    inside = (np.abs(test.y_pred - test.y_true) <= blend.half_widths(test)).mean()
    assert 0.65 <= inside <= 0.95  # an 80% conformal interval on unseen windows


def test_clone_refits_unfitted_members_to_the_same_blend(fitted):
    frame, _, blend = fitted
    again = clone(blend).fit(frame)
    assert all(m is not n for m, n in zip(again.members_, blend.members_))
    np.testing.assert_array_equal(again.weights_, blend.weights_)
    pd.testing.assert_frame_equal(again.predict(frame), blend.predict(frame))


def test_save_and_load_give_the_same_forecast(fitted, tmp_path):
    frame, _, blend = fitted
    loaded = load_forecaster(blend.save(tmp_path / "blend"))
    assert isinstance(loaded, BlendForecaster) and loaded.interval_level == 0.8
    np.testing.assert_array_equal(loaded.weights_, blend.weights_)
    pd.testing.assert_frame_equal(loaded.predict(frame), blend.predict(frame))


def test_members_must_be_two_and_share_the_window(fitted):
    frame, (a, _), _ = fitted
    with pytest.raises(ValueError, match="exactly two members; received 1"):
        BlendForecaster([a]).fit(frame)
    other = BaselineForecaster(kind="linear", **{**COMMON, "horizon": 2}).fit(frame)
    with pytest.raises(ValueError, match=r"share lookback, horizon and target.*\(24, 4, \['y'\]\) and \(24, 2"):
        BlendForecaster([a, other]).fit(frame)
