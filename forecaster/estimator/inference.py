"""The serving hot path: a Keras model's forward pass as one traced ``tf.function`` per model.

``model.predict`` builds a data adapter and an iterator on every call (tens of ms) and an eager
``model(X)`` runs a recurrent layer's time loop op by op in Python; both dominate a one-series
forecast. :func:`predict_windows` traces the forward pass once per model (for any number of
windows: the batch dimension is left free) and feeds it fixed-size chunks.

Example
-------
>>> import keras, numpy as np
>>> model = keras.Sequential([keras.Input((6, 2)), keras.layers.GRU(3), keras.layers.Dense(4)])
>>> predict_windows(model, np.zeros((5, 6, 2), dtype="float32")).shape
(5, 4)
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

#: Windows per call of the traced forward pass (bounded memory for long evaluations).
CHUNK = 4096
#: model -> its traced forward pass; weak keys, so a dropped model takes its function with it.
_FORWARD: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()


def _forward(model: Any):
    """The model's traced forward pass ``(batch, lookback, n_features) -> outputs``, made once."""
    forward = _FORWARD.get(model)
    if forward is None:
        import tensorflow as tf

        shape = (None, *model.inputs[0].shape[1:])
        ref = weakref.ref(model)  # no strong reference from the value back to its key

        @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32)], reduce_retracing=True)
        def forward(X):
            return ref()(X, training=False)

        _FORWARD[model] = forward
    return forward


def predict_windows(model: Any, X: np.ndarray, chunk: int = CHUNK) -> np.ndarray:
    """``model``'s outputs for the windows ``X`` ``(n_samples, lookback, n_features)``, as numpy.

    Same numbers as ``model.predict(X)`` up to float32 rounding (same layers, inference mode).
    """
    X = np.asarray(X, dtype=np.float32)
    forward = _forward(model)
    parts = [forward(X[i:i + chunk]).numpy() for i in range(0, len(X), chunk)]
    return np.concatenate(parts) if len(parts) > 1 else parts[0]
