"""The pipeline-file schema: the documented example is accepted as written; errors name key and value."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from forecaster.config import PipelineConfig, apply_overrides, load_config
from forecaster.errors import ConfigError

ISSUE_EXAMPLE = textwrap.dedent(
    """
    name: jena-temperature
    data:
      path: data/temperature.csv
      timestamp_column: "Date Time"
      timestamp_format: "%d.%m.%Y %H:%M:%S"   # optional; inferred when absent
      series_column: null                     # e.g. Ticker for several stocks
      target: ["T (degC)"]
      features: all                           # or a list of columns
      missing_values: [-9999]
      frequency: 1h                           # pandas offset alias; B for trading days
      aggregate: mean                         # how to resample: mean | last | sum
      max_gap: 3                              # steps interpolated; longer gaps split segments
    features:
      calendar: [hour_of_day, day_of_year]    # sin/cos signals
      log_returns: []                         # price columns turned into log returns
    window: {lookback: 120, horizon: 24, stride: 1}
    split: {val: 0.25, test: 0.25}
    models:
      - {cell: lstm, layers: 1, units: 32}
      - {cell: gru, layers: 2, units: 32, dropout: 0.1}
      - {cell: rnn, layers: 1, units: 32, bidirectional: true}
    clipping: [none, {clipnorm: 1.0}, {clipvalue: 0.5}]
    training: {epochs: 20, batch_size: 256, learning_rate: 0.001, patience: 3, seed: 42, loss: mse}
    baselines: [persistence, seasonal_naive, linear]
    evaluation: {interval_level: 0.9, backtest_folds: 0}
    tracking: {experiment: jena-temperature, registered_model: jena-temperature}
    output: {forecast_path: forecasts/jena-temperature.csv, plot_path: forecasts/jena-temperature.png}
    """
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    return path


def test_issue_example_is_accepted_as_written(tmp_path):
    cfg = load_config(write(tmp_path, ISSUE_EXAMPLE))
    assert cfg.data.target == ["T (degC)"]
    assert cfg.data.missing_values == [-9999]
    assert [c.label for c in cfg.clipping] == ["none", "clipnorm=1", "clipvalue=0.5"]
    assert [m.cell for m in cfg.models] == ["lstm", "gru", "rnn"]
    assert cfg.models[2].bidirectional is True
    assert cfg.window.lookback == 120 and cfg.window.horizon == 24
    assert cfg.experiment_name == "jena-temperature"


def test_other_dataset_with_only_path_and_columns_changed(tmp_path):
    text = (ISSUE_EXAMPLE.replace("data/temperature.csv", "other.csv")
            .replace('"Date Time"', "date").replace('["T (degC)"]', "[temp]"))
    assert load_config(write(tmp_path, text)).data.path == "other.csv"


def test_bundled_pipelines_validate():
    root = Path(__file__).resolve().parents[2] / "pipelines"
    names = {p.name: load_config(p).name for p in root.glob("*.yaml")}
    assert {"temperature.yaml", "stocks.yaml", "smoke.yaml"} <= set(names)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("max_gap: 3", "max_gap: 3\n  colour: red"), ["data.colour", "unknown key", "'red'"]),
        (("lookback: 120", "lookback: -1"), ["window.lookback", "-1"]),
        (("lookback: 120", "lookback: many"), ["window.lookback", "'many'"]),
        (("cell: lstm", "cell: transformer"), ["models.0.cell", "'transformer'"]),
        (("{clipnorm: 1.0}", "{clipnorm: -1.0}"), ["clipping.1", "threshold > 0", "-1.0"]),
        (("val: 0.25, test: 0.25", "val: 0.6, test: 0.5"), ["split", "val + test must be below 1"]),
        (("aggregate: mean", "aggregate: median"), ["data.aggregate", "'median'"]),
        (("interval_level: 0.9,", "interval_level: 0.9, interval_scale: relative,"),
         ["evaluation.interval_scale", "'relative'"]),
        (("interval_level: 0.9,", "interval_level: 0.9, calibration_window: 5,"),
         ["evaluation.calibration_window", "5"]),
        (("seed: 42,", "seed: 42, ensemble: 0,"), ["training.ensemble", "greater than or equal to 1", "0"]),
        (("seed: 42,", "seed: 42, ensemble: true,"), ["training.ensemble", "True"]),
        (("seed: 42,", "seed: 42, ensemble: 2.5,"), ["training.ensemble", "2.5"]),
        (("seed: 42,", "seed: 42, ensemble: '3',"), ["training.ensemble", "'3'"]),
    ],
)
def test_errors_name_the_key_path_and_the_value(tmp_path, change, expected):
    old, new = change
    assert old in ISSUE_EXAMPLE
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, ISSUE_EXAMPLE.replace(old, new, 1)))
    message = str(info.value)
    assert "pipeline.yaml" in message
    for part in expected:
        assert part in message, message


def test_missing_and_non_yaml_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not a valid YAML"):
        load_config(write(tmp_path, "name: [unclosed"))
    with pytest.raises(ConfigError, match="mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))


def test_overrides_apply_and_validate(tmp_path):
    path = write(tmp_path, ISSUE_EXAMPLE)
    cfg = load_config(path, ["training.epochs=2", "window.lookback=48", "models.1.units=8", "data.target=x"])
    assert cfg.training.epochs == 2 and cfg.window.lookback == 48
    assert cfg.models[1].units == 8 and cfg.data.target == ["x"]
    with pytest.raises(ConfigError, match="training.epochs"):
        load_config(path, ["training.epochs=zero"])
    assert load_config(path).training.ensemble == 1  # the default: one network per candidate
    assert load_config(path, ["training.ensemble=3"]).training.ensemble == 3
    with pytest.raises(ConfigError, match=r"training.ensemble.*received 1.5"):
        load_config(path, ["training.ensemble=1.5"])
    with pytest.raises(ConfigError, match="key.path=value"):
        apply_overrides({}, ["no-equals-sign"])


def test_config_hash_ignores_key_order():
    a = PipelineConfig.model_validate({"name": "x", "data": {"path": "p", "target": "t"},
                                       "window": {"lookback": 3, "horizon": 1}})
    b = PipelineConfig.model_validate({"window": {"horizon": 1, "lookback": 3},
                                       "data": {"target": ["t"], "path": "p"}, "name": "x"})
    assert a.sha256() == b.sha256()
    c = PipelineConfig.model_validate({**a.model_dump(), "window": {"lookback": 4, "horizon": 1}})
    assert c.sha256() != a.sha256()


# ----------------------------------------------------------------------------- split by row counts
def test_split_by_row_counts_is_accepted(tmp_path):
    text = ISSUE_EXAMPLE.replace("split: {val: 0.25, test: 0.25}",
                                 "split: {train_rows: 8640, val_rows: 2880, test_rows: 2880}")
    split = load_config(write(tmp_path, text)).split
    assert (split.train_rows, split.val_rows, split.test_rows, split.by_rows) == (8640, 2880, 2880, True)
    latest = load_config(write(tmp_path, ISSUE_EXAMPLE.replace("split: {val: 0.25, test: 0.25}",
                                                               "split: {val_rows: 48, test_rows: 0}"))).split
    assert (latest.train_rows, latest.val_rows, latest.test_rows) == (None, 48, 0)
    # the fractions' defaults do not count as given: overrides of the rows alone are valid
    no_split = ISSUE_EXAMPLE.replace("split: {val: 0.25, test: 0.25}\n", "")
    cfg = load_config(write(tmp_path, no_split), ["split.val_rows=24", "split.test_rows=24"])
    assert cfg.split.by_rows and not load_config(write(tmp_path, no_split)).split.by_rows


@pytest.mark.parametrize(
    ("split", "expected"),
    [
        ("{val: 0.2, val_rows: 100, test_rows: 50}",
         ["split", "cannot be combined", "split.val=0.2", "split.val_rows=100", "split.test_rows=50"]),
        ("{test: 0.1, train_rows: 500, val_rows: 100, test_rows: 50}", ["cannot be combined", "split.test=0.1"]),
        ("{val_rows: 100}", ["split.val_rows and split.test_rows", "split.val_rows=100"]),
        ("{train_rows: 500, test_rows: 50}", ["split.val_rows and split.test_rows", "split.train_rows=500"]),
        ("{val_rows: 100, test_rows: -1}", ["split.test_rows", "greater than or equal to 0", "-1"]),
        ("{val_rows: 0, test_rows: 50}", ["split.val_rows", "greater than or equal to 1", "received 0"]),
        ("{val_rows: true, test_rows: 50}", ["split.val_rows", "valid integer", "True"]),
        ("{val_rows: 100.5, test_rows: 50}", ["split.val_rows", "valid integer", "100.5"]),
        ("{val_rows: '100', test_rows: 50}", ["split.val_rows", "valid integer", "'100'"]),
        ("{val_rows: 100, test_rows: 50, last_rows: 3}", ["split.last_rows", "unknown key"]),
        ("{val_rows: 10, test_rows: 50}", ["split.val_rows=10", "window.horizon = 24"]),
        ("{val_rows: 100, test_rows: 5}", ["split.test_rows=5", "window.horizon = 24"]),
        ("{train_rows: 100, val_rows: 100, test_rows: 50}",
         ["split.train_rows=100", "window.lookback + window.horizon = 144"]),
    ],
)
def test_split_row_count_errors_name_the_keys_and_values(tmp_path, split, expected):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, ISSUE_EXAMPLE.replace("{val: 0.25, test: 0.25}", split)))
    message = str(info.value)
    for part in expected:
        assert part in message, message


@pytest.mark.parametrize(
    ("features", "change", "expected"),
    [
        ("[hour_of_day, moon]", None, ["features.known_future.1", "'moon'"]),
        ("[day_of_week, hour_of_day, day_of_week]", None, ["features.known_future", "'day_of_week' more than once"]),
        ("[hour_of_day]", ("lookback: 120", "lookback: 12"), ["features.known_future", "window.horizon <= window.lookback"]),
    ],
)
def test_known_future_errors_name_the_key_and_the_value(tmp_path, features, change, expected):
    text = ISSUE_EXAMPLE.replace("calendar: [hour_of_day, day_of_year]",
                                 f"calendar: [hour_of_day, day_of_year]\n  known_future: {features}", 1)
    if change:
        text = text.replace(*change, 1)
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert info.value.exit_code == 2
    for part in expected:
        assert part in str(info.value), str(info.value)


def test_known_future_defaults_to_none_and_takes_any_subset(tmp_path):
    assert load_config(write(tmp_path, ISSUE_EXAMPLE)).features.known_future == []
    cfg = load_config(write(tmp_path, ISSUE_EXAMPLE), ["features.known_future=[day_of_year, hour_of_day]"])
    assert cfg.features.known_future == ["day_of_year", "hour_of_day"]


def test_no_known_future_keeps_the_config_hash_of_before(tmp_path):
    """Left out of the dump when empty: a pipeline file without it hashes as before (no forced rerun)."""
    cfg = load_config(write(tmp_path, ISSUE_EXAMPLE))
    assert "known_future" not in cfg.model_dump(mode="json")["features"]
    assert cfg.sha256() == load_config(write(tmp_path, ISSUE_EXAMPLE), ["features.known_future=[]"]).sha256()
    with_key = load_config(write(tmp_path, ISSUE_EXAMPLE), ["features.known_future=[hour_of_day]"])
    assert with_key.sha256() != cfg.sha256()
    assert PipelineConfig.model_validate(with_key.model_dump()).features.known_future == ["hour_of_day"]


@pytest.mark.parametrize("value, expected", [
    ("cosine", ["training.horizon_weights", "'cosine'"]),
    ("[1, 2, 3]", ["training.horizon_weights", "horizon=24 but 3 weight(s) given", "[1.0, 2.0, 3.0]"]),
    ("[" + ", ".join(["1"] * 23 + ["-1"]) + "]", ["training.horizon_weights", "finite number > 0"]),
])
def test_horizon_weights_errors_name_the_key_and_the_value(tmp_path, value, expected):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, ISSUE_EXAMPLE), [f"training.horizon_weights={value}"])
    assert info.value.exit_code == 2
    for part in expected:
        assert part in str(info.value), str(info.value)


def test_a_rule_across_sections_names_its_keys_without_echoing_the_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, ISSUE_EXAMPLE), ["training.horizon_weights=[1, 2]"])
    message = str(info.value)
    assert "window.horizon=24" in message and "[1.0, 2.0]" in message, message
    assert "Value error" not in message and "{'name'" not in message and "received {" not in message, message


def test_horizon_weights_take_a_name_or_one_weight_per_step(tmp_path):
    assert load_config(write(tmp_path, ISSUE_EXAMPLE)).training.horizon_weights == "uniform"
    assert load_config(write(tmp_path, ISSUE_EXAMPLE), ["training.horizon_weights=linear"]).training.horizon_weights == "linear"
    listed = load_config(write(tmp_path, ISSUE_EXAMPLE), ["training.horizon_weights=[" + ", ".join(["2"] * 24) + "]"])
    assert listed.training.horizon_weights == [2.0] * 24
