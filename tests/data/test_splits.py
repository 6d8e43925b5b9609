"""Tests of forecaster.data.splits: chronological splits and the per-series scaler."""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from forecaster.data.splits import SplitRule, assign_splits, drop_unused, split_sizes
from forecaster.features.scaling import SeriesScaler

ORDER = {"train": 0, "val": 1, "test": 2}


def make_frame(sizes, seed=0):
    rng = np.random.default_rng(seed)
    parts = [
        pd.DataFrame(
            {
                "series_id": name,
                "timestamp": pd.date_range("2024-01-01", periods=n, freq="D"),
                "segment": 0,
                "price": rng.normal(100 * (k + 1), 5 * (k + 1), size=n),
                "volume": rng.normal(10, 2, size=n),
            }
        )
        for k, (name, n) in enumerate(sizes.items())
    ]
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- assign_splits


@settings(max_examples=50, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=4),
    val=st.floats(0.0, 0.45),
    test=st.floats(0.0, 0.45),
    seed=st.integers(0, 1000),
)
def test_assign_splits_is_chronological_per_series(sizes, val, test, seed):
    frame = make_frame({f"s{k}": n for k, n in enumerate(sizes)})
    shuffled = frame.sample(frac=1.0, random_state=seed)  # row order must not matter
    split = assign_splits(shuffled, val=val, test=test)
    assert split.index.equals(shuffled.index)
    assert set(split) <= set(ORDER)
    labelled = shuffled.assign(split=split).sort_values(["series_id", "timestamp"])
    for _, rows in labelled.groupby("series_id"):
        codes = rows["split"].map(ORDER).to_numpy()
        assert np.all(np.diff(codes) >= 0), "splits are not in time order"
        n = len(rows)
        assert (codes == 2).sum() == np.floor(test * n + 0.5)
        assert (codes == 1).sum() == np.floor(val * n + 0.5)


def test_assign_splits_counts_and_rounding():
    frame = make_frame({"a": 10, "b": 5})
    split = assign_splits(frame, val=0.2, test=0.3)
    assert split.name == "split"
    assert split[:10].tolist() == ["train"] * 5 + ["val"] * 2 + ["test"] * 3
    # b: test round(1.5) = 2 (half up), val round(1.0) = 1.
    assert split[10:].tolist() == ["train"] * 2 + ["val"] + ["test"] * 2


@pytest.mark.parametrize(
    ("val", "test", "message"),
    [
        (1.2, 0.1, "`val` must be in \\[0, 1\\). Received: val=1.2"),
        (0.1, -0.1, "`test` must be in \\[0, 1\\). Received: test=-0.1"),
        (0.6, 0.5, "Received: val=0.6, test=0.5"),
        ("0.2", 0.1, "Received: val='0.2'"),
    ],
)
def test_assign_splits_rejects_bad_fractions(val, test, message):
    with pytest.raises(ValueError, match=message):
        assign_splits(make_frame({"a": 10}), val=val, test=test)


def _groupby_rank_splits(frame, val, test, time_column="timestamp"):
    """The former assign_splits (groupby rank, value_counts map): the vectorised one must equal it."""
    series = frame["series_id"]
    if time_column in frame.columns:
        rank = frame.groupby(series, sort=False)[time_column].rank(method="first").to_numpy() - 1
    else:
        rank = frame.groupby(series, sort=False).cumcount().to_numpy()
    sizes = series.map(series.value_counts()).to_numpy(dtype=np.int64)
    n_test, n_val = np.floor(test * sizes + 0.5), np.floor(val * sizes + 0.5)
    from_end = sizes - 1 - np.asarray(rank, dtype=np.int64)
    labels = np.full(len(frame), "train", dtype=object)
    labels[from_end < n_test + n_val] = "val"
    labels[from_end < n_test] = "test"
    return labels.tolist()


@pytest.mark.parametrize("order", ["sorted", "shuffled", "interleaved", "no_time_column"])
def test_assign_splits_equals_the_groupby_rank_rule_with_ties(order):
    rng = np.random.default_rng(3)
    frame = make_frame({"a": 37, "b": 1, "c": 20, "d": 64})
    # repeated timestamps: ties are ranked in row order, as rank(method="first") does
    step = frame.groupby("series_id").cumcount().to_numpy()
    frame["timestamp"] = pd.Timestamp("2024-01-01") + pd.to_timedelta((step // 3) * 3, unit="D")
    if order == "shuffled":
        frame = frame.iloc[rng.permutation(len(frame))]
    elif order == "interleaved":  # each series in time order, but its rows not contiguous
        frame = frame.iloc[np.argsort(np.arange(len(frame)) % 5, kind="stable")]
    elif order == "no_time_column":
        frame = frame.drop(columns="timestamp").iloc[rng.permutation(len(frame))]
    for val, test in [(0.2, 0.3), (0.25, 0.25), (0.1, 0.0)]:
        got = assign_splits(frame, val=val, test=test)
        assert got.tolist() == _groupby_rank_splits(frame, val, test)
        assert got.index.equals(frame.index)


def test_the_split_size_rule_has_one_owner():
    import forecaster.data
    import forecaster.data.length
    from forecaster.data.splits import split_sizes

    assert forecaster.data.split_sizes is split_sizes is forecaster.data.length.split_sizes
    train, val, test = split_sizes(np.array([9, 10, 30]), 0.25, 0.25)
    assert train.tolist() == [5, 4, 14] and val.tolist() == [2, 3, 8] and test.tolist() == [2, 3, 8]


# --------------------------------------------------------------------------- split by row counts


def test_row_counts_without_train_rows_take_the_latest_rows_per_series():
    frame = make_frame({"a": 10, "b": 7})
    rule = SplitRule(val_rows=2, test_rows=3)
    labels = assign_splits(frame, rule).tolist()
    # a: 10 rows -> 5 train, 2 val, 3 test; b: 7 rows -> 2 train, 2 val, 3 test
    assert labels == (["train"] * 5 + ["val"] * 2 + ["test"] * 3
                      + ["train"] * 2 + ["val"] * 2 + ["test"] * 3)
    assert rule.sizes(10) == (5, 2, 3) and rule.unused(10) == 0
    no_test = assign_splits(frame, SplitRule(val_rows=4, test_rows=0))
    assert no_test.tolist() == ["train"] * 6 + ["val"] * 4 + ["train"] * 3 + ["val"] * 4


def test_row_counts_with_train_rows_take_the_first_rows_and_leave_the_rest_unused():
    frame = make_frame({"a": 12, "b": 9}).sample(frac=1.0, random_state=3)  # any row order
    rule = SplitRule(train_rows=4, val_rows=2, test_rows=3)
    labels = assign_splits(frame, rule)
    by_time = frame.assign(split=labels).sort_values(["series_id", "timestamp"])
    assert by_time["split"].tolist() == (
        ["train"] * 4 + ["val"] * 2 + ["test"] * 3 + ["unused"] * 3  # a: 12 rows, 3 unused
        + ["train"] * 4 + ["val"] * 2 + ["test"] * 3)  # b: 9 rows, none unused
    assert labels.index.equals(frame.index)
    assert rule.sizes(12) == (4, 2, 3) and rule.unused(12) == 3
    assert [a.tolist() for a in split_sizes(np.array([12, 9]), rule)] == [[4, 4], [2, 2], [3, 3]]
    assert rule.unused(np.array([12, 9])).tolist() == [3, 0]


def test_drop_unused_drops_and_logs_once_per_frame(caplog):
    frame = make_frame({"a": 12, "b": 10})
    frame["split"] = assign_splits(frame, SplitRule(train_rows=4, val_rows=2, test_rows=3)).to_numpy()
    with caplog.at_level(logging.INFO, logger="forecaster.data.splits"):
        kept = drop_unused(frame)
    assert len(kept) == 18 and set(kept["split"]) == {"train", "val", "test"}
    records = [r.getMessage() for r in caplog.records if "unused" in r.getMessage()]
    assert records == [("split: 4 row(s) after the test rows left unused (split.train_rows given): "
                        "series 'a' 3, series 'b' 1")]
    assert drop_unused(kept) is kept  # nothing unused: the frame as it is


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"val_rows": 2}, "needs both `val_rows` and `test_rows`"),
        ({"train_rows": 5, "test_rows": 2}, "needs both"),
        ({"val_rows": 0, "test_rows": 2}, "`val_rows` must be an integer >= 1"),
        ({"val_rows": 2, "test_rows": -1}, "`test_rows` must be an integer >= 0"),
        ({"val_rows": True, "test_rows": 2}, "val_rows=True"),
        ({"val_rows": 2.0, "test_rows": 2}, "val_rows=2.0"),
    ],
)
def test_split_rule_rejects_bad_counts(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        SplitRule(**kwargs)


def test_split_rule_from_the_pipeline_section():
    from forecaster.config import SplitConfig

    assert SplitRule.from_config(SplitConfig()) == SplitRule(val=0.25, test=0.25)
    rule = SplitRule.from_config(SplitConfig(train_rows=8, val_rows=3, test_rows=2))
    assert (rule.train_rows, rule.val_rows, rule.test_rows, rule.by_rows) == (8, 3, 2, True)
    assert rule.describe() == "train_rows=8, val_rows=3, test_rows=2"


# --------------------------------------------------------------------------- SeriesScaler


def test_scaler_statistics_equal_the_training_rows_by_hand():
    frame = make_frame({"a": 30, "b": 20})
    frame["split"] = assign_splits(frame, val=0.2, test=0.2)
    train = frame[frame["split"] == "train"]
    scaler = SeriesScaler().fit(train)
    assert scaler.columns_ == ["price", "volume"]  # segment excluded, strings/dates ignored
    for series_id in ("a", "b"):
        rows = train[train["series_id"] == series_id]
        for column in ("price", "volume"):
            x = rows[column].to_numpy()
            assert scaler.mean_.loc[series_id, column] == pytest.approx(x.mean())
            assert scaler.scale_.loc[series_id, column] == pytest.approx(x.std())
    # Not the statistics of the whole series: no leakage from val/test.
    whole = frame.loc[frame["series_id"] == "a", "price"]
    assert scaler.mean_.loc["a", "price"] != pytest.approx(whole.mean())
    scaled = scaler.transform(train)
    assert scaled.groupby("series_id")["price"].mean().abs().max() < 1e-9
    np.testing.assert_allclose(scaled.groupby("series_id")["price"].std(ddof=0), 1.0)


def test_scaler_constant_column_gets_scale_one():
    frame = pd.DataFrame({"series_id": ["a"] * 3 + ["b"], "x": [5.0, 5.0, 5.0, 2.0]})
    scaler = SeriesScaler(columns=["x"]).fit(frame)
    assert scaler.scale_["x"].tolist() == [1.0, 1.0]
    assert scaler.transform(frame)["x"].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_scaler_frame_round_trip_and_copy():
    frame = make_frame({"a": 12, "b": 9})
    scaler = SeriesScaler(columns=["price"]).fit(frame)
    scaled = scaler.transform(frame)
    assert scaled is not frame and frame["price"].iloc[0] > 50  # input untouched
    pd.testing.assert_series_equal(scaled["volume"], frame["volume"])
    back = scaler.inverse_transform(scaled)
    np.testing.assert_allclose(back["price"], frame["price"])


def test_scaler_values_round_trip_and_units():
    frame = make_frame({"a": 25, "b": 25, "c": 25})
    scaler = SeriesScaler().fit(frame)
    rng = np.random.default_rng(3)
    ids = np.array(["b", "a", "c", "b"])
    values = rng.normal(size=(4, 6, 2)).astype(np.float32)  # (n_samples, horizon, n_targets)
    columns = ["volume", "price"]
    original = scaler.inverse_transform_values(values, ids, columns)
    assert original.shape == values.shape
    expected = values[1, :, 1] * scaler.scale_.loc["a", "price"] + scaler.mean_.loc["a", "price"]
    np.testing.assert_allclose(original[1, :, 1], expected, rtol=1e-6)
    np.testing.assert_allclose(scaler.transform_values(original, ids, columns), values, rtol=1e-5, atol=1e-6)


def test_scaler_unseen_series_and_unknown_column_raise():
    scaler = SeriesScaler().fit(make_frame({"a": 10}))
    with pytest.raises(ValueError, match=r"series \['zz'\] were not seen in fit"):
        scaler.transform(make_frame({"zz": 4}))
    with pytest.raises(ValueError, match=r"series \['q'\] were not seen in fit"):
        scaler.inverse_transform_values(np.zeros((1, 2, 1)), ["q"], ["price"])
    with pytest.raises(ValueError, match=r"column\(s\) \['nope'\] were not fitted"):
        scaler.inverse_transform_values(np.zeros((1, 2, 1)), ["a"], ["nope"])
    with pytest.raises(ValueError, match=r"Received: values.shape=\(2, 2, 1\), len\(series_ids\)=1"):
        scaler.inverse_transform_values(np.zeros((2, 2, 1)), ["a"], ["price"])
    with pytest.raises(ValueError, match=r"column\(s\) \['nope'\] not found"):
        SeriesScaler(columns=["nope"]).fit(make_frame({"a": 10}))


def test_scaler_follows_the_sklearn_contract():
    scaler = SeriesScaler(columns=["price"], series_column="series_id")
    assert scaler.get_params() == {"columns": ["price"], "series_column": "series_id"}
    copy = clone(scaler)
    assert not hasattr(copy, "mean_")
    frame = make_frame({"a": 10})
    pd.testing.assert_frame_equal(copy.fit_transform(frame), scaler.fit(frame).transform(frame))
