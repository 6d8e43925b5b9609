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

import logging
from typing import Sequence

from forecaster.cli.bars import TqdmProgress, _progress_for
from forecaster.cli.commands import PIPELINE_SUFFIXES
from forecaster.cli.csvsource import infer_data_config
from forecaster.cli.exitcodes import (
    EXIT_CODES_HELP,
    EXIT_DATA,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_QUALITY_GATE,
    EXIT_USAGE,
)
from forecaster.cli.parser import build_parser
from forecaster.errors import ForecasterError

__all__ = [
    "EXIT_CODES_HELP",
    "EXIT_DATA",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_LOCKED",
    "EXIT_OK",
    "EXIT_QUALITY_GATE",
    "EXIT_USAGE",
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

