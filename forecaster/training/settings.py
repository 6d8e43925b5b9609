"""Training settings: one validated dataclass for :func:`forecaster.training.train_model`.

Example
-------
>>> from forecaster.training import TrainSettings
>>> s = TrainSettings(epochs=5, clipping="clipnorm", clip_threshold=1.0)
>>> s.clipping, s.clip_threshold
('clipnorm', 1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

LOSSES = ("mse", "mae", "huber")
LR_SCHEDULES = ("none", "plateau")
CLIPPING_KINDS = ("none", "clipnorm", "clipvalue", "global_clipnorm")


def check_clipping(clipping: Any, threshold: Any, *, threshold_name: str = "threshold") -> None:
    """Raise ``ValueError`` unless ``(clipping, threshold)`` is a valid clipping setting.

    ``'none'`` takes no threshold; every other kind needs a finite threshold > 0.
    """
    if clipping not in CLIPPING_KINDS:
        raise ValueError(f"`clipping` must be one of {CLIPPING_KINDS}. Received: clipping={clipping!r}")
    if clipping == "none":
        if threshold is not None:
            raise ValueError(
                f"`clipping='none'` takes no `{threshold_name}`. Received: {threshold_name}={threshold!r}"
            )
        return
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise ValueError(
            f"`clipping={clipping!r}` needs a number `{threshold_name}` > 0. "
            f"Received: {threshold_name}={threshold!r}"
        )
    if not math.isfinite(threshold) or threshold <= 0:
        raise ValueError(
            f"`{threshold_name}` must be a finite number > 0 for `clipping={clipping!r}`. "
            f"Received: {threshold_name}={threshold!r}"
        )


def check_learning_rate(learning_rate: Any) -> None:
    """Raise ``ValueError`` unless ``learning_rate`` is a finite number > 0."""
    if (
        isinstance(learning_rate, bool)
        or not isinstance(learning_rate, (int, float))
        or not math.isfinite(learning_rate)
        or learning_rate <= 0
    ):
        raise ValueError(
            f"`learning_rate` must be a finite number > 0. Received: learning_rate={learning_rate!r}"
        )


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")


@dataclass(frozen=True)
class TrainSettings:
    """How one model is trained.

    Parameters
    ----------
    epochs : int, default 20
        Maximum number of epochs (>= 1).
    batch_size : int, default 256
        Batch size, used only when numpy arrays are passed (datasets come batched).
    learning_rate : float, default 1e-3
        Adam learning rate (> 0).
    patience : int, default 3
        Early-stopping patience on ``val_loss``; the best weights are restored.
        0 turns early stopping off.
    loss : {'mse', 'mae', 'huber'}, default 'mse'
    clipping : {'none', 'clipnorm', 'clipvalue', 'global_clipnorm'}, default 'none'
        Which Keras optimizer clipping argument is set.
    clip_threshold : float or None
        The value of that argument; required (> 0) unless ``clipping='none'``.
    seed : int, default 42
        Seed for :func:`forecaster.training.set_seed` (shuffling, dropout).
    jit_compile : bool or 'auto', default 'auto'
        XLA compilation of the train and predict steps. ``'auto'`` (this package's meaning, not
        Keras's): XLA whenever every layer of the model supports it and the training set has
        at least ``MIN_XLA_WINDOWS`` windows (tiny trainings would pay more to compile than they
        save). On the Chicago windows XLA cut an epoch's CPU by 1.4x (LSTM(64)) to 1.9x (GRU(64)),
        see ``trainer.use_xla``.
        On a GPU a cuDNN-eligible LSTM/GRU layer opts out (Keras marks it ``supports_jit=False``),
        so GPU users keep the cuDNN kernel and op determinism. Keras refuses XLA under TensorFlow
        op determinism, so training with XLA runs without it: the guarantee is then "same seed,
        same machine, same versions -> same metrics" (tested to 1e-6 in ``tests/test_training.py``),
        not bit-identity across machines, thread counts or library versions. Without XLA, op
        determinism is on (bit-identical). ``False`` restores op determinism for every model.
    steps_per_execution : int, default 1
        Training batches run per call of the compiled train function (Keras ``compile`` argument):
        fewer Python round trips per epoch. Batch callbacks (the NaN guard) then see every
        ``steps_per_execution``-th batch. Measured in ``bench/bench_levers.py``.
    validation_batch_size : int or None, default 1024
        Windows per batch of the validation pass (forward only, every epoch); None: ``batch_size``.
        The validation loss is the same mean over the windows whatever the batch (to float32
        rounding); 1024 instead of 256 cut the validation pass's CPU time by about 18%.
        Used for arrays here and by the estimators when they batch their validation dataset
        (:attr:`eval_batch_size`). Measured in ``bench/bench_levers.py``.
    verbose : {0, 1, 2}, default 0
        Passed to ``model.fit``.
    lr_schedule : {'none', 'plateau'}, default 'none'
        ``'plateau'``: halve the learning rate whenever ``val_loss`` has not improved for
        :attr:`plateau_patience` epochs, down to ``learning_rate / 32`` (Keras
        ``ReduceLROnPlateau``); needs validation data. ``'none'``: constant.
    horizon_weights : tuple of float or None, default None
        One weight per forecast step in the training and validation loss
        (:class:`~forecaster.training.losses.HorizonWeightedLoss`); None: the plain mean over steps.

    Raises
    ------
    ValueError
        Any field out of range; the message names the field and the value received.
    """

    epochs: int = 20
    batch_size: int = 256
    learning_rate: float = 1e-3
    patience: int = 3
    loss: str = "mse"
    clipping: str = "none"
    clip_threshold: float | None = None
    seed: int = 42
    jit_compile: bool | str = "auto"
    steps_per_execution: int = 1
    validation_batch_size: int | None = 1024
    verbose: int = 0
    lr_schedule: str = "none"
    horizon_weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        _check_int("epochs", self.epochs, 1)
        _check_int("batch_size", self.batch_size, 1)
        _check_int("patience", self.patience, 0)
        _check_int("steps_per_execution", self.steps_per_execution, 1)
        if self.validation_batch_size is not None:
            _check_int("validation_batch_size", self.validation_batch_size, 1)
        check_learning_rate(self.learning_rate)
        if self.loss not in LOSSES:
            raise ValueError(f"`loss` must be one of {LOSSES}. Received: loss={self.loss!r}")
        check_clipping(self.clipping, self.clip_threshold, threshold_name="clip_threshold")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"`seed` must be an integer. Received: seed={self.seed!r}")
        if self.jit_compile not in (True, False, "auto"):
            raise ValueError(
                f"`jit_compile` must be True, False or 'auto'. Received: jit_compile={self.jit_compile!r}"
            )
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"`lr_schedule` must be one of {LR_SCHEDULES}. Received: lr_schedule={self.lr_schedule!r}")
        if self.horizon_weights is not None and (
            not self.horizon_weights or any(isinstance(w, bool) or not isinstance(w, (int, float))
                                            or not math.isfinite(w) or w <= 0 for w in self.horizon_weights)):
            raise ValueError(f"`horizon_weights` must be None or finite numbers > 0, one per step. "
                             f"Received: horizon_weights={self.horizon_weights!r}")
        if self.verbose not in (0, 1, 2) or isinstance(self.verbose, bool):
            raise ValueError(f"`verbose` must be 0, 1 or 2. Received: verbose={self.verbose!r}")

    @property
    def plateau_patience(self) -> int:
        """Epochs without a better ``val_loss`` before ``'plateau'`` halves the rate: half the
        early-stopping patience (at least 1), so the rate drops before training stops."""
        return max(1, self.patience // 2)

    @property
    def eval_batch_size(self) -> int:
        """Windows per batch of the validation pass: ``validation_batch_size``, else ``batch_size``."""
        return self.validation_batch_size or self.batch_size

    @classmethod
    def from_config(cls, training: Any, clipping: Any, **overrides: Any) -> "TrainSettings":
        """Build settings from a ``TrainingConfig`` and one ``ClippingConfig``.

        Example
        -------
        >>> from forecaster.config import ClippingConfig, TrainingConfig
        >>> clip = ClippingConfig(kind="clipnorm", threshold=1.0)
        >>> TrainSettings.from_config(TrainingConfig(epochs=2), clip).clipping
        'clipnorm'
        """
        values = dict(
            epochs=training.epochs,
            batch_size=training.batch_size,
            learning_rate=training.learning_rate,
            patience=training.patience,
            loss=training.loss,
            lr_schedule=getattr(training, "lr_schedule", "none"),
            seed=training.seed,
            clipping=clipping.kind,
            clip_threshold=clipping.threshold,
        )
        values.update(overrides)
        return cls(**values)
