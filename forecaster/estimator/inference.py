"""The serving hot path: a Keras model's forward pass through its compiled predict function.

``model.predict`` builds a data adapter and an iterator on every call (tens of ms) and an eager
``model(X)`` runs a recurrent layer's time loop op by op in Python (seconds on a busy machine);
both dominated a one-series forecast. :func:`predict_windows` calls ``model.predict_on_batch``
on fixed-size chunks: Keras's own traced ``predict_function``, made once per model
(``reduce_retracing``: a new batch size stops retracing after the first few).

Example
-------
>>> import keras, numpy as np
>>> model = keras.Sequential([keras.Input((6, 2)), keras.layers.GRU(3), keras.layers.Dense(4)])
>>> predict_windows(model, np.zeros((5, 6, 2), dtype="float32")).shape
(5, 4)
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Windows per call of the predict function (bounded memory for long evaluations).
CHUNK = 4096


def predict_windows(model: Any, X: np.ndarray, chunk: int = CHUNK) -> np.ndarray:
    """``model``'s outputs for the windows ``X`` ``(n_samples, lookback, n_features)``, as numpy.

    Same numbers as ``model.predict(X)`` up to float32 rounding (same layers, inference mode).
    """
    X = np.asarray(X, dtype=np.float32)
    parts = [np.asarray(model.predict_on_batch(X[i:i + chunk])) for i in range(0, len(X), chunk)]
    return np.concatenate(parts) if len(parts) > 1 else parts[0]
