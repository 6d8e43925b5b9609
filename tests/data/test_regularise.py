"""Regularisation: resampling, frequency inference, gap filling, segments, report."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from forecaster.data import infer_frequency, regularise
from forecaster.errors import DataValidationError


def canonical(stamps, series="series", **columns):
    frame = pd.DataFrame({"series_id": series, "timestamp": pd.DatetimeIndex(stamps).as_unit("ns")})
    for name, values in columns.items():
        frame[name] = np.asarray(values, dtype="float64")
    return frame


def hourly(n, start="2020-01-01"):
    return pd.date_range(start, periods=n, freq="h")


def test_ten_minutes_to_hourly_mean():
    stamps = pd.date_range("2020-01-01 00:00", periods=18, freq="10min")
    frame = canonical(stamps, y=np.arange(18))
    out, report = regularise(frame, "1h", "mean", max_gap=3)
    assert out["timestamp"].tolist() == list(hourly(3))
    assert out["y"].tolist() == [2.5, 8.5, 14.5]
    assert out.columns.tolist() == ["series_id", "timestamp", "y", "segment"]
    assert report.series["series"].rows_in == 18 and report.series["series"].rows_out == 3


def test_last_and_sum_aggregates_and_empty_bins_are_missing_not_zero():
    stamps = pd.to_datetime(
        ["2020-01-01 00:00", "2020-01-01 00:30", "2020-01-01 02:10", "2020-01-01 02:40"]
    )
    frame = canonical(stamps, y=[1, 2, 3, 4])
    out, _ = regularise(frame, "1h", "sum", max_gap=1)
    assert out["y"].tolist() == [3.0, 5.0, 7.0]  # 01:00 bin empty -> interpolated, not 0
    out, _ = regularise(frame, "1h", "last", max_gap=1)
    assert out["y"].tolist() == [2.0, 3.0, 4.0]


def test_business_days_are_not_gapped_at_weekends_and_holidays_are_filled():
    days = pd.bdate_range("2024-01-01", periods=15)  # three weeks, Mon-Fri
    holiday = days[7]
    kept = days.delete(7)
    frame = canonical(kept, Close=np.arange(len(days), dtype=float)[np.arange(len(days)) != 7])
    assert infer_frequency(kept) == "B"
    out, report = regularise(frame, None, "mean", max_gap=1)
    assert report.frequency == "B"
    assert out["timestamp"].tolist() == list(days)
    assert out.loc[out.timestamp == holiday, "Close"].item() == 7.0
    assert out["segment"].eq(0).all()
    rep = report.series["series"]
    assert (rep.missing_steps, rep.cells_filled, rep.rows_dropped, rep.n_segments) == (1, 1, 0, 1)


def test_daily_data_with_weekends_is_daily():
    stamps = pd.date_range("2024-01-01", periods=20, freq="D").delete([4, 11])
    assert infer_frequency(stamps) == "D"


def test_hand_built_gaps_report_counts_exactly():
    # Hourly steps 0..14. Missing steps: 3 (run of 1), 6-7 (run of 2), 10-12 (run of 3).
    # Column x also misses step 1 (run of 1) and y the last step (trailing).
    present = [0, 1, 2, 4, 5, 8, 9, 13, 14]
    stamps = hourly(15)[present]
    y = [0.0, 1.0, 2.0, 4.0, 5.0, 8.0, 9.0, 13.0, np.nan]
    x = [0.0, np.nan, 20.0, 40.0, 50.0, 80.0, 90.0, 130.0, 140.0]
    out, report = regularise(canonical(stamps, y=y, x=x), "h", "mean", max_gap=2)
    # Steps 10-12 (3 > 2) are dropped and split; step 14 dropped (y trailing); 3, 6, 7 filled.
    assert out["timestamp"].tolist() == list(hourly(15)[[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13]])
    assert out["segment"].tolist() == [0] * 10 + [1]
    assert out["y"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 13.0]
    assert out["x"].tolist() == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 130.0]
    rep = report.series["series"]
    assert rep.rows_in == 9
    assert rep.rows_resampled == 15
    assert rep.missing_steps == 6
    assert rep.cells_filled == 2 * 3 + 1  # steps 3, 6, 7 in both columns + x at step 1
    assert rep.rows_dropped == 4  # steps 10, 11, 12, 14
    assert rep.rows_out == 11 and rep.n_segments == 2
    assert rep.start == pd.Timestamp("2020-01-01 00:00") and rep.end == pd.Timestamp("2020-01-01 13:00")


def test_gap_at_max_gap_is_filled_and_one_longer_splits():
    values = np.arange(10, dtype=float)
    filled, _ = regularise(canonical(hourly(10).delete([3, 4]), y=np.delete(values, [3, 4])), "h", "mean", 2)
    assert filled["y"].tolist() == values.tolist() and filled["segment"].eq(0).all()
    split, report = regularise(canonical(hourly(10).delete([3, 4, 5]), y=np.delete(values, [3, 4, 5])), "h", "mean", 2)
    assert split["y"].tolist() == [0, 1, 2, 6, 7, 8, 9]
    assert split["segment"].tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert report.series["series"].n_segments == 2


def test_long_missing_run_in_one_column_splits_every_column():
    y = np.arange(12, dtype=float)
    x = y.copy()
    x[5:9] = np.nan  # 4 > max_gap
    x[2] = np.nan  # 1 <= max_gap
    out, _ = regularise(canonical(hourly(12), y=y, x=x), "h", "mean", max_gap=3)
    assert out["y"].tolist() == [0, 1, 2, 3, 4, 9, 10, 11]
    assert out["x"].tolist() == [0, 1, 2, 3, 4, 9, 10, 11]
    assert out["segment"].tolist() == [0] * 5 + [1] * 3


def test_leading_and_trailing_missing_values_are_dropped():
    y = [np.nan, np.nan, 2, 3, 4, np.nan]
    x = [0, 1, 2, 3, np.nan, 5]
    out, report = regularise(canonical(hourly(6), y=y, x=x), "h", "mean", max_gap=5)
    assert out["y"].tolist() == [2.0, 3.0]  # step 4 is x's edge once step 5 (y trailing) goes
    assert report.series["series"].rows_dropped == 4


def test_multi_series_with_different_spans():
    a = canonical(pd.bdate_range("2024-01-01", periods=10), series="AAPL", Close=np.arange(10))
    g_days = pd.bdate_range("2024-01-08", periods=8).delete(2)
    g = canonical(g_days, series="GOOG", Close=np.arange(7) * 10)
    frame = pd.concat([g, a], ignore_index=True)
    out, report = regularise(frame, "B", "mean", max_gap=1)
    assert out["series_id"].tolist() == ["AAPL"] * 10 + ["GOOG"] * 8
    goog = out[out.series_id == "GOOG"]
    assert goog["timestamp"].tolist() == list(pd.bdate_range("2024-01-08", periods=8))
    assert goog["Close"].tolist() == [0.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    assert report.series["AAPL"].start == pd.Timestamp("2024-01-01")
    assert report.series["GOOG"].start == pd.Timestamp("2024-01-08")
    assert report.series["GOOG"].cells_filled == 1 and report.series["AAPL"].cells_filled == 0
    assert isinstance(out.index, pd.RangeIndex) and out["segment"].dtype == np.int64


def test_segments_restart_per_series():
    a = canonical(hourly(10).delete([3, 4, 5]), series="a", y=np.arange(7))
    b = canonical(hourly(10).delete([6, 7, 8]), series="b", y=np.arange(7))
    out, _ = regularise(pd.concat([a, b]), "h", "mean", max_gap=1)
    assert out.groupby("series_id")["segment"].agg(["min", "max"]).to_dict("list") == {
        "min": [0, 0], "max": [1, 1]
    }


def test_matches_pandas_resample_and_interpolate():
    rng = np.random.default_rng(3)
    stamps = pd.date_range("2020-01-01 00:05", periods=600, freq="10min")
    stamps = stamps.delete(rng.choice(600, 40, replace=False))
    values = rng.normal(size=(len(stamps), 2))
    frame = canonical(stamps, y=values[:, 0], x=values[:, 1])
    out, _ = regularise(frame, "30min", "mean", max_gap=3)
    expected = frame.set_index("timestamp")[["y", "x"]].resample("30min").mean()
    assert expected.isna().any(axis=1).sum() <= 3  # only short gaps at this resolution
    expected = expected.interpolate(limit_area="inside")
    np.testing.assert_allclose(out[["y", "x"]].to_numpy(), expected.to_numpy())
    assert out["timestamp"].tolist() == expected.index.tolist()


def test_upsampling_is_an_error_naming_the_frequency():
    frame = canonical(hourly(10), y=np.arange(10))
    with pytest.raises(DataValidationError) as info:
        regularise(frame, "10min", "mean", 3)
    assert "frequency='10min'" in str(info.value) and "series 'series'" in str(info.value)


def test_bad_arguments():
    frame = canonical(hourly(5), y=np.arange(5))
    with pytest.raises(DataValidationError, match="frequency='fortnightly'"):
        regularise(frame, "fortnightly", "mean", 3)
    with pytest.raises(DataValidationError, match="aggregate='median'"):
        regularise(frame, "h", "median", 3)
    with pytest.raises(DataValidationError, match="max_gap=-1"):
        regularise(frame, "h", "mean", -1)


def test_series_that_disagree_on_the_inferred_frequency():
    frame = pd.concat(
        [canonical(hourly(5), series="a", y=np.arange(5)),
         canonical(pd.date_range("2020", periods=5, freq="D"), series="b", y=np.arange(5))]
    )
    with pytest.raises(DataValidationError) as info:
        regularise(frame, None, "mean", 3)
    assert "'h'" in str(info.value) and "'D'" in str(info.value) and "data.frequency" in str(info.value)


def test_single_row_series_cannot_infer():
    with pytest.raises(DataValidationError, match=r"\['solo'\]"):
        regularise(canonical(hourly(1), series="solo", y=[1.0]), None, "mean", 3)


def test_inferred_frequency_is_logged_and_summary_line(caplog):
    frame = canonical(pd.date_range("2020-01-01 00:10", periods=12, freq="10min"), y=np.arange(12))
    with caplog.at_level(logging.INFO, logger="forecaster.data"):
        _, report = regularise(frame, None, "mean", 3)
    assert report.frequency == "10min"
    assert "inferred frequency '10min'" in caplog.text
    assert "regularised 1 series to '10min'" in caplog.text


def test_report_exports():
    frame = canonical(hourly(6).delete(2), y=[0, 1, 3, 4, 5])
    _, report = regularise(frame, "h", "mean", 3)
    as_dict = report.to_dict()
    json.dumps(as_dict)
    assert as_dict["series"]["series"]["start"] == "2020-01-01T00:00:00"
    assert as_dict["series"]["series"]["cells_filled"] == 1
    table = report.to_frame()
    assert table.loc[0, "rows_out"] == 6 and table.loc[0, "series_id"] == "series"
    summary = report.summary()
    assert "1 cells interpolated" in summary and "series: 5 in" in summary


def test_existing_segment_column_is_recomputed():
    frame = canonical(hourly(4), y=np.arange(4))
    frame["segment"] = 7
    out, _ = regularise(frame, "h", "mean", 3)
    assert out["segment"].tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize("aggregate", ["mean", "last", "sum"])
def test_series_placed_on_a_fixed_grid_at_once_equal_pandas_resample(aggregate, monkeypatch):
    """The vectorised placement of on-grid series (no loop over series) gives what resampling gives:
    series on the hourly grid with gaps, one off the grid (half past), one starting off midnight's
    grid for 2h bins, unsorted input."""
    import importlib

    reg = importlib.import_module("forecaster.data.grid")  # where regularise places series on their grid

    rng = np.random.default_rng(7)
    parts = []
    for k, start in enumerate(["2020-01-01 00:00", "2020-01-03 05:00", "2020-01-02 00:30", "2019-12-31 23:00"]):
        stamps = pd.date_range(start, periods=60, freq="h").delete(rng.choice(np.arange(1, 59), 9, replace=False))
        parts.append(canonical(stamps, series=f"s{k}", y=rng.normal(size=len(stamps)), x=rng.normal(size=len(stamps))))
    frame = pd.concat(parts[::-1], ignore_index=True)
    for frequency in ("h", "2h"):
        fast, fast_report = regularise(frame, frequency, aggregate, max_gap=2)
        monkeypatch.setattr(reg, "_place_on_fixed_grid",  # every series through groupby().resample()
                            lambda f, values, offset: (None, sorted(f["series_id"].unique().tolist())))
        slow, slow_report = regularise(frame, frequency, aggregate, max_gap=2)
        monkeypatch.undo()
        pd.testing.assert_frame_equal(fast, slow)
        assert fast_report.to_dict() == slow_report.to_dict()
