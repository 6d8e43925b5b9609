"""The ``forecaster`` command line: run pipelines, forecast, backtest, check data, open the UI.

Each command parses its arguments, configures logging, imports the heavy modules it needs
(TensorFlow, MLflow, pandas) only when it runs, and maps errors to documented exit codes:

====  =====================================================================
code  meaning
====  =====================================================================
0     success (also a run skipped because nothing changed)
1     any other error (the traceback is logged)
2     usage error or invalid pipeline file / --set override
3     data validation error
4     quality gate: no candidate beat the baselines
5     another run of the same pipeline holds its lock
130   interrupted (Ctrl-C)
====  =====================================================================

Example
-------
>>> main(["--version"])  # doctest: +SKIP
forecaster 0.1.0
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from forecaster import __version__
from forecaster.errors import ConfigError, DataValidationError, ForecasterError

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_QUALITY_GATE = 4
EXIT_LOCKED = 5
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = """\
exit codes:
  0    success (also a run skipped because its pipeline file, data and code are unchanged)
  1    any other error (the traceback is logged)
  2    usage error, or an invalid pipeline file or --set override
  3    data validation error (missing column, bad timestamp, too few rows, ...)
  4    quality gate: no candidate beat the baselines (the baseline forecast may still be written)
  5    another run of the same pipeline holds its lock
  130  interrupted (Ctrl-C)

environment:
  FORECASTER_STATE_DIR  where locks and run records live (default: ./.forecaster)
  MLFLOW_TRACKING_URI   the MLflow store when the pipeline file sets no tracking.tracking_uri
                        (default: sqlite:///mlflow.db in the working directory)
"""

PIPELINE_SUFFIXES = (".yaml", ".yml")


# ----------------------------------------------------------------------------- progress
class TqdmProgress:
    """Progress bars on stderr (one per active stage, nested in start order).

    Implements :class:`forecaster.progress.Progress`. Used only when stderr is a terminal.
    """

    def __init__(self, stream: Any = None):
        self._stream = stream if stream is not None else sys.stderr
        self._bars: dict[str, Any] = {}

    def start(self, stage: str, total: int | None = None) -> None:
        from tqdm import tqdm

        self.finish(stage)
        self._bars[stage] = tqdm(
            total=total,
            desc=stage,
            file=self._stream,
            position=len(self._bars),
            leave=not self._bars,  # the outermost bar stays; nested ones (epochs) vanish
            dynamic_ncols=True,
        )

    def advance(self, stage: str, n: int = 1, **info: Any) -> None:
        bar = self._bars.get(stage)
        if bar is None:
            return
        if info:
            bar.set_postfix(info, refresh=False)
        bar.update(n)

    def finish(self, stage: str) -> None:
        bar = self._bars.pop(stage, None)
        if bar is not None:
            bar.close()

    def close(self) -> None:
        for stage in list(self._bars)[::-1]:
            self.finish(stage)


def _progress_for(args: argparse.Namespace) -> "TqdmProgress | None":
    """Bars only for a human at a terminal: stderr is a TTY, text logs, not --quiet."""
    if args.quiet or args.log_format != "text" or not _stderr_is_tty():
        return None
    return TqdmProgress()


def _call_with_progress(args: argparse.Namespace, function: Any, *fargs: Any, **kwargs: Any) -> Any:
    """Call ``function(*fargs, **kwargs)``, adding ``progress=`` bars when a person is watching
    (log lines are then printed above the bars instead of through them)."""
    progress = _progress_for(args)
    if progress is None:
        return function(*fargs, **kwargs)
    from tqdm.contrib.logging import logging_redirect_tqdm

    try:
        with logging_redirect_tqdm():
            return function(*fargs, progress=progress, **kwargs)
    finally:
        progress.close()


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


# ----------------------------------------------------------------------------- arguments
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1; received {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1; received {value}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number 1-65535; received {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 1-65535; received {value}")
    return value


class _Formatter(argparse.HelpFormatter):
    """Wraps one-paragraph descriptions; keeps multi-line text (the exit-code table) as written."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    # Added to the top-level parser (with defaults) and to every subcommand (defaults
    # suppressed, so `forecaster run X --quiet` and `forecaster --quiet run X` both work).
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("global options")
    group.add_argument("-q", "--quiet", action="store_true", default=default(False),
                       help="log only warnings and errors (for schedulers)")
    group.add_argument("-v", "--verbose", action="count", default=default(0),
                       help="log debugging detail")
    group.add_argument("--log-format", choices=("text", "json"), default=default("text"),
                       help="'text' for people, 'json' (one object per line) for log collectors "
                       "(default: text)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``forecaster`` command (no heavy imports)."""
    parser = argparse.ArgumentParser(
        prog="forecaster",
        description="Recurrent-network forecasting of time series (temperatures, stock prices), "
        "tracked in MLflow. Run a declarative pipeline on a schedule, or forecast from a "
        "registered model.",
        epilog=EXIT_CODES_HELP,
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"forecaster {__version__}")
    _global_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help_text: str, description: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=description,
                                  epilog=EXIT_CODES_HELP, formatter_class=_Formatter)
        _global_options(sub, suppress=True)
        return sub

    run = add("run", "run a pipeline file end to end",
              "Load and validate the data, train every model x clipping candidate, compare them "
              "with the baselines in MLflow, register and gate the champion, and write the "
              "forecast from the end of the data. A run whose pipeline file, data and code are "
              "unchanged since the last successful run is skipped (exit 0) unless --force. "
              "Only one run per pipeline at a time (exit 5 otherwise).")
    run.add_argument("pipeline", metavar="PIPELINE", help="pipeline file (YAML)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                     help="override one setting of the pipeline file, value read as YAML; "
                     "repeatable (e.g. --set training.epochs=2 --set models.0.units=16)")
    run.add_argument("--force", action="store_true",
                     help="run even if nothing changed since the last successful run")
    run.add_argument("--jobs", type=_positive_int, default=1, metavar="N",
                     help="train candidates in N processes (default: 1)")
    run.set_defaults(handler=_cmd_run)

    fc = add("forecast", "forecast from a saved or registered model",
             "Forecast from the end of a data file with a registered or saved model, and write "
             "a CSV with columns series_id, timestamp, step, forecast, lower, upper (plus target "
             "when the model has several targets) and optionally a plot of recent history, "
             "forecast and interval.")
    fc.add_argument("--model", required=True, metavar="URI",
                    help="models:/NAME@champion, models:/NAME/VERSION, runs:/RUN_ID/PATH, or the "
                    "directory of a saved forecaster")
    fc.add_argument("--data", required=True, metavar="CSV",
                    help="history with the same columns as the training data")
    fc.add_argument("--horizon", type=_positive_int, metavar="H",
                    help="steps to forecast, 1..the model's horizon (default: the model's horizon)")
    fc.add_argument("--output", required=True, metavar="PATH", help="forecast CSV to write")
    fc.add_argument("--plot", metavar="PNG", help="also draw the forecast to this PNG file")
    fc.set_defaults(handler=_cmd_forecast)

    bt = add("backtest", "rolling-origin backtest of a pipeline's models",
             "Evaluate the pipeline's models and baselines over K rolling-origin folds and write "
             "a tidy table (fold, model, step, metric, value); prints the mean by model and metric.")
    bt.add_argument("pipeline", metavar="PIPELINE", help="pipeline file (YAML)")
    bt.add_argument("--folds", type=_positive_int, metavar="K",
                    help="number of folds (default: evaluation.backtest_folds of the pipeline "
                    "file, or 3 when that is 0)")
    bt.add_argument("--output", metavar="CSV", help="write the tidy table to this CSV file")
    bt.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                    help="override one setting of the pipeline file (repeatable)")
    bt.set_defaults(handler=_cmd_backtest)

    data = add("data", "data commands", "Commands about input data.")
    data_commands = data.add_subparsers(dest="data_command", metavar="COMMAND", required=True)
    check = data_commands.add_parser(
        "check", help="validate and summarise a data file or a pipeline's data",
        description="Validate a pipeline's data (PIPELINE.yaml) or a bare CSV/Parquet file, "
        "regularise it to its frequency, and summarise: rows, span, frequency, gaps filled, "
        "segments. For a bare file the timestamp column is the first column that parses as "
        "datetimes and the targets are all numeric columns, unless given.",
        epilog=EXIT_CODES_HELP, formatter_class=_Formatter)
    _global_options(check, suppress=True)
    check.add_argument("source", metavar="PIPELINE|CSV", help="a pipeline file or a data file")
    bare = check.add_argument_group("options for a bare data file")
    bare.add_argument("--timestamp-column", metavar="NAME", help="timestamp column (default: inferred)")
    bare.add_argument("--timestamp-format", metavar="FORMAT",
                      help="strftime format of the timestamps (default: inferred)")
    bare.add_argument("--target", action="append", metavar="NAME",
                      help="target column, repeatable (default: every numeric column)")
    bare.add_argument("--series-column", metavar="NAME", help="column naming the series (e.g. Ticker)")
    bare.add_argument("--frequency", metavar="ALIAS",
                      help="pandas offset alias, e.g. 1h, D, B (default: inferred)")
    bare.add_argument("--max-gap", type=int, default=3, metavar="STEPS",
                      help="longest gap interpolated, in steps; longer gaps split segments (default: 3)")
    bare.add_argument("--separator", default=",", metavar="CHAR", help="CSV separator (default: ,)")
    check.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                       help="override one setting of the pipeline file (repeatable)")
    check.set_defaults(handler=_cmd_data_check)

    ui = add("ui", "open the MLflow UI on the tracking store",
             "Start the MLflow UI on the tracking store (MLFLOW_TRACKING_URI or the default "
             "local store) and wait until it is stopped (Ctrl-C).")
    ui.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    ui.add_argument("--port", type=_port, default=5000, help="port (default: 5000)")
    ui.set_defaults(handler=_cmd_ui)
    return parser


# ----------------------------------------------------------------------------- commands
def _load_config(path: str, overrides: Sequence[str]):
    from forecaster.config import load_config

    return load_config(path, overrides=list(overrides))


def _cmd_run(args: argparse.Namespace) -> int:
    from forecaster.runstate import PipelineLock

    cfg = _load_config(args.pipeline, args.overrides)
    # The lock comes first: a concurrent run exits 5 before touching data or TensorFlow.
    with PipelineLock(cfg.name):
        logger.info("Running pipeline %r from %s", cfg.name, args.pipeline)
        from forecaster.pipeline import run_pipeline

        outcome = _call_with_progress(args, run_pipeline, cfg, config_path=args.pipeline,
                                      force=args.force, jobs=args.jobs)
    if outcome.status == "quality_gate":
        logger.warning("%s (exit code %d: quality gate)", outcome.message, outcome.exit_code)
    else:
        logger.info("Pipeline %r: %s (exit code %d)", cfg.name, outcome.status, outcome.exit_code)
    return int(outcome.exit_code)


def _cmd_forecast(args: argparse.Namespace) -> int:
    from forecaster.atomic import atomic_output
    from forecaster.forecasting import forecast_from_model, load_model, plot_forecast_frame

    model = load_model(args.model)
    forecast, history = forecast_from_model(model, args.data, horizon=args.horizon)
    with atomic_output(args.output) as tmp:
        forecast.to_csv(tmp, index=False)
    logger.info("Wrote %d forecast rows (%d series) to %s", len(forecast),
                forecast["series_id"].nunique(), args.output)
    if args.plot:
        targets = [c for c in history.columns if c not in ("series_id", "timestamp")]
        plot_forecast_frame(history, forecast, targets, args.plot, title=f"{args.model}: forecast",
                            level=getattr(model, "interval_level", None))
    return EXIT_OK


def _cmd_backtest(args: argparse.Namespace) -> int:
    cfg = _load_config(args.pipeline, args.overrides)
    folds = args.folds or cfg.evaluation.backtest_folds or 3
    from forecaster.pipeline import backtest_pipeline

    logger.info("Backtesting pipeline %r over %d folds", cfg.name, folds)
    table = _call_with_progress(args, backtest_pipeline, cfg, folds)
    if args.output:
        from forecaster.atomic import atomic_output

        with atomic_output(args.output) as tmp:
            table.to_csv(tmp, index=False)
        logger.info("Wrote %d backtest rows to %s", len(table), args.output)
    if len(table):
        summary = table.groupby(["model", "metric"], sort=True)["value"].mean().unstack("metric")
        _emit(f"Mean over {folds} fold(s) and all steps:\n{summary.to_string(float_format='{:.4g}'.format)}")
    return EXIT_OK


def _cmd_data_check(args: argparse.Namespace) -> int:
    from forecaster.data import load_dataset

    source = Path(args.source)
    if source.name.lower().endswith(PIPELINE_SUFFIXES):
        _reject_bare_options(args)
        cfg = _load_config(args.source, args.overrides)
        data_cfg = cfg.data
        lookback, horizon, val, test = (cfg.window.lookback, cfg.window.horizon,
                                        cfg.split.val, cfg.split.test)
        label = f"pipeline {cfg.name!r} ({source})"
    else:
        if args.overrides:
            raise ConfigError(f"--set applies to a pipeline file; received the data file {source}")
        data_cfg = infer_data_config(
            source,
            timestamp_column=args.timestamp_column,
            timestamp_format=args.timestamp_format,
            target=args.target,
            series_column=args.series_column,
            frequency=args.frequency,
            max_gap=args.max_gap,
            separator=args.separator,
        )
        # A bare file has no window; check only that some rows remain per split.
        lookback, horizon, val, test = 1, 1, 0.25, 0.25
        label = str(source)
    loaded = load_dataset(data_cfg, lookback, horizon, val, test)
    report = loaded.report
    _emit(f"{label}: data OK\n{report.summary()}")
    return EXIT_OK


def _reject_bare_options(args: argparse.Namespace) -> None:
    given = [flag for flag, value in (
        ("--timestamp-column", args.timestamp_column), ("--timestamp-format", args.timestamp_format),
        ("--target", args.target), ("--series-column", args.series_column),
        ("--frequency", args.frequency)) if value]
    if given:
        raise ConfigError(
            f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} to a bare data file; "
            f"for a pipeline file use --set data.<key>=VALUE. Received {args.source}"
        )


def infer_data_config(
    path: str | os.PathLike[str],
    *,
    timestamp_column: str | None = None,
    timestamp_format: str | None = None,
    target: Sequence[str] | None = None,
    series_column: str | None = None,
    frequency: str | None = None,
    max_gap: int = 3,
    separator: str = ",",
):
    """A :class:`~forecaster.config.DataConfig` for a bare data file, filling what is not given.

    The timestamp column is the first non-numeric column whose first values all parse as
    datetimes; the targets are every numeric column (other than the series column).

    Raises
    ------
    DataValidationError
        The file is missing or unreadable, no column parses as datetimes, or no numeric column
        is left for the target.
    """
    import warnings

    import pandas as pd

    from forecaster.config import DataConfig

    path = Path(path)
    if not path.is_file():
        raise DataValidationError(f"{path}: data file not found (looked in {path.resolve()})")
    try:
        if path.name.lower().endswith((".parquet", ".pq")):
            sample = pd.read_parquet(path).head(1000)
        else:
            sample = pd.read_csv(path, nrows=1000, sep=separator)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataValidationError(f"{path}: cannot be read as a data table ({exc})") from exc
    columns = [str(c) for c in sample.columns]
    if timestamp_column is None:
        for name, column in sample.items():
            if str(name) == series_column or pd.api.types.is_numeric_dtype(column):
                continue
            fmt = timestamp_format or _timestamp_format(column)
            if fmt is None:
                continue
            timestamp_column, timestamp_format = str(name), fmt
            break
        else:
            raise DataValidationError(
                f"{path}: no column parses as datetimes; columns: {columns}. "
                "Name it with --timestamp-column (and --timestamp-format)."
            )
        logger.info("%s: using %r as the timestamp column (format %r)", path, timestamp_column,
                    timestamp_format)
    elif timestamp_format is None and timestamp_column in sample.columns:
        timestamp_format = _timestamp_format(sample[timestamp_column])
    if not target:
        skip = {timestamp_column, series_column}
        target = [str(c) for c, col in sample.items()
                  if str(c) not in skip and pd.api.types.is_numeric_dtype(col)]
        if not target:
            raise DataValidationError(
                f"{path}: no numeric column to check besides {timestamp_column!r}; columns: "
                f"{columns}. Name the target with --target."
            )
        logger.info("%s: checking target column(s) %s", path, target)
    try:
        return DataConfig(
            path=str(path), timestamp_column=timestamp_column, timestamp_format=timestamp_format,
            series_column=series_column, target=list(target), frequency=frequency,
            max_gap=max_gap, separator=separator,
        )
    except ValueError as exc:  # pydantic ValidationError: a bad option value
        raise ConfigError(f"data check options: {exc}") from exc


def _timestamp_format(column) -> str | None:
    """The strftime format that parses every sampled value of ``column``, or None.

    Day-first and month-first readings of ambiguous dates (``01.02.2024``) are both tried; when
    both parse, the one that keeps the file's order (timestamps non-decreasing) and then the one
    with the most regular steps wins.
    """
    import warnings

    import pandas as pd
    from pandas.tseries.api import guess_datetime_format

    values = column.dropna().astype(str).str.strip()
    if values.empty:
        return None
    first = values.iloc[0]
    candidates = [guess_datetime_format(first, dayfirst=d) for d in (False, True)]
    working = []
    for fmt in dict.fromkeys(f for f in candidates if f):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                parsed = pd.to_datetime(values, format=fmt)
            except (ValueError, TypeError, OverflowError):
                continue
        working.append((fmt, parsed))
    if not working:
        return None

    def score(parsed) -> tuple[bool, float]:
        steps = parsed.diff().dropna()
        regular = float(steps.value_counts(normalize=True).iloc[0]) if len(steps) else 0.0
        return bool(parsed.is_monotonic_increasing), regular

    # max() keeps the first of equals: month-first, pandas' own default, on a full tie.
    return max(working, key=lambda item: score(item[1]))[0]


def _cmd_ui(args: argparse.Namespace) -> int:
    import signal
    import subprocess

    from forecaster.tracking import ui_command

    command = ui_command(args.host, args.port)
    # Its own process group, so stopping it reaches the server's workers too (mlflow ui starts
    # uvicorn and job consumers); Ctrl-C or SIGTERM here is forwarded as SIGINT to the group.
    process = subprocess.Popen(command, start_new_session=True)
    logger.info("Started the MLflow UI at http://%s:%d (pid %d; Ctrl-C stops it): %s",
                args.host, args.port, process.pid, " ".join(command))

    def _interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return process.wait()
    except KeyboardInterrupt:
        _stop_group(process)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stop_group(process: Any) -> None:
    """Stop a child's whole process group: SIGINT, then SIGTERM, then SIGKILL, each with a grace
    period. The group is the child's own (``start_new_session``), never this process's."""
    import signal
    import time

    for sig, grace in ((signal.SIGINT, 15.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            process.poll()  # reap the leader, or its zombie keeps the group "alive"
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
    logger.warning("The MLflow UI (process group %d) did not stop", process.pid)


def _emit(text: str) -> None:
    """A command's result (not a log record) goes to stdout."""
    sys.stdout.write(text.rstrip("\n") + "\n")
    sys.stdout.flush()


# ----------------------------------------------------------------------------- entry point
def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``forecaster`` command; returns the exit code (see the module docstring)."""
    parser = build_parser()
    args = parser.parse_args(argv)

    # Before anything imports TensorFlow: keep its C++ logging quiet.
    from forecaster.logsetup import configure_logging, quiet_mlflow, quiet_tensorflow

    quiet_tensorflow()
    quiet_mlflow(progress_bars=_progress_for(args) is not None)
    level = "DEBUG" if args.verbose else "INFO"
    configure_logging(level, fmt=args.log_format, quiet=args.quiet)
    try:
        return int(args.handler(args))
    except ForecasterError as exc:
        # Expected errors: the message names what is wrong; no traceback.
        logger.error("%s", exc)
        logger.debug("Details", exc_info=True)
        return exc.exit_code
    except KeyboardInterrupt:
        logger.error("Interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the last line of defence maps to exit 1
        summary = str(exc).splitlines()[0] if str(exc) else ""
        logger.error("Unexpected error: %s%s", type(exc).__name__, f": {summary}" if summary else "",
                     exc_info=True)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
