"""The ``forecaster`` command line: run pipelines, forecast, backtest, check data, open the UI.

Owns the command line, its logging set-up (``logsetup``) and progress bars. May import anything
below it; nothing imports it.

Each command parses its arguments, configures logging, imports the heavy modules it needs
(TensorFlow, MLflow, pandas) only when it runs, and maps errors to the documented exit codes
(owned by :mod:`forecaster.exitcodes`, printed by every ``--help``). SIGTERM is handled like
Ctrl-C, so open MLflow runs are marked KILLED and nothing consumed is half-written; the exit code
is 143 (130 for Ctrl-C). The handler records it (:mod:`forecaster.execution.termination`); during
``run`` it does nothing else and the run stops at its next safe point; otherwise it also raises
:class:`forecaster.errors.Terminated` at once. Either way a command that returns while a SIGTERM
is pending (one not followed by a run's commit point) exits 143, never 0: a raise swallowed where
it landed (a garbage-collection callback) is not lost.

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
from forecaster.execution import termination

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
    termination.reset()
    previous = _handle_sigterm()
    try:
        code = _run_command(args)
        if termination.pending():  # a SIGTERM no run's commit point settled: never a silent 0
            logger.error("Terminated (SIGTERM)")
            return EXIT_TERMINATED
        return code
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run_command(args: Any) -> int:
    try:
        return int(args.handler(args))
    except ForecasterError as exc:
        # Expected errors: the message names what is wrong; no traceback.
        logger.error("%s", exc)
        logger.debug("Details", exc_info=True)
        return exc.exit_code
    except Terminated:
        termination.request()  # logged once, by main
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        logger.error("Interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the last line of defence maps to exit 1
        summary = str(exc).splitlines()[0] if str(exc) else ""
        logger.error("Unexpected error: %s%s", type(exc).__name__, f": {summary}" if summary else "",
                     exc_info=True)
        return EXIT_ERROR


def _on_sigterm(signum: int, frame: Any) -> None:
    """Record the SIGTERM; raise only when no run checks the flag at its safe points and no run's
    commit point has settled the outcome."""
    termination.request()
    if termination.pending() and not termination.deferring():
        raise Terminated()


def _handle_sigterm() -> Any:
    """Install :func:`_on_sigterm` (main thread only); returns the previous handler."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _on_sigterm)

