"""``jit_compile='auto'``: the choice between XLA and TensorFlow's kernels, from measured (here: forced) timings.

No test depends on wall time: the decision is tested on forced timings, the cache on planted
entries; one real probe checks only that it measures, caches and is then read back.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from forecaster.training import TrainSettings, make_optimizer, train_model
from forecaster.training import xla_choice
from forecaster.training.trainer import MIN_XLA_WINDOWS, choose_jit
from forecaster.training.xla_choice import XlaTimings, cache_key, choose_xla, decide, model_signature, write_cache


def _model(units=4):
    return keras.Sequential([keras.Input((8, 2)), keras.layers.GRU(units), keras.layers.Dense(3),
                             keras.layers.Reshape((3, 1))])


def _choose(model, state_dir, planned_steps=10_000):
    return choose_xla(model, batch_size=16, loss="mse", loss_name="mse", planned_steps=planned_steps,
                      make_optimizer=lambda: make_optimizer(1e-3, "none", None), state_dir=state_dir)


@pytest.mark.parametrize("xla_step, plain_step, xla_compile, planned, expected", [
    (0.040, 0.060, 20.0, 5_000, True),    # 33% faster, saves ~50 s for 19 s more compiling
    (0.058, 0.060, 2.0, 100_000, False),  # 3% faster: within the margin, noise
    (0.070, 0.060, 2.0, 100_000, False),  # slower (as with oneDNN on a Xeon)
    (0.040, 0.060, 60.0, 2_000, False),   # faster, but ~20 s saved never repays 59 s of compiling
    (0.040, 0.060, 1.0, 2_000, True),     # ... unless compiling is cheap
])
def test_the_faster_setting_wins_only_when_it_repays_its_compile(xla_step, plain_step, xla_compile, planned, expected):
    xla, reason = decide(xla_step, plain_step, xla_compile, 1.0, planned)
    assert xla is expected
    assert reason.startswith("XLA:" if expected else "no XLA:") and "ms/step" in reason


def test_cached_timings_decide_without_a_probe_and_follow_the_planned_steps(tmp_path, monkeypatch):
    model = _model()
    key = cache_key(model_signature(model, 16, "mse"))
    write_cache(key, XlaTimings(xla_step=0.010, plain_step=0.020, xla_compile=30.0, plain_compile=1.0), tmp_path)

    def no_probe(*args, **kwargs):
        raise AssertionError("a cached machine must not be probed again")

    monkeypatch.setattr(xla_choice, "probe", no_probe)
    long_run = _choose(model, tmp_path, planned_steps=100_000)  # saves ~500 s for 29 s of compiling
    assert long_run.xla and long_run.cached and long_run.probe_seconds == 0.0
    assert "cached timings" in long_run.reason and xla_choice.cpu_model() in long_run.reason
    assert not _choose(model, tmp_path, planned_steps=1_000).xla  # ~5 s saved does not repay 29 s


def test_the_verdict_is_kept_per_cpu_and_model_shape(tmp_path, monkeypatch):
    model = _model()
    key = cache_key(model_signature(model, 16, "mse"))
    assert key == cache_key(model_signature(_model(), 16, "mse"))  # same shape, same key
    assert key != cache_key(model_signature(_model(units=8), 16, "mse"))  # another shape
    assert key != cache_key(model_signature(model, 32, "mse"))  # another batch size
    monkeypatch.setattr(xla_choice, "cpu_model", lambda: "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz")
    assert key != cache_key(model_signature(model, 16, "mse"))  # another CPU


def test_explicit_settings_are_obeyed_without_probing(tmp_path, monkeypatch):
    monkeypatch.setenv("FORECASTER_STATE_DIR", str(tmp_path))
    model = _model()
    for setting in (True, False):
        choice = choose_jit(model, TrainSettings(jit_compile=setting), n_samples=10**6)
        assert choice.xla is setting and "explicitly" in choice.reason
    small = choose_jit(model, TrainSettings(), n_samples=MIN_XLA_WINDOWS - 1)
    assert not small.xla and f"< {MIN_XLA_WINDOWS}" in small.reason
    assert not (tmp_path / "speed").exists()  # nothing probed, nothing cached


def test_a_real_probe_measures_caches_and_leaves_the_model_alone(tmp_path):
    model = _model()
    before = [w.copy() for w in model.get_weights()]
    first = _choose(model, tmp_path)
    assert not first.cached and first.probe_seconds > 0
    timings = first.timings
    assert timings.xla_step > 0 and timings.plain_step > 0 and timings.xla_compile > 0
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))  # a clone was probed
    cache = json.loads((tmp_path / "speed" / "xla.json").read_text())
    assert list(cache) == [cache_key(model_signature(model, 16, "mse"))]
    again = _choose(model, tmp_path)
    assert again.cached and again.xla == first.xla and again.timings == timings


def test_an_unreadable_cache_is_measured_again(tmp_path, caplog):
    (tmp_path / "speed").mkdir()
    (tmp_path / "speed" / "xla.json").write_text("{not json")
    choice = _choose(_model(), tmp_path)
    assert not choice.cached and "unreadable XLA timing cache" in caplog.text
    assert json.loads((tmp_path / "speed" / "xla.json").read_text())  # rewritten whole


def test_training_reports_whether_it_used_xla(tmp_path):
    X = np.random.default_rng(0).random((64, 8, 2), dtype=np.float32)
    y = np.zeros((64, 3, 1), dtype=np.float32)
    model = _model()
    result = train_model(model, (X, y), None, TrainSettings(epochs=1, batch_size=16, patience=0, jit_compile=True))
    assert result.xla is True and model.jit_compile is True
