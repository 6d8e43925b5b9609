"""Training: Adam with first-class gradient clipping, per-epoch gradient telemetry, NaN guard, seeds.

Owns how a Keras model is fitted: the optimiser with clipping, callbacks, seeds, XLA and threads,
the lag telemetry. May import ``models``, ``execution.termination`` (the SIGTERM flag, checked after every batch and
epoch) and the ground floor; never data frames, estimators or MLflow.

Public API (see docs/ARCHITECTURE.md): :class:`TrainSettings`, :func:`make_optimizer`,
:class:`GradientTelemetry`, :func:`set_seed`, :func:`train_model` -> :class:`TrainResult`.

Models compiled by :func:`make_optimizer` hold a :class:`TelemetryAdam` (registered as
``forecaster>TelemetryAdam``): import this package before loading such a ``.keras`` file with
``compile=True``, or load it with ``compile=False``.
"""

from forecaster.training.callbacks import GradientTelemetry, NanGuard
from forecaster.training.optimizer import GradientStats, TelemetryAdam, make_optimizer
from forecaster.training.seeding import set_seed
from forecaster.training.settings import CLIPPING_KINDS, LOSSES, TrainSettings
from forecaster.training.trainer import HISTORY_KEYS, TrainResult, train_model

__all__ = [
    "CLIPPING_KINDS",
    "HISTORY_KEYS",
    "LOSSES",
    "GradientStats",
    "GradientTelemetry",
    "NanGuard",
    "TelemetryAdam",
    "TrainResult",
    "TrainSettings",
    "make_optimizer",
    "set_seed",
    "train_model",
]
