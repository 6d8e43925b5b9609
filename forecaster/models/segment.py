"""Segment recurrence (SegRNN-style): the cell steps over segments of ``segment`` steps, not steps.

:class:`SegmentRecurrent` maps a window ``(B, lookback, n_features)`` to a forecast
``(B, horizon, n_targets)``:

- **Channel independence.** Only the target channels are read; every target channel is its own
  sample through shared weights (``(B, L, T)`` -> ``(B*T, L)``).
- **Normalisation** (``norm``): ``revin`` (default) subtracts each channel's window mean and divides
  by its window standard deviation (no affine), undone on the output; ``last`` subtracts the
  window's last value and adds it back.
- **Encoder.** The lookback is cut into ``L/w`` non-overlapping segments; a shared
  ``Dense(w -> units, ReLU)`` embeds each; the cell (SimpleRNN, GRU or LSTM) runs over the ``L/w``
  segments; its final state summarises the window.
- **Decoder, parallel multi-step.** Each output segment gets a learned position embedding
  (``units/2``) concatenated with a learned channel embedding (``units/2``; position takes all
  ``units`` when ``channel_embedding`` is off). The *same* cell runs one step from the encoder state
  with each embedding as input, for all output segments and channels at once; dropout
  (``dropout``) then a ``Dense(units -> w)`` give ``w`` values per output segment.
- **Known-future inputs** (``known`` > 0, :mod:`forecaster.features.knownfuture`): the window's
  last ``known`` columns are not read by the encoder; their last ``horizon`` steps (the target
  steps' calendar) are cut into the output segments, embedded by a ``Dense(w * known -> units)``
  and added to each output segment's position (and channel) embedding, the decoder step's input.
- **Truncated BPTT** (``truncate`` in steps): the encoder runs over chunks of
  ``max(1, truncate // segment)`` segments ending at the window's end, with the gradient stopped
  between chunks, so training
  gradients reach back about ``truncate`` steps, rounded down to whole segments (at least one).

Example
-------
>>> import numpy as np
>>> layer = SegmentRecurrent(lookback=8, horizon=4, segment=2, units=6, cell="gru", target_indices=[0, 1])
>>> layer(np.zeros((3, 8, 2), dtype="float32")).shape
TensorShape([3, 4, 2])
"""

from __future__ import annotations

import keras
from keras import ops

_CELLS = {"rnn": keras.layers.SimpleRNN, "gru": keras.layers.GRU, "lstm": keras.layers.LSTM}
NORMS = ("revin", "last")


def check_segment(lookback: int, horizon: int, segment: int) -> None:
    """Raise ``ValueError`` naming the keys when ``lookback`` or ``horizon`` is not a multiple of ``segment``."""
    for key, value in (("window.lookback", lookback), ("window.horizon", horizon)):
        if value % segment:
            raise ValueError(
                f"{key}={value} is not divisible by the model's segment={segment}: segment recurrence "
                "cuts the window and the forecast into whole segments"
            )


@keras.saving.register_keras_serializable(package="forecaster")
class SegmentRecurrent(keras.layers.Layer):
    """The whole segment-recurrent forecaster as one serialisable layer (see the module docstring)."""

    def __init__(self, lookback, horizon, segment, units, cell="gru", target_indices=(0,), norm="revin",
                 dropout=0.0, channel_embedding=True, truncate=None, seed=None, known=0, **kwargs):
        super().__init__(**kwargs)
        check_segment(lookback, horizon, segment)
        if norm not in NORMS:
            raise ValueError(f"`norm` must be one of {list(NORMS)}. Received: norm={norm!r}")
        self.lookback, self.horizon, self.segment, self.units = int(lookback), int(horizon), int(segment), int(units)
        self.cell, self.norm, self.dropout_rate = cell, norm, float(dropout)
        self.target_indices = [int(i) for i in target_indices]
        self.channel_embedding, self.truncate, self.seed = bool(channel_embedding), truncate, seed
        self.n_in, self.n_out = self.lookback // self.segment, self.horizon // self.segment
        self.known = int(known)
        if self.known and self.horizon > self.lookback:
            raise ValueError(f"known-future inputs need horizon <= lookback. Received: horizon={horizon}, "
                             f"lookback={lookback}")
        init = (lambda k: keras.initializers.GlorotUniform(seed=None if seed is None else seed + k))
        self.embed = keras.layers.Dense(self.units, activation="relu", kernel_initializer=init(1), name="embed")
        self.rnn = _CELLS[cell](self.units, return_state=True, kernel_initializer=init(2),
                                recurrent_initializer=keras.initializers.Orthogonal(seed=None if seed is None else seed + 3),
                                name=cell)
        self.drop = keras.layers.Dropout(self.dropout_rate, seed=None if seed is None else seed + 4)
        self.head = keras.layers.Dense(self.segment, kernel_initializer=init(5), name="segment_head")
        self.known_embed = (keras.layers.Dense(self.units, kernel_initializer=init(8), name="known_embed")
                            if self.known else None)

    def build(self, input_shape):
        n_t = len(self.target_indices)
        pos_width = self.units // 2 if self.channel_embedding else self.units
        seed = self.seed
        normal = (lambda k: keras.initializers.RandomNormal(stddev=0.05, seed=None if seed is None else seed + k))
        self.pos_emb = self.add_weight(shape=(self.n_out, pos_width), initializer=normal(6), name="position")
        if self.channel_embedding:
            self.chan_emb = self.add_weight(shape=(n_t, self.units - pos_width), initializer=normal(7),
                                            name="channel")
        self.embed.build((None, self.n_in, self.segment))
        self.rnn.build((None, self.n_in, self.units))
        self.head.build((None, self.units))
        if self.known_embed is not None:
            self.known_embed.build((None, self.n_out, self.segment * self.known))

    def _encode(self, z):
        chunk = self.n_in if self.truncate is None else max(1, int(self.truncate) // self.segment)
        # Chunks end at the window's end (the first one may be shorter), as TruncatedRecurrent does.
        bounds = sorted({0, *range(self.n_in % chunk, self.n_in, chunk)})
        states = None
        for a, b in zip(bounds, [*bounds[1:], self.n_in]):
            if states is not None:
                states = [ops.stop_gradient(s) for s in states]
            out = self.rnn(z[:, a:b], initial_state=states)
            states = list(out[1:])
        return states

    def call(self, window, training=None):
        t = len(self.target_indices)
        x = ops.take(window, self.target_indices, axis=2)  # (B, L, T)
        x = ops.transpose(x, (0, 2, 1))  # (B, T, L)
        if self.norm == "revin":
            loc = ops.mean(x, axis=-1, keepdims=True)
            scale = ops.sqrt(ops.var(x, axis=-1, keepdims=True) + 1e-5)
        else:
            loc, scale = x[..., -1:], ops.ones_like(x[..., -1:])
        x = (x - loc) / scale
        x = ops.reshape(x, (-1, self.n_in, self.segment))  # (B*T, n_in, w)
        states = self._encode(self.embed(x))  # each (B*T, U)
        n = ops.shape(x)[0]
        pos = ops.broadcast_to(self.pos_emb[None, None], (1, t, self.n_out, self.pos_emb.shape[-1]))
        if self.channel_embedding:
            chan = ops.broadcast_to(self.chan_emb[None, :, None], (1, t, self.n_out, self.chan_emb.shape[-1]))
            pos = ops.concatenate([pos, chan], axis=-1)  # (1, T, n_out, U)
        emb = ops.reshape(pos, (t, self.n_out, self.units))
        emb = ops.tile(emb, (n // t, 1, 1))  # (B*T, n_out, U)
        if self.known_embed is not None:  # each output segment's known-future inputs, every channel alike
            block = window[:, self.lookback - self.horizon:, window.shape[-1] - self.known:]  # (B, H, K)
            k = self.known_embed(ops.reshape(block, (-1, self.n_out, self.segment * self.known)))  # (B, n_out, U)
            k = ops.repeat(ops.expand_dims(k, 1), t, axis=1)  # (B, T, n_out, U)
            emb = emb + ops.reshape(k, (-1, self.n_out, self.units))
        emb = ops.reshape(emb, (-1, 1, self.units))  # (B*T*n_out, 1, U)
        rep = [ops.reshape(ops.repeat(ops.expand_dims(s, 1), self.n_out, axis=1), (-1, self.units)) for s in states]
        out = self.rnn(emb, initial_state=rep)[0]  # (B*T*n_out, U): one shared cell step
        y = self.head(self.drop(out, training=training))  # (B*T*n_out, w)
        y = ops.reshape(y, (-1, t, self.horizon))
        y = y * scale + loc
        return ops.transpose(y, (0, 2, 1))  # (B, H, T)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.horizon, len(self.target_indices))

    def get_config(self):
        return {**super().get_config(), "lookback": self.lookback, "horizon": self.horizon,
                "segment": self.segment, "units": self.units, "cell": self.cell,
                "target_indices": self.target_indices, "norm": self.norm, "dropout": self.dropout_rate,
                "channel_embedding": self.channel_embedding, "truncate": self.truncate, "seed": self.seed,
                **({"known": self.known} if self.known else {})}


def build_segment_model(spec, lookback: int, n_features: int, horizon: int, target_indices, seed=None,
                        truncate=None, name: str = "segment", known: int = 0) -> keras.Model:
    """A ``keras.Model`` around one :class:`SegmentRecurrent` layer for ``spec`` (``spec.segment`` set)."""
    units = spec.units_per_layer[-1]
    inputs = keras.Input(shape=(lookback, n_features), name="window")
    outputs = SegmentRecurrent(lookback, horizon, spec.segment, units, cell=spec.cell,
                               target_indices=list(target_indices), norm=spec.norm, dropout=spec.dropout,
                               channel_embedding=spec.channel_embedding, truncate=truncate, seed=seed,
                               known=known, name="segment_rnn")(inputs)
    return keras.Model(inputs, outputs, name=name)
