"""Custom Keras layers of the forecaster models (registered, so `.keras` files load in safe mode).

Example
-------
>>> import numpy as np
>>> window = np.arange(12, dtype="float32").reshape(1, 4, 3)   # (n_samples, lookback, n_features)
>>> change = np.zeros((1, 2, 1), dtype="float32")              # (n_samples, horizon, n_targets)
>>> np.asarray(LastValueResidual([2])([window, change])).ravel().tolist()
[11.0, 11.0]
"""

from __future__ import annotations

import keras
from keras import ops

SCALE_EPSILON = 1e-2  # in scaled (training-std) units: a flat window is not blown up


def window_step_scale(window, target_indices):
    """Per-sample volatility of each target: RMS of its one-step changes over the window.

    ``window``: ``(n_samples, lookback, n_features)`` -> ``(n_samples, 1, n_targets)``, floored by
    :data:`SCALE_EPSILON`. Used to express a window's history and its forecast change in units of
    that window's own recent volatility (instance normalisation), so a model trained in a volatile
    season transfers to a calm one and vice versa.
    """
    targets = ops.take(window, target_indices, axis=-1)  # -> (n_samples, lookback, n_targets)
    steps = targets[:, 1:, :] - targets[:, :-1, :]
    rms = ops.sqrt(ops.mean(ops.square(steps), axis=1, keepdims=True))  # -> (n_samples, 1, n_targets)
    return ops.maximum(rms, SCALE_EPSILON)


@keras.saving.register_keras_serializable(package="forecaster")
class LastValueResidual(keras.layers.Layer):
    """Add the last observed value of each target to a predicted change.

    Call it on ``[window, change]``:

    - ``window``: ``(n_samples, lookback, n_features)``, the model input;
    - ``change``: ``(n_samples, horizon, n_targets)``, the network output;

    and it returns ``change + window[:, -1, target_indices]`` broadcast over the horizon,
    shape ``(n_samples, horizon, n_targets)``. A zero change is the persistence forecast.
    The layer has no weights.

    Parameters
    ----------
    target_indices : sequence of int
        Column of each target within the input features, in target order.

    Raises
    ------
    ValueError
        ``target_indices`` empty or holding a negative or non-integer entry.
    """

    def __init__(self, target_indices, scale=False, **kwargs):
        super().__init__(**kwargs)
        self.scale = bool(scale)
        indices = list(target_indices)
        if not indices or any(isinstance(i, bool) or int(i) != i or i < 0 for i in indices):
            raise ValueError(
                "`target_indices` must be a non-empty list of column indices >= 0. "
                f"Received: target_indices={indices!r}"
            )
        self.target_indices = [int(i) for i in indices]

    def build(self, input_shape):
        window_shape, change_shape = input_shape
        n_features = window_shape[-1]
        if n_features is not None and max(self.target_indices) >= n_features:
            raise ValueError(
                f"`target_indices` must be < n_features={n_features}. "
                f"Received: target_indices={self.target_indices}"
            )
        if change_shape[-1] is not None and change_shape[-1] != len(self.target_indices):
            raise ValueError(
                f"the change has {change_shape[-1]} target(s) but `target_indices` names "
                f"{len(self.target_indices)}: {self.target_indices}"
            )

    def call(self, inputs):
        window, change = inputs
        last = window[:, -1, :]  # -> (n_samples, n_features)
        last_targets = ops.take(last, self.target_indices, axis=-1)  # -> (n_samples, n_targets)
        if self.scale:
            change = change * window_step_scale(window, self.target_indices)
        return change + ops.expand_dims(last_targets, axis=1)  # -> (n_samples, horizon, n_targets)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[1])

    def get_config(self):
        config = super().get_config()
        config["target_indices"] = list(self.target_indices)
        config["scale"] = self.scale
        return config


@keras.saving.register_keras_serializable(package="forecaster")
class CenterOnLastValue(keras.layers.Layer):
    """Express each target's input channel relative to its last observed value.

    ``window[:, t, k] - window[:, -1, k]`` for every target column ``k`` (other columns unchanged),
    shape ``(n_samples, lookback, n_features)`` in and out. With :class:`LastValueResidual` on the
    output, the model becomes translation-invariant in the target's level: it cannot learn a
    level-dependent drift that fails when the test period is warmer (or a price higher) than any
    training window — the usual failure of level-based forecasters under seasonal or trend shift.

    Parameters
    ----------
    target_indices : sequence of int
        Column of each target within the input features.
    """

    def __init__(self, target_indices, scale=False, **kwargs):
        super().__init__(**kwargs)
        self.scale = bool(scale)
        self.target_indices = [int(i) for i in target_indices]
        if not self.target_indices or min(self.target_indices) < 0:
            raise ValueError(
                f"`target_indices` must be a non-empty list of column indices >= 0. "
                f"Received: target_indices={self.target_indices!r}"
            )

    def build(self, input_shape):
        n_features = input_shape[-1]
        if max(self.target_indices) >= n_features:
            raise ValueError(
                f"`target_indices` must be < n_features={n_features}. Received: {self.target_indices}"
            )
        mask = [1.0 if i in self.target_indices else 0.0 for i in range(n_features)]
        self._mask = ops.convert_to_tensor(mask, dtype=self.compute_dtype)
        # one-hot (n_targets, n_features): spreads a per-target factor onto the target columns
        onehot = [[1.0 if j == i else 0.0 for j in range(n_features)] for i in self.target_indices]
        self._onehot = ops.convert_to_tensor(onehot, dtype=self.compute_dtype)

    def call(self, window):
        last = window[:, -1:, :]  # -> (n_samples, 1, n_features)
        centred = window - last * self._mask  # -> (n_samples, lookback, n_features)
        if not self.scale:
            return centred
        scale = window_step_scale(window, self.target_indices)  # -> (n_samples, 1, n_targets)
        # divide target columns by their scale, leave the others: factor = 1 + mask * (1/scale - 1)
        inv = ops.matmul(1.0 / scale, self._onehot)  # -> (n_samples, 1, n_features)
        return centred * (1.0 - self._mask + inv)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["target_indices"] = list(self.target_indices)
        config["scale"] = self.scale
        return config


@keras.saving.register_keras_serializable(package="forecaster")
class WindowSlice(keras.layers.Layer):
    """``window[:, -steps:, start:stop]``: a part of the input window, no weights.

    Splits a window that carries known-future columns (:mod:`forecaster.features.knownfuture`)
    into what the encoder reads (``steps=None``, the columns before them) and the known-future
    block (the last ``horizon`` steps of the last columns).

    Parameters
    ----------
    start, stop : int or None
        The columns kept (Python slice semantics, negative from the end).
    steps : int or None
        Keep only the last ``steps`` time steps; None keeps all.
    """

    def __init__(self, start=None, stop=None, steps=None, **kwargs):
        super().__init__(**kwargs)
        self.start = None if start is None else int(start)
        self.stop = None if stop is None else int(stop)
        self.steps = None if steps is None else int(steps)

    def call(self, window):
        if self.steps is not None:
            window = window[:, -self.steps:, :]
        return window[:, :, self.start:self.stop]

    def compute_output_shape(self, input_shape):
        batch, steps, width = input_shape
        width = None if width is None else len(range(width)[self.start:self.stop])
        return (batch, steps if self.steps is None else self.steps, width)

    def get_config(self):
        config = super().get_config()
        config.update(start=self.start, stop=self.stop, steps=self.steps)
        return config
