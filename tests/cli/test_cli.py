"""The command line through ``python -m forecaster`` in a temporary directory: parsing, help,
exit codes, error messages, JSON logs, the lock, data check and forecast."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from forecaster.cli import build_parser, infer_data_config
from forecaster.scheduling.lock import PipelineLock

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120):
    # Not the tracking store a test of this session pointed MLflow at (mlflow.set_tracking_uri exports it).
    full_env = {k: v for k, v in os.environ.items() if k not in ("FORECASTER_STATE_DIR", "MLFLOW_TRACKING_URI")}
    full_env["FORECASTER_STATE_DIR"] = str(Path(cwd) / ".forecaster")  # never the user's own state dir
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "forecaster", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def write_csv(path: Path, n: int = 200, drop=(50, 51, 120)) -> Path:
    """Hourly data with day-first timestamps and a 2-step gap."""
    ts = pd.date_range("2024-01-01", periods=n, freq="h")
    frame = pd.DataFrame({"Date Time": ts.strftime("%d.%m.%Y %H:%M:%S"),
                          "temp": np.round(np.sin(np.arange(n) / 5), 4),
                          "pressure": np.arange(n, dtype=float)})
    frame.drop(index=[i for i in drop if i < n]).to_csv(path, index=False)
    return path


def pipeline_dict(data_path: str = "data.csv") -> dict:
    return {
        "name": "tiny",
        "data": {"path": data_path, "timestamp_column": "Date Time",
                 "timestamp_format": "%d.%m.%Y %H:%M:%S", "target": ["temp"], "frequency": "1h"},
        "window": {"lookback": 12, "horizon": 3},
        "models": [{"cell": "gru", "units": 4}],
        "training": {"epochs": 1},
    }


def write_pipeline(path: Path, content: dict) -> Path:
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    return path


# ---------------------------------------------------------------------------- parsing
def test_parse_each_command():
    parser = build_parser()
    run = parser.parse_args(["run", "p.yaml", "--set", "training.epochs=2", "--set", "window.horizon=3",
                             "--force", "--jobs", "2", "--quiet"])
    assert (run.command, run.pipeline, run.overrides, run.force, run.jobs, run.quiet) == (
        "run", "p.yaml", ["training.epochs=2", "window.horizon=3"], True, 2, True)
    fc = parser.parse_args(["--log-format", "json", "forecast", "--model", "models:/m@champion",
                            "--data", "d.csv", "--horizon", "5", "--output", "o.csv", "--plot", "o.png"])
    assert (fc.model, fc.data, fc.horizon, fc.output, fc.plot, fc.log_format) == (
        "models:/m@champion", "d.csv", 5, "o.csv", "o.png", "json")
    bt = parser.parse_args(["backtest", "p.yaml", "--folds", "4", "--output", "b.csv"])
    assert (bt.pipeline, bt.folds, bt.output) == ("p.yaml", 4, "b.csv")
    dc = parser.parse_args(["data", "check", "d.csv", "--target", "a", "--target", "b",
                            "--series-column", "Ticker", "--frequency", "B", "-v"])
    assert (dc.source, dc.target, dc.series_column, dc.frequency, dc.verbose) == (
        "d.csv", ["a", "b"], "Ticker", "B", 1)
    ui = parser.parse_args(["ui", "--port", "5001"])
    assert (ui.host, ui.port, ui.quiet, ui.log_format) == ("127.0.0.1", 5001, False, "text")
    assert (ui.pipeline, ui.open, ui.tracking_uri, fc.precision, fc.pipeline) == (None, False, None, 6, None)
    # the global --tracking-uri before or after the command
    for argv in (["--tracking-uri", "sqlite:///x.db", "ui", "--pipeline", "p.yaml", "--open"],
                 ["ui", "--pipeline", "p.yaml", "--open", "--tracking-uri", "sqlite:///x.db"]):
        ui = parser.parse_args(argv)
        assert (ui.tracking_uri, ui.pipeline, ui.open) == ("sqlite:///x.db", "p.yaml", True)
    fc = parser.parse_args(["forecast", "--pipeline", "p.yaml", "--output", "-", "--precision", "3"])
    assert (fc.pipeline, fc.model, fc.data, fc.output, fc.precision) == ("p.yaml", None, None, "-", 3)


def test_global_tracking_uri_wins_over_the_pipeline_file(tmp_path):
    from forecaster.cli.commands import _load_config

    content = pipeline_dict()
    content["tracking"] = {"tracking_uri": "sqlite:///from-file.db"}
    path = write_pipeline(tmp_path / "p.yaml", content)
    assert _load_config(str(path), []).tracking.tracking_uri == "sqlite:///from-file.db"
    uri = "sqlite:////tmp/x y/o'brien.db"
    assert _load_config(str(path), ["training.epochs=2"], uri).tracking.tracking_uri == uri


@pytest.mark.parametrize("argv", [
    ["run", "p.yaml", "--jobs", "0"],
    ["forecast", "--model", "m", "--data", "d.csv", "--output", "o.csv", "--horizon", "0"],
    ["forecast", "--model", "m", "--data", "d.csv", "--output", "o.csv", "--precision", "0"],
    ["ui", "--port", "70000"],
    ["data"],
    ["--log-format", "xml", "run", "p.yaml"],
])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], ["run"], ["forecast"], ["backtest"], ["data"],
                                     ["data", "check"], ["ui"]])
def test_help_of_every_command_exits_0(command, tmp_path):
    done = cli(*command, "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: forecaster")
    if command in ([], ["run"]):
        assert "exit codes:" in done.stdout and "5    another run of the same pipeline" in done.stdout


def test_version_and_help_are_fast(tmp_path):
    start = time.perf_counter()
    done = cli("--version", cwd=tmp_path)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0 and done.stdout.strip().startswith("forecaster ")
    assert elapsed < 5  # about 0.1 s: no TensorFlow, MLflow or pandas import
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; from forecaster.cli import build_parser; build_parser();"
         "print(sorted(m for m in ('tensorflow', 'mlflow', 'pandas', 'keras') if m in sys.modules))"],
        capture_output=True, text=True, cwd=tmp_path, check=True)
    assert probe.stdout.strip() == "[]"


# ---------------------------------------------------------------------------- pipeline-file errors
def test_bad_pipeline_file_exits_2_naming_key_and_value(tmp_path):
    content = pipeline_dict()
    content["window"]["lookback"] = -1
    content["data"]["colour"] = "blue"
    write_pipeline(tmp_path / "bad.yaml", content)
    done = cli("run", "bad.yaml", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "window.lookback" in done.stderr and "received -1" in done.stderr
    assert "data.colour: unknown key" in done.stderr and "'blue'" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_pipeline_file_exits_2(tmp_path):
    done = cli("run", "nope.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert "nope.yaml: pipeline file not found" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_set_override_exits_2(tmp_path):
    write_pipeline(tmp_path / "p.yaml", pipeline_dict())
    done = cli("run", "p.yaml", "--set", "training.epochs=zero", cwd=tmp_path)
    assert done.returncode == 2
    assert "training.epochs" in done.stderr and "'zero'" in done.stderr


# ---------------------------------------------------------------------------- lock and errors
def test_concurrent_run_exits_5_before_loading_data(tmp_path):
    # data.csv does not exist: exit 5 (not 3) proves the lock is taken before any data is read.
    write_pipeline(tmp_path / "p.yaml", pipeline_dict("data.csv"))
    state_dir = tmp_path / "state"
    with PipelineLock("tiny", state_dir, store=f"sqlite:///{tmp_path.resolve()}/mlflow.db"):
        start = time.perf_counter()
        done = cli("run", "p.yaml", cwd=tmp_path, env={"FORECASTER_STATE_DIR": str(state_dir)})
        elapsed = time.perf_counter() - start
    assert done.returncode == 5, done.stderr
    assert "'tiny' is already running" in done.stderr and f"pid {os.getpid()}" in done.stderr
    assert "Traceback" not in done.stderr
    assert elapsed < 10


def test_a_rule_of_the_file_on_the_data_fails_before_anything_is_written(tmp_path):
    # evaluation.season 100000 on daily data with lookback 28: exit 2 before the store or the lock exist
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "seattle_weather.csv").write_bytes((REPO / "data" / "seattle_weather.csv").read_bytes())
    (tmp_path / "smoke.yaml").write_text((REPO / "pipelines" / "smoke.yaml").read_text())
    done = cli("run", "smoke.yaml", "--set", "evaluation.season=100000", cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "window.lookback" in done.stderr and "100000" in done.stderr and "evaluation.season" in done.stderr
    assert "Traceback" not in done.stderr
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
                     if p.name not in ("data", "seattle_weather.csv", "smoke.yaml"))
    assert written == []  # no mlflow.db, no mlflow.db.lock, no state directory, no lock file


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_tracking_server_fails_in_seconds_naming_the_key(tmp_path):
    write_csv(tmp_path / "data.csv")
    uri = f"http://127.0.0.1:{_closed_port()}"
    write_pipeline(tmp_path / "p.yaml", {**pipeline_dict(), "tracking": {"tracking_uri": uri}})
    start = time.perf_counter()
    done = cli("run", "p.yaml", cwd=tmp_path)  # the default wait: 5 s
    elapsed = time.perf_counter() - start
    assert done.returncode == 2, done.stderr[-3000:]
    assert elapsed < 20
    assert "tracking.tracking_uri: the MLflow tracking server did not answer within 5 s" in done.stderr
    assert "FORECASTER_STORE_TIMEOUT=<seconds>" in done.stderr and uri in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / ".forecaster").exists()
    done = cli("run", "p.yaml", cwd=tmp_path, env={"FORECASTER_STORE_TIMEOUT": "1.5"})
    assert done.returncode == 2 and "did not answer within 1.5 s" in done.stderr
    done = cli("run", "p.yaml", cwd=tmp_path, env={"FORECASTER_STORE_TIMEOUT": "soon"})
    assert done.returncode == 2 and "FORECASTER_STORE_TIMEOUT must be a number of seconds > 0" in done.stderr


def test_unexpected_error_exits_1_with_traceback(tmp_path):
    # a valid pipeline on valid data: the run gets as far as taking its lock (its rules pass first)
    write_pipeline(tmp_path / "p.yaml", {**pipeline_dict(), "baselines": ["persistence"]})
    write_csv(tmp_path / "data.csv")
    blocker = tmp_path / "state-is-a-file"
    blocker.write_text("")
    done = cli("run", "p.yaml", cwd=tmp_path, env={"FORECASTER_STATE_DIR": str(blocker)})
    assert done.returncode == 1
    assert "Unexpected error: " in done.stderr and "Traceback" in done.stderr


def test_json_log_format_emits_json_lines(tmp_path):
    done = cli("--log-format", "json", "data", "check", "missing.csv", cwd=tmp_path)
    assert done.returncode == 3
    records = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert records and all({"ts", "level", "logger", "message"} <= set(r) for r in records)
    assert records[-1]["level"] == "ERROR" and "missing.csv" in records[-1]["message"]


def test_quiet_hides_info(tmp_path):
    write_csv(tmp_path / "data.csv")
    done = cli("data", "check", "data.csv", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert " INFO " not in done.stderr
    assert "data OK" in done.stdout


# ---------------------------------------------------------------------------- data check
def test_data_check_csv_summarises(tmp_path):
    write_csv(tmp_path / "data.csv")
    done = cli("data", "check", "data.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "'Date Time' as the timestamp column (format '%d.%m.%Y %H:%M:%S')" in done.stderr
    out = done.stdout
    assert "data.csv: data OK" in out
    assert "to 'h'" in out and "197 rows in, 200 out" in out and "3 missing steps" in out
    assert "1 segments" in out and "2024-01-01 00:00:00 .. 2024-01-09 07:00:00" in out


def test_data_check_pipeline_file(tmp_path):
    write_csv(tmp_path / "data.csv")
    write_pipeline(tmp_path / "p.yaml", pipeline_dict())
    done = cli("data", "check", "p.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "pipeline 'tiny' (p.yaml): data OK" in done.stdout


def test_data_check_bad_column_exits_3_naming_column(tmp_path):
    path = write_csv(tmp_path / "data.csv")
    frame = pd.read_csv(path, dtype={"temp": object})
    frame.loc[10, "temp"] = "n/a?"
    frame.to_csv(path, index=False)
    done = cli("data", "check", "data.csv", "--target", "temp", cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    assert "'temp'" in done.stderr and "'n/a?'" in done.stderr
    assert "Traceback" not in done.stderr


def test_data_check_unknown_target_exits_3(tmp_path):
    write_csv(tmp_path / "data.csv")
    done = cli("data", "check", "data.csv", "--target", "tmp", cwd=tmp_path)
    assert done.returncode == 3
    assert "'tmp' is not in the data" in done.stderr


def test_data_check_rejects_bare_options_for_pipeline_file(tmp_path):
    write_pipeline(tmp_path / "p.yaml", pipeline_dict())
    done = cli("data", "check", "p.yaml", "--target", "temp", cwd=tmp_path)
    assert done.returncode == 2
    assert "--target applies to a bare data file" in done.stderr


def test_infer_data_config_picks_day_first_and_numeric_targets(tmp_path):
    path = write_csv(tmp_path / "data.csv", n=100)
    cfg = infer_data_config(path)
    assert cfg.timestamp_column == "Date Time"
    assert cfg.timestamp_format == "%d.%m.%Y %H:%M:%S"
    assert cfg.target == ["temp", "pressure"]


# ---------------------------------------------------------------------------- forecast
@pytest.fixture(scope="module")
def saved_baseline(tmp_path_factory):
    from forecaster.config import DataConfig
    from forecaster.data import load_dataset
    from forecaster.estimator import BaselineForecaster

    root = tmp_path_factory.mktemp("model")
    data = write_csv(root / "data.csv")
    cfg = DataConfig(path=str(data), timestamp_column="Date Time",
                     timestamp_format="%d.%m.%Y %H:%M:%S", target=["temp"], frequency="1h")
    loaded = load_dataset(cfg, 12, 4, 0.25, 0.25)
    model = BaselineForecaster(kind="persistence", target=("temp",), lookback=12, horizon=4,
                               data=cfg.model_dump(mode="json")).fit(loaded.frame)
    model.save(root / "model")
    return root / "model", data


def test_forecast_from_saved_model_writes_csv_and_plot(tmp_path, saved_baseline):
    model_dir, data = saved_baseline
    done = cli("forecast", "--model", str(model_dir), "--data", str(data), "--horizon", "3",
               "--output", "out/f.csv", "--plot", "out/f.png", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    forecast = pd.read_csv(tmp_path / "out" / "f.csv")
    assert forecast.columns.tolist() == ["series_id", "timestamp", "step", "forecast", "lower", "upper"]
    assert forecast["step"].tolist() == [1, 2, 3]
    assert forecast["timestamp"].iloc[0] == "2024-01-09 08:00:00"
    assert (forecast["lower"] <= forecast["forecast"]).all() and (forecast["forecast"] <= forecast["upper"]).all()
    assert (tmp_path / "out" / "f.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["f.csv", "f.png"]


def test_forecast_horizon_beyond_model_exits_2(tmp_path, saved_baseline):
    model_dir, data = saved_baseline
    done = cli("forecast", "--model", str(model_dir), "--data", str(data), "--horizon", "9",
               "--output", "f.csv", cwd=tmp_path)
    assert done.returncode == 2
    assert "--horizon must be between 1 and the model's horizon (4). Received: horizon=9" in done.stderr
    assert not (tmp_path / "f.csv").exists()


def test_forecast_to_stdout_writes_only_the_rounded_csv(tmp_path, saved_baseline):
    model_dir, data = saved_baseline
    done = cli("forecast", "--model", str(model_dir), "--data", str(data), "--output", "-", "--precision", "3",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    forecast = pd.read_csv(io.StringIO(done.stdout))
    assert forecast.columns.tolist() == ["series_id", "timestamp", "step", "forecast", "lower", "upper"]
    assert len(forecast) == 4 and len(done.stdout.splitlines()) == 5
    for token in done.stdout.splitlines()[1].split(",")[3:]:  # forecast, lower, upper: 3 significant digits
        assert len(token.split("e")[0].lstrip("-").replace(".", "").lstrip("0")) <= 3, token
    assert "Wrote 4 forecast rows (1 series) to stdout" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_forecast_without_model_or_pipeline_exits_2(tmp_path):
    done = cli("forecast", "--data", "d.csv", "--output", "f.csv", cwd=tmp_path)
    assert done.returncode == 2
    assert "forecast needs --model (or --pipeline FILE to take them from a pipeline file)" in done.stderr


def test_forecast_missing_model_exits_2(tmp_path):
    done = cli("forecast", "--model", "no-such-model", "--data", "d.csv", "--output", "f.csv",
               cwd=tmp_path)
    assert done.returncode == 2
    assert "--model 'no-such-model': no such directory" in done.stderr


# ---------------------------------------------------------------------------- logging and progress
@pytest.fixture
def restore_root_logger():
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


def test_configure_logging_json_includes_exception(restore_root_logger):
    import io
    import logging

    from forecaster.cli.logsetup import configure_logging

    stream = io.StringIO()
    configure_logging("INFO", fmt="json", stream=stream)
    log = logging.getLogger("forecaster.pipeline")
    log.debug("hidden")
    log.info("stage %s done", "load", extra={"stage": "load"})
    try:
        raise ValueError("bad value")
    except ValueError:
        log.error("failed", exc_info=True)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "stage load done" and first["stage"] == "load"
    assert first["logger"] == "forecaster.pipeline" and first["level"] == "INFO"
    assert first["ts"].endswith("+00:00")
    assert second["level"] == "ERROR" and "ValueError: bad value" in second["exc_info"]


def test_configure_logging_text_format_and_quiet(restore_root_logger):
    import io
    import logging
    import re

    from forecaster.cli.logsetup import configure_logging

    stream = io.StringIO()
    configure_logging("DEBUG", fmt="text", quiet=True, stream=stream)
    logging.getLogger("forecaster.pipeline").info("not shown")
    logging.getLogger("forecaster.pipeline").warning("shown")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d WARNING forecaster.pipeline: shown\n",
                        stream.getvalue())
    with pytest.raises(ValueError, match="`fmt` must be one of"):
        configure_logging("INFO", fmt="xml")


def test_tqdm_progress_draws_stages():
    import io

    from forecaster.cli import TqdmProgress
    from forecaster.comparison.progress import Progress

    stream = io.StringIO()
    progress = TqdmProgress(stream)
    assert isinstance(progress, Progress)
    progress.start("candidates", total=2)
    progress.start("epochs", total=3)
    progress.advance("epochs", 3, val_loss=0.5)
    progress.finish("epochs")
    progress.advance("candidates", name="gru-1x4")
    progress.advance("unknown-stage")  # ignored, never raises
    progress.close()
    text = stream.getvalue()
    assert "epochs:" in text and "candidates:" in text and "1/2" in text and "name=gru-1x4" in text


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_ctrl_c_or_sigterm_stops_the_ui_server_cleanly(tmp_path, signame):
    import re
    import signal

    log = tmp_path / "ui.log"
    with open(log, "w") as err:
        # Default SIGINT in the child even when pytest itself runs with SIGINT ignored (a background
        # job of a non-interactive shell), which the child would inherit: Ctrl-C is what we test.
        child = subprocess.Popen([sys.executable, "-m", "forecaster", "ui", "--port",
                                  "5987" if signame == "SIGINT" else "5988"],
                                 cwd=tmp_path, stderr=err,
                                 preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    ui_pid = None
    try:
        deadline = time.monotonic() + 60
        while ui_pid is None and time.monotonic() < deadline:
            found = re.search(r"Started the MLflow UI .*\(pid (\d+);", log.read_text())
            ui_pid = int(found.group(1)) if found else None
            time.sleep(0.1)
        assert ui_pid is not None, log.read_text()
        time.sleep(1)  # let the server start its workers
        child.send_signal(getattr(signal, signame))
        try:
            code = child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`forecaster ui` did not exit within 60 s of {signame}; its log:\n" + log.read_text())
        text = log.read_text()
        assert code == 0, text
        assert "Stopped the MLflow UI" in text
        assert "ERROR" not in text and "Traceback" not in text
        with pytest.raises(ProcessLookupError):  # the server's whole process group is gone
            os.killpg(ui_pid, 0)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if ui_pid is not None:
            try:
                os.killpg(ui_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_cli_turns_mlflow_telemetry_off_unless_told_otherwise(monkeypatch):
    from forecaster.cli.logsetup import quiet_mlflow

    monkeypatch.delenv("MLFLOW_DISABLE_TELEMETRY", raising=False)
    quiet_mlflow()
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "true"
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "false")
    quiet_mlflow()
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "false"


def test_json_logs_turn_what_libraries_print_to_stderr_into_json(restore_root_logger, capsys):
    import logging

    from mlflow.utils.logging_utils import eprint

    from forecaster.cli.logsetup import StderrToLog, configure_logging

    original = sys.stderr
    try:
        configure_logging("INFO", fmt="json")
        assert isinstance(sys.stderr, StderrToLog)
        eprint("Successfully registered model 'smoke'.")  # what MLflow's registry prints
        print("Created version '1' of model 'smoke'.", file=sys.stderr)
        logging.getLogger("forecaster.x").info("a record")
        sys.stderr.flush()
    finally:
        sys.stderr = original
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON
    assert [(r["logger"], r["message"]) for r in records] == [
        ("stderr", "Successfully registered model 'smoke'."),
        ("stderr", "Created version '1' of model 'smoke'."),
        ("forecaster.x", "a record"),
    ]


def test_tensorflow_chatter_is_off_by_default_and_back_with_verbose(monkeypatch):
    import logging

    from forecaster.cli.logsetup import quiet_tensorflow

    for name in ("TF_CPP_MIN_LOG_LEVEL", "ABSL_MIN_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    quiet_tensorflow()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"  # hides E0000 ... use_unbounded_threadpool
    record = logging.LogRecord("tensorflow", logging.WARNING, "", 0,
                               "5 out of the last 5 calls to <function f> triggered tf.function retracing", None, None)
    tf_logger = logging.getLogger("tensorflow")
    assert not all(f.filter(record) for f in tf_logger.filters)
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL")
    quiet_tensorflow(verbose=True)
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"
    monkeypatch.setattr(tf_logger, "level", logging.DEBUG)
    assert all(f.filter(record) for f in tf_logger.filters)
