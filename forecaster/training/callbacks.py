"""Keras callbacks of the training path: per-epoch gradient telemetry, the NaN guard, the epoch clock,
the SIGTERM check (:class:`StopOnTermination`).

Cost: the telemetry reads four variables once per epoch. The NaN guard reads ``logs['loss']``
after each batch, which adds no host sync on the TensorFlow backend: Keras 3 already converts the
batch logs to Python floats after every batch there, whatever the callbacks (the TF backend is
not marked thread-safe, so batch callbacks are never dispatched asynchronously). Both callbacks are
``async_safe`` for backends that do dispatch them asynchronously.

Example
-------
>>> from forecaster.training import GradientTelemetry
>>> cb = GradientTelemetry()   # then model.fit(..., callbacks=[cb]) with make_optimizer(...)
"""

from __future__ import annotations

import logging
import math
import statistics
import time

import keras

from forecaster.execution import termination

logger = logging.getLogger(__name__)

TELEMETRY_KEYS = ("grad_norm_mean", "grad_norm_max", "clipped_fraction")
#: The epoch clock's per-epoch key: wall seconds of the epoch's training pass (validation excluded).
EPOCH_SECONDS = "epoch_seconds"


class GradientTelemetry(keras.callbacks.Callback):
    """Write ``grad_norm_mean``, ``grad_norm_max``, ``clipped_fraction`` into every epoch's logs.

    The values come from the accumulators of a :class:`~forecaster.training.optimizer.TelemetryAdam`
    (made by :func:`~forecaster.training.make_optimizer`): the mean and max over the epoch's steps
    of the global gradient norm before clipping, and the fraction of steps where clipping changed
    the gradient. Place it before callbacks that read the epoch logs (``History``, ``EarlyStopping``,
    loggers) so they see the values.

    Raises
    ------
    ValueError
        At the start of training, when the model's optimizer records no telemetry.
    """

    async_safe = True

    def on_train_begin(self, logs=None):
        stats = getattr(self.model.optimizer, "gradient_stats", None)
        if stats is None:
            raise ValueError(
                "`GradientTelemetry` needs the model compiled with an optimizer from "
                "`forecaster.training.make_optimizer`. Received: optimizer="
                f"{type(self.model.optimizer).__name__}"
            )
        self._stats = stats

    def on_epoch_begin(self, epoch, logs=None):
        self._stats.reset()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self._stats.result())


class NanGuard(keras.callbacks.Callback):
    """Stop training (without raising) when the loss or the validation loss is NaN or infinite.

    After training, ``failed`` tells whether it stopped, ``failure_reason`` says where
    (``"loss became nan at epoch 3, batch 17"``; epochs and batches 1-based) and
    ``failed_epoch`` is the 1-based epoch.
    """

    async_safe = True

    def __init__(self) -> None:
        super().__init__()
        self._reset()

    def _reset(self) -> None:
        self.failed = False
        self.failure_reason: str | None = None
        self.failed_epoch: int | None = None
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1

    def _fail(self, reason: str) -> None:
        if not self.failed:
            self.failed = True
            self.failure_reason = reason
            self.failed_epoch = self._epoch
            logger.warning("Training stopped: %s", reason)
        self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        value = (logs or {}).get("loss")
        if value is not None and not math.isfinite(value):
            self._fail(f"loss became {value} at epoch {self._epoch}, batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        for key, label in (("loss", "loss"), ("val_loss", "validation loss")):
            value = logs.get(key)
            if value is not None and not math.isfinite(value):
                self._fail(f"{label} became {value} at epoch {epoch + 1}")


class EpochClock(keras.callbacks.Callback):
    """Time each epoch's training pass, and what the first steps cost above a typical step.

    Writes :data:`EPOCH_SECONDS` into every epoch's logs: wall seconds from the epoch's start to the
    start of its validation pass (or to its end without validation), so validation, early stopping
    and the other epoch-end callbacks are not counted. After training, :attr:`first_epoch_overhead`
    holds the tracing and compiling the first epoch paid: for the training pass and for the
    validation pass of epoch 1, the first batch's wall time minus the median of that pass's other
    batches (Keras traces, and with XLA compiles, a step function on its first call). Batch ends are
    synchronous on the TensorFlow backend (Keras reads the batch logs), so a batch's wall time is
    its step's.
    """

    async_safe = True

    def __init__(self) -> None:
        super().__init__()
        self.epoch_seconds: list[float] = []
        self.first_epoch_overhead = math.nan
        self._batches: dict[str, list[float]] = {"train": [], "test": []}

    def on_train_begin(self, logs=None):
        self.epoch_seconds = []
        self.first_epoch_overhead = math.nan
        self._batches = {"train": [], "test": []}
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._start = time.perf_counter()
        self._train_pass: float | None = None

    def _end_of_training_pass(self) -> None:
        if self._train_pass is None:
            self._train_pass = time.perf_counter() - self._start

    def on_test_begin(self, logs=None):
        if getattr(self, "_start", None) is not None:  # validation inside fit (not a later evaluate)
            self._end_of_training_pass()

    def on_epoch_end(self, epoch, logs=None):
        self._end_of_training_pass()
        self.epoch_seconds.append(self._train_pass)
        if logs is not None:
            logs[EPOCH_SECONDS] = self._train_pass
        if epoch == 0:
            self.first_epoch_overhead = sum(_first_call_excess(times) for times in self._batches.values())

    def on_train_end(self, logs=None):
        self._start = None

    def _time_batch(self, kind: str, begin: bool) -> None:
        if self._epoch != 0 or getattr(self, "_start", None) is None:
            return
        if begin:
            self._batch_start = time.perf_counter()
        else:
            self._batches[kind].append(time.perf_counter() - self._batch_start)

    def on_train_batch_begin(self, batch, logs=None):
        self._time_batch("train", True)

    def on_train_batch_end(self, batch, logs=None):
        self._time_batch("train", False)

    def on_test_batch_begin(self, batch, logs=None):
        self._time_batch("test", True)

    def on_test_batch_end(self, batch, logs=None):
        self._time_batch("test", False)


def _first_call_excess(times: list[float]) -> float:
    """The first batch's time above the median of the others (a lone batch: all of its time)."""
    if len(times) < 2:
        return float(sum(times))
    return max(0.0, times[0] - statistics.median(times[1:]))


class StopOnTermination(keras.callbacks.Callback):
    """A safe point after every training batch and epoch: a SIGTERM recorded by the CLI
    (:mod:`forecaster.execution.termination`) stops training here with
    :class:`~forecaster.errors.Terminated`; the candidate is abandoned, nothing is saved."""

    async_safe = True

    def on_train_batch_end(self, batch, logs=None):
        termination.check()

    def on_epoch_end(self, epoch, logs=None):
        termination.check()
