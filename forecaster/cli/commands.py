"""One handler per ``forecaster`` command: run, forecast, backtest, data check, ui.

Each handler takes the parsed :class:`argparse.Namespace`, imports the heavy modules it needs
(TensorFlow, MLflow, pandas) only when it runs, and returns an exit code
(:mod:`forecaster.cli.exitcodes`); errors propagate to :func:`forecaster.cli.main`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Sequence

from forecaster.cli.bars import _call_with_progress
from forecaster.cli.csvsource import infer_data_config
from forecaster.cli.exitcodes import EXIT_OK
from forecaster.errors import ConfigError

# The package's name, not this module's: log records keep the logger name "forecaster.cli"
# (log collectors and bench/bench_pipeline.py select the CLI's messages by it).
logger = logging.getLogger(__package__)

PIPELINE_SUFFIXES = (".yaml", ".yml")


def _load_config(path: str, overrides: Sequence[str], tracking_uri: str | None = None):
    """Load a pipeline file; the global ``--tracking-uri`` wins over its ``tracking.tracking_uri``."""
    import json

    from forecaster.config import load_config

    overrides = list(overrides)
    if tracking_uri:
        overrides.append(f"tracking.tracking_uri={json.dumps(tracking_uri)}")
    return load_config(path, overrides=overrides)


def _cmd_run(args: argparse.Namespace) -> int:
    cfg = _load_config(args.pipeline, args.overrides, args.tracking_uri)
    logger.info("Running pipeline %r from %s", cfg.name, args.pipeline)
    from forecaster.pipeline import run_pipeline

    # run_pipeline takes the run's lock first: a concurrent run exits 5 before touching data or TensorFlow.
    with _make_executor(args) as executor:
        outcome = _call_with_progress(args, run_pipeline, cfg, config_path=args.pipeline,
                                      force=args.force, jobs=args.jobs, executor=executor)
    if outcome.status == "quality_gate":
        logger.warning("%s (exit code %d: quality gate)", outcome.message, outcome.exit_code)
    else:
        logger.info("Pipeline %r: %s (exit code %d)", cfg.name, outcome.status, outcome.exit_code)
    return int(outcome.exit_code)


def _make_executor(args: argparse.Namespace):
    """The executor of ``--executor``/``--ray-address`` (exit 2 when Ray is asked for but absent)."""
    from forecaster.execution import make_executor

    return make_executor(args.executor, jobs=getattr(args, "jobs", 1), address=args.ray_address)


def _cmd_forecast(args: argparse.Namespace) -> int:
    from forecaster.atomic import atomic_output
    from forecaster.cli.forecastopts import forecast_defaults, write_csv_stdout
    from forecaster.data.columns import (  # lazy: pandas only when a command runs
        SERIES_ID,
        TIMESTAMP,
    )
    from forecaster.forecasting import forecast_file
    from forecaster.plots import plot_forecast_frame

    model_ref, data_path, pipeline_name = forecast_defaults(args, _load_config)
    # The data file is checked before the model is loaded (forecast_file).
    result = forecast_file(model_ref, data_path, horizon=args.horizon)
    model, forecast, history = result.model, result.forecast, result.history
    float_format = f"%.{args.precision}g"
    if args.output == "-":
        write_csv_stdout(forecast, float_format)
    else:
        with atomic_output(args.output) as tmp:
            forecast.to_csv(tmp, index=False, float_format=float_format)
    logger.info("Wrote %d forecast rows (%d series) to %s", len(forecast),
                forecast[SERIES_ID].nunique(), "stdout" if args.output == "-" else args.output)
    if args.plot:
        from forecaster.plots import forecast_title

        targets = [c for c in history.columns if c not in (SERIES_ID, TIMESTAMP)]
        title = forecast_title(pipeline_name or Path(data_path).stem, str(model_ref), targets)
        plot_forecast_frame(history, forecast, targets, args.plot, title=title,
                            level=getattr(model, "interval_level", None),
                            units=(model.window_settings().data or {}).get("units"))
        logger.info("Wrote the forecast plot to %s", args.plot)
    return EXIT_OK


def _cmd_backtest(args: argparse.Namespace) -> int:
    cfg = _load_config(args.pipeline, args.overrides, args.tracking_uri)
    folds = args.folds or cfg.evaluation.backtest_folds or 3
    from forecaster.pipeline import backtest_pipeline

    logger.info("Backtesting pipeline %r over %d folds", cfg.name, folds)
    with _make_executor(args) as executor:
        table = _call_with_progress(args, backtest_pipeline, cfg, folds, executor=executor)
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
    from forecaster.pipeline import load_data
    from forecaster.scheduling.ledger_steps import score_ledger

    cfg = _load_config(args.pipeline, args.overrides)
    loaded = load_data(cfg)
    scoring = score_ledger(cfg, loaded.frame)
    _emit(scoring.summary())
    if scoring.degraded:
        logger.warning("pipeline %r: %s degraded (exit code %d): %s", cfg.name, scoring.subject,
                       scoring.exit_code, scoring.reason)
    return scoring.exit_code


def _cmd_data_check(args: argparse.Namespace) -> int:
    from forecaster.data import SplitRule, load_dataset

    source = Path(args.source)
    if source.name.lower().endswith(PIPELINE_SUFFIXES):
        _reject_bare_options(args)
        cfg = _load_config(args.source, args.overrides, args.tracking_uri)
        data_cfg, features = cfg.data, cfg.features
        lookback, horizon, val, test = (cfg.window.lookback, cfg.window.horizon,
                                        SplitRule.from_config(cfg.split), None)
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
        features = None
    loaded = load_dataset(data_cfg, lookback, horizon, val, test, features=features)
    report = loaded.report
    flags = "".join(f"\nflag: {flag}" for flag in getattr(loaded, "flags", []))
    _emit(f"{label}: data OK\n{report.summary()}{flags}")
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
    from forecaster.cli.uicommand import run_ui

    return run_ui(args, _load_config, _emit)


def _emit(text: str) -> None:
    """A command's result (not a log record) goes to stdout."""
    sys.stdout.write(text.rstrip("\n") + "\n")
    sys.stdout.flush()
