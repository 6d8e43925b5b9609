"""The data schema: canonical names, raw <-> canonical conversion, the saved (typed, versioned) section."""

from __future__ import annotations

import json
import re
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

from forecaster.errors import DataValidationError, ModelFileError
from forecaster.estimator import BaselineForecaster, load_forecaster
from forecaster.forecasting import saved_settings
from forecaster.data.columns import SEGMENT, SERIES_ID, SPLIT, TIMESTAMP
from forecaster.data.schema import HEADER_KEY, SCHEMA_VERSION, DataSchema

DATA = {"path": "prices.csv", "timestamp_column": "When", "timestamp_format": "%d.%m.%Y %H:%M",
        "series_column": "Ticker", "target": ["price"], "frequency": "1h"}


def raw_rows(n=80):
    """Raw file rows of two series (B before A, as a file may hold them), hourly."""
    t = pd.date_range("2024-01-01", periods=n, freq="h").strftime("%d.%m.%Y %H:%M")
    return pd.concat([pd.DataFrame({"Ticker": sid, "When": t, "price": 10.0 * (k + 1) + np.sin(np.arange(n) / 5),
                                    "vol": np.arange(n, dtype=float) + k})
                      for k, sid in enumerate(["B", "A"])], ignore_index=True)


def test_raw_to_canonical_and_back_round_trips():
    schema = DataSchema.from_config(DATA)
    raw = raw_rows()
    canonical = schema.to_canonical(raw)
    assert canonical.columns.tolist() == [SERIES_ID, TIMESTAMP, "price", "vol"]
    assert canonical[SERIES_ID].tolist() == ["A"] * 80 + ["B"] * 80  # sorted by series, then time
    # the pipeline's key columns are not written back; the file's own columns and order are
    back = schema.to_raw(canonical.assign(**{SEGMENT: 0, SPLIT: "train"}))
    assert back.columns.tolist() == ["Ticker", "When", "price", "vol"]
    expected = raw.sort_values("Ticker", kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(back, expected)
    pd.testing.assert_frame_equal(schema.to_canonical(back), canonical)


def test_timestamp_parts_and_default_format_round_trip():
    schema = DataSchema.from_config({"path": "x.csv", "timestamp_parts": {"year": "Y", "month": "M", "day": "D"},
                                     "target": ["t"]})
    raw = pd.DataFrame({"Y": [2024, 2024], "M": [1, 1], "D": [1, 2], "t": [1.0, 2.0]})
    pd.testing.assert_frame_equal(schema.to_raw(schema.to_canonical(raw)), raw, check_dtype=False)
    plain = DataSchema.from_config({"path": "x.csv", "timestamp_column": "ts", "target": ["t"]})
    frame = plain.to_canonical(pd.DataFrame({"ts": ["2024-01-01 06:30:00"], "t": [1.0]}))
    assert plain.to_raw(frame)["ts"].tolist() == ["2024-01-01 06:30:00"]


def fitted(**extra):
    schema = DataSchema.from_config(DATA)
    frame = schema.regular(schema.to_canonical(raw_rows()), None)
    return BaselineForecaster(kind="linear", target=["price"], lookback=12, horizon=3, data=DATA,
                              features={"calendar": ["hour_of_day"]}, **extra).fit(frame), frame


def test_a_model_schema_names_its_raw_inputs_and_forecasts_from_raw_history():
    est, frame = fitted()
    schema = est.data_schema()
    assert schema.inputs == ("When", "Ticker", "price", "vol")  # calendar signals are derived, not inputs
    assert est.input_columns() == list(schema.inputs)
    raw = raw_rows()
    pd.testing.assert_frame_equal(est.forecast(raw), est.predict(frame))
    with pytest.raises(DataValidationError, match=re.escape("missing: ['vol']")):
        est.forecast(raw.drop(columns="vol"))


def test_the_saved_header_holds_a_versioned_schema_section_and_old_saves_still_load(tmp_path):
    est, frame = fitted()
    saved = est.save(tmp_path / "m")
    header = json.loads((saved / "forecaster.json").read_text())
    section = header[HEADER_KEY]
    assert section["version"] == SCHEMA_VERSION and "data" not in header and "inputs" not in header
    assert section["inputs"] == ["When", "Ticker", "price", "vol"] and section["data"]["series_column"] == "Ticker"
    assert DataSchema.from_json(section) == est.data_schema()
    loaded = load_forecaster(saved)
    assert loaded.data_schema() == est.data_schema()
    pd.testing.assert_frame_equal(loaded.forecast(raw_rows()), est.forecast(raw_rows()))
    assert saved_settings(str(saved))["schema"] == est.data_schema()

    # The previous format: the loose data dict and inputs list at the top of the header.
    old = tmp_path / "old"
    shutil.copytree(saved, old)
    body = json.loads((old / "forecaster.json").read_text())
    body.pop(HEADER_KEY)
    body.update(data=section["data"], inputs=section["inputs"])
    (old / "forecaster.json").write_text(json.dumps(body))
    legacy = load_forecaster(old)
    assert legacy.data_schema() == est.data_schema() and saved_settings(str(old))["schema"] == est.data_schema()
    pd.testing.assert_frame_equal(legacy.forecast(raw_rows()), est.forecast(raw_rows()))

    for i, (edit, words) in enumerate([
        (lambda s: s.update(version=99), "'schema' must be an object with version 1; received 99"),
        (lambda s: s.update(inputs="When"), "'schema.inputs' must be a list of column names"),
        (lambda s: s["data"].update(command="rm -rf /"), "command"),
    ]):
        bad = tmp_path / f"bad{i}"
        shutil.copytree(saved, bad)
        body = json.loads((bad / "forecaster.json").read_text())
        edit(body[HEADER_KEY])
        (bad / "forecaster.json").write_text(json.dumps(body))
        with pytest.raises(ModelFileError, match=re.escape(words)) as caught:
            load_forecaster(bad)
        assert f"bad{i}" in str(caught.value)
        assert saved_settings(str(bad)) is None  # the cheap pre-check defers to loading, which names the error


def test_the_signature_declares_step_long_without_mlflows_integer_hint():
    from mlflow.models import infer_signature

    from forecaster.tracking.pyfunc_model import forecast_signature

    est, _ = fitted()
    request = raw_rows().tail(30)
    output = est.forecast(request)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        declared = forecast_signature(request, output)
    assert not [w for w in caught if "integer column" in str(w.message)]
    with pytest.warns(UserWarning, match="integer column"):
        inferred = infer_signature(request, output)
    assert declared == inferred  # the served signature is unchanged


@pytest.mark.parametrize("frequency, stamps", [
    ("1h", pd.date_range("2024-01-01 03:00", periods=50, freq="h")),
    ("D", pd.date_range("2024-01-01", periods=50, freq="D")),
    ("B", pd.bdate_range("2024-01-01", periods=50)),
    ("1h", pd.date_range("2024-01-01 03:00", periods=50, freq="h").delete(7)),  # a gap: regularise fills it
    ("1h", pd.date_range("2024-01-01 03:10", periods=50, freq="h")),  # off the bins: regularise bins it
    ("2D", pd.date_range("2024-01-01", periods=50, freq="D")),  # coarser: regularise aggregates
])
def test_a_request_already_on_the_grid_skips_regularise_with_the_same_result(frequency, stamps):
    from forecaster.data.regularise import regularise

    schema = DataSchema.from_config({"path": "x.csv", "target": ["t"], "frequency": frequency})
    frame = pd.DataFrame({SERIES_ID: "s", TIMESTAMP: stamps, "t": np.sin(np.arange(len(stamps))), "p": 1.0})
    for case in (frame, frame.assign(t=frame["t"].where(frame.index != 9))):  # a missing value too
        pd.testing.assert_frame_equal(schema.regular(case, None), regularise(case, frequency, "mean", 3)[0],
                                      check_exact=True)


def test_the_one_series_fast_path_forecasts_exactly_as_the_general_path(monkeypatch):
    """A served request (one series on the grid): numpy tail, no regularise pass, no calibration pass
    on a history too short for a window; the general path (sort, group-by, regularise) is forced by
    switching the fast paths off, and must give the very same forecast."""
    import forecaster.estimator.inputs as inputs
    import forecaster.data.schema as schema

    est, _ = fitted(calibration_window=30)
    raw = raw_rows()
    requests = [raw[raw["Ticker"] == "A"].tail(rows) for rows in (80, 13)]  # rolling calibration; static
    fast = [est.forecast(request) for request in requests]
    monkeypatch.setattr(inputs, "_one_series_tail", lambda frame, lookback: None)
    monkeypatch.setattr(schema, "_already_regular", lambda frame, frequency: None)
    for request, expected in zip(requests, fast):
        pd.testing.assert_frame_equal(expected, est.forecast(request), check_exact=True)
    rolling, static = fast
    assert not np.allclose(rolling["upper"] - rolling["forecast"], static["upper"] - static["forecast"])
