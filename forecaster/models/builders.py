"""Build Keras recurrent forecasters from a :class:`~forecaster.models.spec.ModelSpec`.

Every model maps a window ``(n_samples, lookback, n_features)`` to a forecast
``(n_samples, horizon, n_targets)``:

- the encoder is ``spec.layers`` stacked ``SimpleRNN``/``GRU``/``LSTM`` layers; every layer but
  the last returns sequences; each is wrapped in ``Bidirectional`` (concatenated) when asked;
- head ``dense``: last state -> ``Dense(horizon * n_targets)`` -> ``Reshape((horizon, n_targets))``
  (direct multi-step);
- head ``seq2seq``: last state -> ``RepeatVector(horizon)`` -> one decoder layer of the same cell
  (units of the last encoder layer, unidirectional, returns sequences) ->
  ``TimeDistributed(Dense(n_targets))``;
- with ``known_future=K`` the window's last ``K`` columns are the known-future inputs
  (:mod:`forecaster.features.knownfuture`): the encoder does not read them; the block (the
  window's last ``horizon`` steps of them, ``(horizon, K)``) is flattened and concatenated with the
  encoder's last state before the dense head, or concatenated with each decoder step's input
  (the repeated state) in ``seq2seq``; segment recurrence adds its embedding to each output
  segment's decoder input (:mod:`forecaster.models.segment`);
- with ``spec.highway`` a Dense map of the flattened observed window (after centring) is added to the
  head's output (LSTNet's linear "highway"; zero-initialised);
- with ``residual_targets`` the network predicts the change from the last observed target values
  and :class:`~forecaster.models.layers.LastValueResidual` adds them back. The final Dense kernel
  then starts tiny (variance scaling 1e-4, zero bias), so an untrained model forecasts almost
  exactly persistence.

When the fast cuDNN kernel is used (Keras 3.15, TensorFlow backend)
-------------------------------------------------------------------
Read from ``keras/src/layers/rnn/lstm.py``, ``gru.py`` and ``keras/src/backend/tensorflow/rnn.py``
(``cudnn_ok``, ``_do_lstm_arguments_support_cudnn``, ``_do_gru_arguments_support_cudnn``,
``_assert_valid_mask``). The kernel runs only when all of these hold, otherwise Keras silently
falls back to the generic (much slower on GPU) loop:

- TensorFlow sees a GPU (``tf.config.list_logical_devices("GPU")`` is not empty);
- the cell is ``GRU`` or ``LSTM`` (``SimpleRNN`` has no cuDNN kernel at all);
- ``use_cudnn`` is ``"auto"`` (the default, kept here) or ``True``;
- ``recurrent_dropout == 0``: any recurrent dropout turns it off. Input ``dropout`` is fine (one
  mask per sequence is applied to the inputs before the kernel);
- ``activation`` is tanh and ``recurrent_activation`` is sigmoid, ``unroll=False``,
  ``use_bias=True``, and for GRU ``reset_after=True`` (the Keras defaults, kept here);
- with a mask (none is used here): every sequence strictly right-padded and none fully masked;
  ``_assert_valid_mask`` checks it with ``tf.Assert``, which in a compiled graph fails at run
  time instead of falling back.

When the kernel is used, Keras marks the layer ``supports_jit = False``, so the model is not
XLA-compiled. Bidirectional wrapping keeps the kernel (both directions are cuDNN layers).

Example
-------
>>> import numpy as np
>>> from forecaster.models.spec import ModelSpec
>>> model = build_model(ModelSpec(cell="gru", units=4), lookback=6, n_features=3, horizon=2,
...                     n_targets=1, residual_targets=[0], seed=1)
>>> model(np.zeros((5, 6, 3), dtype="float32")).shape
TensorShape([5, 2, 1])
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Iterator, Sequence

import keras
import numpy as np

from forecaster.models.layers import CenterOnLastValue, LastValueResidual, WindowSlice
from forecaster.models.spec import ModelSpec
from forecaster.models.truncation import TruncatedRecurrent

logger = logging.getLogger(__name__)

_CELL_LAYERS = {"rnn": keras.layers.SimpleRNN, "gru": keras.layers.GRU, "lstm": keras.layers.LSTM}

#: Scale of the variance-scaling initializer of the final Dense kernel of a residual model
#: (Glorot uses 1.0): the untrained model is persistence up to ~1e-3 in scaled units, while
#: gradients still reach the recurrent layers from the first step.
RESIDUAL_HEAD_SCALE = 1e-4


def _seed_stream(seed: int | None) -> Iterator[int | None]:
    """Distinct, reproducible integer seeds derived from ``seed`` (all None when it is None)."""
    k = 0
    while True:
        if seed is None:
            yield None
        else:
            yield int(np.random.SeedSequence([seed, k]).generate_state(1)[0] % (2**31 - 1))
        k += 1


def _check_positive_int(name: str, value) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{name}` must be an int >= 1. Received: {name}={value!r}")
    return int(value)


def _recurrent_layer(
    spec: ModelSpec, units: int, return_sequences: bool, seeds: Iterator[int | None], name: str,
    go_backwards: bool = False, return_state: bool = False,
) -> keras.layers.Layer:
    return _CELL_LAYERS[spec.cell](
        units,
        dropout=spec.dropout,
        recurrent_dropout=spec.recurrent_dropout,
        return_sequences=return_sequences,
        return_state=return_state,
        go_backwards=go_backwards,
        kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)),
        recurrent_initializer=keras.initializers.Orthogonal(seed=next(seeds)),
        seed=next(seeds),
        name=name,
    )


def _encoder_layer(spec: ModelSpec, units: int, return_sequences: bool, seeds, name: str,
                   truncate: int | None = None):
    if truncate is not None:  # truncated BPTT: unidirectional only (checked by build_model)
        inner = _recurrent_layer(spec, units, return_sequences, seeds, name, return_state=True)
        return TruncatedRecurrent(inner, truncate, name=f"tbptt_{name}")
    forward = _recurrent_layer(spec, units, return_sequences, seeds, name)
    if not spec.bidirectional:
        return forward
    # An explicit backward layer, so its weights come from their own seeds instead of
    # repeating the forward layer's initial weights.
    backward = _recurrent_layer(
        spec, units, return_sequences, seeds, f"backward_{name}", go_backwards=True
    )
    return keras.layers.Bidirectional(forward, backward_layer=backward, name=f"bi_{name}")


def _head_kernel_initializer(residual: bool, seed: int | None) -> keras.initializers.Initializer:
    if residual:
        return keras.initializers.VarianceScaling(
            scale=RESIDUAL_HEAD_SCALE, mode="fan_avg", distribution="uniform", seed=seed
        )
    return keras.initializers.GlorotUniform(seed=seed)


def _check_residual_targets(residual_targets: Sequence[int], n_features: int, n_targets: int) -> list[int]:
    indices = list(residual_targets)
    if len(indices) != n_targets:
        raise ValueError(
            f"`residual_targets` must name one input column per target (n_targets={n_targets}). "
            f"Received: residual_targets={indices}"
        )
    for i in indices:
        if not isinstance(i, numbers.Integral) or isinstance(i, bool) or not 0 <= i < n_features:
            raise ValueError(
                f"`residual_targets` must hold column indices in [0, {n_features}) "
                f"(n_features={n_features}). Received: residual_targets={indices}"
            )
    return [int(i) for i in indices]


def build_model(
    spec: ModelSpec,
    lookback: int,
    n_features: int,
    horizon: int,
    n_targets: int,
    residual_targets: Sequence[int] | None = None,
    seed: int | None = None,
    center_targets: bool = False,
    scale_targets: bool = False,
    truncate: int | None = None,
    target_indices: Sequence[int] | None = None,
    known_future: int = 0,
) -> keras.Model:
    """Build (not compile) the Keras model of ``spec``.

    Parameters
    ----------
    spec : ModelSpec
    lookback, n_features : int
        Input shape ``(n_samples, lookback, n_features)``.
    horizon, n_targets : int
        Output shape ``(n_samples, horizon, n_targets)``.
    residual_targets : sequence of int, optional
        Column of each target among the input features. When given, the network output is a
        change added to the last observed target values (zero output = persistence).
    center_targets : bool
        With ``residual_targets``: feed the targets' input channels relative to their last
        observed value (:class:`CenterOnLastValue`), making the model translation-invariant in
        the target level.
    scale_targets : bool
        With ``center_targets``: also divide the targets' input channels by the window's own
        step volatility and multiply the predicted change by it (instance normalisation), so the
        model is invariant to the volatility regime as well as the level.
    truncate : int, optional
        Truncated backpropagation through time: every encoder layer runs over the window in
        chunks of ``truncate`` steps with the gradient stopped between chunks
        (:class:`~forecaster.models.truncation.TruncatedRecurrent`), so training gradients reach at
        most ``truncate`` steps back; the forward pass (the forecast) is unchanged. ``None``: full
        BPTT. Needs a unidirectional spec and ``1 <= truncate < lookback``.
    target_indices : sequence of int, optional
        Column of each target among the inputs; used by segment recurrence (``spec.segment``), which
        reads only the target channels (default: ``residual_targets``, else the first columns).
    seed : int, optional
        Seeds every initializer and dropout layer (each with its own seed derived from this
        one): the same seed gives identical initial weights.
    known_future : int
        The number of known-future columns at the end of the input (0: none); needs
        ``horizon <= lookback`` and at least one other column.

    Returns
    -------
    keras.Model
        Named :func:`model_name` of the spec; ``(n_samples, lookback, n_features) -> (n_samples, horizon, n_targets)``.

    Raises
    ------
    ValueError
        A shape argument < 1, ``residual_targets`` of the wrong length or out of range, or a
        ``truncate`` that is not in ``[1, lookback)`` or is combined with a bidirectional spec.
    """
    if not isinstance(spec, ModelSpec):
        raise ValueError(f"`spec` must be a ModelSpec. Received: spec={spec!r}")
    lookback = _check_positive_int("lookback", lookback)
    n_features = _check_positive_int("n_features", n_features)
    horizon = _check_positive_int("horizon", horizon)
    n_targets = _check_positive_int("n_targets", n_targets)
    if truncate is not None:
        _check_truncate(truncate, lookback, spec)
    known = _check_known_future(known_future, lookback, n_features, horizon)
    if spec.segment is not None:  # segment recurrence: its own normalisation, residual/centring unused
        from forecaster.models.segment import build_segment_model

        targets = list(target_indices if target_indices is not None else
                       residual_targets if residual_targets is not None else range(n_targets))
        return build_segment_model(spec, lookback, n_features, horizon, targets, seed=seed,
                                   truncate=truncate, name=model_name(spec), known=known)
    residual = residual_targets is not None
    if residual:
        residual_targets = _check_residual_targets(residual_targets, n_features, n_targets)
    seeds = _seed_stream(seed)

    inputs = keras.Input(shape=(lookback, n_features), name="window")  # -> (B, L, F)
    x, block = inputs, None
    if known:
        block = WindowSlice(start=-known, steps=horizon, name="known_future")(inputs)  # -> (B, H, K)
        x = WindowSlice(stop=-known, name="observed")(inputs)  # -> (B, L, F - K)
    if residual and center_targets:
        x = CenterOnLastValue(residual_targets, scale=scale_targets, name="center")(x)  # -> (B, L, F)
    observed = x
    units = spec.units_per_layer
    for i, u in enumerate(units):
        last = i == len(units) - 1
        x = _encoder_layer(spec, u, not last, seeds, f"{spec.cell}_{i}", truncate)(x)
    # x -> (B, U_last) or (B, 2 * U_last) when bidirectional

    head_init = _head_kernel_initializer(residual, next(seeds))
    if spec.head == "dense":
        if block is not None:  # -> (B, W + H * K)
            flat = keras.layers.Flatten(name="known_future_flat")(block)
            x = keras.layers.Concatenate(name="with_known_future")([x, flat])
        x = keras.layers.Dense(horizon * n_targets, kernel_initializer=head_init, name="head")(x)
        outputs = keras.layers.Reshape((horizon, n_targets), name="forecast")(x)  # -> (B, H, T)
    else:
        x = keras.layers.RepeatVector(horizon, name="repeat")(x)  # -> (B, H, W)
        if block is not None:  # each decoder step also reads its target step's known-future inputs
            x = keras.layers.Concatenate(axis=-1, name="with_known_future")([x, block])  # -> (B, H, W + K)
        x = _recurrent_layer(spec, units[-1], True, seeds, "decoder")(x)  # -> (B, H, U_last)
        outputs = keras.layers.TimeDistributed(
            keras.layers.Dense(n_targets, kernel_initializer=head_init), name="head"
        )(x)  # -> (B, H, T)
    if spec.highway:  # the network's output plus a linear forecast from the (centred) observed window
        outputs = keras.layers.Add(name="with_highway")([outputs, _highway(observed, horizon, n_targets)])
    if residual:
        outputs = LastValueResidual(residual_targets, scale=center_targets and scale_targets,
                                    name="residual")([inputs, outputs])

    model = keras.Model(inputs, outputs, name=model_name(spec))
    logger.debug("built %s: %d parameters", spec.name, model.count_params())
    return model


def _highway(observed, horizon: int, n_targets: int):
    """``(B, L, F) -> (B, H, T)``: one Dense map of the flattened window, zero-initialised so the untrained
    model is the recurrent head alone (persistence, for a residual model)."""
    flat = keras.layers.Flatten(name="highway_flat")(observed)
    linear = keras.layers.Dense(horizon * n_targets, kernel_initializer="zeros", name="highway")(flat)
    return keras.layers.Reshape((horizon, n_targets), name="highway_forecast")(linear)


def _check_known_future(known_future, lookback: int, n_features: int, horizon: int) -> int:
    if not isinstance(known_future, numbers.Integral) or isinstance(known_future, bool) or known_future < 0:
        raise ValueError(f"`known_future` must be an int >= 0. Received: known_future={known_future!r}")
    if not known_future:
        return 0
    if known_future >= n_features or horizon > lookback:
        raise ValueError(
            f"`known_future` columns must leave an observed column and fit the window's last horizon steps "
            f"(horizon <= lookback). Received: known_future={known_future}, n_features={n_features}, "
            f"horizon={horizon}, lookback={lookback}")
    return int(known_future)


def _check_truncate(truncate, lookback: int, spec: ModelSpec) -> None:
    if not isinstance(truncate, numbers.Integral) or isinstance(truncate, bool) or not 1 <= truncate < lookback:
        raise ValueError(
            f"`truncate` must be an int in [1, lookback) (lookback={lookback}); truncate >= lookback is "
            f"full BPTT. Received: truncate={truncate!r}"
        )
    if spec.bidirectional:
        raise ValueError(
            "`truncate` cannot be combined with a bidirectional spec: the backward direction reads the "
            f"window from its start, so there is no clean K-step cut. Received: spec={spec.name}"
        )


def model_name(spec: ModelSpec) -> str:
    """``spec.name`` made a valid TensorFlow scope name (``,`` -> ``_``): ``gru-2x64_32``."""
    return spec.name.replace(",", "_")


def _cell_params(cell: str, n_inputs: int, units: int) -> int:
    if cell == "rnn":
        return units * (n_inputs + units) + units
    if cell == "gru":  # reset_after=True: two bias vectors
        return 3 * (units * (n_inputs + units) + 2 * units)
    return 4 * (units * (n_inputs + units) + units)


def expected_param_count(
    spec: ModelSpec, n_features: int, horizon: int, n_targets: int, residual: bool = False,
    known_future: int = 0, lookback: int | None = None,
) -> int:
    """The number of weights :func:`build_model` creates, from the Keras formulas.

    With ``f`` inputs and ``u`` units: SimpleRNN ``u*(f+u) + u``; GRU (``reset_after=True``)
    ``3*(u*(f+u) + 2u)``; LSTM ``4*(u*(f+u) + u)``. Bidirectional doubles a layer's weights and its
    output width. Dense head: ``w*horizon*n_targets + horizon*n_targets`` (``w`` the last width);
    seq2seq head: a decoder cell with input ``w`` and the last layer's units, then
    ``u*n_targets + n_targets``. ``highway`` adds a Dense over the flattened observed window,
    ``(lookback*f + 1)*horizon*n_targets`` (it needs ``lookback``). ``residual`` adds nothing (``LastValueResidual`` has no weights);
    it is accepted so callers can pass the same arguments as to :func:`build_model`.

    Example
    -------
    >>> expected_param_count(ModelSpec(cell="lstm", units=8), n_features=3, horizon=2, n_targets=1)
    402
    """
    del residual  # no weights
    width = n_features - known_future  # the encoder does not read the known-future columns
    total = 0
    if spec.highway:  # Dense over the flattened observed window, to every output
        if lookback is None:
            raise ValueError("`lookback` is needed to count a highway's weights. Received: lookback=None")
        total += (lookback * width + 1) * horizon * n_targets
    directions = 2 if spec.bidirectional else 1
    for u in spec.units_per_layer:
        total += directions * _cell_params(spec.cell, width, u)
        width = directions * u
    if spec.head == "dense":
        total += (width + horizon * known_future) * horizon * n_targets + horizon * n_targets
    else:
        u = spec.units_per_layer[-1]
        total += _cell_params(spec.cell, width + known_future, u) + u * n_targets + n_targets
    return total
