"""training.horizon_weights: the per-step weights and the weighted loss, checked by hand."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from forecaster.training import TrainSettings
from forecaster.config.horizon import horizon_weights
from forecaster.training.losses import HorizonWeightedLoss, make_loss


def test_named_weightings_and_lists_are_rescaled_to_mean_one():
    assert horizon_weights("uniform", 24) is None
    assert horizon_weights("linear", 3) == pytest.approx((0.5, 1.0, 1.5))
    assert horizon_weights([1, 1, 2], 3) == pytest.approx((0.75, 0.75, 1.5))
    assert sum(horizon_weights("linear", 24)) == pytest.approx(24)


@pytest.mark.parametrize("spec, match", [
    ("cosine", r"one of \['uniform', 'linear'\].*Received: horizon_weights='cosine'"),
    ([1.0, 2.0], r"horizon=3 but 2 weight\(s\) given"),
    ([1.0, 0.0, 2.0], r"finite number > 0.*\[1.0, 0.0, 2.0\]"),
    ([1.0, float("nan"), 2.0], "finite number > 0"),
    ([1.0, True, 2.0], "finite number > 0"),
])
def test_bad_weights_name_the_rule_and_the_value(spec, match):
    with pytest.raises(ValueError, match=match):
        horizon_weights(spec, 3)


@pytest.mark.parametrize("base", ["mae", "mse", "huber"])
def test_weighted_loss_by_hand(base):
    rng = np.random.default_rng(0)
    y_true = rng.normal(size=(5, 3, 2)).astype("float32")
    y_pred = (y_true + rng.normal(scale=2.0, size=y_true.shape)).astype("float32")
    weights = (0.5, 1.0, 1.5)
    err = np.abs(y_pred - y_true)
    element = {"mae": err, "mse": err ** 2,
               "huber": np.where(err <= 1.0, 0.5 * err ** 2, err - 0.5)}[base]
    by_hand = (element * np.array(weights)[None, :, None]).mean()
    got = float(HorizonWeightedLoss(base, weights)(y_true, y_pred))
    assert got == pytest.approx(by_hand, rel=1e-5)
    # equal weights: the Keras loss the plain setting compiles (make_loss: its name, or Huber())
    plain = make_loss(base)
    plain = {"mae": keras.losses.MeanAbsoluteError(), "mse": keras.losses.MeanSquaredError()}.get(plain, plain)
    assert float(HorizonWeightedLoss(base, (1.0, 1.0, 1.0))(y_true, y_pred)) == pytest.approx(
        float(plain(y_true, y_pred)), rel=1e-5)


def test_weighted_loss_round_trips_its_config():
    loss = HorizonWeightedLoss("mae", (0.5, 1.5))
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(again, HorizonWeightedLoss) and again.weights == [0.5, 1.5] and again.base == "mae"


def test_settings_refuse_bad_weights():
    with pytest.raises(ValueError, match="horizon_weights"):
        TrainSettings(horizon_weights=(1.0, -1.0))
    assert TrainSettings(horizon_weights=(0.5, 1.5)).horizon_weights == (0.5, 1.5)
