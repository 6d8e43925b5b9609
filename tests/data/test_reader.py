"""Reading and validating raw files into the canonical frame (forecaster.data reader/validation),
plus the length check and load_dataset."""

from __future__ import annotations

import gzip
import hashlib
import logging

import numpy as np
import pandas as pd
import pytest

from forecaster.config import DataConfig
from forecaster.data import (
    check_length,
    file_sha256,
    frame_from_dataframe,
    load_dataset,
    minimum_rows,
    read_frame,
    split_sizes,
)
from forecaster.errors import DataValidationError


def write(tmp_path, text, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def cfg(path, **kw):
    kw.setdefault("timestamp_column", "date")
    kw.setdefault("target", "y")
    return DataConfig(path=str(path), **kw)


SIMPLE = "date,y,x\n2020-01-01 00:00,1.0,10\n2020-01-01 01:00,2.0,20\n2020-01-01 02:00,3.0,30\n"


# --------------------------------------------------------------------------- happy paths


def test_reads_canonical_frame(tmp_path):
    frame = read_frame(cfg(write(tmp_path, SIMPLE)))
    assert frame.columns.tolist() == ["series_id", "timestamp", "y", "x"]
    assert (frame["series_id"] == "series").all()
    assert frame["timestamp"].dtype == np.dtype("datetime64[ns]")
    assert frame["y"].dtype == np.float64 and frame["x"].dtype == np.float64
    assert frame["x"].tolist() == [10.0, 20.0, 30.0]
    assert isinstance(frame.index, pd.RangeIndex)


def test_feature_list_selects_columns_and_target_comes_first(tmp_path):
    text = "date,a,y,b\n2020-01-01,1,2,3\n2020-01-02,4,5,6\n"
    frame = read_frame(cfg(write(tmp_path, text), features=["b"]))
    assert frame.columns.tolist() == ["series_id", "timestamp", "y", "b"]


def test_sentinels_become_nan_in_every_numeric_column(tmp_path):
    text = (
        "date,y,x,z\n"
        "2020-01-01,-9999,1,NA\n"
        "2020-01-02,2,-9999.0,5\n"
        "2020-01-03,3,3,-9999.00\n"
        "2020-01-04,4,4,7\n"
    )
    frame = read_frame(cfg(write(tmp_path, text), missing_values=[-9999, "NA"]))
    assert np.isnan(frame["y"].to_numpy()).tolist() == [True, False, False, False]
    assert np.isnan(frame["x"].to_numpy()).tolist() == [False, True, False, False]
    assert np.isnan(frame["z"].to_numpy()).tolist() == [True, False, True, False]


def test_sentinels_in_an_in_memory_frame(tmp_path):
    raw = pd.DataFrame(
        {"date": ["2020-01-01", "2020-01-02", "2020-01-03"], "y": [1.0, -9999.0, 3.0],
         "x": ["1", "n/a", "2"]}
    )
    frame = frame_from_dataframe(raw, cfg("mem", missing_values=[-9999, "n/a"]))
    assert np.isnan(frame["y"].to_numpy()).tolist() == [False, True, False]
    assert np.isnan(frame["x"].to_numpy()).tolist() == [False, True, False]


def test_unsorted_input_is_sorted_with_an_info_log(tmp_path, caplog):
    text = (
        "Ticker,Date,Close\n"
        "MSFT,2020-01-02,2\nAAPL,2020-01-03,3\nMSFT,2020-01-01,1\nAAPL,2020-01-02,2\n"
    )
    with caplog.at_level(logging.INFO, logger="forecaster.data"):
        frame = read_frame(
            cfg(write(tmp_path, text), timestamp_column="Date", series_column="Ticker", target="Close")
        )
    assert frame["series_id"].tolist() == ["AAPL", "AAPL", "MSFT", "MSFT"]
    assert frame["Close"].tolist() == [2.0, 3.0, 1.0, 2.0]
    assert frame["timestamp"].is_monotonic_increasing is False  # sorted within series, not overall
    assert "sorted" in caplog.text


def test_series_ids_stay_text(tmp_path):
    text = "id,date,y\n0001,2020-01-01,1\n0001,2020-01-02,2\n"
    frame = read_frame(cfg(write(tmp_path, text), series_column="id"))
    assert frame["series_id"].tolist() == ["0001", "0001"]


def test_timestamp_parts_build_the_timestamp_and_are_not_features(tmp_path, caplog):
    text = (
        "No,year,month,day,hour,pm2.5,TEMP,cbwd\n"
        "1,2010,1,1,0,NA,-11,NW\n"
        "2,2010,1,1,1,129,-12,NW\n"
        "3,2010,1,1,2,148,-11,cv\n"
    )
    parts = {"year": "year", "month": "month", "day": "day", "hour": "hour"}
    with caplog.at_level(logging.INFO, logger="forecaster.data"):
        frame = read_frame(
            cfg(write(tmp_path, text), timestamp_parts=parts, target="pm2.5", missing_values=["NA"])
        )
    assert frame.columns.tolist() == ["series_id", "timestamp", "pm2.5", "No", "TEMP"]
    assert frame["timestamp"].tolist() == list(pd.date_range("2010-01-01", periods=3, freq="h"))
    assert np.isnan(frame["pm2.5"].iloc[0])
    assert "cbwd" in caplog.text  # excluded non-numeric column named at INFO


def test_jena_like_format_and_odd_header_bytes(tmp_path):
    text = (
        '"Date Time" , T (degC),SWDR (W/m\ufffd) ,max. PAR (\ufffdmol/m\ufffd/s)\n'
        "01.01.2009 00:10:00,-8.02,0.0,1.5\n"
        "01.01.2009 00:20:00,-8.41,-9999,2.5\n"
    )
    config = cfg(
        write(tmp_path, text),
        timestamp_column="Date Time",
        timestamp_format="%d.%m.%Y %H:%M:%S",
        target="T (degC)",
        features=["max. PAR (\ufffdmol/m\ufffd/s)", "SWDR (W/m\ufffd)"],
        missing_values=[-9999],
    )
    frame = read_frame(config)
    assert frame.columns.tolist() == [
        "series_id", "timestamp", "T (degC)", "max. PAR (\ufffdmol/m\ufffd/s)", "SWDR (W/m\ufffd)"
    ]
    assert frame["timestamp"].iloc[1] == pd.Timestamp("2009-01-01 00:20")
    assert np.isnan(frame["SWDR (W/m\ufffd)"].iloc[1])


def test_timezone_aware_timestamps_become_utc_naive(tmp_path):
    text = "date,y\n2020-01-01T01:00:00+01:00,1\n2020-06-01T02:00:00+02:00,2\n"
    frame = read_frame(cfg(write(tmp_path, text)))
    assert frame["timestamp"].dt.tz is None
    assert frame["timestamp"].tolist() == [pd.Timestamp("2020-01-01 00:00"), pd.Timestamp("2020-06-01 00:00")]


def test_gzip_separator_and_encoding(tmp_path):
    path = tmp_path / "data.csv.gz"
    with gzip.open(path, "wb") as handle:
        handle.write("date;Température\n2020-01-01;1,5\n2020-01-02;2\n".replace(",5", ".5").encode("latin-1"))
    frame = read_frame(cfg(path, target="Température", separator=";", encoding="latin-1"))
    assert frame["Température"].tolist() == [1.5, 2.0]


def test_parquet_round_trip_matches_csv(tmp_path):
    text = "Ticker,Date,Close,Volume\nB,2020-01-02,2,20\nA,2020-01-01,1,10\nA,2020-01-02,1.5,15\n"
    csv = write(tmp_path, text)
    raw = pd.read_csv(csv)
    raw["Date"] = pd.to_datetime(raw["Date"])
    parquet = tmp_path / "data.parquet"
    raw.to_parquet(parquet)
    settings = dict(timestamp_column="Date", series_column="Ticker", target="Close")
    from_csv = read_frame(cfg(csv, **settings))
    from_parquet = read_frame(cfg(parquet, **settings))
    pd.testing.assert_frame_equal(from_csv, from_parquet)


def test_exact_duplicate_rows_are_dropped_with_a_warning(tmp_path, caplog):
    text = "date,y\n2020-01-01,1\n2020-01-02,2\n2020-01-02,2\n2020-01-03,3\n"
    with caplog.at_level(logging.WARNING, logger="forecaster.data"):
        frame = read_frame(cfg(write(tmp_path, text)))
    assert frame["y"].tolist() == [1.0, 2.0, 3.0]
    assert "data row 3" in caplog.text


def test_frame_from_dataframe_on_request_data():
    raw = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=3, freq="h"), "y": [1, 2, 3]})
    frame = frame_from_dataframe(raw, cfg("ignored.csv"))
    assert frame["y"].tolist() == [1.0, 2.0, 3.0]
    assert frame["timestamp"].dtype == np.dtype("datetime64[ns]")


# --------------------------------------------------------------------------- errors


def error_of(config):
    with pytest.raises(DataValidationError) as info:
        read_frame(config)
    return str(info.value)


def test_missing_file(tmp_path):
    message = error_of(cfg(tmp_path / "nope.csv"))
    assert "nope.csv" in message and "not found" in message


def test_directory_and_unknown_suffix(tmp_path):
    assert "directory" in error_of(cfg(tmp_path))
    message = error_of(cfg(write(tmp_path, SIMPLE, name="data.xlsx")))
    assert "data.xlsx" in message and ".parquet" in message


def test_corrupt_parquet(tmp_path):
    message = error_of(cfg(write(tmp_path, "not parquet", name="bad.parquet")))
    assert "bad.parquet" in message and "Parquet" in message


def test_empty_file_and_header_only(tmp_path):
    message = error_of(cfg(write(tmp_path, "", name="empty.csv")))
    assert "empty.csv" in message and "empty" in message
    message = error_of(cfg(write(tmp_path, "date,y\n", name="header.csv")))
    assert "header.csv" in message and "no rows" in message and "'date', 'y'" in message


@pytest.mark.parametrize(
    "settings, role, missing",
    [
        ({"timestamp_column": "Date Time"}, "timestamp", "Date Time"),
        ({"target": "T (degC)"}, "target", "T (degC)"),
        ({"series_column": "Ticker"}, "series", "Ticker"),
        ({"features": ["x", "wind"]}, "feature", "wind"),
    ],
)
def test_missing_columns_list_the_columns_found(tmp_path, settings, role, missing):
    message = error_of(cfg(write(tmp_path, SIMPLE), **settings))
    assert "data.csv" in message
    assert f"{role} column {missing!r}" in message
    assert "Columns found: ['date', 'y', 'x']" in message


def test_missing_column_suggests_a_close_header(tmp_path):
    text = "date,SWDR (W/m\ufffd)\n2020-01-01,1\n"
    message = error_of(cfg(write(tmp_path, text), target="SWDR (W/m²)"))
    assert "Did you mean ['SWDR (W/m\ufffd)']" in message


def test_unparseable_timestamp_with_format(tmp_path):
    text = "date,y\n01.01.2009 00:10:00,1\n01.01.2009 00:20:00,2\n2009-01-01 00:30,3\n"
    message = error_of(cfg(write(tmp_path, text), timestamp_format="%d.%m.%Y %H:%M:%S"))
    assert "data.csv" in message and "'date'" in message
    assert "'2009-01-01 00:30'" in message and "data row 3" in message
    assert "'%d.%m.%Y %H:%M:%S'" in message


def test_unparseable_timestamp_inferred(tmp_path):
    text = "date,y\n2020-01-01 00:00,1\nyesterday,2\n"
    message = error_of(cfg(write(tmp_path, text)))
    assert "'yesterday'" in message and "data row 2" in message
    assert "'%Y-%m-%d %H:%M'" in message and "data.timestamp_format" in message


def test_missing_timestamp_value(tmp_path):
    message = error_of(cfg(write(tmp_path, "date,y\n2020-01-01,1\n,2\n")))
    assert "'date'" in message and "data row 2" in message


def test_invalid_timestamp_parts(tmp_path):
    text = "year,month,day,y\n2020,1,1,1\n2020,13,1,2\n"
    parts = {"year": "year", "month": "month", "day": "day"}
    message = error_of(cfg(write(tmp_path, text), timestamp_parts=parts))
    assert "data row 2" in message and "'month': 13" in message


def test_duplicate_timestamps_with_different_values(tmp_path):
    text = "Ticker,date,y\nA,2020-01-01,1\nB,2020-01-01,5\nB,2020-01-02,6\nB,2020-01-01,7\n"
    message = error_of(cfg(write(tmp_path, text), series_column="Ticker"))
    assert "2020-01-01" in message and "series 'B'" in message
    assert "data rows 2 and 4" in message


def test_non_numeric_value_in_target(tmp_path):
    text = "date,y\n2020-01-01,1\n2020-01-02,1.5\n2020-01-03,oops\n"
    message = error_of(cfg(write(tmp_path, text)))
    assert "data.csv" in message and "'y'" in message
    assert "'oops'" in message and "data row 3" in message and "data.missing_values" in message


def test_explicit_non_numeric_feature_is_an_error(tmp_path):
    text = "date,y,cbwd\n2020-01-01,1,NW\n2020-01-02,2,cv\n"
    message = error_of(cfg(write(tmp_path, text), features=["cbwd"]))
    assert "'cbwd'" in message and "'NW'" in message and "data row 1" in message


def test_mostly_numeric_column_under_features_all_is_an_error(tmp_path):
    text = "date,y,x\n2020-01-01,1,1\n2020-01-02,2,2\n2020-01-03,3,three\n"
    message = error_of(cfg(write(tmp_path, text)))
    assert "'x'" in message and "'three'" in message and "data row 3" in message


def test_all_missing_column(tmp_path):
    text = "date,y,x\n2020-01-01,1,-9999\n2020-01-02,2,-9999\n"
    message = error_of(cfg(write(tmp_path, text), missing_values=[-9999], features=["x"]))
    assert "'x'" in message and "no values" in message and "all 2 rows" in message
    message = error_of(cfg(write(tmp_path, text), target="x", missing_values=[-9999]))
    assert "'x'" in message and "no values" in message


def test_features_all_leaves_out_empty_columns_with_a_warning(tmp_path, caplog):
    # A trailing comma makes an empty "Unnamed: 3" column; z has no value in series B.
    text = "s,date,y,z,\nA,2020-01-01,1,5,\nB,2020-01-01,2,,\n"
    with caplog.at_level(logging.WARNING, logger="forecaster.data"):
        frame = read_frame(cfg(write(tmp_path, text), series_column="s"))
    assert frame.columns.tolist() == ["series_id", "timestamp", "y"]
    assert "'z'" in caplog.text and "Unnamed: 4" in caplog.text


def test_column_missing_in_one_series(tmp_path):
    text = "s,date,y\nA,2020-01-01,1\nB,2020-01-01,\nB,2020-01-02,\n"
    message = error_of(cfg(write(tmp_path, text), series_column="s"))
    assert "'y'" in message and "['B']" in message


def test_infinite_values(tmp_path):
    text = "date,y\n2020-01-01,1\n2020-01-02,inf\n"
    message = error_of(cfg(write(tmp_path, text)))
    assert "'y'" in message and "infinite" in message and "data row 2" in message


def test_wrong_encoding(tmp_path):
    path = write(tmp_path, "date,Température\n2020-01-01,1\n", encoding="latin-1")
    message = error_of(cfg(path, target="Température"))
    assert "data.csv" in message and "data.encoding" in message


def test_request_data_without_target_is_an_error():
    raw = pd.DataFrame({"date": ["2020-01-01"], "x": [1.0]})
    with pytest.raises(DataValidationError, match=r"<request>: the target column 'y'"):
        frame_from_dataframe(raw, cfg("x.csv", features=["x"]), source="<request>")


# --------------------------------------------------------------------------- lengths


def test_split_sizes_and_minimum_rows_by_hand():
    assert split_sizes(10, 0.25, 0.25) == (4, 3, 3)  # round half up: 2.5 -> 3
    assert split_sizes(9, 0.25, 0.25) == (5, 2, 2)
    assert split_sizes(30, 0.1, 0.0) == (27, 3, 0)
    # train >= 6, val >= 2, test >= 2: 11 rows give (5, 3, 3), 12 rows (6, 3, 3), 14 rows (6, 4, 4).
    assert minimum_rows(4, 2, 0.25, 0.25) == 12
    # val >= 24 needs round(0.2 n) >= 24, so n >= 118 (train is then 94 >= 72).
    assert minimum_rows(48, 24, 0.2, 0.0) == 118


@pytest.mark.parametrize("val, test", [(0.25, 0.25), (0.15, 0.15), (0.1, 0.0), (0.3, 0.2)])
def test_split_sizes_agree_with_assign_splits(val, test):
    from forecaster.data.splits import assign_splits

    sizes = list(range(1, 60))
    frame = pd.DataFrame({"series_id": np.repeat([f"s{n}" for n in sizes], sizes)})
    counts = assign_splits(frame, val, test).groupby(frame["series_id"]).value_counts()
    for n in sizes:
        got = tuple(int(counts.get((f"s{n}", name), 0)) for name in ("train", "val", "test"))
        assert got == split_sizes(n, val, test), n


@pytest.mark.parametrize("lookback, horizon, val, test", [(1, 1, 0.3, 0.0), (24, 6, 0.15, 0.15), (5, 3, 0.1, 0.2)])
def test_minimum_rows_is_the_smallest_that_always_fits(lookback, horizon, val, test):
    def fits(n):
        train, v, t = split_sizes(n, val, test)
        return train >= lookback + horizon and v >= horizon and (test == 0 or t >= horizon)

    needed = minimum_rows(lookback, horizon, val, test)
    assert all(fits(n) for n in range(needed, needed + 500))
    assert not fits(needed - 1)


def test_check_length_names_series_rows_and_need():
    frame = pd.DataFrame(
        {"series_id": ["A"] * 12 + ["B"] * 7, "timestamp": pd.date_range("2020", periods=19, freq="D")}
    )
    check_length(frame[frame.series_id == "A"], 4, 2, 0.25, 0.25, "f.csv")
    with pytest.raises(DataValidationError) as info:
        check_length(frame, 4, 2, 0.25, 0.25, "f.csv")
    message = str(info.value)
    assert "f.csv" in message and "series 'B' has 7 rows" in message and "at least 12 rows" in message
    assert "'A'" not in message


# --------------------------------------------------------------------------- load_dataset


def test_load_dataset(tmp_path):
    stamps = pd.date_range("2020-01-01", periods=40, freq="h").delete(5)
    text = "date,y\n" + "".join(f"{t:%Y-%m-%d %H:%M},{i}\n" for i, t in enumerate(stamps))
    path = write(tmp_path, text)
    data = load_dataset(cfg(path), lookback=4, horizon=2, val=0.25, test=0.25)
    assert data.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert data.frequency == "h" and data.path == path
    assert len(data.frame) == 40 and data.frame["segment"].eq(0).all()
    assert data.report.series["series"].cells_filled == 1
    with pytest.raises(DataValidationError, match="series 'series' has 40 rows"):
        load_dataset(cfg(path), lookback=30, horizon=5, val=0.25, test=0.25)


def test_file_sha256_streams_large_files(tmp_path):
    path = tmp_path / "big.bin"
    payload = np.random.default_rng(0).bytes(3 * (1 << 20) + 17)
    path.write_bytes(payload)
    assert file_sha256(path) == hashlib.sha256(payload).hexdigest()


def test_canonical_order_is_pandas_stable_sort_and_none_when_in_order():
    from forecaster.data.validation import canonical_order

    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({"series_id": rng.choice(["b", "a", "c10", "c9", "C"], n),  # ties in both keys
                          "timestamp": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 40, n), unit="h")})
    expected = frame.sort_values(["series_id", "timestamp"], kind="stable").index.to_numpy()
    assert canonical_order(frame).tolist() == expected.tolist()
    assert canonical_order(frame.iloc[expected].reset_index(drop=True)) is None
