"""Tests of forecaster.models.spec, .layers and .builders (tiny models, build and forward only)."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest

from forecaster.config import ModelConfig
from forecaster.models.baselines import persistence
from forecaster.models.builders import build_model, expected_param_count, model_name
from forecaster.models.layers import LastValueResidual
from forecaster.models.spec import ModelSpec

LOOKBACK, N_FEATURES, HORIZON, N_TARGETS = 5, 3, 4, 2


def _windows(n: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, LOOKBACK, N_FEATURES)).astype("float32")


# ---------------------------------------------------------------- ModelSpec


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"cell": "lstm"}, "lstm-1x32"),
        ({"cell": "gru", "layers": 2, "bidirectional": True}, "gru-2x32-bi"),
        ({"cell": "rnn", "units": 16, "head": "seq2seq"}, "rnn-1x16-seq2seq"),
        (
            {"cell": "gru", "layers": 2, "units": (64, 32), "dropout": 0.1, "recurrent_dropout": 0.2},
            "gru-2x64,32-do0.1-rdo0.2",
        ),
        ({"cell": "lstm", "layers": 2, "units": [8, 8]}, "lstm-2x8"),
    ],
)
def test_spec_name(kwargs, name):
    assert ModelSpec(**kwargs).name == name


def test_spec_names_unique_across_a_grid():
    grid = [
        ModelSpec(cell=c, layers=l, units=u, bidirectional=b, dropout=d, head=h)
        for c, l, u, b, d, h in itertools.product(
            ("rnn", "gru", "lstm"), (1, 2), (8, 16), (False, True), (0.0, 0.1), ("dense", "seq2seq")
        )
    ]
    assert len({s.name for s in grid}) == len(grid) == len(set(grid))


def test_spec_units_per_layer_and_normalisation():
    assert ModelSpec(cell="gru", layers=3, units=8).units_per_layer == (8, 8, 8)
    assert ModelSpec(cell="gru", layers=2, units=[16, 8]).units_per_layer == (16, 8)
    # Equal per-layer sizes are the same architecture as one int.
    assert ModelSpec(cell="gru", layers=2, units=(8, 8)) == ModelSpec(cell="gru", layers=2, units=8)


def test_spec_round_trips_through_dict_and_config():
    spec = ModelSpec(cell="lstm", layers=2, units=(12, 6), bidirectional=True, dropout=0.1, head="seq2seq")
    data = spec.to_dict()
    assert data["units"] == [12, 6]
    assert ModelSpec.from_dict(data) == spec
    cfg = ModelConfig(cell="lstm", layers=2, units=[12, 6], bidirectional=True, dropout=0.1, head="seq2seq")
    assert ModelSpec.from_config(cfg) == spec


def test_spec_is_frozen():
    spec = ModelSpec(cell="rnn")
    with pytest.raises(AttributeError):
        spec.units = 4  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"cell": "transformer"}, "`cell` must be one of ['rnn', 'gru', 'lstm']. Received: cell='transformer'"),
        ({"cell": "gru", "layers": 0}, "`layers` must be an int >= 1. Received: layers=0"),
        ({"cell": "gru", "units": 0}, "`units` must be >= 1. Received: units=0"),
        ({"cell": "gru", "layers": 2, "units": (8,)}, "layers=2 but units=[8]"),
        ({"cell": "gru", "dropout": 1.0}, "`dropout` must be a number in [0, 1). Received: dropout=1.0"),
        ({"cell": "gru", "recurrent_dropout": -0.1}, "Received: recurrent_dropout=-0.1"),
        ({"cell": "gru", "head": "attention"}, "`head` must be one of ['dense', 'seq2seq']. Received: head='attention'"),
        ({"cell": "gru", "bidirectional": "yes"}, "Received: bidirectional='yes'"),
    ],
)
def test_spec_validation_messages(kwargs, message):
    with pytest.raises(ValueError) as info:
        ModelSpec(**kwargs)
    assert message in str(info.value)


def test_spec_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['n_layers'\]"):
        ModelSpec.from_dict({"cell": "gru", "n_layers": 2})


# ---------------------------------------------------------------- shapes and parameter counts

GRID = list(itertools.product(("rnn", "gru", "lstm"), (1, 2), (False, True), ("dense", "seq2seq")))


@pytest.mark.parametrize("cell, layers, bidirectional, head", GRID)
def test_every_architecture_maps_windows_to_forecasts(cell, layers, bidirectional, head):
    spec = ModelSpec(cell=cell, layers=layers, units=3, bidirectional=bidirectional, head=head)
    model = build_model(spec, LOOKBACK, N_FEATURES, HORIZON, N_TARGETS, seed=0)
    assert model.input_shape == (None, LOOKBACK, N_FEATURES)
    assert model.output_shape == (None, HORIZON, N_TARGETS)
    forecast = np.asarray(model(_windows(2), training=False))
    assert forecast.shape == (2, HORIZON, N_TARGETS)
    assert np.all(np.isfinite(forecast))
    assert model.count_params() == expected_param_count(spec, N_FEATURES, HORIZON, N_TARGETS)
    assert model.name == spec.name  # no comma in these names


def test_param_count_formulas_by_hand():
    f, h, t = 3, 2, 1
    cases = [
        # LSTM 1x4, dense head: 4*(u*(f+u)+u) + (u*h*t + h*t)
        (ModelSpec(cell="lstm", units=4), 4 * (4 * (f + 4) + 4) + (4 * h * t + h * t)),
        # GRU 2x(4,3) bidirectional: 3*(u*(f+u)+2u) per direction; outputs double the width.
        (
            ModelSpec(cell="gru", layers=2, units=(4, 3), bidirectional=True),
            2 * 3 * (4 * (f + 4) + 2 * 4) + 2 * 3 * (3 * (8 + 3) + 2 * 3) + (6 * h * t + h * t),
        ),
        # SimpleRNN 1x5 seq2seq: encoder u*(f+u)+u, decoder u*(u+u)+u, per-step Dense u*t+t.
        (ModelSpec(cell="rnn", units=5, head="seq2seq"), (5 * (f + 5) + 5) + (5 * (5 + 5) + 5) + (5 * t + t)),
    ]
    for spec, by_hand in cases:
        model = build_model(spec, lookback=4, n_features=f, horizon=h, n_targets=t)
        assert model.count_params() == by_hand, spec.name
        assert expected_param_count(spec, f, h, t) == by_hand
        # The residual layer has no weights.
        residual = build_model(spec, lookback=4, n_features=f, horizon=h, n_targets=t, residual_targets=[0])
        assert residual.count_params() == by_hand
        assert expected_param_count(spec, f, h, t, residual=True) == by_hand


def _recurrent_layers(model: keras.Model) -> list[keras.layers.Layer]:
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Bidirectional):
            found.append(layer)
        elif isinstance(layer, keras.layers.RNN):
            found.append(layer)
    return found


@pytest.mark.parametrize("bidirectional", [False, True])
def test_stacking_returns_sequences_on_all_but_the_last_layer(bidirectional):
    spec = ModelSpec(cell="gru", layers=3, units=(5, 4, 3), bidirectional=bidirectional)
    model = build_model(spec, LOOKBACK, N_FEATURES, HORIZON, N_TARGETS)
    layers = _recurrent_layers(model)
    assert [layer.return_sequences for layer in layers] == [True, True, False]
    if bidirectional:
        assert all(layer.merge_mode == "concat" for layer in layers)
        assert [layer.forward_layer.units for layer in layers] == [5, 4, 3]


def test_seq2seq_decoder_returns_a_sequence_of_the_last_encoder_width():
    spec = ModelSpec(cell="lstm", layers=2, units=(6, 4), head="seq2seq")
    model = build_model(spec, LOOKBACK, N_FEATURES, HORIZON, N_TARGETS)
    decoder = model.get_layer("decoder")
    assert isinstance(decoder, keras.layers.LSTM)
    assert decoder.units == 4 and decoder.return_sequences
    assert isinstance(model.get_layer("repeat"), keras.layers.RepeatVector)
    assert isinstance(model.get_layer("head"), keras.layers.TimeDistributed)


def test_dropout_settings_and_cudnn_defaults_reach_the_cells():
    spec = ModelSpec(cell="gru", layers=2, units=3, dropout=0.1, recurrent_dropout=0.2)
    model = build_model(spec, LOOKBACK, N_FEATURES, HORIZON, N_TARGETS, seed=3)
    for layer in _recurrent_layers(model):
        assert layer.dropout == pytest.approx(0.1)
        assert layer.recurrent_dropout == pytest.approx(0.2)
        assert layer.cell.reset_after and layer.cell.use_bias and not layer.unroll
        assert layer.activation is keras.activations.tanh
        assert layer.recurrent_activation is keras.activations.sigmoid
        assert layer.use_cudnn == "auto"


# ---------------------------------------------------------------- residual forecasting


def _zero_head(model: keras.Model) -> None:
    head = model.get_layer("head")
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])


@pytest.mark.parametrize("head", ["dense", "seq2seq"])
def test_residual_model_with_a_zero_head_is_exactly_persistence(head):
    spec = ModelSpec(cell="lstm", units=3, head=head)
    targets = [2, 0]
    model = build_model(spec, LOOKBACK, N_FEATURES, HORIZON, N_TARGETS, residual_targets=targets, seed=1)
    _zero_head(model)
    X = _windows(4)
    np.testing.assert_array_equal(np.asarray(model(X)), persistence(X, targets, HORIZON))


def test_untrained_residual_model_starts_near_persistence_and_a_level_model_does_not():
    spec = ModelSpec(cell="gru", units=8)
    X = _windows(8) * 3.0 + 10.0
    base = persistence(X, [1, 2], HORIZON)
    residual = build_model(spec, LOOKBACK, N_FEATURES, HORIZON, N_TARGETS, residual_targets=[1, 2], seed=5)
    level = build_model(spec, LOOKBACK, N_FEATURES, HORIZON, N_TARGETS, seed=5)
    assert np.max(np.abs(np.asarray(residual(X)) - base)) < 1e-2
    assert np.max(np.abs(np.asarray(level(X)) - base)) > 1.0


@pytest.mark.parametrize(
    "residual_targets, message",
    [
        ([0], "must name one input column per target (n_targets=2)"),
        ([0, 3], "column indices in [0, 3) (n_features=3). Received: residual_targets=[0, 3]"),
    ],
)
def test_residual_targets_are_validated(residual_targets, message):
    with pytest.raises(ValueError) as info:
        build_model(ModelSpec(cell="rnn", units=2), LOOKBACK, N_FEATURES, HORIZON, N_TARGETS,
                    residual_targets=residual_targets)
    assert message in str(info.value)


def test_shape_arguments_are_validated():
    with pytest.raises(ValueError, match=r"`lookback` must be an int >= 1. Received: lookback=0"):
        build_model(ModelSpec(cell="rnn"), 0, N_FEATURES, HORIZON, N_TARGETS)


def test_last_value_residual_layer_config_round_trip_and_validation():
    layer = LastValueResidual([2, 0], name="residual")
    clone = LastValueResidual.from_config(layer.get_config())
    assert clone.target_indices == [2, 0] and clone.name == "residual"
    window = np.arange(2 * 3 * 4, dtype="float32").reshape(2, 3, 4)
    change = np.ones((2, 2, 2), dtype="float32")
    out = np.asarray(layer([window, change]))
    np.testing.assert_array_equal(out[:, 0, :], window[:, -1, [2, 0]] + 1.0)
    with pytest.raises(ValueError, match=r"Received: target_indices=\[\]"):
        LastValueResidual([])
    with pytest.raises(ValueError, match=r"must be < n_features=4"):
        LastValueResidual([4])([window, change[:, :, :1]])


# ---------------------------------------------------------------- saving and seeds


@pytest.mark.parametrize(
    "spec",
    [
        ModelSpec(cell="gru", layers=2, units=(4, 3), bidirectional=True),
        ModelSpec(cell="lstm", units=3, head="seq2seq", dropout=0.1),
    ],
    ids=lambda s: s.name,
)
def test_residual_model_saves_and_loads_in_safe_mode(spec, tmp_path):
    model = build_model(spec, LOOKBACK, N_FEATURES, HORIZON, N_TARGETS, residual_targets=[0, 1], seed=7)
    X = _windows(3)
    before = model.predict(X, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), before)
    assert isinstance(loaded.get_layer("residual"), LastValueResidual)
    assert loaded.get_layer("residual").target_indices == [0, 1]
    assert loaded.name == model.name == model_name(spec)


def _weights(model: keras.Model) -> list[np.ndarray]:
    return [np.asarray(w) for w in model.get_weights()]


def test_same_seed_same_initial_weights_different_seed_different():
    spec = ModelSpec(cell="lstm", layers=2, units=3, bidirectional=True, head="seq2seq")
    a = _weights(build_model(spec, LOOKBACK, N_FEATURES, HORIZON, N_TARGETS, seed=11))
    b = _weights(build_model(spec, LOOKBACK, N_FEATURES, HORIZON, N_TARGETS, seed=11))
    c = _weights(build_model(spec, LOOKBACK, N_FEATURES, HORIZON, N_TARGETS, seed=12))
    assert len(a) == len(b) == len(c)
    for wa, wb in zip(a, b):
        np.testing.assert_array_equal(wa, wb)
    # Every kernel (the random weights; biases are deterministic) differs under another seed.
    random_pairs = [(wa, wc) for wa, wc in zip(a, c) if wa.ndim == 2]
    assert len(random_pairs) == 2 * 2 * 2 + 2 + 1  # 2 layers x 2 directions x 2 kernels, decoder, head
    assert random_pairs and all(not np.array_equal(wa, wc) for wa, wc in random_pairs)


def test_each_layer_and_direction_gets_its_own_seed():
    spec = ModelSpec(cell="gru", layers=2, units=3, bidirectional=True)
    model = build_model(spec, LOOKBACK, N_FEATURES, HORIZON, N_TARGETS, seed=0)
    first = model.get_layer("bi_gru_0")
    forward_kernel = np.asarray(first.forward_layer.cell.kernel)
    backward_kernel = np.asarray(first.backward_layer.cell.kernel)
    assert not np.array_equal(forward_kernel, backward_kernel)
    assert first.backward_layer.go_backwards and not first.forward_layer.go_backwards
    second = model.get_layer("bi_gru_1")
    assert not np.array_equal(
        np.asarray(first.forward_layer.cell.recurrent_kernel),
        np.asarray(second.forward_layer.cell.recurrent_kernel),
    )


# ---------------------------------------------------------------- known-future inputs

@pytest.mark.parametrize("head", ["dense", "seq2seq"])
def test_known_future_block_reaches_the_head_and_the_encoder_skips_it(head, tmp_path):
    """The last K columns: the head reads their last horizon steps (the target steps' block) only."""
    spec = ModelSpec(cell="gru", units=3, head=head)
    lookback, n_features, horizon, known = 6, 4, 2, 2
    model = build_model(spec, lookback, n_features, horizon, 1, residual_targets=[0], seed=1, known_future=known)
    # by hand: encoder GRU on the 2 observed columns; dense: (u + h*K)*h*t + h*t; seq2seq: decoder input u + K
    by_hand = 3 * (3 * (2 + 3) + 6) + ((3 + horizon * known) * horizon + horizon if head == "dense"
                                       else 3 * (3 * (3 + known + 3) + 6) + 3 + 1)
    assert model.count_params() == by_hand == expected_param_count(spec, n_features, horizon, 1, known_future=known)
    for w in model.get_layer("head").weights:  # a head that reads its inputs strongly, so changes show
        w.assign(np.full(w.shape, 0.5, dtype="float32"))
    X = np.random.default_rng(0).normal(size=(3, lookback, n_features)).astype("float32")
    base = np.asarray(model(X))
    earlier = X.copy()
    earlier[:, :-horizon, -known:] += 5.0  # known columns before the target block: not read
    np.testing.assert_allclose(np.asarray(model(earlier)), base, atol=1e-6)
    block = X.copy()
    block[:, -horizon:, -known:] += 1.0
    assert np.abs(np.asarray(model(block)) - base).max() > 1e-3
    path = tmp_path / "m.keras"
    model.save(path)  # the slicing layer is registered: loads in safe mode
    again = keras.saving.load_model(path, compile=False, safe_mode=True)
    np.testing.assert_allclose(np.asarray(again(X)), base, atol=1e-6)


def test_known_future_is_validated():
    with pytest.raises(ValueError, match="horizon <= lookback"):
        build_model(ModelSpec(cell="gru", units=3), 4, 3, 6, 1, known_future=2)
    with pytest.raises(ValueError, match="leave an observed column"):
        build_model(ModelSpec(cell="gru", units=3), 4, 2, 2, 1, known_future=2)


# ---------------------------------------------------------------- highway (linear path)

@pytest.mark.parametrize("head", ["dense", "seq2seq"])
def test_highway_adds_a_linear_map_of_the_window_and_starts_at_zero(head, tmp_path):
    """LSTNet's highway: output = head(encoder) + Dense(flattened observed window); zero at the start."""
    lookback, n_features, horizon = 5, 3, 2
    plain_spec = ModelSpec(cell="gru", units=3, head=head)
    spec = ModelSpec(cell="gru", units=3, head=head, highway=True)
    assert spec.name == f"gru-1x3{'-seq2seq' if head == 'seq2seq' else ''}-hw"
    plain = build_model(plain_spec, lookback, n_features, horizon, 1, residual_targets=[0], seed=3,
                        center_targets=True)
    model = build_model(spec, lookback, n_features, horizon, 1, residual_targets=[0], seed=3, center_targets=True)
    extra = (lookback * n_features + 1) * horizon  # by hand: one Dense over the flattened window
    assert model.count_params() == plain.count_params() + extra
    assert model.count_params() == expected_param_count(spec, n_features, horizon, 1, lookback=lookback)
    X = np.random.default_rng(1).normal(size=(4, lookback, n_features)).astype("float32")
    # zero-initialised: the same forecast as the network without it (same seeds, same other weights)
    np.testing.assert_allclose(np.asarray(model(X)), np.asarray(plain(X)), atol=1e-6)
    # a set highway adds exactly kernel . (window centred on the target's last value) + bias
    kernel = np.random.default_rng(2).normal(size=(lookback * n_features, horizon)).astype("float32")
    bias = np.array([0.5, -0.25], dtype="float32")
    model.get_layer("highway").set_weights([kernel, bias])
    centred = X.copy()
    centred[:, :, 0] -= X[:, -1:, 0]
    linear = centred.reshape(len(X), -1) @ kernel + bias
    np.testing.assert_allclose(np.asarray(model(X))[..., 0], np.asarray(plain(X))[..., 0] + linear, atol=1e-4)
    path = tmp_path / "hw.keras"
    model.save(path)  # standard layers only: loads in safe mode
    again = keras.saving.load_model(path, compile=False, safe_mode=True)
    np.testing.assert_allclose(np.asarray(again(X)), np.asarray(model(X)), atol=1e-6)


def test_highway_is_refused_with_segment_recurrence():
    with pytest.raises(ValueError, match="highway.*segment"):
        ModelSpec(cell="gru", units=4, segment=2, highway=True)
    with pytest.raises(ValueError, match="segment=2, highway=true"):
        ModelConfig(cell="gru", units=4, segment=2, highway=True)
    with pytest.raises(ValueError, match="highway"):
        expected_param_count(ModelSpec(cell="gru", units=4, highway=True), 3, 2, 1)
