"""Truncated backpropagation through time: a recurrent layer run over its window in chunks.

:class:`TruncatedRecurrent` wraps one unidirectional Keras recurrent layer (``SimpleRNN``, ``GRU``,
``LSTM``, built with ``return_state=True``) and runs it over the window in consecutive chunks of
``truncate`` steps. The chunks are aligned so the LAST one ends at the window's end (the first
may be shorter). Each chunk starts from the previous chunk's final state passed through
``keras.ops.stop_gradient``:

- forward: the state flows through the whole window exactly as in one uninterrupted run, so the
  output is the untruncated layer's output on the same weights (up to float rounding);
- backward: the gradient of anything computed from the last chunk reaches at most ``truncate``
  steps back; inputs earlier than that get exactly zero gradient through this layer.

Stacked layers each get their own wrapper, with the same chunk boundaries, so a whole stack
reaches back at most ``truncate`` steps. The layer is registered as
``forecaster>TruncatedRecurrent``, so a saved ``.keras`` file loads with ``safe_mode=True``.

:func:`untruncated_twin` gives the same network without the cut: the same forward pass on the
same weights, differentiable through the whole window (what the lag telemetry measures of a
truncated model: how far back the function it computes reaches, not its training gradient).

Example
-------
>>> import numpy as np, keras
>>> gru = keras.layers.GRU(3, return_state=True, seed=1)
>>> layer = TruncatedRecurrent(gru, truncate=4)
>>> x = np.random.default_rng(0).normal(size=(2, 10, 2)).astype("float32")  # (n_samples, lookback, n_features)
>>> layer(x).shape
TensorShape([2, 3])
>>> chunk_bounds(10, 4)
[(0, 2), (2, 6), (6, 10)]
>>> model = keras.Sequential([keras.Input((10, 2)), layer])
>>> twin = untruncated_twin(model)
>>> [type(l).__name__ for l in twin.layers], len(twin.get_weights()) == len(model.get_weights())
(['GRU'], True)
"""

from __future__ import annotations

import numbers

import keras
from keras import ops


def chunk_bounds(lookback: int, truncate: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` of the chunks of a ``lookback``-step window, the last ending at ``lookback``.

    The first chunk holds ``lookback % truncate`` steps when that is not zero; every other chunk
    holds ``truncate`` steps.

    Raises
    ------
    ValueError
        ``lookback`` or ``truncate`` not an int >= 1.
    """
    for name, value in (("lookback", lookback), ("truncate", truncate)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"`{name}` must be an int >= 1. Received: {name}={value!r}")
    first = lookback % truncate
    starts = ([0] if first else []) + list(range(first, lookback, truncate))
    return list(zip(starts, [*starts[1:], lookback]))


@keras.saving.register_keras_serializable(package="forecaster")
class TruncatedRecurrent(keras.layers.Layer):
    """Run ``layer`` over the window in chunks of ``truncate`` steps, stopping the gradient between chunks.

    Parameters
    ----------
    layer : keras.layers.SimpleRNN | GRU | LSTM
        Unidirectional (``go_backwards=False``), built with ``return_state=True``. Its
        ``return_sequences`` decides the output: ``(n_samples, lookback, units)`` (the chunks'
        sequences concatenated) or ``(n_samples, units)`` (the last state's output).
    truncate : int
        Chunk length K >= 1: how many steps back the gradient reaches.

    Raises
    ------
    ValueError
        ``layer`` is not a unidirectional recurrent layer with ``return_state=True``, or
        ``truncate`` is not an int >= 1.
    """

    def __init__(self, layer, truncate, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, keras.layers.RNN) or not getattr(layer, "return_state", False):
            raise ValueError(
                "`layer` must be a Keras recurrent layer (SimpleRNN, GRU, LSTM) built with "
                f"return_state=True. Received: layer={layer!r}"
            )
        if layer.go_backwards:
            raise ValueError("`layer` must run forwards: truncation of a backward layer is not defined "
                             f"(it would cut the gradient from the window's start). Received: {layer.name}")
        if not isinstance(truncate, numbers.Integral) or isinstance(truncate, bool) or truncate < 1:
            raise ValueError(f"`truncate` must be an int >= 1. Received: truncate={truncate!r}")
        self.layer = layer
        self.truncate = int(truncate)

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        lookback = inputs.shape[1]
        if lookback is None:
            raise ValueError("`TruncatedRecurrent` needs a fixed number of timesteps. "
                             f"Received: input shape {inputs.shape}")
        states = None
        outputs = []
        for start, stop in chunk_bounds(int(lookback), self.truncate):
            chunk = inputs[:, start:stop, :]  # -> (B, k, F)
            if states is None:
                result = self.layer(chunk, training=training)
            else:
                result = self.layer(chunk, initial_state=states, training=training)
            output, states = result[0], [ops.stop_gradient(s) for s in result[1:]]
            outputs.append(output)
        if self.layer.return_sequences:
            return ops.concatenate(outputs, axis=1)  # -> (B, L, U)
        return outputs[-1]  # -> (B, U)

    def compute_output_shape(self, input_shape):
        units = self.layer.cell.units
        if self.layer.return_sequences:
            return (input_shape[0], input_shape[1], units)
        return (input_shape[0], units)

    def get_config(self):
        config = super().get_config()
        config.update(layer=keras.saving.serialize_keras_object(self.layer), truncate=self.truncate)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = keras.saving.deserialize_keras_object(config["layer"])
        return cls(**config)


def is_truncated(model: keras.Model) -> bool:
    """Whether ``model`` has a :class:`TruncatedRecurrent` layer in its layer list."""
    return any(isinstance(layer, TruncatedRecurrent) for layer in getattr(model, "layers", ()))


def untruncated_twin(model: keras.Model) -> keras.Model:
    """A clone of ``model`` with each :class:`TruncatedRecurrent` replaced by its inner layer run in one piece.

    The twin has the same weights in the same order (``twin.set_weights(model.get_weights())``),
    the same forward pass (the forecast; tested to float precision) and the full gradient: for
    lags up to ``truncate`` it equals the truncated model's input gradient, beyond it it is the
    gradient the truncation cut (exactly zero in ``model`` itself). Fresh weights: copy them in.
    """
    def clone(layer):
        if isinstance(layer, TruncatedRecurrent):
            config = layer.layer.get_config()
            config["return_state"] = False  # the wrapper returns the output alone
            return type(layer.layer).from_config(config)
        return type(layer).from_config(layer.get_config())

    return keras.models.clone_model(model, clone_function=clone)
