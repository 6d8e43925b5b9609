"""training.ensemble: N members, seeds seed + i, the mean of their forecasts, saved and loaded as data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from forecaster.errors import ModelFileError
from forecaster.estimator import RNNForecaster, load_forecaster
from forecaster.estimator.ensemble import MEMBER_VAL_LOSS, check_ensemble, member_file, member_seed
from tests.estimator.test_estimator import TINY, make_frame


@pytest.fixture(scope="module")
def fitted():
    """An ensemble of two (seed 3) and the plain fits with seeds 3 and 4, on the same frame."""
    frame = make_frame(series=("a", "b"))
    ensemble = RNNForecaster(**TINY, ensemble=2).fit(frame)
    plain = [RNNForecaster(**{**TINY, "seed": seed}).fit(frame) for seed in (3, 4)]
    return frame, ensemble, plain


def _weights_equal(a, b) -> bool:
    wa, wb = a.get_weights(), b.get_weights()
    return len(wa) == len(wb) and all(np.array_equal(x, y) for x, y in zip(wa, wb))


def test_member_i_is_the_plain_fit_with_seed_plus_i(fitted):
    _, ensemble, plain = fitted
    assert [member_seed(3, i) for i in range(2)] == [3, 4]
    assert len(ensemble.models_) == 2 and ensemble.model_ is ensemble.models_[0]
    assert _weights_equal(ensemble.models_[0], plain[0].model_)  # member 0: bit-identical to the plain fit
    assert _weights_equal(ensemble.models_[1], plain[1].model_)
    assert not _weights_equal(ensemble.models_[0], ensemble.models_[1])  # a different seed per member


def test_the_ensemble_forecasts_the_mean_of_its_members(fitted):
    frame, ensemble, plain = fitted
    out = ensemble.predict(frame)
    members = [p.predict(frame) for p in plain]
    assert not np.allclose(members[0]["forecast"], members[1]["forecast"])
    np.testing.assert_allclose(out["forecast"], (members[0]["forecast"] + members[1]["forecast"]) / 2,
                               rtol=1e-5, atol=1e-5)
    val = ensemble.evaluate_windows(frame, splits=("val",))["val"].y_pred
    mean = np.mean([p.evaluate_windows(frame, splits=("val",))["val"].y_pred for p in plain], axis=0)
    np.testing.assert_allclose(val, mean, rtol=1e-5, atol=1e-5)
    # intervals are calibrated on the ensemble's own validation residuals
    assert ensemble.quantiles_.shape == (3, 1) and np.isfinite(ensemble.quantiles_).all()
    assert ((out["lower"] < out["forecast"]) & (out["forecast"] < out["upper"])).all()


def test_telemetry_from_member_0_and_costs_summed(fitted):
    _, ensemble, plain = fitted
    assert ensemble.history_["val_loss"] == plain[0].history_["val_loss"]
    assert ensemble.epochs_run_ == plain[0].epochs_run_
    assert ensemble.history_[MEMBER_VAL_LOSS] == [min(p.history_["val_loss"]) for p in plain]
    assert ensemble.n_params_ == 2 * plain[0].n_params_
    assert ensemble.train_seconds_ > ensemble.history_["epoch_seconds"][0]
    assert ensemble.input_grad_by_lag_.shape == (TINY["lookback"],)
    assert MEMBER_VAL_LOSS not in plain[0].history_  # a single network's history is unchanged


def test_ensemble_of_one_is_the_plain_fit(fitted):
    frame, _, plain = fitted
    one = RNNForecaster(**TINY, ensemble=1).fit(frame)
    assert len(one.models_) == 1 and _weights_equal(one.model_, plain[0].model_)
    assert one.predict(frame).equals(plain[0].predict(frame))
    for key in ("train_loss", "val_loss", "grad_norm_mean"):  # not the timed telemetry
        assert one.history_[key] == plain[0].history_[key]


def test_save_load_round_trip(fitted, tmp_path):
    frame, ensemble, _ = fitted
    path = ensemble.save(tmp_path / "ens")
    assert sorted(p.name for p in path.iterdir()) == ["arrays.npz", "forecaster.json", "model.keras",
                                                      "model_1.keras"]
    loaded = load_forecaster(path)
    assert loaded.ensemble == 2 and len(loaded.models_) == 2
    assert loaded.predict(frame).equals(ensemble.predict(frame))
    # a missing member file is named
    (path / member_file(1)).unlink()
    with pytest.raises(ModelFileError, match="model_1.keras"):
        load_forecaster(path)


def test_a_model_saved_before_ensembles_loads_as_one_network(fitted, tmp_path):
    frame, _, plain = fitted
    path = plain[0].save(tmp_path / "single")
    assert sorted(p.name for p in path.iterdir()) == ["arrays.npz", "forecaster.json", "model.keras"]
    meta = json.loads((path / "forecaster.json").read_text())
    del meta["state"]["params"]["ensemble"]  # what a save before the key wrote
    (path / "forecaster.json").write_text(json.dumps(meta))
    loaded = load_forecaster(path)
    assert loaded.ensemble == 1 and len(loaded.member_models()) == 1
    assert loaded.predict(frame).equals(plain[0].predict(frame))


@pytest.mark.parametrize("size", [0, -1, True, 2.0, "2", None])
def test_a_bad_size_is_refused(size):
    with pytest.raises(ValueError, match="ensemble must be an integer >= 1"):
        check_ensemble(size)
    with pytest.raises(ValueError, match="ensemble"):
        RNNForecaster(**TINY, ensemble=size).fit(make_frame(n=200))


def test_a_diverged_member_fails_the_ensemble_and_stops_it():
    # validation values this far from the training range overflow the float32 validation loss
    frame = make_frame(n=300)
    frame.loc[frame.index[frame["split"] == "val"][:30], "y"] = 1e25
    est = RNNForecaster(**TINY, ensemble=2).fit(frame)
    assert est.failed_ and est.failed_epoch_ == 1 and len(est.models_) == 1  # member 2 never trained
    assert est.failure_reason_.startswith("ensemble member 1 (seed 3): ")
