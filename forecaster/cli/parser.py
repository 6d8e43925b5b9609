"""The argument parser of the ``forecaster`` command: commands, options and help texts.

Building it imports no heavy module (TensorFlow, MLflow, pandas): ``forecaster --help`` is fast.
"""

from __future__ import annotations

import argparse
from typing import Any

from forecaster._version import __version__
from forecaster.cli.commands import (
    _cmd_backtest,
    _cmd_data_check,
    _cmd_forecast,
    _cmd_monitor,
    _cmd_run,
    _cmd_ui,
)
from forecaster.cli.exitcodes import EXIT_CODES_HELP


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
    group.add_argument("--tracking-uri", metavar="URI", default=default(None),
                       help="MLflow tracking store for this command, e.g. sqlite:///mlflow.db; wins "
                       "over the pipeline file's tracking.tracking_uri and MLFLOW_TRACKING_URI")


def _set_option(parser: argparse.ArgumentParser,
                help: str = "override one setting of the pipeline file (repeatable)") -> None:
    # --set key.path=value, repeatable: read by forecaster.config.apply_overrides.
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                        help=help)


def _executor_options(parser: argparse.ArgumentParser) -> None:
    # Where the work runs is not part of the pipeline file (nor of the idempotence key).
    group = parser.add_argument_group("execution (not part of the pipeline file)")
    group.add_argument("--executor", choices=("local", "ray"), default="local",
                       help="'local': this machine, --jobs processes (default); 'ray': every candidate "
                       "and backtest fold is a Ray task (needs pip install \"forecaster[ray]\")")
    group.add_argument("--ray-address", metavar="ADDRESS", default=None,
                       help="Ray cluster to use with --executor ray (HOST:PORT or ray://HOST:PORT; "
                       "default: RAY_ADDRESS, else a Ray started on this machine for the run)")


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
    _set_option(run, help="override one setting of the pipeline file, value read as YAML; "
                "repeatable (e.g. --set training.epochs=2 --set models.0.units=16)")
    run.add_argument("--force", action="store_true",
                     help="run even if nothing changed since the last successful run")
    run.add_argument("--jobs", type=_positive_int, default=1, metavar="N",
                     help="train candidates in N processes (default: 1)")
    _executor_options(run)
    run.set_defaults(handler=_cmd_run)

    fc = add("forecast", "forecast from a saved or registered model",
             "Forecast from the end of a data file with a registered or saved model, and write "
             "a CSV with columns series_id, timestamp, step, forecast, lower, upper (plus target "
             "when the model has several targets) and optionally a plot of recent history, "
             "forecast and interval.")
    fc.add_argument("--model", metavar="URI",
                    help="models:/NAME@champion, models:/NAME/VERSION, runs:/RUN_ID/PATH, or the "
                    "directory of a saved forecaster (default with --pipeline: "
                    "models:/<registered model>@champion)")
    fc.add_argument("--data", metavar="CSV",
                    help="history with the same columns as the training data (default with "
                    "--pipeline: the pipeline's data.path)")
    fc.add_argument("--pipeline", metavar="FILE",
                    help="pipeline file: its tracking store (tracking.tracking_uri), registered "
                    "model and data file are the defaults")
    fc.add_argument("--horizon", type=_positive_int, metavar="H",
                    help="steps to forecast, 1..the model's horizon (default: the model's horizon)")
    fc.add_argument("--output", required=True, metavar="PATH",
                    help="forecast CSV to write; '-' writes it to stdout (logs stay on stderr)")
    fc.add_argument("--precision", type=_positive_int, default=6, metavar="DIGITS",
                    help="significant digits of the numbers in the CSV (default: 6)")
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
    _set_option(bt)
    _executor_options(bt)
    bt.set_defaults(handler=_cmd_backtest)

    mon = add("monitor", "score past forecasts against the current data (no training)",
              "Score the pipeline's forecast ledger against its current data file: live MAE per step "
              "and overall, same-origin persistence MAE, live relative MAE, interval coverage; log them "
              "to the pipeline's MLflow monitoring run and the champion version's tags; print a short "
              "table. Exit 6 when the champion is degraded, or the fallback baseline when it served the latest "
              "forecast (see monitoring.* in the pipeline file). "
              "Cheap enough to run hourly: no training, no TensorFlow.")
    mon.add_argument("pipeline", metavar="PIPELINE", help="pipeline file (YAML)")
    _set_option(mon)
    mon.set_defaults(handler=_cmd_monitor)

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
    _set_option(check)
    check.set_defaults(handler=_cmd_data_check)

    ui = add("ui", "open the MLflow UI on the tracking store",
             "Start the MLflow UI on the tracking store (--tracking-uri, else the pipeline file's "
             "tracking.tracking_uri with --pipeline, else MLFLOW_TRACKING_URI or ./mlflow.db), "
             "print a link to each experiment's runs sorted by validation MAE, and wait until it "
             "is stopped (Ctrl-C or SIGTERM; exit 0).")
    ui.add_argument("--pipeline", metavar="FILE",
                    help="pipeline file: open its tracking store and link its experiment")
    ui.add_argument("--host", default="127.0.0.1",
                    help="interface to listen on (default: 127.0.0.1). The UI has no "
                    "authentication: anyone who can reach another address can read and change "
                    "runs and models")
    ui.add_argument("--port", type=_port, default=5000, help="port (default: 5000)")
    ui.add_argument("--open", action="store_true",
                    help="open the runs view in a web browser once the server answers")
    ui.set_defaults(handler=_cmd_ui)
    return parser
