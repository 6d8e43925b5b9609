"""One handler per ``forecaster`` command: run, forecast, backtest, data check, ui.

Each handler takes the parsed :class:`argparse.Namespace`, imports the heavy modules it needs
(TensorFlow, MLflow, pandas) only when it runs, and returns an exit code
(:mod:`forecaster.cli.exitcodes`); errors propagate to :func:`forecaster.cli.main`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from forecaster.cli.bars import _call_with_progress
from forecaster.cli.csvsource import infer_data_config
from forecaster.cli.exitcodes import EXIT_OK
from forecaster.errors import ConfigError

# The package's name, not this module's: log records keep the logger name "forecaster.cli"
# (log collectors and bench/bench_pipeline.py select the CLI's messages by it).
logger = logging.getLogger(__package__)

PIPELINE_SUFFIXES = (".yaml", ".yml")


def _load_config(path: str, overrides: Sequence[str]):
    from forecaster.config import load_config

    return load_config(path, overrides=list(overrides))


def _cmd_run(args: argparse.Namespace) -> int:
    cfg = _load_config(args.pipeline, args.overrides)
    logger.info("Running pipeline %r from %s", cfg.name, args.pipeline)
    from forecaster.pipeline import run_pipeline

    # run_pipeline takes the run's lock first: a concurrent run exits 5 before touching data or TensorFlow.
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


def _cmd_monitor(args: argparse.Namespace) -> int:
    """Score the ledger against the pipeline's current data, without training (no TensorFlow)."""
    from forecaster.ledger_stage import score_ledger
    from forecaster.pipeline import load_data

    cfg = _load_config(args.pipeline, args.overrides)
    loaded = load_data(cfg)
    scoring = score_ledger(cfg, loaded.frame)
    _emit(scoring.summary())
    if scoring.degraded:
        logger.warning("pipeline %r: champion degraded (exit code %d): %s", cfg.name, scoring.exit_code,
                       scoring.reason)
    return scoring.exit_code


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
