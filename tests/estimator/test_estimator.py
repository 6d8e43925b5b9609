"""RNNForecaster / BaselineForecaster: the scikit-learn contract, same-window evaluation, save/load."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from forecaster.errors import ModelFileError
from forecaster.estimator import BaselineForecaster, BlendForecaster, RNNForecaster, load_forecaster
from forecaster.data.splits import assign_splits

TINY = dict(target=["y"], lookback=12, horizon=3, units=4, epochs=2, batch_size=64, seed=3)


def make_frame(n=600, series=("a",), seed=0):
    rng = np.random.default_rng(seed)
    frames = []
    for k, sid in enumerate(series):
        t = pd.date_range("2024-01-01", periods=n, freq="h")
        y = 5 * np.sin(2 * np.pi * np.arange(n) / 24 + k) + rng.normal(0, 0.3, n) + 10 * k
        frames.append(pd.DataFrame({"series_id": sid, "timestamp": t, "segment": 0, "y": y,
                                    "x": rng.normal(size=n)}))
    frame = pd.concat(frames, ignore_index=True)
    frame["split"] = assign_splits(frame, 0.2, 0.2).to_numpy()
    return frame


@pytest.mark.parametrize("check", [check_no_attributes_set_in_init, check_parameters_default_constructible,
                                   check_get_params_invariance, check_set_params])
@pytest.mark.parametrize("estimator", [RNNForecaster(), BaselineForecaster(),
                                       BlendForecaster([RNNForecaster(), BaselineForecaster(kind="linear")])],
                         ids=["rnn", "baseline", "blend"])
def test_sklearn_checks_that_apply(check, estimator):
    check(type(estimator).__name__, estimator)


def _fit_keeps_params_and_adds_only_learned_attributes(est, frame):
    """scikit-learn's check_dont_overwrite_parameters / check_estimators_overwrite_params, on the
    canonical frame these estimators take (the checks themselves generate plain arrays)."""
    before = joblib.hash(est.get_params())
    names = set(vars(est))
    est.fit(frame)
    assert joblib.hash(est.get_params()) == before, "fit changed a parameter"
    added = {k for k in set(vars(est)) - names if not k.startswith("_")}
    assert added and all(k.endswith("_") for k in added), sorted(added)


def test_fit_keeps_parameters_and_clone_rebuilds_every_estimator():
    frame = make_frame(series=("a", "b"))
    tiny = {**TINY, "epochs": 1}
    for est in (RNNForecaster(**tiny), BaselineForecaster(kind="linear", target=["y"], lookback=12, horizon=3)):
        _fit_keeps_params_and_adds_only_learned_attributes(est, frame)
        twin = clone(est)
        assert twin.get_params(deep=False).keys() == est.get_params(deep=False).keys()
        assert not hasattr(twin, "preprocessor_")
    members = [BaselineForecaster(kind=kind, target=["y"], lookback=12, horizon=3)
               for kind in ("persistence", "linear")]
    blend = BlendForecaster(members, interval_level=0.8)
    _fit_keeps_params_and_adds_only_learned_attributes(blend, frame)
    assert blend.members is members and not hasattr(members[0], "preprocessor_")  # members cloned, untouched
    twin = clone(blend).fit(frame)  # clone rebuilds the blend: unfitted member clones, fitted in fit
    assert twin.members is not members and twin.get_params(deep=False)["interval_level"] == 0.8
    pd.testing.assert_frame_equal(twin.predict(frame), blend.predict(frame))
    # fitted members are used as they are (the pipeline's blend of saved models)
    prefit = BlendForecaster(blend.members_).fit(frame)
    assert prefit.members_[0] is blend.members_[0]
    np.testing.assert_array_equal(prefit.weights_, blend.weights_)


def test_params_clone_and_not_fitted():
    est = RNNForecaster(**TINY)
    assert est.get_params()["units"] == 4
    est.set_params(units=6, cell="gru")
    twin = clone(est)
    assert twin.get_params() == est.get_params() and twin is not est
    with pytest.raises(NotFittedError):
        est.predict(make_frame())


def test_fit_predict_shapes_and_future_timestamps():
    frame = make_frame(series=("a", "b"))
    est = RNNForecaster(**TINY).fit(frame)
    assert est.model_.output_shape == (None, 3, 1)
    out = est.predict(frame)
    assert list(out.columns) == ["series_id", "timestamp", "step", "forecast", "lower", "upper"]
    assert len(out) == 2 * 3
    last = frame.groupby("series_id")["timestamp"].max()
    for sid, group in out.groupby("series_id"):
        expected = pd.date_range(last[sid] + pd.Timedelta("1h"), periods=3, freq="h")
        assert (pd.DatetimeIndex(group["timestamp"]) == expected).all()
    assert (out["lower"] <= out["forecast"]).all() and (out["forecast"] <= out["upper"]).all()
    assert set(est.history_) == {"train_loss", "val_loss", "grad_norm_mean", "grad_norm_max", "clipped_fraction",
                                 "epoch_seconds", "memory_lag", "grad_far_near_ratio"}
    assert len(est.history_["epoch_seconds"]) == est.epochs_run_ and min(est.history_["epoch_seconds"]) > 0
    assert est.first_epoch_overhead_seconds_ > 0 and est.xla_ is False  # 'auto' with a few hundred windows
    assert est.input_grad_by_lag_.shape == (est.lookback,)  # the final lag profile, lag 1 first
    from forecaster.training.lag_gradients import memory_lag

    assert set(est.lag_final_) == {"memory_lag", "grad_far_near_ratio"}  # measured whatever the budget did
    assert est.lag_final_["memory_lag"] == memory_lag(est.input_grad_by_lag_)


def test_baselines_and_rnn_share_windows():
    frame = make_frame()
    rnn = RNNForecaster(**TINY).fit(frame)
    base = BaselineForecaster(kind="persistence", target=["y"], lookback=12, horizon=3).fit(frame)
    a, b = rnn.evaluate_windows(frame), base.evaluate_windows(frame)
    for split in ("val", "test"):
        np.testing.assert_array_equal(a[split].y_true, b[split].y_true)
        np.testing.assert_array_equal(a[split].timestamps, b[split].timestamps)
    # persistence in original units: every step repeats the last observed value
    y = frame["y"].to_numpy()
    first_label = pd.Index(frame["timestamp"]).get_loc(b["val"].timestamps[0, 0])
    np.testing.assert_allclose(b["val"].y_pred[0, :, 0], y[first_label - 1], rtol=1e-6)


def test_same_seed_same_forecast():
    frame = make_frame()
    a = RNNForecaster(**TINY).fit(frame).predict(frame)
    b = RNNForecaster(**TINY).fit(frame).predict(frame)
    np.testing.assert_array_equal(a["forecast"].to_numpy(), b["forecast"].to_numpy())


def test_save_load_predict_identical_in_a_new_process(tmp_path):
    frame = make_frame()
    est = RNNForecaster(**TINY).fit(frame)
    est.save(tmp_path / "model")
    frame.to_parquet(tmp_path / "frame.parquet")
    expected = est.predict(frame)
    code = textwrap.dedent(f"""
        import pandas as pd
        from forecaster.estimator import load_forecaster
        m = load_forecaster({str(tmp_path / 'model')!r})
        m.predict(pd.read_parquet({str(tmp_path / 'frame.parquet')!r})).to_parquet({str(tmp_path / 'out.parquet')!r})
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=240)
    got = pd.read_parquet(tmp_path / "out.parquet")
    pd.testing.assert_frame_equal(got, expected)
    assert not list(tmp_path.glob(".*.tmp"))


def test_baseline_save_load(tmp_path):
    frame = make_frame()
    est = BaselineForecaster(kind="linear", target=["y"], lookback=12, horizon=3).fit(frame)
    loaded = load_forecaster(est.save(tmp_path / "linear"))
    pd.testing.assert_frame_equal(loaded.predict(frame), est.predict(frame))


def test_saved_files_are_data_and_bad_state_is_refused_naming_the_file(tmp_path):
    frame = make_frame()
    est = BaselineForecaster(kind="linear", target=["y"], lookback=12, horizon=3).fit(frame)
    saved = est.save(tmp_path / "linear")
    assert sorted(p.name for p in saved.iterdir()) == ["arrays.npz", "forecaster.json"]
    meta = json.loads((saved / "forecaster.json").read_text())
    assert meta["format_version"] == 2 and meta["class"] == "BaselineForecaster"
    with np.load(saved / "arrays.npz", allow_pickle=False) as npz:
        assert all(npz[k].dtype.kind == "f" for k in npz.files)

    def tampered(edit, name):
        copy = tmp_path / name
        shutil.copytree(saved, copy)
        body = json.loads((copy / "forecaster.json").read_text())
        edit(body)
        (copy / "forecaster.json").write_text(json.dumps(body))
        return copy

    cases = [
        (lambda b: b.update(format_version=1), "format_version must be 2; received 1"),
        (lambda b: b.update({"class": "os.system"}), "'class' must be one of"),
        (lambda b: b["state"]["attributes"].update(evil_=1), "unknown attribute(s) ['evil_']"),
        (lambda b: b["state"]["params"].update(evil=1), "unknown BaselineForecaster parameter(s) ['evil']"),
        (lambda b: b["state"].update(quantiles=[[1.0]]), "quantiles must have shape (3, 1)"),
        (lambda b: b["state"]["linear"].pop("coef"), "KeyError: 'coef'"),
        (lambda b: b["state"].update(quantiles={"__array__": "nope"}), "the array 'nope' named in forecaster.json"),
    ]
    for i, (edit, words) in enumerate(cases):
        with pytest.raises(ModelFileError, match=re.escape(words)) as caught:
            load_forecaster(tampered(edit, f"bad{i}"))
        assert f"bad{i}" in str(caught.value)  # names the directory or file
    with pytest.raises(ModelFileError, match="not a saved forecaster"):
        load_forecaster(tmp_path)


def test_a_keras_file_with_code_is_refused_by_safe_mode(tmp_path):
    import keras

    frame = make_frame()
    saved = RNNForecaster(**{**TINY, "epochs": 1}).fit(frame).save(tmp_path / "rnn")
    marker = tmp_path / "pwned"
    inputs = keras.Input((12, 2))
    # With safe_mode=False this layer's code runs when the file is loaded (the marker appears).
    touch = keras.layers.Lambda(eval(f"lambda x: (open({str(marker)!r}, 'w').close(), x)[1]"))  # noqa: S307
    keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(touch(inputs)))).save(saved / "model.keras")
    marker.unlink(missing_ok=True)
    with pytest.raises(ModelFileError, match=re.escape("model.keras: not a valid Keras model file")):
        load_forecaster(saved)
    assert not marker.exists()


def test_too_short_for_windows_is_a_clear_error():
    frame = make_frame(n=20)
    with pytest.raises(ValueError, match="lookback=12"):
        RNNForecaster(**TINY).fit(frame)


def random_walks(scales=(1.0, 50.0), n=1500, seed=0):
    """Random walks of very different volatility (cheap and expensive stocks)."""
    rng = np.random.default_rng(seed)
    t = pd.date_range("2024-01-01", periods=n, freq="D")
    frame = pd.concat([pd.DataFrame({"series_id": f"s{k}", "timestamp": t, "segment": 0,
                                     "y": 1000 + np.cumsum(scale * rng.normal(size=n))})
                       for k, scale in enumerate(scales)], ignore_index=True)
    frame["split"] = assign_splits(frame, 0.3, 0.3).to_numpy()
    return frame


def per_series_coverage(est, frame):
    test = est.evaluate_windows(frame, splits=("test",))["test"]
    half = est.half_widths(test)
    inside = np.abs(test.y_true - test.y_pred) <= half
    return {sid: float(inside[test.series_ids == sid].mean()) for sid in ("s0", "s1")}


def test_local_interval_scale_calibrates_each_series_and_scales_forecast_widths(tmp_path):
    frame = random_walks()
    common = dict(kind="persistence", target=["y"], lookback=20, horizon=3, interval_level=0.9)
    absolute = BaselineForecaster(**common).fit(frame)
    local = BaselineForecaster(interval_scale="local", **common).fit(frame)
    cov_abs, cov_loc = per_series_coverage(absolute, frame), per_series_coverage(local, frame)
    assert cov_abs["s0"] > 0.99 and cov_abs["s1"] < 0.85  # one pooled width in target units
    assert all(0.85 <= c <= 0.95 for c in cov_loc.values()), cov_loc
    forecast = local.predict(frame)
    width = (forecast["upper"] - forecast["lower"]).groupby(forecast["series_id"]).mean()
    assert width["s1"] > 20 * width["s0"]  # volatility ratio 50, estimated from 20 steps
    loaded = load_forecaster(local.save(tmp_path / "local"))
    assert loaded.interval_scale == "local"
    pd.testing.assert_frame_equal(loaded.predict(frame), forecast)


def regime_shift(n=3000, seed=0):
    """A random walk whose step volatility jumps 4x at the start of the test part."""
    rng = np.random.default_rng(seed)
    t = pd.date_range("2024-01-01", periods=n, freq="h")
    sigma = np.where(np.arange(n) < int(0.7 * n), 0.5, 2.0)
    frame = pd.DataFrame({"series_id": "s", "timestamp": t, "segment": 0, "y": np.cumsum(sigma * rng.normal(size=n))})
    frame["split"] = assign_splits(frame, 0.2, 0.3).to_numpy()
    return frame


def test_rolling_calibration_recovers_coverage_after_a_regime_shift(tmp_path):
    frame = regime_shift()
    common = dict(kind="persistence", target=["y"], lookback=10, horizon=2, interval_level=0.9)
    static = BaselineForecaster(**common).fit(frame)
    rolling = BaselineForecaster(calibration_window=100, **common).fit(frame)
    np.testing.assert_array_equal(static.quantiles_, rolling.quantiles_)  # same validation fit
    preds = rolling.evaluate_windows(frame)
    test, val = preds["test"], preds["val"]
    err = np.abs(test.y_true - test.y_pred)
    late = slice(200, None)  # after the first 100 + horizon windows of the new regime
    static_cov = (err <= static.half_widths(test, history=val))[late].mean()
    rolling_cov = (err <= rolling.half_widths(test, history=val))[late].mean()
    assert static_cov < 0.6 and 0.85 <= rolling_cov <= 0.95, (static_cov, rolling_cov)
    # the forecast's interval is calibrated on the data's last 100 windows (the wild regime)
    width = lambda m: float((m.predict(frame)["upper"] - m.predict(frame)["lower"]).mean())
    assert width(rolling) > 3 * width(static)
    loaded = load_forecaster(rolling.save(tmp_path / "rolling"))
    assert loaded.calibration_window == 100
    pd.testing.assert_frame_equal(loaded.predict(frame), rolling.predict(frame))
    # history shorter than lookback + horizon + the level's minimum: the validation quantiles
    for rows in (15, 11):  # too few windows for the level; fewer rows than one window
        short = frame.tail(rows)
        pd.testing.assert_frame_equal(rolling.predict(short), static.predict(short))


def test_split_forecasts_are_the_same_when_gathered_a_chunk_at_a_time(monkeypatch):
    """Evaluation gathers at most PREDICT_CHUNK windows at once (memory: a chunk, not the split)."""
    import forecaster.estimator.base as base

    frame = make_frame(n=300, series=("a", "b"))
    model = BaselineForecaster(kind="linear", target=["y"], lookback=12, horizon=3, interval_scale="local").fit(frame)
    whole = model.evaluate_windows(frame)
    monkeypatch.setattr(base, "PREDICT_CHUNK", 7)
    chunked = model.evaluate_windows(frame)
    for split in ("val", "test"):
        assert whole[split].n_samples > 7
        for name in ("y_true", "y_pred", "scale", "spread"):
            np.testing.assert_allclose(getattr(chunked[split], name), getattr(whole[split], name), rtol=0, atol=1e-12)
        np.testing.assert_array_equal(chunked[split].series_ids, whole[split].series_ids)
        np.testing.assert_array_equal(chunked[split].timestamps, whole[split].timestamps)


# ---------------------------------------------------------------- known-future inputs (features.known_future)

KNOWN = {"known_future": ["hour_of_day", "day_of_week"]}


@pytest.mark.parametrize("head", ["dense", "seq2seq"])
def test_known_future_fit_forecast_save_load(head, tmp_path):
    from forecaster.features.knownfuture import target_block, window_block

    frame = make_frame(series=("a", "b"))
    est = RNNForecaster(**TINY, head=head, features=KNOWN).fit(frame)
    assert est.feature_names_[-4:] == ["known_hour_of_day_sin", "known_hour_of_day_cos",
                                       "known_day_of_week_sin", "known_day_of_week_cos"]
    assert est.model_.input_shape == (None, 12, 6) and est.model_.output_shape == (None, 3, 1)
    out = est.predict(frame)
    assert len(out) == 2 * 3 and np.isfinite(out["forecast"]).all()
    # Serving: the block the model reads is the target steps' calendar after each series' last timestamp.
    X, series_ids, last_ts = est._last_windows(frame)
    np.testing.assert_allclose(window_block(X, 4, 3),
                               target_block(last_ts.loc[series_ids], 3, "h", KNOWN["known_future"]), atol=1e-6)
    est.save(tmp_path / "m")
    header = json.loads((tmp_path / "m" / "forecaster.json").read_text())
    assert header["features"] == est.feature_names_
    assert header["schema"]["inputs"] == ["timestamp", "y", "x"]  # the block is no raw column: computed
    again = load_forecaster(tmp_path / "m")
    pd.testing.assert_frame_equal(again.predict(frame), out)


def test_no_known_future_is_the_model_of_before():
    frame = make_frame()
    before = RNNForecaster(**TINY).fit(frame)
    empty = RNNForecaster(**TINY, features={"calendar": [], "log_returns": [], "wind": None,
                                            "known_future": []}).fit(frame)
    assert empty.feature_names_ == before.feature_names_ == ["y", "x"]
    assert "horizon" not in empty.to_state()["preprocessor"]
    pd.testing.assert_frame_equal(empty.predict(frame), before.predict(frame))
    ridge = [BaselineForecaster(kind="linear", target=["y"], lookback=12, horizon=3, features=f).fit(frame)
             for f in (None, {"known_future": []})]
    np.testing.assert_array_equal(ridge[0].linear_.model_.coef_, ridge[1].linear_.model_.coef_)


def test_known_future_helps_when_the_target_follows_the_target_hour():
    """y = 2 sin(2 pi hour / 24) + noise, 6 h of history: the target hours' calendar is what tells
    the phase; with it the network and the ridge baseline both forecast better on validation."""
    rng = np.random.default_rng(0)
    t = pd.date_range("2024-01-01", periods=24 * 40, freq="h")
    frame = pd.DataFrame({"timestamp": t, "y": 2 * np.sin(2 * np.pi * t.hour / 24) + rng.normal(0, 1, len(t))})
    settings = dict(target=["y"], lookback=6, horizon=6)

    def val_mae(est):
        val = est.fit(frame).evaluate_windows(frame, splits=("val",))["val"]
        return float(np.abs(val.y_pred - val.y_true).mean())

    net = [val_mae(RNNForecaster(**settings, cell="gru", units=8, epochs=6, batch_size=64, seed=1,
                                 lag_gradient_every=0, features={"known_future": kf})) for kf in ([], ["hour_of_day"])]
    ridge = [val_mae(BaselineForecaster(kind="linear", **settings, features={"known_future": kf}))
             for kf in ([], ["hour_of_day"])]
    assert net[1] < 0.85 * net[0], net
    assert ridge[1] < 0.85 * ridge[0], ridge


# ---------------------------------------------------------------- highway (models[i].highway)

def test_highway_fit_forecast_save_load(tmp_path):
    frame = make_frame(series=("a", "b"))
    est = RNNForecaster(**TINY, highway=True).fit(frame)
    assert est.spec.name.endswith("-hw")
    assert est.model_.get_layer("highway").kernel.shape == (12 * 2, 3)  # lookback x features -> horizon
    assert np.abs(np.asarray(est.model_.get_layer("highway").kernel)).max() > 0  # trained from zero
    out = est.predict(frame)
    assert est.to_state()["params"]["highway"] is True
    est.save(tmp_path / "m")
    again = load_forecaster(tmp_path / "m")
    assert again.highway is True and again.model_.get_layer("highway") is not None
    pd.testing.assert_frame_equal(load_forecaster(tmp_path / "m").predict(frame), out)


# ---------------------------------------------------------------- training.horizon_weights

def test_horizon_weights_change_the_training_not_the_interface(tmp_path):
    frame = make_frame()
    plain = RNNForecaster(**TINY).fit(frame)
    uniform = RNNForecaster(**TINY, horizon_weights="uniform").fit(frame)
    pd.testing.assert_frame_equal(uniform.predict(frame), plain.predict(frame))  # the default, bit for bit
    weighted = RNNForecaster(**TINY, horizon_weights="linear").fit(frame)
    assert not np.allclose(weighted.history_["train_loss"], plain.history_["train_loss"])
    out = weighted.predict(frame)
    weighted.save(tmp_path / "m")  # the compiled weighted loss does not stop a safe-mode load
    pd.testing.assert_frame_equal(load_forecaster(tmp_path / "m").predict(frame), out)
