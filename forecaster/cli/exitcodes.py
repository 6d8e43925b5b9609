"""Exit codes of the ``forecaster`` command and the help text that documents them.

The numbers and the epilog printed by every ``--help`` live side by side so they cannot drift.
"""

from __future__ import annotations

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
