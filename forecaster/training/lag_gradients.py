"""Vanishing gradients made visible: the loss gradient with respect to the input, by lag.

:class:`LagGradientTelemetry` is a Keras callback. On a fixed batch of windows ``X
(n_samples, lookback, n_features)`` with labels ``y`` it computes ``g = d(loss)/d(X)`` and, for
each window step, the norm of ``g`` over the samples and features.

Where the gradient is taken: at the input of the recurrent encoder, i.e. the window as the
recurrent layers see it. For a plain model that is the model input. The forecaster's own models
may put normalisation layers in front (``CenterOnLastValue``: targets relative to the last value,
optionally divided by the window's volatility) and add the last value back at the end
(``LastValueResidual``); those direct paths bypass the recurrent layers and would put most of the
raw-input gradient on lag 1 (and, with ``scale_targets``, spread some over every lag), hiding the
cell's memory. :func:`encoder_input_split` finds the first recurrent layer and differentiates at
its input, while the model output is computed exactly as usual (raw window included).

The profile is indexed by
lag: ``profile[lag - 1]`` belongs to lag ``lag`` (1 = the last observed step, ``lookback`` = the
first). Per measured epoch it writes two summaries into the epoch logs and its own ``history``:

- ``memory_lag``: the largest lag whose norm is at least :data:`MEMORY_FRACTION` (1%) of the
  profile's maximum (:func:`memory_lag`);
- ``grad_far_near_ratio``: the norm at the longest lag divided by the norm at lag 1.

At the end of training it measures the final weights once more: ``profile`` (the metric
``input_grad_by_lag``) and its two summaries, ``final`` (logged at step = epochs run, whether or
not the budget let any epoch be measured). It measures every ``every`` epochs (epochs ``every, 2*every, ...``,
others get NaN); ``seconds`` is the time it spent, to compare with the training time. With a
``budget`` (the forecaster passes 5%) a due epoch is skipped while its measurement would take the
telemetry over that share of the training time so far: a short training (a few seconds) does
not pay the ~0.3 s trace, and its final weights are measured eagerly instead when the window is
short enough for an eager pass to be the cheaper (lookback 28: 0.12 s; at lookback 120 the trace
is the cheaper, and a training of a few seconds pays it once, over the budget).

A truncated model (:class:`~forecaster.models.truncation.TruncatedRecurrent` layers) is measured
on its untruncated twin by default (``untruncated=True``, :func:`~forecaster.models.truncation.untruncated_twin`):
the same forward pass on the same weights, differentiated through the whole window. That is the
gradient of the function the trained network computes, i.e. how far back its forecast still
depends on the input. Its *training* gradient is by construction exactly zero beyond lag K and
equal to the twin's up to lag K; ``untruncated=False`` measures that one instead.

Cost: one forward and backward pass of the fixed batch per measurement, in a ``tf.function``
traced once, at the first measurement (about 0.3 s of CPU for the forecaster's small models,
whatever the lookback: the fixed cost; a pass costs 0.005-0.03 s). With a ``share_key`` the
traced function is kept (on a clone of the model, or its untruncated twin, into which the
weights are copied before each measurement) and reused by every later callback with the same
key and batch shapes: the candidates of a comparison that differ only in their clipping or
truncation pay the trace once per process (each still pays the function's first call, about
0.1 s: ``tf.random.set_seed`` at the start of its training clears TensorFlow's kernel cache).
The function has a fixed input signature and is not converted by AutoGraph (no generated
source file, no retrace). Run eagerly (``compiled=False``) a pass costs no trace but 25-40 times
more CPU (Keras runs the recurrent loop step by step in Python): more than the trace after two
or three measurements at lookback 28, after one at lookback 120 (``bench/bptt_study.py --part cost``).

Example
-------
>>> import numpy as np
>>> memory_lag(np.array([1.0, 0.5, 0.02, 0.001]))
3
>>> far_near_ratio(np.array([2.0, 1.0, 0.5]))
0.25
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict

import keras
import numpy as np
import tensorflow as tf

logger = logging.getLogger(__name__)

#: ``memory_lag`` is the largest lag whose input-gradient norm reaches this share of the maximum.
MEMORY_FRACTION = 0.01
LAG_KEYS = ("memory_lag", "grad_far_near_ratio")
PROFILE_METRIC = "input_grad_by_lag"
#: How many traced measurements (one per share key and batch shape) are kept for reuse.
SHARED_TRACES = 8
_SHARED: OrderedDict = OrderedDict()  # {key: (clone of the model, its traced profile function)}
#: Seconds the first traced measurement is expected to cost before one has been timed in this
#: process (trace + first call of the forecaster's small models, ``bench/bptt_study.py --part cost``).
FIRST_CALL_SECONDS = 0.35
#: Seconds of an eager measurement per window step and recurrent layer (Keras runs the loop step by
#: step in Python): 0.12-0.15 s for the smoke LSTM (lookback 28), 0.3-1.1 s at lookback 120.
EAGER_SECONDS_PER_STEP = 0.005
_FIRST_CALLS: dict = {}  # {share key or None: seconds the latest first call of a traced function took}


def memory_lag(profile: np.ndarray, fraction: float = MEMORY_FRACTION) -> int:
    """The largest lag (1-based) whose norm is >= ``fraction`` x the profile's max; 0 if all are 0 or NaN."""
    profile = np.asarray(profile, dtype=np.float64)
    if not profile.size or not np.isfinite(profile).all() or profile.max() <= 0:
        return 0
    return int(np.flatnonzero(profile >= fraction * profile.max())[-1] + 1)


def far_near_ratio(profile: np.ndarray) -> float:
    """``profile[-1] / profile[0]``: the norm at the longest lag over the norm at lag 1 (NaN if lag 1 is 0)."""
    profile = np.asarray(profile, dtype=np.float64)
    if not profile.size or not profile[0] > 0:
        return math.nan
    return float(profile[-1] / profile[0])


def _loss_fn(loss):
    if isinstance(loss, str):
        return keras.losses.get(loss)
    if loss is None:
        return keras.losses.mean_squared_error
    return loss


def encoder_input_split(model: keras.Model):
    """``(pre, post)`` with ``post([X, pre(X)]) == model(X)`` and ``pre(X)`` the first recurrent layer's input.

    Returns None when the model has no recurrent layer directly in its layer list, or when the
    encoder input is the model input itself (nothing to split: differentiate at ``X``).
    """
    from forecaster.models.truncation import TruncatedRecurrent

    kinds = (keras.layers.RNN, keras.layers.Bidirectional, TruncatedRecurrent)
    encoder = next((layer for layer in model.layers if isinstance(layer, kinds)), None)
    if encoder is None or len(model.inputs) != 1 or encoder.input is model.inputs[0]:
        return None
    pre = keras.Model(model.inputs, encoder.input)
    post = keras.Model([model.inputs[0], encoder.input], model.outputs)
    return pre, post


def input_gradient_profile(model: keras.Model, X: np.ndarray, y: np.ndarray, loss="mse") -> np.ndarray:
    """Norm of ``d(mean loss)/d(encoder input)`` at each window step, by lag: ``(lookback,)``, lag 1 first.

    ``X (n_samples, lookback, n_features)``, ``y (n_samples, horizon, n_targets)``; the model runs
    in inference mode (no dropout). ``loss``: a Keras loss name or callable. See the module
    docstring for where the gradient is taken. The model's own graph: a truncated model's
    profile is exactly zero beyond lag K here (pass ``untruncated_twin(model)`` for the other one).
    """
    fn = _profile_fn(model, _loss_fn(loss), compiled=False)  # one call: no trace
    return fn(tf.constant(X, tf.float32), tf.constant(y, tf.float32)).numpy()


def _profile_fn(model: keras.Model, loss_fn, compiled: bool = True, shapes=None):
    """``profile(X, y) -> (lookback,)`` tensor; eager unless ``compiled``.

    Compiled: one ``tf.function`` without AutoGraph (the body has no tensor-dependent Python
    control flow) and, given ``shapes = (X.shape, y.shape)``, a fixed input signature (one trace).
    """
    split = encoder_input_split(model)

    def profile(X, y):
        z = X if split is None else split[0](X, training=False)  # -> (B, L, F')
        with tf.GradientTape() as tape:
            tape.watch(z)
            y_pred = model(z, training=False) if split is None else split[1]([X, z], training=False)
            loss = tf.reduce_mean(loss_fn(y, y_pred))
        grad = tape.gradient(loss, z)  # -> (B, L, F')
        norms = tf.sqrt(tf.reduce_sum(tf.square(grad), axis=[0, 2]))  # -> (L,), first step first
        return tf.reverse(norms, axis=[0])  # -> (L,), lag 1 first

    if not compiled:
        return profile
    signature = None if shapes is None else [tf.TensorSpec(shape, tf.float32) for shape in shapes]
    return tf.function(profile, input_signature=signature, autograph=False, reduce_retracing=signature is None)


def _loss_key(loss):
    if loss is None or isinstance(loss, str):
        return loss
    if hasattr(loss, "get_config"):
        return (type(loss).__qualname__, repr(sorted(loss.get_config().items())))
    return getattr(loss, "__qualname__", None) or id(loss)


def _template(model: keras.Model, untruncated: bool) -> keras.Model:
    """A fresh model of ``model``'s architecture (its untruncated twin when asked): weights to be copied in."""
    from forecaster.models.truncation import is_truncated, untruncated_twin

    if untruncated and is_truncated(model):
        return untruncated_twin(model)
    return keras.models.clone_model(model)


def _shared_profile_fn(key, model: keras.Model, loss_fn, untruncated: bool, shapes):
    """The traced profile function kept under ``key``, and the model it runs on (weights copied in)."""
    entry = _SHARED.get(key)
    if entry is None:
        template = _template(model, untruncated)
        entry = _SHARED[key] = (template, _profile_fn(template, loss_fn, compiled=True, shapes=shapes))
        while len(_SHARED) > SHARED_TRACES:
            _SHARED.popitem(last=False)
    _SHARED.move_to_end(key)
    return entry


def _copy_weights(source: keras.Model, target: keras.Model) -> None:
    """Assign ``source``'s weights to ``target`` variable by variable (no numpy round trip).

    Raises ValueError when the two do not have the same weight shapes in the same order.
    """
    pairs = list(zip(source.weights, target.weights))
    if len(source.weights) != len(target.weights) or any(tuple(s.shape) != tuple(t.shape) for s, t in pairs):
        raise ValueError(
            "A shared lag-gradient measurement needs models of one architecture: `share_key` was reused for "
            f"{source.name} ({[tuple(w.shape) for w in source.weights]}) after "
            f"{target.name} ({[tuple(w.shape) for w in target.weights]})"
        )
    for s, t in pairs:
        t.assign(s.value)


class LagGradientTelemetry(keras.callbacks.Callback):
    """Per-epoch input-gradient-by-lag telemetry on a fixed batch of (validation) windows.

    Parameters
    ----------
    X : array ``(n_samples, lookback, n_features)``
    y : array ``(n_samples, horizon, n_targets)``
        The fixed windows (e.g. the first validation batch).
    every : int, default 1
        Measure after epochs ``every, 2*every, ...`` (1: every epoch), and once after training.
    loss : str or callable, optional
        The loss to differentiate; default: the model's compiled loss.
    compiled : bool, default True
        Trace the measurement into a ``tf.function`` once; False runs it eagerly (no trace, but
        each measurement is much slower: see the module docstring).
    share_key : hashable, optional
        Reuse the traced measurement across callbacks: the caller promises that every model
        measured under the same key has the same architecture once untruncated (same layers,
        wiring and weight shapes; the weights and the truncation may differ). None: trace for
        this callback alone.
    untruncated : bool, default True
        Measure a truncated model on its untruncated twin (the gradient of the forecast the
        network computes; see the module docstring). False: through the truncated training
        graph (exactly zero beyond lag K). No effect on a model without truncation.
    budget : float, optional
        The largest share of the training's wall time the measurements may take, e.g. 0.05. An
        epoch due for a measurement is skipped (NaN) when the measurement's expected cost (the
        trace and first call while none has run: the last first call timed in this process for
        the same ``share_key``, else :data:`FIRST_CALL_SECONDS`; then the last pass) would bring
        the total over ``budget`` x the training time so far. The final weights are always
        measured: eagerly (no trace) when no traced measurement has run, a trace does not fit and
        an eager pass is expected to cost less (:data:`EAGER_SECONDS_PER_STEP`: short windows).
        None (default): every due epoch is measured.

    Attributes (after training)
    ---------------------------
    history : dict[str, list[float]]
        ``memory_lag`` and ``grad_far_near_ratio``, one entry per epoch run (NaN when not measured).
    profile : numpy.ndarray or None
        The final weights' profile, ``(lookback,)``, lag 1 first.
    final : dict[str, float]
        ``memory_lag`` and ``grad_far_near_ratio`` of ``profile`` (empty before training ends).
    seconds : float
        Wall time spent measuring (the trace and the twin or clone included).
    cpu_seconds : float
        The process's CPU time over the same calls (all its threads).
    measured_epochs : list[int]
        The 1-based epochs measured (the final weights' measurement is not one of them).

    Raises
    ------
    ValueError
        ``X``/``y`` of mismatched or empty first axis, or ``every`` < 1.
    """

    def __init__(self, X, y, every: int = 1, loss=None, compiled: bool = True, share_key=None,
                 untruncated: bool = True, budget: float | None = None):
        super().__init__()
        X, y = np.asarray(X, np.float32), np.asarray(y, np.float32)
        if X.ndim != 3 or len(X) == 0 or len(X) != len(y):
            raise ValueError(
                "`X` must be (n_samples, lookback, n_features) with as many windows as `y`, at least one. "
                f"Received: X.shape={X.shape}, y.shape={y.shape}"
            )
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"`every` must be an int >= 1. Received: every={every!r}")
        self.X, self.y, self.every, self.loss, self.compiled = X, y, every, loss, bool(compiled)
        if budget is not None and not (isinstance(budget, (int, float)) and 0 < budget <= 1):
            raise ValueError(f"`budget` must be a share in (0, 1] or None. Received: budget={budget!r}")
        self.share_key, self.untruncated, self.budget = share_key, bool(untruncated), budget
        self._started = self._last_pass = None
        self.history: dict[str, list[float]] = {k: [] for k in LAG_KEYS}
        self.profile: np.ndarray | None = None
        self.final: dict[str, float] = {}
        self.seconds = self.cpu_seconds = 0.0
        self.measured_epochs: list[int] = []
        self._fn = self._template = self._inputs = None

    def _prepare(self) -> None:
        """The measured function (traced, shared or not) and the model it runs on (None: ``self.model``)."""
        from forecaster.models.truncation import is_truncated

        loss = self.loss if self.loss is not None else getattr(self.model, "loss", None)
        shapes = (self.X.shape, self.y.shape)
        self._inputs = (tf.constant(self.X), tf.constant(self.y))
        twin = self.untruncated and is_truncated(self.model)
        if self.share_key is not None and self.compiled:
            graph = "training graph" if is_truncated(self.model) and not twin else "forward"
            key = (self.share_key, *shapes, _loss_key(loss), graph)
            self._template, self._fn = _shared_profile_fn(key, self.model, _loss_fn(loss), self.untruncated, shapes)
        else:  # this callback's own function: on the model itself, or on its twin
            self._template = _template(self.model, untruncated=True) if twin else None
            self._fn = _profile_fn(self._template or self.model, _loss_fn(loss), self.compiled, shapes)

    def _measure(self, eager: bool = False) -> np.ndarray:
        start, cpu = time.perf_counter(), time.process_time()
        first = self._fn is None
        if eager:  # one pass without a trace: on the model itself, or on its untruncated twin
            from forecaster.models.truncation import is_truncated

            loss = self.loss if self.loss is not None else getattr(self.model, "loss", None)
            twin = self.untruncated and is_truncated(self.model)
            target = _template(self.model, untruncated=True) if twin else self.model
            if twin:
                _copy_weights(self.model, target)
            profile = _profile_fn(target, _loss_fn(loss), compiled=False)(
                tf.constant(self.X), tf.constant(self.y)).numpy().astype(np.float64)
        else:
            if first:
                self._prepare()
            if self._template is not None:
                _copy_weights(self.model, self._template)
            profile = self._fn(*self._inputs).numpy().astype(np.float64)
        spent = time.perf_counter() - start
        self.seconds += spent
        self.cpu_seconds += time.process_time() - cpu
        if not eager:
            self._last_pass = spent
            if first and self.compiled:
                _FIRST_CALLS[self.share_key] = spent
        return profile

    def _expected_cost(self) -> float:
        if self._fn is None or self._last_pass is None:
            return _FIRST_CALLS.get(self.share_key, FIRST_CALL_SECONDS) if self.compiled else 0.0
        return self._last_pass

    def _eager_cost(self) -> float:
        recurrent = sum(1 for layer in self.model._flatten_layers() if hasattr(layer, "cell"))
        return EAGER_SECONDS_PER_STEP * self.X.shape[1] * max(1, recurrent)

    def _affordable(self) -> bool:
        """Whether the next traced measurement keeps the total within ``budget`` of the training time."""
        if self.budget is None or self._started is None:
            return True
        trained = time.perf_counter() - self._started - self.seconds
        return self.seconds + self._expected_cost() <= self.budget * trained

    def on_train_begin(self, logs=None):
        self.history = {k: [] for k in LAG_KEYS}
        self.profile, self.seconds, self.cpu_seconds, self.measured_epochs = None, 0.0, 0.0, []
        self.final = {}
        self._fn = self._template = self._inputs = self._last_pass = None
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        values = {k: math.nan for k in LAG_KEYS}
        if (epoch + 1) % self.every == 0 and self._affordable():
            profile = self._measure()
            self.measured_epochs.append(epoch + 1)
            values = {"memory_lag": float(memory_lag(profile)), "grad_far_near_ratio": far_near_ratio(profile)}
        for key, value in values.items():
            self.history[key].append(value)
        if logs is not None:
            logs.update(values)

    def on_train_end(self, logs=None):
        eager = (self.compiled and self._fn is None and not self._affordable()
                 and self._eager_cost() < self._expected_cost())
        self.profile = self._measure(eager=eager)
        self.final = {"memory_lag": float(memory_lag(self.profile)),
                      "grad_far_near_ratio": float(far_near_ratio(self.profile))}
        logger.debug("input gradient by lag: memory_lag=%d, far/near=%.3g, %.2fs measuring",
                     self.final["memory_lag"], self.final["grad_far_near_ratio"], self.seconds)
