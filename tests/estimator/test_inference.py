"""The serving hot path: the compiled predict function gives model.predict's numbers."""

from __future__ import annotations

import keras
import numpy as np

from forecaster.estimator.inference import predict_windows


def test_predict_windows_equals_model_predict_in_chunks():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((7, 3)), keras.layers.LSTM(5), keras.layers.Dense(4),
                              keras.layers.Reshape((4, 1))])
    X = np.random.default_rng(0).normal(size=(11, 7, 3)).astype("float32")
    expected = model.predict(X, verbose=0)
    np.testing.assert_allclose(predict_windows(model, X, chunk=4), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(predict_windows(model, X[:1]), expected[:1], rtol=1e-5, atol=1e-6)
    model.layers[1].kernel.assign(model.layers[1].kernel * 2)  # new weights are seen
    np.testing.assert_allclose(predict_windows(model, X), model.predict(X, verbose=0), rtol=1e-5, atol=1e-6)
