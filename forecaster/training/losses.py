"""Training losses: the named Keras losses, and a per-horizon-step weighting of them.

``training.horizon_weights`` says how much each forecast step counts in the training loss (and in the
validation loss that early stopping and the plateau schedule watch). ``uniform`` is the plain mean
over steps (the Keras loss itself); ``linear`` weighs step k by k (the far steps, where the
forecast is hardest, count most); a list gives one positive weight per step (NeuralForecast's
``horizon_weight``). Weights are rescaled to mean 1, so the loss keeps the scale of the unweighted
one and the learning rate means the same. The comparison and the gate still rank by the plain MAE.

The weights' rule (valid values, rescaling) is :mod:`forecaster.config.horizon`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from forecaster.config.horizon import HORIZON_WEIGHTINGS, horizon_weights  # the rule's owner, re-exported


def _elementwise(name: str, y_true, y_pred):
    error = y_pred - y_true
    if name == "mae":
        return ops.abs(error)
    if name == "mse":
        return ops.square(error)
    absolute = ops.abs(error)  # huber, delta 1 (keras.losses.Huber's default)
    return ops.where(absolute <= 1.0, 0.5 * ops.square(error), absolute - 0.5)


@keras.saving.register_keras_serializable(package="forecaster")
class HorizonWeightedLoss(keras.losses.Loss):
    """``mean over (steps, targets) of weight[step] * loss(y_true, y_pred)`` for ``(B, H, T)`` forecasts.

    Parameters
    ----------
    base : {'mae', 'mse', 'huber'}
        The elementwise loss (huber with delta 1, as ``keras.losses.Huber()``).
    weights : sequence of float
        One weight per horizon step (see :func:`horizon_weights`).
    """

    def __init__(self, base: str = "mae", weights: Sequence[float] = (1.0,), name: str | None = None,
                 **kwargs: Any):
        super().__init__(name=name or f"horizon_weighted_{base}", **kwargs)
        if base not in ("mae", "mse", "huber"):
            raise ValueError(f"`base` must be 'mae', 'mse' or 'huber'. Received: base={base!r}")
        self.base, self.weights = base, [float(w) for w in weights]

    def call(self, y_true, y_pred):
        per_step = _elementwise(self.base, y_true, y_pred)  # -> (B, H, T)
        weights = ops.reshape(ops.convert_to_tensor(self.weights, dtype=per_step.dtype), (1, -1, 1))
        return ops.mean(per_step * weights, axis=(-2, -1))  # -> (B,)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "base": self.base, "weights": list(self.weights)}


def make_loss(name: str, weights: Sequence[float] | None = None) -> Any:
    """What ``model.compile(loss=...)`` gets: the Keras name (``Huber()`` for huber), or the weighted loss."""
    if weights is not None:
        return HorizonWeightedLoss(name, weights)
    return keras.losses.Huber() if name == "huber" else name


__all__ = ["HORIZON_WEIGHTINGS", "HorizonWeightedLoss", "horizon_weights", "make_loss"]
