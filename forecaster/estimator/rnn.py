"""The recurrent-network forecaster: a scikit-learn estimator around a Keras model."""

from __future__ import annotations

import logging
from dataclasses import astuple
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecaster.errors import ModelFileError
from forecaster.estimator.base import WindowForecaster
from forecaster.estimator.warm import apply_warm_start, keep_start_callback, warm_budget

logger = logging.getLogger(__name__)

MODEL_FILE = "model.keras"


class RNNForecaster(WindowForecaster):
    """SimpleRNN / GRU / LSTM forecaster over the canonical frame (scikit-learn compatible).

    ``__init__`` only stores its parameters; ``fit`` does the work and returns ``self``; learned
    state ends in ``_`` (``model_``, ``preprocessor_``, ``quantiles_``, ``history_``);
    ``predict`` is guarded by ``check_is_fitted``; ``get_params``/``set_params``/``clone`` work.

    Parameters
    ----------
    target : sequence of str
        Target columns (their own history is always an input).
    lookback, horizon, stride : int
        Window shape: ``X (n_samples, lookback, n_features)`` -> ``y (n_samples, horizon, n_targets)``.
    cell, layers, units, bidirectional, dropout, recurrent_dropout, head, segment, norm, channel_embedding :
        The architecture (see :class:`forecaster.models.spec.ModelSpec`).
    clipping, clip_threshold :
        ``none`` | ``clipnorm`` | ``clipvalue`` | ``global_clipnorm`` and its threshold.
    loss, learning_rate, batch_size, epochs, patience, seed :
        Training settings (Adam; early stopping on validation loss, best weights restored).
    residual : bool
        Predict the change from the last observed target value (persistence is the zero output).
    center_targets : bool
        With ``residual``: the targets' input channels are relative to their last value, so the
        model is invariant to the target's level.
    scale_targets : bool
        With ``center_targets``: also normalise by the window's own step volatility.
    truncate : int or None
        Truncated backpropagation through time: training gradients reach at most ``truncate``
        steps back (the forecast itself is unchanged); None: full BPTT.
    lag_gradient_every : int
        Measure the input gradient by lag (:class:`~forecaster.training.lag_gradients.LagGradientTelemetry`)
        every this many epochs and after training; 0 turns it off. ``history_`` then has
        ``memory_lag`` and ``grad_far_near_ratio`` (NaN for the epochs not measured) and
        ``input_grad_by_lag_`` the final profile, ``lag_final_`` its ``memory_lag`` and
        ``grad_far_near_ratio`` (measured in every case, even when no epoch was). Default 2 (a pass costs 0.005-0.03 s once the
        measurement is traced; the trace, once per architecture and process, is the cost that
        counts), within :data:`LAG_GRADIENT_BUDGET` (5%) of the training's wall time: a due epoch
        whose measurement would exceed it is skipped, and a training too short to pay for the
        trace has its final weights measured eagerly; measured in docs/gradients.md.
    val_fraction : float
        Validation share used when the frame has no ``split`` column.
    features : mapping or None
        Derived features (the pipeline file's ``features`` section).
    interval_level : float
        Split-conformal interval level, calibrated on validation residuals.
    interval_scale : {'absolute', 'local'}
        Conformal scores in target units, or divided by each window's mean absolute one-step
        change (intervals that follow the volatility and level of each series).
    calibration_window : int or None
        None: intervals calibrated once on the validation windows. N: each forecast's interval is
        calibrated on the N most recent windows of its series with known labels (rolling).
    data : mapping or None
        The pipeline file's ``data`` section, so :meth:`forecast` reads raw history like training did.
    warm_start_from : path or None
        A saved forecaster (the champion): when its network matches this one's architecture,
        window, targets and features, training starts from its weights (``warm_started_`` True,
        ``warm_start_note_`` says why or why not); see :mod:`forecaster.estimator.warm`.
    warm_epochs, warm_patience, warm_learning_rate :
        The fine-tuning budget of a warm-started fit (:func:`forecaster.estimator.warm.warm_budget`:
        at most ``min(warm_epochs, epochs)`` epochs, patience ``min(warm_patience, patience)``,
        ``warm_learning_rate`` or, when None, a tenth of ``learning_rate``); the champion's own
        weights are kept when no epoch beats them on validation (``warm_kept_start_``).
    jit_compile : bool or 'auto', default 'auto'
        XLA for the training steps (:class:`~forecaster.training.TrainSettings`): ``'auto'`` measures
        which is faster on this machine (:mod:`forecaster.training.xla_choice`); ``xla_`` says what
        was used and ``first_epoch_overhead_seconds_`` what tracing and compiling cost.

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> t = pd.date_range("2024-01-01", periods=300, freq="h")
    >>> frame = pd.DataFrame({"timestamp": t, "y": np.sin(np.arange(300) / 4)})
    >>> model = RNNForecaster(target=["y"], lookback=12, horizon=3, units=4, epochs=1).fit(frame)
    >>> model.predict(frame).shape
    (3, 6)
    """

    kind = "rnn"

    def __init__(
        self,
        target=("y",),
        lookback=24,
        horizon=1,
        stride=1,
        cell="lstm",
        layers=1,
        units=32,
        bidirectional=False,
        dropout=0.0,
        recurrent_dropout=0.0,
        head="dense",
        segment=None,
        norm="revin",
        channel_embedding=True,
        clipping="none",
        clip_threshold=None,
        loss="mse",
        learning_rate=1e-3,
        batch_size=256,
        epochs=20,
        patience=3,
        seed=42,
        residual=True,
        center_targets=True,
        scale_targets=False,
        truncate=None,
        lag_gradient_every=2,
        val_fraction=0.25,
        features=None,
        interval_level=0.9,
        interval_scale="absolute",
        calibration_window=None,
        data=None,
        verbose=0,
        warm_start_from=None,
        warm_epochs=3,
        warm_patience=1,
        warm_learning_rate=None,
        jit_compile="auto",
    ):
        self.target = target
        self.lookback = lookback
        self.horizon = horizon
        self.stride = stride
        self.cell = cell
        self.layers = layers
        self.units = units
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        self.segment, self.norm, self.channel_embedding = segment, norm, channel_embedding
        self.head = head
        self.clipping = clipping
        self.clip_threshold = clip_threshold
        self.loss = loss
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.seed = seed
        self.residual = residual
        self.center_targets = center_targets
        self.scale_targets = scale_targets
        self.truncate = truncate
        self.lag_gradient_every = lag_gradient_every
        self.val_fraction = val_fraction
        self.features = features
        self.interval_level = interval_level
        self.interval_scale = interval_scale
        self.calibration_window = calibration_window
        self.data = data
        self.verbose = verbose
        self.warm_start_from = warm_start_from
        self.warm_epochs = warm_epochs
        self.warm_patience = warm_patience
        self.warm_learning_rate = warm_learning_rate
        self.jit_compile = jit_compile

    @property
    def spec(self):
        from forecaster.models.spec import ModelSpec

        units = tuple(self.units) if isinstance(self.units, (list, tuple)) else self.units
        return ModelSpec(cell=self.cell, layers=self.layers, units=units, bidirectional=self.bidirectional,
                         dropout=self.dropout, recurrent_dropout=self.recurrent_dropout, head=self.head,
                         segment=self.segment, norm=self.norm, channel_embedding=self.channel_embedding)

    def fit(self, frame: pd.DataFrame, y: Any = None, callbacks=()) -> "RNNForecaster":
        self._callbacks = list(callbacks or ())
        try:
            return super().fit(frame, y)
        finally:
            self._callbacks = []

    def _fit_windows(self, values, starts, scaled) -> None:
        from forecaster.models.builders import build_model
        from forecaster.training import TrainSettings, set_seed, train_model
        from forecaster.windowing import make_dataset

        set_seed(self.seed)
        targets = list(self.preprocessor_.target_indices_)
        model = build_model(
            self.spec, self.lookback, values.shape[1], self.horizon, len(targets),
            residual_targets=targets if self.residual else None, seed=self.seed,
            center_targets=self.center_targets, scale_targets=self.scale_targets, truncate=self.truncate,
            target_indices=targets, known_future=len(self.preprocessor_.known_columns_),
        )
        self.warm_started_, self.warm_start_note_ = False, "warm start off"
        if self.warm_start_from:
            self.warm_started_, self.warm_start_note_ = apply_warm_start(self, model, self.warm_start_from,
                                                                         type(self).load)
        epochs, patience, learning_rate = self.epochs, self.patience, self.learning_rate
        if self.warm_started_:  # fine-tune: its own budget, and the champion's weights kept unless beaten
            epochs, patience, learning_rate = astuple(warm_budget(
                self.epochs, self.patience, self.learning_rate, self.warm_epochs, self.warm_patience,
                self.warm_learning_rate))
            self.warm_start_note_ += (f"; fine-tuned for at most {epochs} epoch(s), patience {patience}, "
                                      f"learning rate {learning_rate:g}")
        settings = TrainSettings(
            epochs=epochs, batch_size=self.batch_size, learning_rate=learning_rate,
            patience=patience, loss=self.loss, clipping=self.clipping,
            clip_threshold=self.clip_threshold, seed=self.seed, verbose=self.verbose,
            jit_compile=self.jit_compile,
        )
        import tensorflow as tf

        base = tf.constant(values, dtype=tf.float32)  # one copy of the data for both datasets
        train_ds = make_dataset(base, starts["train"], self.lookback, self.horizon, targets,
                                self.batch_size, shuffle=True, seed=self.seed)
        val_ds = make_dataset(base, starts["val"], self.lookback, self.horizon, targets,
                              settings.eval_batch_size, shuffle=False)
        logger.info("training %s (%d params) on %d windows, validating on %d",
                    self.spec.name, model.count_params(), len(starts["train"]), len(starts["val"]))
        keep_start = None
        if self.warm_started_:
            keep_start = keep_start_callback(val_ds)
        lag_cb = lag_gradient_callback(values, starts, self.lookback, self.horizon, targets, self.lag_gradient_every,
                                       share_key=self._architecture_key(values.shape[1], len(targets)))
        extra = [cb for cb in (keep_start, lag_cb) if cb is not None]  # keep_start ends first: lag profile on final weights
        result = train_model(model, train_ds, val_ds, settings, callbacks=[*extra, *getattr(self, "_callbacks", ())])
        self.model_ = model
        self.warm_kept_start_ = bool(getattr(keep_start, "kept_start", False))
        if self.warm_kept_start_:
            self.warm_start_note_ += "; no epoch beat the champion's weights on validation: kept them"
        self.n_params_ = int(model.count_params())
        self.history_ = {k: list(v) for k, v in result.history.items()}
        if lag_cb is not None:
            self.history_.update({k: list(v) for k, v in lag_cb.history.items()})
            self.input_grad_by_lag_ = lag_cb.profile
            self.lag_final_ = dict(lag_cb.final)
            self.lag_gradient_seconds_ = float(lag_cb.seconds)
            self.lag_gradient_cpu_seconds_ = float(lag_cb.cpu_seconds)
        self.epochs_run_ = int(result.epochs_run)
        self.train_seconds_ = float(result.seconds)
        self.train_cpu_seconds_ = float(result.cpu_seconds)
        self.first_epoch_overhead_seconds_ = float(result.first_epoch_overhead_seconds)
        self.xla_ = bool(result.xla)
        self.failed_ = bool(result.failed)
        self.failure_reason_ = result.failure_reason
        self.failed_epoch_ = result.failed_epoch

    def _architecture_key(self, n_features: int, n_targets: int) -> str:
        """What decides the network's layers and weight shapes (not its clipping, truncation, seed or weights).

        The truncation is left out: the lag telemetry measures a truncated network on its
        untruncated twin, so full and truncated candidates share one traced measurement.
        """
        import json

        return json.dumps([self.spec.to_dict(), self.lookback, n_features, self.horizon, n_targets, self.residual,
                           self.center_targets, self.scale_targets, self.loss], sort_keys=True)

    def _predict_scaled(self, X: np.ndarray) -> np.ndarray:
        if len(X) == 0:
            return np.zeros((0, self.horizon, len(self.target)), dtype=np.float32)
        from forecaster.estimator.inference import predict_windows

        return predict_windows(self.model_, X)  # the compiled predict function: see inference.py

    def _save_model(self, directory: Path) -> None:
        import keras

        clean = keras.models.clone_model(self.model_)  # uncompiled: no optimizer in the file
        clean.set_weights(self.model_.get_weights())
        clean.save(directory / MODEL_FILE)

    def _load_model(self, directory: Path) -> None:
        import keras

        import forecaster.models.layers  # noqa: F401  registers the custom layers for safe loading
        import forecaster.models.truncation  # noqa: F401  (TruncatedRecurrent too)
        import forecaster.models.segment  # noqa: F401  (SegmentRecurrent too)

        path = directory / MODEL_FILE
        if not path.is_file():
            raise ModelFileError(f"{directory}: a saved RNN forecaster must hold {MODEL_FILE}")
        try:  # safe_mode=True: a Lambda layer or any other serialised code is refused
            self.model_ = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as exc:  # noqa: BLE001 - Keras raises many types for a bad file
            raise ModelFileError(f"{path}: not a valid Keras model file for safe loading "
                                 f"({type(exc).__name__}: {str(exc)[:300]})") from None


#: At most this many validation windows (evenly spaced) form the fixed batch of the lag telemetry.
LAG_WINDOWS = 64


#: The largest share of a candidate's training wall time its lag-gradient telemetry may take
#: (issue 14: under 5%); see ``LagGradientTelemetry(budget=)``.
LAG_GRADIENT_BUDGET = 0.05


def lag_gradient_callback(values, starts, lookback, horizon, targets, every, share_key=None):
    """The input-gradient-by-lag callback on a fixed batch of validation windows (None when ``every`` is 0).

    ``share_key``: the architecture key under which its traced measurement is reused (see
    :class:`~forecaster.training.lag_gradients.LagGradientTelemetry`).
    """
    if not every:
        return None
    from forecaster.training.lag_gradients import LagGradientTelemetry
    from forecaster.windowing import gather_windows

    pool = starts["val"] if len(starts["val"]) else starts["train"]
    pick = pool[np.unique(np.linspace(0, len(pool) - 1, min(LAG_WINDOWS, len(pool))).astype(int))]
    X, y = gather_windows(values, pick, lookback, horizon, targets)
    return LagGradientTelemetry(X, y, every=int(every), share_key=share_key, budget=LAG_GRADIENT_BUDGET)
