"""Tests of forecaster.windowing: exact window semantics, split-safe starts, the tf.data path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecaster.windowing import gather_windows, make_dataset, make_windows, window_starts

SPLIT_NAMES = np.array(["train", "val", "test"])


def naive_windows(values, lookback, horizon, stride, targets):
    """The definition, one window at a time."""
    xs, ys = [], []
    i = 0
    while i * stride + lookback + horizon <= len(values):
        s = i * stride
        xs.append(values[s : s + lookback])
        ys.append(values[s + lookback : s + lookback + horizon][:, targets])
        i += 1
    return np.array(xs, dtype=np.float32), np.array(ys, dtype=np.float32)


# --------------------------------------------------------------------------- make_windows


@st.composite
def window_problems(draw):
    lookback = draw(st.integers(1, 6))
    horizon = draw(st.integers(1, 4))
    stride = draw(st.integers(1, 5))
    n_features = draw(st.integers(1, 4))
    n_timesteps = draw(st.integers(lookback + horizon, lookback + horizon + 25))
    targets = draw(
        st.none() | st.lists(st.integers(0, n_features - 1), min_size=1, max_size=n_features)
    )
    seed = draw(st.integers(0, 2**16))
    values = np.random.default_rng(seed).normal(size=(n_timesteps, n_features))
    return values, lookback, horizon, stride, targets


@settings(max_examples=50, deadline=None)
@given(window_problems())
def test_make_windows_matches_naive_loop(problem):
    values, lookback, horizon, stride, targets = problem
    X, y = make_windows(values, lookback, horizon, stride=stride, targets=targets)
    cols = list(range(values.shape[1])) if targets is None else targets
    X_ref, y_ref = naive_windows(values, lookback, horizon, stride, cols)
    n_samples = (len(values) - lookback - horizon) // stride + 1
    assert X.shape == (n_samples, lookback, values.shape[1])
    assert y.shape == (n_samples, horizon, len(cols))
    assert X.dtype == np.float32 and y.dtype == np.float32
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)


def test_make_windows_returns_writeable_copies_even_for_float32():
    values = np.arange(20, dtype=np.float32).reshape(10, 2)
    X, y = make_windows(values, 3, 2)
    assert X.flags.c_contiguous and X.flags.writeable and not np.shares_memory(X, values)
    X[0, 0, 0] = -1.0
    assert values[0, 0] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lookback": 0, "horizon": 1}, "`lookback` must be >= 1. Received: lookback=0"),
        ({"lookback": 2, "horizon": -3}, "`horizon` must be >= 1. Received: horizon=-3"),
        ({"lookback": 2, "horizon": 1, "stride": 0}, "`stride` must be >= 1. Received: stride=0"),
        ({"lookback": 2.5, "horizon": 1}, "`lookback` must be an integer >= 1. Received: lookback=2.5"),
        ({"lookback": 8, "horizon": 3}, "Received: n_timesteps=10, lookback=8, horizon=3"),
        ({"lookback": 2, "horizon": 1, "targets": [3]}, r"Received: targets=\[3\]"),
        ({"lookback": 2, "horizon": 1, "targets": [-1]}, r"Received: targets=\[-1\]"),
        ({"lookback": 2, "horizon": 1, "targets": []}, r"Received: targets=\[\]"),
    ],
)
def test_make_windows_rejects_bad_arguments(kwargs, message):
    values = np.zeros((10, 3))
    with pytest.raises(ValueError, match=message):
        make_windows(values, **kwargs)


@pytest.mark.parametrize("shape", [(10,), (2, 5, 3)])
def test_make_windows_rejects_non_2d_values(shape):
    with pytest.raises(ValueError, match=r"must be 2-D .* Received: values.shape="):
        make_windows(np.zeros(shape), 2, 1)


def test_make_windows_exact_fit_gives_one_window():
    values = np.arange(5.0)[:, None]
    X, y = make_windows(values, 3, 2, stride=4)
    assert X[:, :, 0].tolist() == [[0.0, 1.0, 2.0]]
    assert y[:, :, 0].tolist() == [[3.0, 4.0]]


# --------------------------------------------------------------------------- window_starts


@st.composite
def frames(draw):
    """Random canonical frames: several series, segments and chronological splits."""
    n_series = draw(st.integers(1, 3))
    parts = []
    for k in range(n_series):
        n = draw(st.integers(1, 30))
        n_cuts = draw(st.integers(0, 2))
        cuts = sorted(draw(st.lists(st.integers(1, max(n - 1, 1)), min_size=n_cuts, max_size=n_cuts)))
        segment = np.searchsorted(np.array(cuts), np.arange(n), side="right")
        # Chronological splits: train then val then test, each possibly empty.
        a = draw(st.integers(0, n))
        b = draw(st.integers(a, n))
        split = np.where(np.arange(n) < a, "train", np.where(np.arange(n) < b, "val", "test"))
        parts.append(
            pd.DataFrame(
                {
                    "series_id": f"s{k}",
                    "timestamp": pd.date_range("2024-01-01", periods=n, freq="h"),
                    "segment": segment,
                    "split": split,
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    lookback = draw(st.integers(1, 5))
    horizon = draw(st.integers(1, 4))
    stride = draw(st.integers(1, 3))
    return frame, lookback, horizon, stride


def expected_starts(frame, lookback, horizon, stride):
    """The rules of window_starts, one candidate at a time."""
    out = {"train": [], "val": [], "test": []}
    block = list(zip(frame["series_id"], frame["segment"]))
    split = frame["split"].tolist()
    first_of_block = {}
    for i, key in enumerate(block):
        first_of_block.setdefault(key, i)
    span = lookback + horizon
    for s in range(len(frame) - span + 1):
        if len(set(block[s : s + span])) != 1 or (s - first_of_block[block[s]]) % stride:
            continue
        labels = set(split[s + lookback : s + span])
        if len(labels) != 1:
            continue
        (name,) = labels
        if name == "train" and set(split[s:s + span]) != {"train"}:
            continue
        out[name].append(s)
    return out


@settings(max_examples=50, deadline=None)
@given(frames())
def test_window_starts_follow_the_rules(problem):
    frame, lookback, horizon, stride = problem
    starts = window_starts(frame, lookback, horizon, stride=stride)
    assert set(starts) == {"train", "val", "test"}
    expected = expected_starts(frame, lookback, horizon, stride)
    span = lookback + horizon
    series = frame["series_id"].to_numpy()
    segment = frame["segment"].to_numpy()
    split = frame["split"].to_numpy()
    for name, positions in starts.items():
        assert positions.dtype == np.int64
        assert positions.tolist() == expected[name]
        for s in positions:
            window = slice(s, s + span)
            assert len(set(series[window])) == 1, "window crosses a series"
            assert len(set(segment[window])) == 1, "window crosses a segment"
            assert set(split[s + lookback : s + span]) == {name}, "labels straddle splits"
            if name == "train":
                assert set(split[window]) == {"train"}, "val/test row inside a training window"


def test_window_starts_without_split_or_segment_columns():
    frame = pd.DataFrame({"series_id": ["a"] * 6 + ["b"] * 4, "x": np.arange(10.0)})
    starts = window_starts(frame, lookback=2, horizon=2, stride=2)
    assert starts["train"].tolist() == [0, 2, 6]
    assert starts["val"].size == 0 and starts["test"].size == 0


def test_val_windows_may_take_inputs_from_training_rows_but_train_windows_may_not():
    frame = pd.DataFrame({"series_id": "a", "split": ["train"] * 6 + ["val"] * 3 + ["test"] * 3})
    starts = window_starts(frame, lookback=3, horizon=2)
    assert starts["train"].tolist() == [0, 1]
    assert starts["val"].tolist() == [3, 4]  # inputs rows 3-5 (train) / 4-6, labels rows 6-8
    assert starts["test"].tolist() == [6, 7]


def test_window_starts_rejects_unknown_split_label():
    frame = pd.DataFrame({"series_id": "a", "split": ["train", "train", "holdout", "test"]})
    with pytest.raises(ValueError, match=r"column `split` must hold only .* Received: 'holdout'"):
        window_starts(frame, 1, 1)


def test_window_starts_rejects_interleaved_series_and_unsorted_time():
    interleaved = pd.DataFrame({"series_id": ["a", "b", "a"]})
    with pytest.raises(ValueError, match="rows of a series must be contiguous"):
        window_starts(interleaved, 1, 1)
    backwards = pd.DataFrame(
        {"series_id": "a", "timestamp": pd.to_datetime(["2024-01-02", "2024-01-01"])}
    )
    with pytest.raises(ValueError, match="increasing|sorted"):
        window_starts(backwards, 1, 1)


def test_window_starts_rejects_bad_arguments():
    frame = pd.DataFrame({"series_id": ["a"] * 5})
    with pytest.raises(ValueError, match="`stride` must be >= 1. Received: stride=0"):
        window_starts(frame, 1, 1, stride=0)
    with pytest.raises(ValueError, match="`series_id` column"):
        window_starts(frame.rename(columns={"series_id": "id"}), 1, 1)


def test_window_starts_is_fast_on_a_large_frame():
    n = 420_000
    frame = pd.DataFrame(
        {
            "series_id": np.repeat(["a", "b", "c"], n // 3),
            "segment": np.repeat(np.arange(30), n // 30) % 10,
            "split": np.tile(np.repeat(["train", "val", "test"], [n // 6, n // 12, n // 12]), 3),
        }
    )
    import time

    began = time.perf_counter()
    starts = window_starts(frame, 120, 24)
    assert time.perf_counter() - began < 2.0
    assert sum(v.size for v in starts.values()) > 0.9 * n


# --------------------------------------------------------------------------- gather / dataset


def test_gather_windows_equals_make_windows_on_the_same_starts():
    values = np.random.default_rng(0).normal(size=(40, 3))
    X_all, y_all = make_windows(values, 5, 3, stride=1, targets=[2, 0])
    starts = np.array([7, 0, 32, 7])
    X, y = gather_windows(values, starts, 5, 3, [2, 0])
    np.testing.assert_array_equal(X, X_all[starts])
    np.testing.assert_array_equal(y, y_all[starts])
    assert X.dtype == np.float32 and y.dtype == np.float32


def test_gather_windows_rejects_starts_out_of_range():
    values = np.zeros((10, 2))
    with pytest.raises(ValueError, match=r"`starts` must lie in \[0, 6\].*Received: starts from 0 to 7"):
        gather_windows(values, [0, 7], 3, 1, [0])


def _collect(dataset):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in dataset])
    return np.concatenate(xs), np.concatenate(ys)


def test_make_dataset_batches_equal_gather_windows():
    values = np.random.default_rng(1).normal(size=(60, 4))
    starts = np.array([0, 3, 10, 11, 12, 40, 50, 52])
    ds = make_dataset(values, starts, 6, 2, [1, 3], batch_size=3, shuffle=False)
    shapes = [tuple(x.shape) + tuple(y.shape) for x, y in ds]
    assert shapes == [(3, 6, 4, 3, 2, 2), (3, 6, 4, 3, 2, 2), (2, 6, 4, 2, 2, 2)]
    X, y = _collect(ds)
    X_ref, y_ref = gather_windows(values, starts, 6, 2, [1, 3])
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)
    assert X.dtype == np.float32
    import tensorflow as tf  # a float32 tensor is used as the base as is (shared by several datasets)

    X_t, y_t = _collect(make_dataset(tf.constant(values, tf.float32), starts, 6, 2, [1, 3], batch_size=3,
                                     shuffle=False))
    np.testing.assert_array_equal(X_t, X_ref)
    np.testing.assert_array_equal(y_t, y_ref)


def test_make_dataset_shuffle_is_deterministic_and_complete():
    values = np.arange(200.0)[:, None]  # value == row, so X[:, 0, 0] is the start
    starts = np.arange(0, 150, 3)
    order = lambda ds: np.concatenate([x.numpy()[:, 0, 0] for x, _ in ds]).astype(int)  # noqa: E731
    first = make_dataset(values, starts, 4, 2, None, batch_size=8, shuffle=True, seed=7)
    again = make_dataset(values, starts, 4, 2, None, batch_size=8, shuffle=True, seed=7)
    epoch1, epoch2 = order(first), order(first)
    np.testing.assert_array_equal(epoch1, order(again))
    assert sorted(epoch1.tolist()) == starts.tolist()
    assert epoch1.tolist() != starts.tolist()
    assert epoch1.tolist() != epoch2.tolist()  # reshuffled every epoch
    other = make_dataset(values, starts, 4, 2, None, batch_size=8, shuffle=True, seed=8)
    assert order(other).tolist() != epoch1.tolist()
    X, y = next(iter(first))
    np.testing.assert_array_equal(y.numpy()[:, :, 0], X.numpy()[:, :1, 0] + np.array([4.0, 5.0]))


def test_make_dataset_shuffle_is_a_new_permutation_each_epoch_with_known_cardinality():
    # The shuffle holds no buffer of windows: each epoch is a permutation of the starts computed per
    # batch (index_shuffle under a per-iteration key). Every epoch must still see every window once.
    values = np.arange(1100.0)[:, None]
    starts = np.arange(0, 1000)
    ds = make_dataset(values, starts, 4, 2, None, batch_size=64, shuffle=True, seed=0)
    assert int(ds.cardinality()) == 16  # 15 full batches and one of 40: Keras knows the steps
    epochs = [[x.numpy()[:, 0, 0].astype(int) for x, _ in ds] for _ in range(3)]
    assert [len(b) for b in epochs[0]] == [64] * 15 + [40]
    orders = [np.concatenate(e) for e in epochs]
    for order in orders:
        np.testing.assert_array_equal(np.sort(order), starts)
    assert len({tuple(o) for o in orders}) == 3
    # not a rotation or a block shuffle: the first batch is spread over the whole range
    assert np.ptp(epochs[0][0]) > 800 and len(np.unique(epochs[0][0] // 64)) > 10
    single = make_dataset(values, [5], 4, 2, None, batch_size=8, shuffle=True, seed=0)
    assert [x.numpy()[:, 0, 0].tolist() for x, _ in single] == [[5.0]]


def test_make_dataset_with_no_starts_is_empty_and_checks_arguments():
    values = np.zeros((10, 2))
    assert list(make_dataset(values, np.array([], dtype=np.int64), 3, 1, [0], 4, shuffle=True, seed=1)) == []
    with pytest.raises(ValueError, match="`batch_size` must be >= 1. Received: batch_size=0"):
        make_dataset(values, [0], 3, 1, [0], batch_size=0, shuffle=False)
    with pytest.raises(ValueError, match=r"Received: starts from 7 to 7"):
        make_dataset(values, [7], 3, 1, [0], batch_size=2, shuffle=False)
