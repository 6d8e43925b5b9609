"""Level and volatility normalisation layers: exact values, invariances, safe-mode save/load."""

from __future__ import annotations

import keras
import numpy as np

from forecaster.estimator.baseline import center_on_last
from forecaster.models.builders import build_model
from forecaster.models.layers import SCALE_EPSILON, CenterOnLastValue, LastValueResidual, window_step_scale
from forecaster.models.spec import ModelSpec


def window(seed=0, shape=(3, 6, 4)):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def test_center_and_scale_by_hand():
    w = window()
    scale = np.sqrt(np.mean(np.diff(w[:, :, 2], axis=1) ** 2, axis=1))[:, None]
    out = np.asarray(CenterOnLastValue([2], scale=True)(w))
    np.testing.assert_allclose(out[:, :, 2], (w[:, :, 2] - w[:, -1:, 2]) / scale, rtol=1e-5)
    np.testing.assert_array_equal(out[:, :, [0, 1, 3]], w[:, :, [0, 1, 3]])
    np.testing.assert_allclose(np.asarray(window_step_scale(w, [2]))[:, 0, 0], scale[:, 0], rtol=1e-6)


def test_flat_window_scale_is_floored():
    flat = np.ones((1, 5, 1), dtype="float32")
    assert np.isclose(float(np.asarray(window_step_scale(flat, [0])).item()), SCALE_EPSILON)


def test_residual_with_scale_adds_scaled_change_to_last_value():
    w = window()
    change = np.ones((3, 2, 1), dtype="float32")
    out = np.asarray(LastValueResidual([1], scale=True)([w, change]))
    scale = np.asarray(window_step_scale(w, [1]))[:, 0, 0]
    np.testing.assert_allclose(out[:, :, 0], (w[:, -1, 1] + scale)[:, None].repeat(2, axis=1), rtol=1e-5)


def test_normalised_model_is_level_and_volatility_equivariant():
    spec = ModelSpec(cell="gru", units=4)
    model = build_model(spec, 6, 1, 2, 1, residual_targets=[0], seed=1, center_targets=True, scale_targets=True)
    w = window(shape=(2, 6, 1))
    base = np.asarray(model(w))
    shifted = np.asarray(model(w * 3.0 + 10.0))  # a warmer, three times more volatile regime
    np.testing.assert_allclose(shifted, base * 3.0 + 10.0, rtol=1e-4, atol=1e-4)


def test_normalised_model_saves_and_loads_in_safe_mode(tmp_path):
    spec = ModelSpec(cell="lstm", units=3)
    model = build_model(spec, 6, 4, 2, 1, residual_targets=[0], seed=2, center_targets=True, scale_targets=True)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False, safe_mode=True)
    w = window()
    np.testing.assert_allclose(np.asarray(loaded(w)), np.asarray(model(w)), rtol=1e-6)


def test_linear_baseline_centering_matches_the_layer():
    w = window()
    Xc, last, factor = center_on_last(w, [2], scale=True)
    np.testing.assert_allclose(Xc, np.asarray(CenterOnLastValue([2], scale=True)(w)), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(last[:, 0, 0], w[:, -1, 2])
