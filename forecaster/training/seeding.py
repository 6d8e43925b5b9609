"""Reproducibility: one call seeds Python, NumPy, TensorFlow/Keras and makes TF ops deterministic.

Example
-------
>>> from forecaster.training import set_seed
>>> set_seed(42)
"""

from __future__ import annotations

import keras
import tensorflow as tf

# The public API only has enable_op_determinism; Keras itself reads the switch from this module.
from tensorflow.python.framework.config import (
    disable_op_determinism,
    is_op_determinism_enabled,
)


def set_seed(seed: int, deterministic: bool = True) -> None:
    """Seed ``random``, NumPy and TensorFlow; turn TensorFlow op determinism on (or off).

    With the same seed and ``deterministic=True``, building and training a model on CPU gives
    bit-identical weights and forecasts. Op determinism is a process-wide switch; calling this
    again (with any seed) is safe.

    Keras refuses XLA (``jit_compile=True`` falls back to False with a warning) while op
    determinism is on, so :func:`~forecaster.training.train_model` calls this with
    ``deterministic=False`` when ``jit_compile=True``: the seed still applies, bit-identity is
    then not promised.

    Parameters
    ----------
    seed : int
        The seed (any Python int accepted by ``keras.utils.set_random_seed``).
    deterministic : bool, default True
        Turn TensorFlow op determinism on (True) or off (False).

    Raises
    ------
    ValueError
        ``seed`` is not an integer.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"`seed` must be an integer. Received: seed={seed!r}")
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    elif is_op_determinism_enabled():
        disable_op_determinism()
