"""Tests of forecaster.training: clipping on the optimizer, gradient telemetry, NaN guard, seeds."""

from __future__ import annotations

import math
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from forecaster.config import ClippingConfig, TrainingConfig
from forecaster.training import (
    HISTORY_KEYS,
    GradientTelemetry,
    TelemetryAdam,
    TrainSettings,
    make_optimizer,
    set_seed,
    train_model,
)
from forecaster.training.trainer import MIN_XLA_WINDOWS, use_xla

LOOKBACK, N_FEATURES, HORIZON = 6, 2, 3


def _data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, LOOKBACK, N_FEATURES)).astype("float32")
    y = (X[:, -HORIZON:, :1] * 0.5 + 0.1).astype("float32")
    return X, y


def _model(cell=keras.layers.GRU, seed=0):
    set_seed(seed)
    return keras.Sequential(
        [
            keras.Input((LOOKBACK, N_FEATURES)),
            cell(4),
            keras.layers.Dense(HORIZON),
            keras.layers.Reshape((HORIZON, 1)),
        ]
    )


def _tape_grads(model, X, y):
    with tf.GradientTape() as tape:
        loss = keras.losses.MeanSquaredError()(y, model(X, training=True))
    return [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]


# --- make_optimizer -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["clipnorm", "clipvalue", "global_clipnorm"])
def test_clipping_lands_on_the_keras_optimizer_argument(kind):
    opt = make_optimizer(1e-3, kind, 1.0)
    assert isinstance(opt, keras.optimizers.Adam)
    assert getattr(opt, kind) == 1.0
    others = {"clipnorm", "clipvalue", "global_clipnorm"} - {kind}
    assert all(getattr(opt, other) is None for other in others)
    assert opt.get_config()[kind] == 1.0


def test_no_clipping_sets_no_argument():
    opt = make_optimizer(0.01)
    assert (opt.clipnorm, opt.clipvalue, opt.global_clipnorm) == (None, None, None)
    assert float(opt.learning_rate.numpy()) == pytest.approx(0.01)


@pytest.mark.parametrize(
    "args, message",
    [
        ((1e-3, "clipnorms", 1.0), "`clipping` must be one of"),
        ((1e-3, "clipnorm", None), "`clipping='clipnorm'` needs a number `threshold` > 0. Received: threshold=None"),
        ((1e-3, "clipvalue", -1.0), "Received: threshold=-1.0"),
        ((1e-3, "none", 1.0), "`clipping='none'` takes no `threshold`"),
        ((0.0, "none", None), "`learning_rate` must be a finite number > 0. Received: learning_rate=0.0"),
    ],
)
def test_make_optimizer_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make_optimizer(*args)


# --- TrainSettings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0}, "`epochs` must be an integer >= 1. Received: epochs=0"),
        ({"batch_size": 2.5}, "`batch_size` must be an integer >= 1. Received: batch_size=2.5"),
        ({"patience": -1}, "`patience` must be an integer >= 0. Received: patience=-1"),
        ({"steps_per_execution": 0}, "`steps_per_execution` must be an integer >= 1. Received: steps_per_execution=0"),
        ({"validation_batch_size": 0}, "`validation_batch_size` must be an integer >= 1. Received: validation_batch_size=0"),
        ({"loss": "rmse"}, "`loss` must be one of ('mse', 'mae', 'huber'). Received: loss='rmse'"),
        ({"clipping": "global_clipnorm"}, "needs a number `clip_threshold` > 0. Received: clip_threshold=None"),
        ({"clip_threshold": 1.0}, "`clipping='none'` takes no `clip_threshold`"),
        ({"learning_rate": float("nan")}, "`learning_rate` must be a finite number > 0"),
        ({"jit_compile": "yes"}, "`jit_compile` must be True, False or 'auto'. Received: jit_compile='yes'"),
        ({"seed": "1"}, "`seed` must be an integer. Received: seed='1'"),
        ({"lr_schedule": "cosine"}, "`lr_schedule` must be one of ('none', 'plateau'). Received: lr_schedule='cosine'"),
    ],
)
def test_train_settings_reject_bad_values(kwargs, message):
    with pytest.raises(ValueError) as info:
        TrainSettings(**kwargs)
    assert message in str(info.value)


def test_train_settings_from_config():
    s = TrainSettings.from_config(
        TrainingConfig(epochs=4, loss="huber", seed=3, lr_schedule="plateau"),
        ClippingConfig(kind="clipvalue", threshold=0.5),
    )
    assert (s.epochs, s.loss, s.seed, s.clipping, s.clip_threshold) == (4, "huber", 3, "clipvalue", 0.5)
    assert s.lr_schedule == "plateau"


# --- telemetry ----------------------------------------------------------------------------------


def test_telemetry_grad_norm_equals_gradient_tape():
    X, y = _data(32)
    model = _model()
    expected = math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in _tape_grads(model, X, y)))
    # One batch of all the samples -> one optimizer step, measured before the update.
    result = train_model(model, (X, y), None, TrainSettings(epochs=1, batch_size=32, patience=0))
    assert result.history["grad_norm_mean"][0] == pytest.approx(expected, rel=1e-5)
    assert result.history["grad_norm_max"][0] == pytest.approx(expected, rel=1e-5)
    assert result.history["clipped_fraction"] == [0.0]


def test_clipped_fraction_matches_each_kind_of_clipping():
    X, y = _data(32)
    model = _model()
    grads = _tape_grads(model, X, y)
    per_variable = sorted(float(np.linalg.norm(g)) for g in grads)
    global_norm = math.sqrt(sum(n * n for n in per_variable))
    peak = max(float(np.max(np.abs(g))) for g in grads)
    between = (per_variable[-1] + global_norm) / 2  # above every variable's norm, below the global one
    cases = [
        ("none", None, 0.0),
        ("clipnorm", 1e-6, 1.0),
        ("clipnorm", between, 0.0),
        ("global_clipnorm", between, 1.0),
        ("global_clipnorm", global_norm * 1.01, 0.0),
        ("clipvalue", peak * 0.99, 1.0),
        ("clipvalue", peak * 1.01, 0.0),
    ]
    for kind, threshold, fraction in cases:
        opt = make_optimizer(1e-3, kind, threshold)
        opt.build(model.trainable_variables)
        opt.gradient_stats.reset()
        # Same gradients twice (the variables change, the gradients passed do not).
        for _ in range(2):
            opt.apply([tf.constant(g) for g in grads], model.trainable_variables)
        stats = opt.gradient_stats.result()
        assert stats["clipped_fraction"] == fraction, (kind, threshold)
        # Telemetry is the norm before clipping, whatever the clipping.
        assert stats["grad_norm_mean"] == pytest.approx(global_norm, rel=1e-5)
        assert stats["grad_norm_max"] == pytest.approx(global_norm, rel=1e-5)


def test_history_has_one_entry_per_epoch_for_every_key_and_reaches_user_callbacks():
    X, y = _data(64)
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(dict(logs))

    settings = TrainSettings(epochs=3, batch_size=16, patience=0, clipping="clipnorm", clip_threshold=1e-6)
    result = train_model(_model(keras.layers.SimpleRNN), (X, y), (X[:16], y[:16]), settings, callbacks=[Spy()])
    assert result.epochs_run == 3
    assert set(result.history) == set(HISTORY_KEYS)
    assert all(len(values) == 3 for values in result.history.values())
    assert result.history["clipped_fraction"] == [1.0, 1.0, 1.0]  # 4 steps per epoch, all clipped
    assert all(r["grad_norm_max"] >= r["grad_norm_mean"] > 0 for r in seen)
    assert [r["clipped_fraction"] for r in seen] == result.history["clipped_fraction"]
    assert result.samples_per_second is not None and result.samples_per_second > 0


def test_gradient_telemetry_needs_the_telemetry_optimizer():
    X, y = _data(16)
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(), loss="mse")
    with pytest.raises(ValueError, match="`GradientTelemetry` needs the model compiled with an optimizer"):
        model.fit(X, y, epochs=1, verbose=0, callbacks=[GradientTelemetry()])


# --- early stopping, NaN guard ------------------------------------------------------------------


def test_early_stopping_restores_the_best_weights():
    X, y = _data(64)
    # Validation targets are the negated training targets: fitting the training data hurts them.
    snapshots = []

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append([w.copy() for w in self.model.get_weights()])

    model = _model()
    settings = TrainSettings(epochs=8, batch_size=16, learning_rate=0.02, patience=2)
    result = train_model(model, (X, y), (X, -y), settings, callbacks=[Snapshot()])
    val = result.history["val_loss"]
    assert result.best_epoch == int(np.argmin(val)) + 1
    assert result.best_epoch < result.epochs_run < 8  # it stopped early, after the best epoch
    for restored, best in zip(model.get_weights(), snapshots[result.best_epoch - 1]):
        np.testing.assert_array_equal(restored, best)


def test_plateau_schedule_halves_the_rate_when_validation_stalls_and_records_it():
    X, y = _data(64)
    settings = TrainSettings(epochs=8, batch_size=16, learning_rate=0.02, patience=0, lr_schedule="plateau")
    assert settings.plateau_patience == 1
    result = train_model(_model(), (X, y), (X, -y), settings)  # fitting the training data hurts validation
    rates = result.history["learning_rate"]
    assert len(rates) == result.epochs_run == 8  # patience 0: no early stopping
    assert rates[0] == pytest.approx(0.02)
    assert all(later <= earlier for earlier, later in zip(rates, rates[1:]))
    assert min(rates) < 0.02 and min(rates) >= 0.02 / 32 * (1 - 1e-6)
    for rate in rates:  # only halvings
        assert math.log2(0.02 / rate) == pytest.approx(round(math.log2(0.02 / rate)), abs=1e-4)
    constant = train_model(_model(), (X, y), (X, -y), TrainSettings(epochs=2, batch_size=16, patience=0))
    assert "learning_rate" not in constant.history  # no schedule, no rate column


def test_nan_in_training_data_is_reported_not_raised():
    X, y = _data(64)
    X[40] = np.nan  # sample 41 sits in batch 3 of 16
    ds = tf.data.Dataset.from_tensor_slices((X, y)).batch(16)
    result = train_model(_model(), ds, None, TrainSettings(epochs=3, patience=0))
    assert result.failed
    assert result.failed_epoch == 1
    assert result.failure_reason == "loss became nan at epoch 1, batch 3"
    assert result.epochs_run == 1
    assert all(len(values) == 1 for values in result.history.values())


def test_infinite_validation_loss_is_reported():
    X, y = _data(32)
    y_val = y.copy()
    y_val[0, 0, 0] = np.inf
    settings = TrainSettings(epochs=3, batch_size=16)
    result = train_model(_model(), (X, y), (X, y_val), settings)
    assert result.failed and result.failed_epoch == 1
    assert result.failure_reason == "validation loss became inf at epoch 1"


def test_healthy_training_is_not_failed():
    X, y = _data(32)
    result = train_model(_model(), (X, y), (X, y), TrainSettings(epochs=2, batch_size=16, loss="huber"))
    assert not result.failed and result.failure_reason is None and result.failed_epoch is None
    assert all(math.isfinite(v) for v in result.history["train_loss"] + result.history["val_loss"])


# --- seeds, jit, saving -------------------------------------------------------------------------


def _train_with_seed(model_seed, train_seed, jit_compile):
    X, y = _data(48)
    model = _model(keras.layers.LSTM, seed=model_seed)
    jit = {} if jit_compile == "default" else {"jit_compile": jit_compile}
    settings = TrainSettings(epochs=2, batch_size=16, seed=train_seed, **jit)
    result = train_model(model, (X, y), (X, y), settings)
    assert model.jit_compile is (jit_compile is True)
    return model.get_weights(), model.predict(X, verbose=0), result.history


@pytest.mark.parametrize("jit_compile", ["default", True])
def test_same_seed_gives_identical_weights_and_forecasts_with_and_without_xla(jit_compile):
    # The default (no XLA, TF op determinism) and XLA (no op determinism): same seed, same machine,
    # same versions -> the same metrics to 1e-6 (here even bit-identical weights and forecasts).
    first_weights, first_pred, first_history = _train_with_seed(1, 5, jit_compile)
    second_weights, second_pred, second_history = _train_with_seed(1, 5, jit_compile)
    for a, b in zip(first_weights, second_weights):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first_pred, second_pred)
    for key in HISTORY_KEYS:
        if key != "epoch_seconds":  # wall time: the one history entry that is not a result
            np.testing.assert_allclose(first_history[key], second_history[key], rtol=0, atol=1e-6, err_msg=key)
    # A different training seed shuffles differently: the checks above can fail.
    other_weights, _, other_history = _train_with_seed(1, 6, jit_compile)
    assert any(not np.array_equal(a, b) for a, b in zip(first_weights, other_weights))
    assert other_history["train_loss"] != first_history["train_loss"]


def test_auto_xla_steps_aside_for_a_layer_without_xla_support():
    # On a GPU, Keras marks a cuDNN-eligible LSTM/GRU supports_jit=False: 'auto' then keeps the
    # cuDNN kernel and TF op determinism (the layer attribute is set by hand here, on a CPU).
    from tensorflow.python.framework.config import is_op_determinism_enabled

    X, y = _data(32)
    model = _model(keras.layers.GRU)
    assert TrainSettings().jit_compile == "auto"
    assert use_xla(model, "auto", MIN_XLA_WINDOWS) and use_xla(model, "auto", None)
    lstm = _model(keras.layers.LSTM)  # every cell: LSTM too, since TensorFlow's CPU pool (runtime_env)
    assert use_xla(lstm, "auto", 10**6) and not use_xla(lstm, False, 10**6)
    assert not use_xla(model, "auto", MIN_XLA_WINDOWS - 1)  # tiny: compiling costs more than it saves
    assert use_xla(model, True, 32) and not use_xla(model, False, 10**6)
    model.layers[0].supports_jit = False
    assert not use_xla(model, "auto", 10**6)
    train_model(model, (X, y), None, TrainSettings(epochs=1, batch_size=16, patience=0))
    assert model.jit_compile is False and is_op_determinism_enabled()


def test_jit_compile_true_really_uses_xla_and_records_telemetry():
    X, y = _data(32)
    model = _model()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        result = train_model(model, (X, y), None, TrainSettings(epochs=1, batch_size=16, patience=0, jit_compile=True))
    assert not any("jit_compile" in str(w.message) for w in record)
    assert model.jit_compile is True
    assert result.history["grad_norm_mean"][0] > 0 and not result.failed


def test_model_compiled_with_telemetry_adam_saves_and_loads_in_safe_mode(tmp_path):
    X, y = _data(32)
    model = _model()
    settings = TrainSettings(epochs=1, batch_size=16, clipping="global_clipnorm", clip_threshold=2.0)
    train_model(model, (X, y), (X, y), settings)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded.optimizer, TelemetryAdam)
    assert loaded.optimizer.global_clipnorm == 2.0
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6)


# --- speed levers (issue 12): they change the speed, not the numbers ----------------------------


def test_validation_batch_defaults_to_the_training_batch_unless_set():
    assert TrainSettings(batch_size=32, validation_batch_size=None).eval_batch_size == 32
    assert TrainSettings(batch_size=32, validation_batch_size=512).eval_batch_size == 512


def _train_levers(**levers):
    X, y = _data(96)
    model = _model(keras.layers.LSTM, seed=1)
    settings = TrainSettings(epochs=2, batch_size=16, seed=3, jit_compile=True, patience=2, **levers)
    result = train_model(model, (X, y), (X[:40], y[:40]), settings)
    return model.get_weights(), result.history


def test_steps_per_execution_and_validation_batch_change_no_result():
    # Several train steps per call run the same compiled step: bit-identical weights. A larger
    # validation batch changes only how the mean validation loss is summed: equal to 1e-6.
    weights, history = _train_levers(steps_per_execution=1, validation_batch_size=16)
    fast_weights, fast_history = _train_levers(steps_per_execution=4, validation_batch_size=40)
    for a, b in zip(weights, fast_weights):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(history["train_loss"], fast_history["train_loss"])
    np.testing.assert_allclose(history["val_loss"], fast_history["val_loss"], rtol=1e-6)
    assert history["val_loss"][0] != history["val_loss"][1]  # the comparison can fail: the loss moves
