"""The recurrent-network forecaster: a scikit-learn estimator around a Keras model."""

from __future__ import annotations

import logging
from dataclasses import astuple
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecaster.estimator.base import WindowForecaster
from forecaster.estimator.ensemble import (
    MEMBER_VAL_LOSS,
    best_val_loss,
    check_ensemble,
    load_members,
    member_seed,
    save_members,
)
from forecaster.estimator.lag_telemetry import lag_gradient_callback
from forecaster.estimator.warm import (
    copy_weights,
    keep_start_callback,
    matching_champion,
    warm_budget,
)

logger = logging.getLogger(__name__)


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
    cell, layers, units, bidirectional, dropout, recurrent_dropout, head, segment, norm, channel_embedding, highway :
        The architecture (see :class:`forecaster.models.spec.ModelSpec`).
    clipping, clip_threshold :
        ``none`` | ``clipnorm`` | ``clipvalue`` | ``global_clipnorm`` and its threshold.
    loss, learning_rate, batch_size, epochs, patience, seed :
        Training settings (Adam; early stopping on validation loss, best weights restored).
    horizon_weights : {'uniform', 'linear'} or sequence of float
        Each forecast step's weight in the loss (:func:`~forecaster.training.losses.horizon_weights`).
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
        counts), within :data:`~forecaster.estimator.lag_telemetry.LAG_GRADIENT_BUDGET` (5%) of the training's wall time: a due epoch
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
    lr_schedule : {'none', 'plateau'}, default 'none'
        Learning-rate schedule (:class:`~forecaster.training.TrainSettings`); with ``'plateau'``
        ``history_['learning_rate']`` holds each epoch's rate.

    ensemble : int, default 1
        Members trained (serially), member ``i`` with seed ``seed + i`` (:func:`member_seed`; member
        0 is the plain fit), each with its own early stopping on validation. The forecast is the
        mean of the members' network outputs in the scaled space; the scaler's inverse is affine per
        series, so it is the mean of their forecasts in data units too. ``model_`` is member 0,
        ``models_`` every member. ``history_`` (curves, telemetry), ``epochs_run_`` and the lag
        telemetry come from member 0, plus ``ensemble_member_val_loss`` (each member's best
        validation loss); ``train_seconds_``, ``train_cpu_seconds_``, ``first_epoch_overhead_seconds_``
        and ``n_params_`` are summed over the members. A diverged member fails the fit.

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
        highway=False,
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
        lr_schedule="none",
        ensemble=1,
        horizon_weights="uniform",
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
        self.segment, self.norm, self.channel_embedding, self.highway = segment, norm, channel_embedding, highway
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
        self.lr_schedule = lr_schedule
        self.ensemble = ensemble
        self.horizon_weights = horizon_weights

    @property
    def spec(self):
        from forecaster.models.spec import ModelSpec

        units = tuple(self.units) if isinstance(self.units, (list, tuple)) else self.units
        return ModelSpec(cell=self.cell, layers=self.layers, units=units, bidirectional=self.bidirectional,
                         dropout=self.dropout, recurrent_dropout=self.recurrent_dropout, head=self.head,
                         segment=self.segment, norm=self.norm, channel_embedding=self.channel_embedding,
                         highway=self.highway)

    def fit(self, frame: pd.DataFrame, y: Any = None, callbacks=()) -> "RNNForecaster":
        self._callbacks = list(callbacks or ())
        try:
            return super().fit(frame, y)
        finally:
            self._callbacks = []

    def _fit_windows(self, values, starts, scaled) -> None:
        import tensorflow as tf

        from forecaster.windowing import make_dataset

        size = check_ensemble(self.ensemble)
        targets = list(self.preprocessor_.target_indices_)
        base = tf.constant(values, dtype=tf.float32)  # one copy of the data for every dataset
        self.warm_started_, self.warm_start_note_, champion = False, "warm start off", None
        models, runs, val_ds = [], [], None
        for member in range(size):  # serially: member i is the plain fit with seed + i
            seed = member_seed(self.seed, member)
            model = self._build_member(values.shape[1], targets, seed)
            if member == 0 and self.warm_start_from:
                champion, self.warm_start_note_ = matching_champion(self, self.warm_start_from, type(self).load)
            if champion is not None:
                why_not = copy_weights(model, champion, member)
                if why_not:  # members share one architecture: only the first can find out
                    champion, self.warm_start_note_ = None, why_not
                self.warm_started_ = champion is not None
            settings = self._settings(seed)
            train_ds = make_dataset(base, starts["train"], self.lookback, self.horizon, targets,
                                    self.batch_size, shuffle=True, seed=seed)
            if val_ds is None:
                val_ds = make_dataset(base, starts["val"], self.lookback, self.horizon, targets,
                                      settings.eval_batch_size, shuffle=False)
            which = f" member {member + 1}/{size} (seed {seed})" if size > 1 else ""
            logger.info("training %s%s (%d params) on %d windows, validating on %d", self.spec.name, which,
                        model.count_params(), len(starts["train"]), len(starts["val"]))
            runs.append(self._train_member(model, train_ds, val_ds, settings, values, starts, targets,
                                           telemetry=member == 0))
            models.append(model)
            if runs[-1][0].failed:  # a diverged member fails the candidate: no more members trained
                break
        self._set_fitted(models, runs)

    def _build_member(self, n_features: int, targets: list[int], seed: int):
        from forecaster.models.builders import build_model
        from forecaster.training import set_seed

        set_seed(seed)
        return build_model(
            self.spec, self.lookback, n_features, self.horizon, len(targets),
            residual_targets=targets if self.residual else None, seed=seed,
            center_targets=self.center_targets, scale_targets=self.scale_targets, truncate=self.truncate,
            target_indices=targets, known_future=len(self.preprocessor_.known_columns_),
        )

    def _settings(self, seed: int):
        from forecaster.training import TrainSettings
        from forecaster.config.horizon import horizon_weights

        epochs, patience, learning_rate = self.epochs, self.patience, self.learning_rate
        if self.warm_started_:  # fine-tune: its own budget, and the champion's weights kept unless beaten
            epochs, patience, learning_rate = astuple(warm_budget(
                self.epochs, self.patience, self.learning_rate, self.warm_epochs, self.warm_patience,
                self.warm_learning_rate))
            budget = (f"; fine-tuned for at most {epochs} epoch(s), patience {patience}, "
                      f"learning rate {learning_rate:g}")
            if budget not in self.warm_start_note_:
                self.warm_start_note_ += budget
        return TrainSettings(
            epochs=epochs, batch_size=self.batch_size, learning_rate=learning_rate,
            patience=patience, loss=self.loss, clipping=self.clipping,
            clip_threshold=self.clip_threshold, seed=seed, verbose=self.verbose,
            jit_compile=self.jit_compile, lr_schedule=self.lr_schedule,
            horizon_weights=horizon_weights(self.horizon_weights, self.horizon),
        )

    def _train_member(self, model, train_ds, val_ds, settings, values, starts, targets, telemetry: bool):
        """Train one member: ``(TrainResult, keep-start callback or None, lag callback or None)``.

        ``telemetry``: the lag-gradient telemetry runs on this member (the first one only).
        """
        from forecaster.training import train_model

        keep_start = keep_start_callback(val_ds) if self.warm_started_ else None
        lag_cb = None
        if telemetry:
            lag_cb = lag_gradient_callback(values, starts, self.lookback, self.horizon, targets,
                                           self.lag_gradient_every,
                                           share_key=self._architecture_key(values.shape[1], len(targets)))
        extra = [cb for cb in (keep_start, lag_cb) if cb is not None]  # keep_start ends first: lag profile on final weights
        result = train_model(model, train_ds, val_ds, settings, callbacks=[*extra, *getattr(self, "_callbacks", ())])
        return result, keep_start, lag_cb

    def _set_fitted(self, models: list, runs: list) -> None:
        """The learned attributes from the members' trainings: curves, telemetry and epochs from the
        first member; seconds and parameters summed over the members; failed when one failed."""
        result, _, lag_cb = runs[0]
        self.model_, self.models_ = models[0], list(models)
        kept = [i for i, (_, keep_start, _) in enumerate(runs) if getattr(keep_start, "kept_start", False)]
        self.warm_kept_start_ = bool(kept)
        if kept:
            which = "" if len(runs) == 1 else f" (member(s) {[i + 1 for i in kept]})"
            self.warm_start_note_ += f"; no epoch beat the champion's weights on validation{which}: kept them"
        self.n_params_ = int(sum(model.count_params() for model in models))
        self.history_ = {k: list(v) for k, v in result.history.items()}
        if int(self.ensemble) > 1:
            self.history_[MEMBER_VAL_LOSS] = [best_val_loss(run[0]) for run in runs]
        if lag_cb is not None:
            self.history_.update({k: list(v) for k, v in lag_cb.history.items()})
            self.input_grad_by_lag_ = lag_cb.profile
            self.lag_final_ = dict(lag_cb.final)
            self.lag_gradient_seconds_ = float(lag_cb.seconds)
            self.lag_gradient_cpu_seconds_ = float(lag_cb.cpu_seconds)
        self.epochs_run_ = int(result.epochs_run)
        self.train_seconds_ = float(sum(run[0].seconds for run in runs))
        self.train_cpu_seconds_ = float(sum(run[0].cpu_seconds for run in runs))
        self.first_epoch_overhead_seconds_ = float(sum(run[0].first_epoch_overhead_seconds for run in runs))
        self.xla_ = bool(result.xla)
        failed = next((i for i, run in enumerate(runs) if run[0].failed), None)
        self.failed_ = failed is not None
        last = runs[failed if failed is not None else 0][0]
        self.failure_reason_, self.failed_epoch_ = last.failure_reason, last.failed_epoch
        if failed is not None and int(self.ensemble) > 1:
            self.failure_reason_ = (f"ensemble member {failed + 1} (seed {member_seed(self.seed, failed)}): "
                                    f"{last.failure_reason}")

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

        models = self.member_models()
        if len(models) == 1:
            return predict_windows(models[0], X)  # the compiled predict function: see inference.py
        return np.mean([predict_windows(model, X) for model in models], axis=0)  # the ensemble's mean

    def member_models(self) -> list:
        """The fitted Keras networks: the ensemble's members, member 0 first (one for a single network)."""
        return list(getattr(self, "models_", None) or [self.model_])

    def _save_model(self, directory: Path) -> None:
        save_members(directory, self.member_models())

    def _load_model(self, directory: Path) -> None:
        self.models_ = load_members(directory, self.ensemble)
        self.model_ = self.models_[0]
