"""Adam whose gradient clipping is set through the real Keras arguments, with gradient telemetry.

:class:`TelemetryAdam` is a ``keras.optimizers.Adam`` that, inside the compiled train step,
measures the global gradient norm *before* clipping and whether clipping changed the gradient,
accumulating both into a few non-trainable ``tf.Variable`` s (no host sync per step).
:class:`forecaster.training.GradientTelemetry` resets and reads them once per epoch.

The telemetry variables are not optimizer state: they are not saved with a model, and a model
compiled with this optimizer saves to ``.keras`` and loads with ``safe_mode=True`` as long as
``forecaster.training`` is imported (the class is registered as ``forecaster>TelemetryAdam``).

Example
-------
>>> from forecaster.training import make_optimizer
>>> opt = make_optimizer(1e-3, "clipnorm", 1.0)
>>> opt.clipnorm, opt.global_clipnorm, opt.clipvalue
(1.0, None, None)
"""

from __future__ import annotations

import keras
import tensorflow as tf

from forecaster.training.settings import check_clipping, check_learning_rate


class GradientStats:
    """Accumulators for one epoch of gradient telemetry (float32 ``tf.Variable`` s).

    ``norm_sum``/``norm_max`` are over the pre-clip global gradient norm of each step,
    ``steps`` counts the optimizer steps, ``clipped`` the steps where clipping changed a gradient.
    """

    def __init__(self) -> None:
        kw = dict(trainable=False, dtype=tf.float32)
        # Plain tf.Variables kept off the Keras tracker: they are telemetry, not optimizer state.
        with tf.init_scope():
            self.norm_sum = tf.Variable(0.0, name="grad_norm_sum", **kw)
            self.norm_max = tf.Variable(0.0, name="grad_norm_max", **kw)
            self.steps = tf.Variable(0.0, name="grad_steps", **kw)
            self.clipped = tf.Variable(0.0, name="grad_clipped_steps", **kw)

    def reset(self) -> None:
        """Zero every accumulator (called at the start of each epoch)."""
        for var in (self.norm_sum, self.norm_max, self.steps, self.clipped):
            var.assign(0.0)

    def result(self) -> dict[str, float]:
        """Return ``grad_norm_mean``, ``grad_norm_max``, ``clipped_fraction`` (NaN when no step ran)."""
        steps = float(self.steps.numpy())
        if steps == 0:
            nan = float("nan")
            return {"grad_norm_mean": nan, "grad_norm_max": nan, "clipped_fraction": nan}
        return {
            "grad_norm_mean": float(self.norm_sum.numpy()) / steps,
            "grad_norm_max": float(self.norm_max.numpy()),
            "clipped_fraction": float(self.clipped.numpy()) / steps,
        }


@keras.saving.register_keras_serializable(package="forecaster")
class TelemetryAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` that records pre-clip gradient norms and clipping activity.

    Takes exactly the arguments of ``keras.optimizers.Adam`` (``clipnorm``, ``clipvalue``,
    ``global_clipnorm`` included); the clipping itself is Keras's own.
    Per step it records the global L2 norm of all gradients before clipping and whether clipping
    changed them: ``clipnorm`` when some variable's gradient norm exceeds the threshold,
    ``global_clipnorm`` when the global norm does, ``clipvalue`` when some ``|g|`` does.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._telemetry = GradientStats()

    @property
    def gradient_stats(self) -> GradientStats:
        """The telemetry accumulators (see :class:`GradientStats`)."""
        return self._telemetry

    def _clip_gradients(self, grads):
        values = [g.values if isinstance(g, tf.IndexedSlices) else g for g in grads if g is not None]
        if values:
            self._record(values)
        return super()._clip_gradients(grads)

    def _record(self, values: list) -> None:
        squares = tf.stack([tf.reduce_sum(tf.square(tf.cast(v, tf.float32))) for v in values])
        norm = tf.sqrt(tf.reduce_sum(squares))
        if self.clipnorm and self.clipnorm > 0:
            clipped = tf.sqrt(tf.reduce_max(squares)) > self.clipnorm
        elif self.global_clipnorm and self.global_clipnorm > 0:
            clipped = norm > self.global_clipnorm
        elif self.clipvalue and self.clipvalue > 0:
            peaks = [tf.reduce_max(tf.abs(tf.cast(v, tf.float32))) for v in values]
            peak = tf.reduce_max(tf.stack(peaks))
            clipped = peak > self.clipvalue
        else:
            clipped = tf.constant(False)
        stats = self._telemetry
        stats.norm_sum.assign_add(norm)
        # NaN-propagating max: a NaN norm must show in the epoch's max, not vanish.
        stats.norm_max.assign(tf.where(tf.math.is_nan(norm), norm, tf.maximum(stats.norm_max, norm)))
        stats.steps.assign_add(1.0)
        stats.clipped.assign_add(tf.cast(clipped, tf.float32))


def make_optimizer(learning_rate: float, clipping: str = "none", threshold: float | None = None) -> TelemetryAdam:
    """Return an Adam optimizer with gradient clipping set through its Keras argument.

    Parameters
    ----------
    learning_rate : float
        Adam learning rate (> 0).
    clipping : {'none', 'clipnorm', 'clipvalue', 'global_clipnorm'}
        The Keras optimizer argument to set.
    threshold : float or None
        Its value (> 0); must be None when ``clipping='none'``.

    Returns
    -------
    TelemetryAdam
        A ``keras.optimizers.Adam`` (subclass) that also records gradient telemetry.

    Raises
    ------
    ValueError
        Unknown clipping kind, a missing/non-positive threshold, or a bad learning rate.

    Example
    -------
    >>> make_optimizer(1e-2, "global_clipnorm", 5.0).global_clipnorm
    5.0
    """
    check_learning_rate(learning_rate)
    check_clipping(clipping, threshold)
    kwargs = {} if clipping == "none" else {clipping: float(threshold)}
    return TelemetryAdam(learning_rate=float(learning_rate), **kwargs)
