"""Seed ensembles of one network (``training.ensemble: N``): member seeds, member files, member losses.

An :class:`~forecaster.estimator.rnn.RNNForecaster` with ``ensemble=N`` trains N copies of its
network, member ``i`` with seed ``seed + i`` (member 0 is the plain fit), and forecasts the mean
of their outputs. Its saved directory holds member 0 as ``model.keras`` (a single network's files
are unchanged, and one saved before ensembles loads as ``ensemble=1``) and member ``i >= 1`` as
``model_<i>.keras``, each read with Keras ``safe_mode=True``.

Example
-------
>>> [member_seed(42, i) for i in range(3)], member_file(0), member_file(2)
([42, 43, 44], 'model.keras', 'model_2.keras')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from forecaster.errors import ModelFileError

MODEL_FILE = "model.keras"
#: ``history_`` key of an ensemble: each member's best validation loss, member 0 first.
MEMBER_VAL_LOSS = "ensemble_member_val_loss"


def member_seed(seed: int, member: int) -> int:
    """The seed of ensemble member ``member`` (0-based): ``seed + member``."""
    return int(seed) + int(member)


def member_file(member: int) -> str:
    """The Keras file of member ``member``: ``model.keras`` for member 0, else ``model_<i>.keras``."""
    return f"model_{int(member)}.keras" if member else MODEL_FILE


def check_ensemble(size: Any) -> int:
    """The ensemble size as an int >= 1 (ValueError naming the value otherwise)."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"ensemble must be an integer >= 1; received {size!r}")
    return int(size)


def best_val_loss(result: Any) -> float:
    """The lowest finite validation loss of one training (a ``TrainResult``; NaN when none was finite)."""
    losses = np.asarray(result.history.get("val_loss") or [np.nan], dtype=float)
    finite = losses[np.isfinite(losses)]
    return float(finite.min()) if finite.size else float("nan")


def save_members(directory: Path, models: list) -> None:
    """Save each member network, uncompiled (no optimizer in the files), under :func:`member_file`."""
    import keras

    for member, model in enumerate(models):
        clean = keras.models.clone_model(model)
        clean.set_weights(model.get_weights())
        clean.save(Path(directory) / member_file(member))


def load_members(directory: Path, size: Any) -> list:
    """Load the ``size`` member networks saved by :func:`save_members` (safe mode: no code runs).

    Raises
    ------
    ModelFileError
        A bad size, a missing member file or one that is not a valid Keras file (named).
    """
    import keras

    import forecaster.models.layers  # noqa: F401  registers the custom layers for safe loading
    import forecaster.models.segment  # noqa: F401  (SegmentRecurrent too)
    import forecaster.models.truncation  # noqa: F401  (TruncatedRecurrent too)

    directory = Path(directory)
    try:
        size = check_ensemble(size)
    except ValueError as exc:
        raise ModelFileError(f"{directory}: invalid saved state ({exc})") from None
    models = []
    for member in range(size):
        path = directory / member_file(member)
        if not path.is_file():
            raise ModelFileError(f"{directory}: a saved RNN forecaster of {size} member(s) must hold {path.name}")
        try:  # safe_mode=True: a Lambda layer or any other serialised code is refused
            models.append(keras.saving.load_model(path, compile=False, safe_mode=True))
        except Exception as exc:  # noqa: BLE001 - Keras raises many types for a bad file
            raise ModelFileError(f"{path}: not a valid Keras model file for safe loading "
                                 f"({type(exc).__name__}: {str(exc)[:300]})") from None
    return models
