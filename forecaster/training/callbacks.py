"""Keras callbacks of the training path: per-epoch gradient telemetry and the NaN guard.

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

import keras

logger = logging.getLogger(__name__)

TELEMETRY_KEYS = ("grad_norm_mean", "grad_norm_max", "clipped_fraction")


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
