"""Every bad input is one clear error: a table of data files, pipeline files and forecast inputs.

Each case runs the real command line in-process (:func:`forecaster.cli.main` returns the exit
code; the log goes to the captured stderr) and asserts

- the documented exit code (2: pipeline file or usage, 3: data);
- the words that name the place (file, key, column, row) and the value received;
- that the message is one log record with no traceback;
- that nothing was written: no forecast or plot file, no FINISHED MLflow run and no registered
  model version in the pipeline's own SQLite store;
- for data and pipeline-file cases, that validation failed before TensorFlow was imported (when
  it was not already imported by another test module).

A handful of cases run through ``python -m forecaster`` in a subprocess, to show the same end to
end. The forecast-input cases share one small fitted model (a saved persistence forecaster: the
checks under test run before or beside the network, whichever model it is).
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest
import yaml

from forecaster.cli import main
from forecaster.errors import DataValidationError

N_ROWS = 120
PIPELINE_KEY = re.compile(r"\b(data|window|features|split)\.[a-z_]+")
FORMAT = "%d.%m.%Y %H:%M:%S"


# ----------------------------------------------------------------------------- building blocks
def good_frame(n: int = N_ROWS) -> pd.DataFrame:
    """Hourly rows: day-first timestamps, a target and a feature."""
    ts = pd.date_range("2024-01-01", periods=n, freq="h")
    return pd.DataFrame({"Date Time": ts.strftime(FORMAT),
                         "temp": np.round(10 + 5 * np.sin(np.arange(n) / 5), 3),
                         "pressure": np.round(1000 + np.cos(np.arange(n) / 7), 3)})


def write_frame(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


def pipeline(tmp: Path, **sections) -> dict:
    cfg = {
        "name": "bad-inputs",
        "data": {"path": str(tmp / "data.csv"), "timestamp_column": "Date Time", "timestamp_format": FORMAT,
                 "target": ["temp"], "frequency": "1h"},
        "window": {"lookback": 8, "horizon": 2},
        "split": {"val": 0.2, "test": 0.2},
        "models": [{"cell": "gru", "units": 2}],
        "training": {"epochs": 1},
        "baselines": ["persistence", "linear"],
        "tracking": {"tracking_uri": f"sqlite:///{tmp / 'mlflow.db'}"},
        "output": {"forecast_path": str(tmp / "out" / "f.csv"), "plot_path": str(tmp / "out" / "f.png")},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


def write_yaml(path: Path, content) -> Path:
    path.write_text(yaml.safe_dump(content, sort_keys=False) if not isinstance(content, str) else content)
    return path


def assert_nothing_written(tmp: Path) -> None:
    out = tmp / "out"
    assert not out.exists() or not any(out.iterdir()), sorted(out.iterdir())
    db = tmp / "mlflow.db"
    if db.exists():
        with sqlite3.connect(db) as con:
            tables = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
            if "runs" in tables:
                assert con.execute("select count(*) from runs where status='FINISHED'").fetchone()[0] == 0
            if "model_versions" in tables:
                assert con.execute("select count(*) from model_versions").fetchone()[0] == 0


def one_clear_message(err: str) -> str:
    """The stderr of a failed command: exactly one ERROR record, no traceback."""
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if " ERROR " in line]
    assert len(errors) == 1, err
    return err


# ----------------------------------------------------------------------------- data files
# Each entry: id -> (make(tmp) -> overrides of the pipeline, words expected in the message).
def _csv(mutate: Callable[[pd.DataFrame], pd.DataFrame], **data):
    def make(tmp: Path) -> dict:
        write_frame(tmp / "data.csv", mutate(good_frame()))
        return {"data": data} if data else {}
    return make


def _set(frame: pd.DataFrame, row: int, column: str, value) -> pd.DataFrame:
    frame = frame.astype({column: object})
    frame.loc[row - 1, column] = value  # row is the 1-based data row
    return frame


def _raw(text: str | bytes, name: str = "data.csv", **data):
    def make(tmp: Path) -> dict:
        path = tmp / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return {"data": {"path": str(path), **data}}
    return make


def _good_text(n: int = N_ROWS) -> str:
    return good_frame(n).to_csv(index=False)


def _truncated_gz(tmp: Path) -> dict:
    blob = gzip.compress(_good_text().encode())
    (tmp / "data.csv.gz").write_bytes(blob[: len(blob) // 2])
    return {"data": {"path": str(tmp / "data.csv.gz")}}


def _not_gzip(tmp: Path) -> dict:
    (tmp / "data.csv.gz").write_bytes(b"this is not gzip at all\n" * 10)
    return {"data": {"path": str(tmp / "data.csv.gz")}}


def _bad_parquet(tmp: Path) -> dict:
    (tmp / "data.parquet").write_bytes(b"PAR1 not really")
    return {"data": {"path": str(tmp / "data.parquet")}}


def _directory(tmp: Path) -> dict:
    (tmp / "folder.csv").mkdir()
    return {"data": {"path": str(tmp / "folder.csv")}}


def _gappy(tmp: Path) -> dict:
    # Every 6 rows a 5-hour hole: segments of 6 rows, never a full window of 8 + 2.
    frame = good_frame(400)
    keep = (np.arange(400) % 11) < 6
    write_frame(tmp / "data.csv", frame[keep])
    return {"data": {"max_gap": 3}}


def _cut_last_line(tmp: Path) -> dict:
    text = _good_text()
    (tmp / "data.csv").write_text(text.rstrip("\n")[: -len(",10.0,1000.0") - 2])
    return {}


def _cut_after_separator(tmp: Path) -> dict:
    lines = _good_text().rstrip("\n").splitlines()
    lines[-1] = lines[-1].rsplit(",", 1)[0] + ","
    (tmp / "data.csv").write_text("\n".join(lines))
    return {}


def _ragged_last_line(tmp: Path) -> dict:
    lines = _good_text().rstrip("\n").splitlines()
    lines[-1] = lines[-1].rsplit(",", 1)[0]
    (tmp / "data.csv").write_text("\n".join(lines) + "\n")
    return {}


def _parts(tmp: Path) -> dict:
    ts = pd.date_range("2024-01-01", periods=N_ROWS, freq="h")
    frame = pd.DataFrame({"y": ts.year, "m": ts.month, "d": ts.day, "h": ts.hour, "temp": 1.0})
    frame.loc[6, "m"] = 13
    write_frame(tmp / "data.csv", frame)
    return {"data": {"timestamp_parts": {"year": "y", "month": "m", "day": "d", "hour": "h"},
                     "timestamp_format": None}}


DATA_CASES = {
    "missing file": (lambda tmp: {"data": {"path": str(tmp / "nope.csv")}}, ["nope.csv", "not found"]),
    "directory": (_directory, ["folder.csv", "must name a file"]),
    "empty file": (_raw(""), ["data.csv", "empty"]),
    "header only": (_raw("Date Time,temp,pressure\n"), ["data.csv", "no rows"]),
    "truncated gzip": (_truncated_gz, ["data.csv.gz", "truncated or corrupt"]),
    "not gzip": (_not_gzip, ["data.csv.gz", "truncated or corrupt"]),
    "corrupt parquet": (_bad_parquet, ["data.parquet", "Parquet"]),
    "unsupported suffix": (_raw("x", name="data.xlsx"), ["data.xlsx", "unsupported file type"]),
    "latin-1 bytes": (_raw(_good_text().replace("temp", "temp\xe9").encode("latin-1"),
                           target=["temp\xe9"]), ["data.csv", "'utf-8'", "data.encoding"]),
    "binary garbage": (_raw(bytes(range(256)) * 8), ["data.csv"]),
    "timestamp column missing": (_csv(lambda f: f.rename(columns={"Date Time": "When"})),
                                 ["data.csv", "'Date Time'", "data.timestamp_column", "'When'"]),
    "target missing": (_csv(lambda f: f.rename(columns={"temp": "tmp"})),
                       ["data.csv", "'temp'", "data.target", "Did you mean"]),
    "feature missing": (_csv(lambda f: f, features=["pressure", "humidity"]),
                        ["data.csv", "'humidity'", "data.features"]),
    "bad timestamp": (_csv(lambda f: _set(f, 7, "Date Time", "31.02.2024 07:00:00")),
                      ["data.csv", "'Date Time'", "row 7", "'31.02.2024 07:00:00'"]),
    "empty timestamp": (_csv(lambda f: _set(f, 5, "Date Time", None)),
                        ["data.csv", "'Date Time'", "row 5"]),
    "year 2300": (_csv(lambda f: _set(f, 9, "Date Time", "01.01.2300 00:00:00")),
                  ["data.csv", "'Date Time'", "row 9", "2300-01-01", "outside the supported range"]),
    "year 1500": (_csv(lambda f: _set(f, 3, "Date Time", "01.01.1500 00:00:00")),
                  ["data.csv", "row 3", "1500-01-01"]),
    "timestamp parts": (_parts, ["data.csv", "row 7", "'m': 13"]),
    "text in target": (_csv(lambda f: _set(f, 9, "temp", "abc")),
                       ["data.csv", "'temp'", "row 9", "'abc'", "data.missing_values"]),
    "infinite value": (_csv(lambda f: _set(f, 11, "pressure", "inf")),
                       ["data.csv", "'pressure'", "row 11", "infinite"]),
    "huge value": (_csv(lambda f: _set(f, 12, "temp", 1.7e308)),
                   ["data.csv", "'temp'", "row 12", "1.7e+308", "1e+15"]),
    "huge negative value": (_csv(lambda f: _set(f, 13, "pressure", -1e300)),
                            ["data.csv", "'pressure'", "row 13", "-1e+300"]),
    "conflicting duplicate": (_csv(lambda f: pd.concat([f.iloc[:4], f.iloc[[3]].assign(temp=99.0),
                                                        f.iloc[4:]])),
                              ["data.csv", "appears twice", "rows 4 and 5"]),
    "target all missing": (_csv(lambda f: f.assign(temp=np.nan)), ["data.csv", "'temp'", "no values"]),
    "file cut inside last line": (_cut_last_line, ["data.csv", "last line", f"data row {N_ROWS}"]),
    "file cut after a separator": (_cut_after_separator,
                                   ["data.csv", "ends inside its last line", f"data row {N_ROWS}"]),
    "ragged last line": (_ragged_last_line, ["data.csv", "last line", "2 field(s)", "header has 3"]),
    "gaps leave no window": (_gappy, ["data.csv", "no full window", "segment", "'series'"]),
    "too few rows": (_csv(lambda f: f.iloc[:15]), ["data.csv", "too few rows", "15 rows", "needs at least"]),
    "outside valid_range": (_csv(lambda f: _set(f, 15, "temp", 99.0), valid_range={"temp": [-60, 60]}),
                            ["data.csv", "'temp'", "row 15", "99.0", "data.valid_range [-60, 60]"]),
    "valid_range unknown column": (_csv(lambda f: f, valid_range={"humidity": [0, 100]}),
                                   ["data.csv", "data.valid_range", "'humidity'"]),
    "repeated header": (_raw("Date Time,temp,temp\n01.01.2024 00:00:00,1,2\n"),
                        ["data.csv", "['temp']", "more than once"]),
    "reserved column as target": (_csv(lambda f: f.rename(columns={"pressure": "split"}), target=["split"]),
                                  ["data.csv", "'split'", "reserved"]),
    "empty series id": (_csv(lambda f: _set(f.assign(site="a"), 6, "site", None), series_column="site"),
                        ["data.csv", "'site'", "row 6"]),
    "log returns of a missing column": (lambda tmp: {"features": {"log_returns": ["price"]}},
                                        ["data.csv", "features.log_returns", "'price'"]),
    "wind of a missing column": (lambda tmp: {"features": {"wind": {"speed": "ws", "direction": "pressure"}}},
                                 ["data.csv", "features.wind.speed", "'ws'"]),
    "frequency finer than data": (_csv(lambda f: f, frequency="10min"),
                                  ["frequency='10min'", "finer than the data"]),
    "wrong separator": (_csv(lambda f: f, separator=";"), ["data.csv", "'Date Time'", "one column", "data.separator"]),
    "extra field in a row": (_raw(_good_text().replace("01.01.2024 05:00:00,", "01.01.2024 05:00:00,1,", 1)),
                             ["data.csv", "line 7", "saw 4"]),
}


@pytest.fixture(autouse=True)
def restore_root_logger():
    """main() installs its log handler on the captured stderr; put the root logger back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FORECASTER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


def _tf_guard():
    before = "tensorflow" in sys.modules
    return lambda: before or "tensorflow" not in sys.modules


@pytest.mark.parametrize("command", ["run", "data check"])
@pytest.mark.parametrize("case", list(DATA_CASES))
def test_bad_data_file(case, command, workdir, capsys):
    make, words = DATA_CASES[case]
    overrides = make(workdir)
    if not (workdir / "data.csv").exists() and "path" not in overrides.get("data", {}):
        write_frame(workdir / "data.csv", good_frame())
    write_yaml(workdir / "p.yaml", pipeline(workdir, **overrides))
    tf_untouched = _tf_guard()
    code = main([*command.split(), "p.yaml"])
    err = one_clear_message(capsys.readouterr().err)
    assert code == 3, err
    for word in words:
        assert word in err, (word, err)
    assert_nothing_written(workdir)
    assert tf_untouched(), "validation must fail before TensorFlow is imported"


@pytest.mark.parametrize("command", ["run", "data check"])
@pytest.mark.parametrize("train_rows", [None, 30])
def test_series_too_short_for_split_row_counts(train_rows, command, workdir, capsys):
    frame = pd.concat([good_frame(120).assign(site="long"), good_frame(40).assign(site="short")])
    write_frame(workdir / "data.csv", frame)
    cfg = pipeline(workdir, data={"series_column": "site"})
    cfg["split"] = {"val_rows": 20, "test_rows": 15} | ({"train_rows": train_rows} if train_rows else {})
    write_yaml(workdir / "p.yaml", cfg)
    tf_untouched = _tf_guard()
    code = main([*command.split(), "p.yaml"])
    err = one_clear_message(capsys.readouterr().err)
    assert code == 3, err
    needed = 30 + 20 + 15 if train_rows else 8 + 2 + 20 + 15  # train_rows + val + test, or one window + val + test
    for word in ["data.csv", "too few rows", "series 'short' has 40 rows", f"needs at least {needed} rows",
                 "val_rows=20, test_rows=15"]:
        assert word in err, (word, err)
    assert "'long'" not in err
    assert_nothing_written(workdir)
    assert tf_untouched(), "validation must fail before TensorFlow is imported"


# ----------------------------------------------------------------------------- pipeline files
def _cfg(**sections):
    return lambda tmp: pipeline(tmp, **sections)


def _without(section: str, key: str | None = None):
    def make(tmp: Path) -> dict:
        cfg = pipeline(tmp)
        if key is None:
            del cfg[section]
        else:
            del cfg[section][key]
        return cfg
    return make


PIPELINE_CASES = {
    "not found": (lambda tmp: None, [], ["p.yaml", "pipeline file not found"]),
    "not yaml": (lambda tmp: "name: [unclosed\n  data: {", [], ["p.yaml", "not a valid YAML file"]),
    "a list": (lambda tmp: "- name: x\n", [], ["p.yaml", "mapping of keys", "list"]),
    "unknown top-level key": (_cfg(windows={"lookback": 3}), [], ["windows", "unknown key"]),
    "typo in data key": (lambda tmp: {**pipeline(tmp), "data": {**pipeline(tmp)["data"], "tagret": "x"}},
                         [], ["data.tagret", "unknown key"]),
    "no data.path": (_without("data", "path"), [], ["data.path", "required"]),
    "no window": (_without("window"), [], ["window", "required"]),
    "lookback 0": (_cfg(window={"lookback": 0}), [], ["window.lookback", "received 0"]),
    "horizon text": (_cfg(window={"horizon": "abc"}), [], ["window.horizon", "'abc'"]),
    "val 1.5": (_cfg(split={"val": 1.5}), [], ["split.val", "1.5"]),
    "val + test >= 1": (_cfg(split={"val": 0.6, "test": 0.5}), [], ["split", "val=0.6", "test=0.5"]),
    "split fractions and rows": (_cfg(split={"val_rows": 30, "test_rows": 20}), [],
                                 ["split", "cannot be combined", "split.val=0.2", "split.val_rows=30"]),
    "split rows without test_rows": (lambda tmp: {**pipeline(tmp), "split": {"val_rows": 30}}, [],
                                     ["split.val_rows and split.test_rows", "split.val_rows=30"]),
    "split rows not an integer": (lambda tmp: {**pipeline(tmp), "split": {"val_rows": 30.5, "test_rows": 20}}, [],
                                  ["split.val_rows", "30.5"]),
    "--set split rows bool": (lambda tmp: {**pipeline(tmp), "split": {"val_rows": 30}},
                              ["--set", "split.test_rows=true"], ["split.test_rows", "True"]),
    "split train_rows below a window": (lambda tmp: {**pipeline(tmp), "split": {"train_rows": 9, "val_rows": 30,
                                                                                "test_rows": 20}}, [],
                                        ["split.train_rows=9", "window.lookback + window.horizon = 10"]),
    "models empty": (_cfg(models=[]), [], ["models", "at least one model", "received []"]),
    "duplicate model": (_cfg(models=[{"cell": "gru", "units": 2}, {"cell": "lstm"},
                                     {"cell": "gru", "units": [2]}]), [],
                        ["models", "models[0] and models[2]", "the same model"]),
    "unknown cell": (_cfg(models=[{"cell": "transformer"}]), [], ["models.0.cell", "'transformer'"]),
    "units per layer": (_cfg(models=[{"cell": "gru", "layers": 2, "units": [4]}]), [],
                        ["models.0", "layers=2", "units=[4]"]),
    "clipping text": (_cfg(clipping="clip"), [], ["clipping", "'clip'"]),
    "clipnorm negative": (_cfg(clipping={"clipnorm": -1}), [], ["clipping", "threshold > 0", "-1"]),
    "frequency unknown": (_cfg(data={"frequency": "fortnightly"}), [],
                          ["data.frequency", "offset alias", "'fortnightly'"]),
    "frequency negative": (_cfg(data={"frequency": "-1h"}), [], ["data.frequency", "positive", "'-1h'"]),
    "encoding unknown": (_cfg(data={"encoding": "utf-99"}), [], ["data.encoding", "'utf-99'"]),
    "separator two characters": (_cfg(data={"separator": ";;"}), [], ["data.separator", "';;'"]),
    "separator a letter": (_cfg(data={"separator": "x"}), [], ["data.separator", "'x'"]),
    "timestamp_format bad directive": (_cfg(data={"timestamp_format": "%Y-%Q-%d"}), [],
                                       ["data.timestamp_format", "bad directive", "'%Y-%Q-%d'"]),
    "timestamp_format stray %": (_cfg(data={"timestamp_format": "%Y-%m-%d %"}), [],
                                 ["data.timestamp_format", "'%Y-%m-%d %'"]),
    "timestamp_format without directives": (_cfg(data={"timestamp_format": "yyyy-mm-dd"}), [],
                                            ["data.timestamp_format", "'yyyy-mm-dd'"]),
    "valid_range reversed": (_cfg(data={"valid_range": {"temp": [60, -60]}}), [],
                             ["data.valid_range", "'temp'", "[60.0, -60.0]"]),
    "valid_range one number": (_cfg(data={"valid_range": {"temp": [60]}}), [], ["data.valid_range.temp"]),
    "name with a space": (_cfg(name="my pipeline"), [], ["name", "'my pipeline'"]),
    "epochs 0": (_cfg(training={"epochs": 0}), [], ["training.epochs", "received 0"]),
    "unknown loss": (_cfg(training={"loss": "hinge"}), [], ["training.loss", "'hinge'"]),
    "unknown baseline": (_cfg(baselines=["prophet"]), [], ["baselines.0", "'prophet'"]),
    "interval level 1.5": (_cfg(evaluation={"interval_level": 1.5}), [], ["evaluation.interval_level", "1.5"]),
    "calibration window 5": (_cfg(evaluation={"calibration_window": 5}), [],
                             ["evaluation.calibration_window", "received 5"]),
    "significance 1.5": (_cfg(evaluation={"significance": 1.5, "backtest_folds": 2}), [],
                         ["evaluation.significance", "1.5"]),
    "significance text": (_cfg(evaluation={"significance": "strict", "backtest_folds": 2}), [],
                          ["evaluation.significance", "'strict'"]),
    "significance without folds": (_cfg(evaluation={"significance": 0.05}), [],
                                   ["evaluation.significance=0.05", "evaluation.backtest_folds"]),
    "unknown timestamp part": (_cfg(data={"timestamp_parts": {"year": "y", "month": "m", "day": "d",
                                                              "second": "s"}}), [],
                               ["data.timestamp_parts", "'second'"]),
    "aggregate median": (_cfg(data={"aggregate": "median"}), [], ["data.aggregate", "'median'"]),
    "empty target list": (_cfg(data={"target": []}), [], ["data.target", "at least one column"]),
    "unknown calendar signal": (_cfg(features={"calendar": ["minute_of_hour"]}), [],
                                ["features.calendar.0", "'minute_of_hour'"]),
    "repeated key": (lambda tmp: yaml.safe_dump(pipeline(tmp), sort_keys=False) + "name: again\n", [],
                     ["p.yaml", "'name' appears twice", "lines 1 and"]),
    "--set without =": (_cfg(), ["--set", "window.lookback"], ["--set", "key.path=value", "'window.lookback'"]),
    "--set unknown key": (_cfg(), ["--set", "training.epoch=3"], ["training.epoch", "unknown key"]),
    "--set bad value": (_cfg(), ["--set", "window.lookback=-4"], ["window.lookback", "-4"]),
}


@pytest.mark.parametrize("case, command", [(case, command) for case in PIPELINE_CASES
                                            for command in ("run", "data check")
                                            if command == "run" or not PIPELINE_CASES[case][1]])
def test_bad_pipeline_file(case, command, workdir, capsys):
    make, extra, words = PIPELINE_CASES[case]
    write_frame(workdir / "data.csv", good_frame())
    content = make(workdir)
    if content is not None:
        write_yaml(workdir / "p.yaml", content)
    tf_untouched = _tf_guard()
    code = main([*command.split(), "p.yaml", *extra])
    err = one_clear_message(capsys.readouterr().err)
    assert code == 2, err
    for word in words:
        assert word in err, (word, err)
    assert_nothing_written(workdir)
    assert tf_untouched(), "validation must fail before TensorFlow is imported"


# ----------------------------------------------------------------------------- forecast inputs
LOOKBACK, HORIZON = 8, 2


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """A fitted, saved forecaster (persistence) trained on :func:`good_frame`."""
    from forecaster.config import DataConfig
    from forecaster.data import load_dataset
    from forecaster.estimator import BaselineForecaster

    root = tmp_path_factory.mktemp("model")
    data = write_frame(root / "train.csv", good_frame())
    cfg = DataConfig(path=str(data), timestamp_column="Date Time", timestamp_format=FORMAT,
                     target=["temp"], features=["pressure"], frequency="1h")
    loaded = load_dataset(cfg, LOOKBACK, HORIZON, 0.2, 0.2)
    # Calendar signals are derived inputs: the model must not ask its caller for them.
    model = BaselineForecaster(kind="persistence", target=("temp",), lookback=LOOKBACK, horizon=HORIZON,
                               data=cfg.model_dump(mode="json"),
                               features={"calendar": ["hour_of_day"]}).fit(loaded.frame)
    assert "hour_of_day_sin" in model.feature_names_
    model.save(root / "model")
    return root / "model"


def _history(mutate: Callable[[pd.DataFrame], pd.DataFrame], name: str = "history.csv"):
    def make(tmp: Path) -> Path:
        return write_frame(tmp / name, mutate(good_frame(40)))
    return make


def _history_raw(data: bytes | str, name: str = "history.csv"):
    def make(tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        return path
    return make


def _history_gz(tmp: Path) -> Path:
    blob = gzip.compress(good_frame(40).to_csv(index=False).encode())
    (tmp / "history.csv.gz").write_bytes(blob[: len(blob) // 2])
    return tmp / "history.csv.gz"


def _history_gap(frame: pd.DataFrame) -> pd.DataFrame:
    # A 10-hour hole (longer than max_gap) 5 rows before the end: only 5 usable rows at the end.
    return pd.concat([frame.iloc[:25], frame.iloc[35:]])


FORECAST_CASES = {
    # id: (make(tmp) -> data path, extra argv, exit code, words)
    "data file missing": (lambda tmp: tmp / "nope.csv", [], 3, ["nope.csv", "not found"]),
    "data file is a directory": (lambda tmp: (tmp / "d.csv").mkdir() or tmp / "d.csv", [], 3,
                                 ["d.csv", "directory"]),
    "empty data file": (_history_raw(""), [], 3, ["history.csv", "empty"]),
    "input column missing": (_history(lambda f: f.drop(columns="pressure")), [], 3,
                             ["history.csv", "'pressure'", "input columns ['Date Time', 'temp', 'pressure']"]),
    "timestamp column missing": (_history(lambda f: f.rename(columns={"Date Time": "date"})), [], 3,
                                 ["history.csv", "'Date Time'", "input columns"]),
    "too short a history": (_history(lambda f: f.iloc[:5]), [], 3,
                            ["history.csv", f"needs the last {LOOKBACK} rows", "found 5"]),
    "too short after a gap": (_history(_history_gap), [], 3,
                              ["history.csv", f"needs the last {LOOKBACK} rows", "found 5"]),
    "bad timestamp": (_history(lambda f: _set(f, 4, "Date Time", "2024-13-45")), [], 3,
                      ["history.csv", "'Date Time'", "row 4", "'2024-13-45'"]),
    "text in an input": (_history(lambda f: _set(f, 6, "pressure", "high")), [], 3,
                         ["history.csv", "'pressure'", "row 6", "'high'", "input columns"]),
    "year 2300": (_history(lambda f: _set(f, 2, "Date Time", "01.01.2300 00:00:00")), [], 3,
                  ["history.csv", "row 2", "2300-01-01"]),
    "huge value": (_history(lambda f: _set(f, 3, "temp", 1e308)), [], 3, ["history.csv", "'temp'", "row 3"]),
    "truncated gzip": (_history_gz, [], 3, ["history.csv.gz", "truncated or corrupt"]),
    "cut last line": (_history_raw(good_frame(40).to_csv(index=False).rstrip("\n")[:-9]), [], 3,
                      ["history.csv", "last line", "data row 40"]),
    "horizon beyond the model's": (_history(lambda f: f), ["--horizon", "9"], 2,
                                   ["--horizon", f"model's horizon ({HORIZON})", "horizon=9"]),
}


@pytest.mark.parametrize("case", list(FORECAST_CASES))
def test_bad_forecast_input(case, saved_model, workdir, capsys, monkeypatch):
    import forecaster.estimator as estimator

    make, extra, expected, words = FORECAST_CASES[case]
    loads = []
    real_load = estimator.load_forecaster
    monkeypatch.setattr(estimator, "load_forecaster", lambda d: loads.append(d) or real_load(d))
    data = make(workdir)
    code = main(["forecast", "--model", str(saved_model), "--data", str(data),
                 "--output", str(workdir / "out" / "f.csv"), "--plot", str(workdir / "out" / "f.png"), *extra])
    err = one_clear_message(capsys.readouterr().err)
    assert code == expected, err
    for word in words:
        assert word in err, (word, err)
    error_line = next(line for line in err.splitlines() if " ERROR " in line)
    assert not PIPELINE_KEY.search(error_line.split(": ", 1)[1]), "forecast messages name the model's inputs, not pipeline keys"
    assert loads == [], "the data file is checked before the model is loaded"
    assert_nothing_written(workdir)


@pytest.mark.parametrize("reference, words", [
    ("no-such-model", ["--model 'no-such-model'", "no such directory"]),
    ("empty-dir", ["--model", "empty-dir", "not a saved forecaster"]),
])
def test_bad_model_reference(reference, words, workdir, capsys):
    (workdir / "empty-dir").mkdir()
    write_frame(workdir / "history.csv", good_frame(40))
    code = main(["forecast", "--model", reference, "--data", "history.csv", "--output", "out/f.csv"])
    err = one_clear_message(capsys.readouterr().err)
    assert code == 2, err
    for word in words:
        assert word in err, (word, err)
    assert_nothing_written(workdir)


def test_good_forecast_input_still_forecasts(saved_model, workdir, capsys):
    write_frame(workdir / "history.csv", good_frame(40))
    assert main(["forecast", "--model", str(saved_model), "--data", "history.csv", "--output", "out/f.csv"]) == 0
    assert len(pd.read_csv(workdir / "out" / "f.csv")) == HORIZON


# A served model (the pyfunc model calls ``forecast`` on the request's DataFrame).
SERVED_CASES = {
    "input column missing": (lambda f: f.drop(columns="pressure"),
                             ["model input", "'pressure'", "input columns ['Date Time', 'temp', 'pressure']"]),
    "timestamp column missing": (lambda f: f.drop(columns="Date Time"),
                                 ["model input", "'Date Time'", "input columns"]),
    "too short": (lambda f: f.iloc[:3], ["model input", f"needs the last {LOOKBACK} rows", "found 3"]),
    "bad timestamp": (lambda f: _set(f, 2, "Date Time", "yesterday"),
                      ["model input", "row 2", "'yesterday'", "format the model was trained on"]),
    "text value": (lambda f: _set(f, 7, "temp", "warm"), ["model input", "'temp'", "row 7", "'warm'"]),
    "no rows": (lambda f: f.iloc[:0], ["model input", "no rows", "recent history"]),
    "repeated timestamp": (lambda f: pd.concat([f.iloc[:3], f.iloc[[2]].assign(temp=50.0), f.iloc[3:]]),
                           ["model input", "appears twice", "rows 3 and 4", "one row per timestamp"]),
    "infinite value": (lambda f: _set(f, 5, "pressure", np.inf), ["model input", "'pressure'", "row 5"]),
}


@pytest.mark.parametrize("case", list(SERVED_CASES))
def test_served_model_speaks_of_its_inputs(case, saved_model):
    from forecaster.estimator import load_forecaster

    mutate, words = SERVED_CASES[case]
    model = load_forecaster(saved_model)
    with pytest.raises(DataValidationError) as info:
        model.forecast(mutate(good_frame(40)))
    message = str(info.value)
    assert info.value.exit_code == 3 and "\n" not in message
    for word in words:
        assert word in message, (word, message)
    assert not PIPELINE_KEY.search(message), "a served model's caller knows its inputs, not pipeline keys"


# ----------------------------------------------------------------------------- warnings, not errors
def test_undeclared_sentinel_is_warned_about_naming_column_and_value(workdir, capsys):
    frame = good_frame()
    for row in (10, 40, 70, 100):
        frame = _set(frame, row, "pressure", -9999)
    write_frame(workdir / "data.csv", frame)
    write_yaml(workdir / "p.yaml", pipeline(workdir))
    assert main(["data", "check", "p.yaml"]) == 0
    err = capsys.readouterr().err
    assert "column 'pressure' holds -9999.0 in 4 rows (first at data row 10)" in err, err
    assert "data.missing_values" in err and "missing_values: [-9999]" in err

    # Declared, it is a missing value and the warning is gone.
    write_yaml(workdir / "p.yaml", pipeline(workdir, data={"missing_values": [-9999]}))
    assert main(["data", "check", "p.yaml"]) == 0
    assert "-9999" not in capsys.readouterr().err


def test_values_far_outside_the_training_range_are_flagged(workdir, capsys):
    frame = _set(good_frame(), 110, "temp", 500.0)  # in the test rows
    write_frame(workdir / "data.csv", frame)
    write_yaml(workdir / "p.yaml", pipeline(workdir))
    assert main(["data", "check", "p.yaml"]) == 0
    captured = capsys.readouterr()
    flag = "column 'temp' has 1 value(s) after the training rows far outside the training range"
    assert flag in captured.out and "500 at 2024-01-05 13:00:00" in captured.out, captured.out
    assert flag in captured.err and " WARNING " in captured.err  # what `run` logs too
    assert "data.valid_range" in captured.out

    # A value within reach of the training range is not flagged.
    write_frame(workdir / "data.csv", _set(good_frame(), 110, "temp", 18.0))
    assert main(["data", "check", "p.yaml"]) == 0
    assert "far outside" not in capsys.readouterr().out


# ----------------------------------------------------------------------------- end to end
def _subprocess(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("FORECASTER_STATE_DIR", "MLFLOW_TRACKING_URI")}
    env["FORECASTER_STATE_DIR"] = str(cwd / "state")
    return subprocess.run([sys.executable, "-m", "forecaster", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("case, command, expected, words", [
    ("truncated gzip", "run", 3, ["data.csv.gz", "truncated or corrupt"]),
    ("year 2300", "data check", 3, ["row 9", "2300-01-01"]),
    ("models empty", "run", 2, ["models", "at least one model"]),
])
def test_no_traceback_end_to_end(case, command, expected, words, tmp_path):
    if case in DATA_CASES:
        write_frame(tmp_path / "data.csv", good_frame())
        content = pipeline(tmp_path, **DATA_CASES[case][0](tmp_path))
    else:
        write_frame(tmp_path / "data.csv", good_frame())
        content = PIPELINE_CASES[case][0](tmp_path)
    write_yaml(tmp_path / "p.yaml", content)
    done = _subprocess(*command.split(), "p.yaml", cwd=tmp_path)
    assert done.returncode == expected, done.stderr
    one_clear_message(done.stderr)
    for word in words:
        assert word in done.stderr, (word, done.stderr)
    assert done.stdout == ""
    assert_nothing_written(tmp_path)


def test_forecast_short_history_end_to_end(saved_model, tmp_path):
    write_frame(tmp_path / "history.csv", good_frame(5))
    done = _subprocess("forecast", "--model", str(saved_model), "--data", "history.csv",
                       "--output", "out/f.csv", cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    one_clear_message(done.stderr)
    assert f"needs the last {LOOKBACK} rows (its lookback) without a long gap; found 5" in done.stderr
    assert_nothing_written(tmp_path)


# ----------------------------------------------------------------------------- a bare data file
BARE_CASES = {
    # id: (make(tmp) -> data file, options, exit code, words)
    "truncated gzip": (lambda tmp: Path(_truncated_gz(tmp)["data"]["path"]), [], 3,
                       ["data.csv.gz", "truncated or corrupt"]),
    "year 2300": (lambda tmp: write_frame(tmp / "d.csv", _set(good_frame(), 9, "Date Time", "01.01.2300 00:00:00")),
                  ["--timestamp-format", FORMAT], 3, ["d.csv", "row 9", "2300-01-01"]),
    "huge value": (lambda tmp: write_frame(tmp / "d.csv", _set(good_frame(), 4, "pressure", 1e308)), [], 3,
                   ["d.csv", "'pressure'", "row 4", "1e+308"]),
    "cut last line": (lambda tmp: _cut_last_line(tmp) or tmp / "data.csv", [], 3, ["data.csv", "last line"]),
    "bad --frequency": (lambda tmp: write_frame(tmp / "d.csv", good_frame()), ["--frequency", "fortnightly"], 2,
                        ["--frequency", "offset alias", "'fortnightly'"]),
    "bad --separator": (lambda tmp: write_frame(tmp / "d.csv", good_frame()), ["--separator", ";;"], 2,
                        ["--separator", "';;'"]),
    "bad --timestamp-format": (lambda tmp: write_frame(tmp / "d.csv", good_frame()),
                               ["--timestamp-format", "%d.%Q.%Y"], 2, ["--timestamp-format", "'%d.%Q.%Y'"]),
}


@pytest.mark.parametrize("case", list(BARE_CASES))
def test_bad_bare_data_file(case, workdir, capsys):
    make, options, expected, words = BARE_CASES[case]
    path = make(workdir)
    tf_untouched = _tf_guard()
    code = main(["data", "check", str(path), *options])
    err = one_clear_message(capsys.readouterr().err)
    assert code == expected, err
    for word in words:
        assert word in err, (word, err)
    assert tf_untouched()
