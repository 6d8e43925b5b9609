"""Tests of forecaster.features."""

from __future__ import annotations

import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from forecaster.config import FeaturesConfig
from forecaster.errors import DataValidationError
from forecaster.features import (
    CalendarFeatures,
    LogReturns,
    WindVector,
    build_feature_transformer,
    feature_columns,
)


def _frame() -> pd.DataFrame:
    """Two series, the second with two segments; canonical order."""
    return pd.DataFrame(
        {
            "series_id": ["a", "a", "a", "b", "b", "b", "b"],
            "timestamp": pd.to_datetime(
                [
                    "2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 02:00",
                    "2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 05:00", "2024-01-01 06:00",
                ]
            ),
            "segment": [0, 0, 0, 0, 0, 1, 1],
            "price": [100.0, 110.0, 121.0, 50.0, 25.0, 40.0, 80.0],
            "wv": [1.0, 2.0, 3.0, 1.0, 1.0, 2.0, 0.5],
            "wd": [0.0, 90.0, 180.0, 270.0, 360.0, 45.0, 359.0],
        }
    )


# ---------------------------------------------------------------- CalendarFeatures


def test_calendar_values_for_known_timestamps():
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(
                ["2024-01-01 00:00", "2024-01-01 06:00", "2024-01-03 12:30", "2023-07-02 12:00"]
            )
        }
    )
    out = CalendarFeatures(signals=("hour_of_day", "day_of_week", "day_of_year")).fit_transform(frame)
    # hour_of_day: 00:00 -> angle 0; 06:00 -> pi/2; 12:30 -> 2pi*12.5/24.
    np.testing.assert_allclose(out["hour_of_day_sin"][:2], [0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(out["hour_of_day_cos"][:2], [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(out["hour_of_day_sin"][2], np.sin(2 * np.pi * 12.5 / 24))
    # day_of_week: 2024-01-01 is a Monday (0), 2024-01-03 a Wednesday (2), 2023-07-02 a Sunday (6).
    np.testing.assert_allclose(out["day_of_week_sin"], np.sin(2 * np.pi * np.array([0, 0, 2, 6]) / 7))
    np.testing.assert_allclose(out["day_of_week_cos"], np.cos(2 * np.pi * np.array([0, 0, 2, 6]) / 7))
    # day_of_year: fractional days since 1 January 00:00; 2023-07-02 12:00 is day 183 (0-based 182.5).
    fraction = np.array([0.0, 0.25, 2 + 12.5 / 24, 182.5])
    np.testing.assert_allclose(out["day_of_year_sin"], np.sin(2 * np.pi * fraction / 365.2425))
    np.testing.assert_allclose(out["day_of_year_cos"], np.cos(2 * np.pi * fraction / 365.2425))
    assert list(out.columns) == [
        "timestamp",
        "hour_of_day_sin", "hour_of_day_cos",
        "day_of_week_sin", "day_of_week_cos",
        "day_of_year_sin", "day_of_year_cos",
    ]


def test_calendar_midnight_is_next_to_23h():
    frame = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-01 23:00", "2024-01-02 00:00", "2024-01-01 12:00"])})
    out = CalendarFeatures().fit_transform(frame)
    points = out[["hour_of_day_sin", "hour_of_day_cos"]].to_numpy()
    assert np.linalg.norm(points[0] - points[1]) < np.linalg.norm(points[1] - points[2])


def test_calendar_unknown_signal_names_it_and_the_allowed_ones():
    with pytest.raises(ValueError) as info:
        CalendarFeatures(signals=("hour_of_day", "month")).fit(_frame())
    message = str(info.value)
    assert "'month'" in message and "['hour_of_day', 'day_of_week', 'day_of_year']" in message


def test_calendar_needs_a_datetime_column():
    with pytest.raises(DataValidationError, match=r"column\(s\) \['when'\] not found"):
        CalendarFeatures(timestamp_column="when").fit(_frame())
    frame = _frame().assign(timestamp="2024-01-01")
    with pytest.raises(DataValidationError, match=r"'timestamp' must be datetime"):
        CalendarFeatures().fit_transform(frame)


# ---------------------------------------------------------------- LogReturns


def test_log_returns_per_series_and_segment_without_leakage():
    frame = _frame()
    out = LogReturns(columns=("price",)).fit_transform(frame)
    expected = [0.0, np.log(1.1), np.log(1.1), 0.0, np.log(0.5), 0.0, np.log(2.0)]
    # Row 3 starts series b (no return from a's 121 -> 50); row 5 starts segment 1 after a gap.
    np.testing.assert_allclose(out["price_logret"], expected)
    pd.testing.assert_frame_equal(out.drop(columns="price_logret"), frame)
    assert out.index.equals(frame.index)


def test_log_returns_without_a_segment_column_group_by_series():
    frame = _frame().drop(columns="segment")
    out = LogReturns(columns=["price"]).fit_transform(frame)
    np.testing.assert_allclose(out["price_logret"].iloc[5], np.log(40.0 / 25.0))
    assert out["price_logret"].iloc[3] == 0.0


def test_log_returns_reject_non_positive_values_naming_where():
    frame = _frame()
    frame.loc[5, "price"] = 0.0
    frame.loc[6, "price"] = -1.0
    with pytest.raises(DataValidationError) as info:
        LogReturns(columns=["price"]).fit(frame)
    message = str(info.value)
    assert "'price'" in message and "received 0.0" in message
    assert "series 'b'" in message and "2024-01-01 05:00:00" in message


def test_log_returns_missing_column():
    with pytest.raises(DataValidationError, match=r"\['close'\] not found.*columns found: \['series_id'"):
        LogReturns(columns=["close"]).fit(_frame())


# ---------------------------------------------------------------- WindVector


def test_wind_vector_for_known_angles_drops_direction():
    out = WindVector(speed="wv", direction="wd").fit_transform(_frame())
    assert "wd" not in out.columns and "wv" in out.columns
    speed = np.array([1.0, 2.0, 3.0, 1.0, 1.0, 2.0, 0.5])
    cos = np.array([1, 0, -1, 0, 1, np.sqrt(0.5), np.cos(np.deg2rad(359))])
    sin = np.array([0, 1, 0, -1, 0, np.sqrt(0.5), np.sin(np.deg2rad(359))])
    np.testing.assert_allclose(out["wind_x"], speed * cos, atol=1e-12)
    np.testing.assert_allclose(out["wind_y"], speed * sin, atol=1e-12)
    # 359 degrees and 0 degrees are neighbours in the vector space.
    unit = WindVector("wv", "wd").fit_transform(pd.DataFrame({"wv": [1.0, 1.0], "wd": [359.0, 0.0]}))
    assert np.hypot(*(unit.iloc[0] - unit.iloc[1])[["wind_x", "wind_y"]]) < 0.02


def test_wind_vector_in_radians():
    out = WindVector("wv", "wd", direction_unit="rad").fit_transform(pd.DataFrame({"wv": [2.0], "wd": [np.pi / 2]}))
    np.testing.assert_allclose(out[["wind_x", "wind_y"]].to_numpy(), [[0.0, 2.0]], atol=1e-12)


def test_wind_vector_errors():
    with pytest.raises(DataValidationError) as info:
        WindVector(speed="wv", direction="dir").fit(_frame())
    assert "['dir'] not found" in str(info.value) and "'wd'" in str(info.value)
    with pytest.raises(ValueError, match=r"Received: direction_unit='grad'"):
        WindVector("wv", "wd", direction_unit="grad").fit(_frame())


# ---------------------------------------------------------------- build_feature_transformer


def test_build_feature_transformer_empty_is_identity():
    transformer = build_feature_transformer(FeaturesConfig())
    assert isinstance(transformer, FunctionTransformer)
    frame = _frame()
    pd.testing.assert_frame_equal(transformer.fit_transform(frame), frame)


def test_build_feature_transformer_pipeline_pickles_and_clones(tmp_path):
    cfg = FeaturesConfig(
        calendar=["hour_of_day", "day_of_week"], log_returns=["price"], wind={"speed": "wv", "direction": "wd"}
    )
    pipeline = build_feature_transformer(cfg)
    assert isinstance(pipeline, Pipeline)
    assert [name for name, _ in pipeline.steps] == ["wind", "log_returns", "calendar"]
    frame = _frame()
    out = pipeline.fit_transform(frame)
    assert list(out.columns) == [
        "series_id", "timestamp", "segment", "price", "wv",
        "wind_x", "wind_y", "price_logret",
        "hour_of_day_sin", "hour_of_day_cos", "day_of_week_sin", "day_of_week_cos",
    ]
    path = tmp_path / "features.joblib"
    joblib.dump(pipeline, path)
    pd.testing.assert_frame_equal(joblib.load(path).transform(frame), out)
    pd.testing.assert_frame_equal(pickle.loads(pickle.dumps(pipeline)).transform(frame), out)
    cloned = clone(pipeline)
    assert cloned.get_params()["calendar__signals"] == ("hour_of_day", "day_of_week")
    pd.testing.assert_frame_equal(cloned.fit_transform(frame), out)


def test_feature_columns_excludes_keys_and_keeps_order():
    frame = _frame().assign(split="train", flag=True)
    assert feature_columns(frame) == ["price", "wv", "wd"]
    out = build_feature_transformer(FeaturesConfig(calendar=["hour_of_day"])).fit_transform(frame)
    assert feature_columns(out) == ["price", "wv", "wd", "hour_of_day_sin", "hour_of_day_cos"]
