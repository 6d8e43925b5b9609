"""The ``forecaster`` command line: run pipelines, forecast, backtest, check data, open the UI.

Owns the command line, its logging set-up (``logsetup``) and progress bars. May import anything
below it; nothing imports it.

Each command parses its arguments, configures logging, imports the heavy modules it needs
(TensorFlow, MLflow, pandas) only when it runs, and maps errors to the documented exit codes
(owned by :mod:`forecaster.exitcodes`, printed by every ``--help``). SIGTERM is handled like
Ctrl-C: it raises :class:`forecaster.errors.Terminated` (a ``KeyboardInterrupt``), so open MLflow
runs are marked KILLED and nothing consumed is half-written; the exit code is 143 (130 for Ctrl-C).

Example
-------
>>> main(["--version"])  # doctest: +SKIP
forecaster 0.1.0
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any, Sequence

from forecaster.cli.bars import TqdmProgress, _progress_for
from forecaster.cli.commands import PIPELINE_SUFFIXES
from forecaster.cli.csvsource import infer_data_config
from forecaster.cli.exitcodes import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_TERMINATED
from forecaster.cli.parser import build_parser
from forecaster.errors import ForecasterError, Terminated

# The exit codes are owned by forecaster.exitcodes (the CLI's view: forecaster.cli.exitcodes).
__all__ = [
    "PIPELINE_SUFFIXES",
    "TqdmProgress",
    "build_parser",
    "infer_data_config",
    "main",
]

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- entry point
def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``forecaster`` command; returns the exit code (see the module docstring)."""
    parser = build_parser()
    args = parser.parse_args(argv)

    # Before anything imports TensorFlow: keep its C++ logging quiet.
    from forecaster.cli.logsetup import (
        NativeStderr,
        quiet_mlflow,
        quiet_tensorflow,
    )

    quiet_tensorflow(verbose=bool(args.verbose))
    quiet_mlflow(progress_bars=_progress_for(args) is not None)
    # What native code writes to fd 2 (TensorFlow's C++ logging) in the same log format.
    native = NativeStderr.start(args.log_format, verbose=bool(args.verbose))
    try:
        return _run(args)
    finally:
        if native is not None:
            native.stop()


def _run(args: Any) -> int:
    from forecaster.cli.logsetup import configure_logging

    level = "DEBUG" if args.verbose else "INFO"
    configure_logging(level, fmt=args.log_format, quiet=args.quiet)
    if args.tracking_uri:
        # Every command, and any process it starts, uses this store (pipeline files are
        # overridden too: see commands._load_config).
        os.environ["MLFLOW_TRACKING_URI"] = args.tracking_uri
    previous = _handle_sigterm()
    try:
        return int(args.handler(args))
    except ForecasterError as exc:
        # Expected errors: the message names what is wrong; no traceback.
        logger.error("%s", exc)
        logger.debug("Details", exc_info=True)
        return exc.exit_code
    except Terminated:
        logger.error("Terminated (SIGTERM)")
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        logger.error("Interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the last line of defence maps to exit 1
        summary = str(exc).splitlines()[0] if str(exc) else ""
        logger.error("Unexpected error: %s%s", type(exc).__name__, f": {summary}" if summary else "",
                     exc_info=True)
        return EXIT_ERROR
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


def _handle_sigterm() -> Any:
    """Turn SIGTERM into :class:`Terminated` (main thread only); returns the previous handler."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)

