"""Train one Keras forecaster: compile, fit with early stopping, telemetry and the NaN guard.

Example
-------
>>> import numpy as np, keras
>>> from forecaster.training import TrainSettings, train_model
>>> X = np.random.rand(64, 8, 2).astype("float32"); y = np.random.rand(64, 3, 1).astype("float32")
>>> model = keras.Sequential([keras.Input((8, 2)), keras.layers.GRU(4), keras.layers.Dense(3),
...                           keras.layers.Reshape((3, 1))])
>>> result = train_model(model, (X, y), (X, y), TrainSettings(epochs=2, batch_size=16))
>>> result.epochs_run, sorted(result.history)
(2, ['clipped_fraction', 'epoch_seconds', 'grad_norm_max', 'grad_norm_mean', 'train_loss', 'val_loss'])
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from forecaster.training.callbacks import (
    EPOCH_SECONDS,
    TELEMETRY_KEYS,
    EpochClock,
    GradientTelemetry,
    NanGuard,
    StopOnTermination,
)
from forecaster.training.losses import make_loss
from forecaster.training.optimizer import make_optimizer
from forecaster.training.seeding import set_seed
from forecaster.training.settings import TrainSettings
from forecaster.training.xla_choice import XlaChoice, choose_xla

logger = logging.getLogger(__name__)

HISTORY_KEYS = ("train_loss", "val_loss", *TELEMETRY_KEYS, EPOCH_SECONDS)


@dataclass
class TrainResult:
    """What one call of :func:`train_model` did.

    Attributes
    ----------
    history : dict[str, list[float]]
        One entry per epoch actually run for each of ``train_loss``, ``val_loss``,
        ``grad_norm_mean``, ``grad_norm_max`` (pre-clip global gradient norm) and
        ``clipped_fraction``, and ``epoch_seconds`` (wall seconds of the epoch's training pass,
        validation excluded: :class:`~forecaster.training.callbacks.EpochClock`). ``val_loss`` is NaN
        when no validation data was given.
    epochs_run : int
    best_epoch : int
        1-based epoch of the lowest finite ``val_loss`` (whose weights early stopping restored);
        the lowest ``train_loss`` without validation data; 0 when no epoch had a finite loss.
    seconds : float
        Wall time of ``model.fit`` (compilation and validation included).
    cpu_seconds : float
        The process's CPU time over the same call (all its threads).
    failed : bool
        True when the loss or validation loss became NaN/inf and training was stopped.
    failure_reason : str or None
    failed_epoch : int or None
        1-based.
    samples_per_second : float or None
        Training windows processed per second of ``fit`` (None when the dataset size is unknown).
    first_epoch_overhead_seconds : float
        What the first epoch paid to trace (and with XLA compile) its step functions, measured:
        each pass's first batch above the median of its other batches (:class:`EpochClock`).
    xla : bool
        Whether the model was compiled with XLA.
    """

    history: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in HISTORY_KEYS})
    epochs_run: int = 0
    best_epoch: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    failed: bool = False
    failure_reason: str | None = None
    failed_epoch: int | None = None
    samples_per_second: float | None = None
    first_epoch_overhead_seconds: float = math.nan
    xla: bool = False


def _fit_inputs(data: Any, name: str, batch_size: int) -> tuple[dict[str, Any], int | None]:
    """Return ``model.fit`` keyword arguments for ``data`` and its number of samples (None: unknown)."""
    if isinstance(data, tf.data.Dataset):
        return {"x": data, "shuffle": False}, _count_samples(data)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        X, y = (np.asarray(part) for part in data)
        if len(X) != len(y) or len(X) == 0:
            raise ValueError(
                f"`{name}` must hold as many X windows as y windows, at least one. "
                f"Received: X.shape={X.shape}, y.shape={y.shape}"
            )
        return {"x": X, "y": y, "batch_size": batch_size, "shuffle": True}, len(X)
    raise ValueError(
        f"`{name}` must be a tf.data.Dataset of (X, y) batches or a tuple (X, y) of arrays. "
        f"Received: {name} of type {type(data).__name__}"
    )


def _count_samples(ds: tf.data.Dataset) -> int | None:
    if ds.cardinality() == tf.data.INFINITE_CARDINALITY:
        return None
    def add(n, batch):
        return n + tf.cast(tf.shape(tf.nest.flatten(batch)[0])[0], tf.int64)

    return int(ds.reduce(np.int64(0), add))


#: ``jit_compile='auto'`` considers XLA from this many training windows per epoch: below it, the
#: compilations (about 1.5 s of CPU per training here: train and evaluation steps, full and last
#: partial batch) cost more than XLA could save (tiny trainings: tests, smoke pipelines).
MIN_XLA_WINDOWS = 4096


def use_xla(model: keras.Model, jit_compile: bool | str, n_samples: int | None = None) -> bool:
    """Whether XLA is allowed for ``model`` under ``TrainSettings.jit_compile`` (before measuring).

    ``True``/``False`` are obeyed. ``'auto'``: only when every layer supports XLA (a cuDNN-eligible
    recurrent layer on a GPU does not) and the training set has at least :data:`MIN_XLA_WINDOWS`
    windows (or an unknown number); :func:`choose_jit` then measures which is faster here.
    """
    if jit_compile != "auto":
        return bool(jit_compile)
    if n_samples is not None and n_samples < MIN_XLA_WINDOWS:
        return False
    layers = list(model._flatten_layers())
    return all(getattr(layer, "supports_jit", True) for layer in layers)


def choose_jit(model: keras.Model, settings: TrainSettings, n_samples: int | None) -> XlaChoice:
    """XLA or not for this training: explicit settings obeyed, ``'auto'`` measured on this machine
    (:mod:`forecaster.training.xla_choice`: a probe of both, cached per CPU, versions and model shape)."""
    if settings.jit_compile != "auto":
        return XlaChoice(xla=bool(settings.jit_compile), reason=f"jit_compile={settings.jit_compile} set explicitly")
    if not use_xla(model, "auto", n_samples):
        why = (f"{n_samples} training windows < {MIN_XLA_WINDOWS}" if n_samples is not None and n_samples < MIN_XLA_WINDOWS
               else "a layer does not support XLA")
        return XlaChoice(xla=False, reason=f"no XLA: {why}")
    steps_per_epoch = math.ceil(n_samples / settings.batch_size) if n_samples else 1000
    return choose_xla(model, batch_size=settings.batch_size, loss=make_loss(settings.loss, settings.horizon_weights), loss_name=settings.loss,
                      make_optimizer=lambda: make_optimizer(settings.learning_rate, settings.clipping,
                                                            settings.clip_threshold),
                      planned_steps=settings.epochs * steps_per_epoch)


def _best_epoch(history: dict[str, list[float]]) -> int:
    for key in ("val_loss", "train_loss"):
        finite = [(v, i) for i, v in enumerate(history[key]) if v is not None and math.isfinite(v)]
        if finite:
            return min(finite)[1] + 1
    return 0


def train_model(
    model: keras.Model,
    train_ds: Any,
    val_ds: Any,
    settings: TrainSettings,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> TrainResult:
    """Compile and fit ``model``; report per-epoch losses and gradient telemetry.

    Seeds with ``settings.seed``, compiles with :func:`make_optimizer` (Adam with the clipping
    of ``settings``), with XLA when :func:`use_xla` says so, and the loss (``'huber'`` -> ``keras.losses.Huber()``), then fits with
    :class:`GradientTelemetry`, :class:`NanGuard` and, when ``settings.patience > 0`` and there is
    validation data, ``EarlyStopping(monitor='val_loss', restore_best_weights=True)``.
    A NaN/inf loss never raises: it stops training and sets ``failed``.

    Parameters
    ----------
    model : keras.Model
        Maps ``(batch, lookback, n_features)`` to ``(batch, horizon, n_targets)``; recompiled here.
    train_ds, val_ds : tf.data.Dataset or tuple of arrays
        Batched ``(X, y)`` with X ``(n_samples, lookback, n_features)`` and y
        ``(n_samples, horizon, n_targets)``, or the arrays themselves (batched by
        ``settings.batch_size``, training data shuffled each epoch). ``val_ds`` may be None.
    settings : TrainSettings
    callbacks : sequence of keras.callbacks.Callback
        Extra callbacks (progress, tracking); they run after the built-in ones, so their
        ``on_epoch_end`` logs include ``grad_norm_mean``, ``grad_norm_max``, ``clipped_fraction``.

    Returns
    -------
    TrainResult

    Raises
    ------
    ValueError
        ``settings`` is not a ``TrainSettings`` or the data is neither a dataset nor ``(X, y)``.
    """
    if not isinstance(settings, TrainSettings):
        raise ValueError(
            f"`settings` must be a TrainSettings. Received: settings of type {type(settings).__name__}"
        )
    fit_kwargs, n_samples = _fit_inputs(train_ds, "train_ds", settings.batch_size)
    if val_ds is not None:
        val_kwargs, _ = _fit_inputs(val_ds, "val_ds", settings.batch_size)
        if "y" in val_kwargs:
            fit_kwargs["validation_data"] = (val_kwargs["x"], val_kwargs["y"])
            fit_kwargs["validation_batch_size"] = settings.eval_batch_size
        else:
            fit_kwargs["validation_data"] = val_kwargs["x"]

    # Keras disables XLA under op determinism, so training with XLA gives it up.
    choice = choose_jit(model, settings, n_samples)
    xla = choice.xla
    if settings.jit_compile == "auto":
        logger.info("%s: %s", model.name, choice.reason)
    set_seed(settings.seed, deterministic=not xla)
    model.compile(
        optimizer=make_optimizer(settings.learning_rate, settings.clipping, settings.clip_threshold),
        loss=make_loss(settings.loss, settings.horizon_weights),
        jit_compile=xla,
        steps_per_execution=settings.steps_per_execution,
    )
    guard = NanGuard()
    clock = EpochClock()
    own: list[keras.callbacks.Callback] = [clock, GradientTelemetry(), guard, StopOnTermination()]
    if settings.lr_schedule == "plateau" and val_ds is not None:
        own.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5,
                                                     patience=settings.plateau_patience,
                                                     min_lr=settings.learning_rate / 32))
    if settings.patience > 0 and val_ds is not None:
        own.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=settings.patience,
                                                 restore_best_weights=True))
    start, cpu = time.perf_counter(), time.process_time()
    fit = model.fit(epochs=settings.epochs, callbacks=[*own, *callbacks], verbose=settings.verbose,
                    **fit_kwargs)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu

    logs = fit.history
    epochs_run = len(logs.get("loss", []))
    nan_list = [float("nan")] * epochs_run
    history = {
        "train_loss": [float(v) for v in logs.get("loss", [])],
        "val_loss": [float(v) for v in logs.get("val_loss", nan_list)],
        **{key: [float(v) for v in logs.get(key, nan_list)] for key in (*TELEMETRY_KEYS, EPOCH_SECONDS)},
    }
    if "learning_rate" in logs:  # a schedule ran: the rate of each epoch
        history["learning_rate"] = [float(v) for v in logs["learning_rate"]]
    result = TrainResult(
        history=history,
        epochs_run=epochs_run,
        best_epoch=_best_epoch(history),
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        failed=guard.failed,
        failure_reason=guard.failure_reason,
        failed_epoch=guard.failed_epoch,
        samples_per_second=(n_samples * epochs_run / seconds) if n_samples and seconds > 0 else None,
        first_epoch_overhead_seconds=float(clock.first_epoch_overhead),
        xla=bool(xla),
    )
    logger.info(
        "trained %s: %d epoch(s) in %.1fs, best epoch %d%s",
        model.name, epochs_run, seconds, result.best_epoch,
        f", FAILED: {result.failure_reason}" if result.failed else "",
    )
    return result
