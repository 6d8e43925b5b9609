"""The exit codes of ``forecaster`` and the help text that documents them: their one owner.

The library reports outcomes with these numbers (:class:`forecaster.errors.ForecasterError`
subclasses carry one, the gate's decision carries one); the CLI returns them. The numbers and the
epilog printed by every ``--help`` live side by side so they cannot drift.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_QUALITY_GATE = 4
EXIT_LOCKED = 5
EXIT_DEGRADED = 6  # `forecaster monitor`: the served model's (champion or fallback) live accuracy broke a monitoring.* rule
EXIT_INTERRUPTED = 130  # 128 + SIGINT (Ctrl-C)
EXIT_TERMINATED = 143  # 128 + SIGTERM (kill, systemctl stop)

EXIT_CODES_HELP = """\
exit codes:
  0    success (also a run skipped because its pipeline file, data and code are unchanged)
  1    any other error (the traceback is logged)
  2    usage error, an invalid pipeline file or --set override, an output location or
       tracking store that cannot be used (checked before any training), or a --model that is
       not a valid saved forecaster (tampered, another format or forecaster version)
  3    data validation error (missing column, bad timestamp, too few rows, ...)
  4    quality gate: no candidate beat the baselines (the baseline forecast may still be written)
  5    another run of the same pipeline on the same tracking store holds its lock
  6    monitor: the champion, or the fallback baseline that served, is degraded (a monitoring.* rule broken)
  130  interrupted (Ctrl-C): open MLflow runs marked KILLED, nothing consumed was changed
  143  terminated (SIGTERM, e.g. systemctl stop): handled like Ctrl-C

environment:
  FORECASTER_STATE_DIR  where locks, run records and commit journals live
                        (default: $XDG_STATE_HOME/forecaster, else ~/.local/state/forecaster)
  MLFLOW_TRACKING_URI   the MLflow store when the pipeline file sets no tracking.tracking_uri
                        (default: sqlite:///mlflow.db in the working directory)
  FORECASTER_STORE_TIMEOUT  seconds `run` waits for a tracking server to answer before it
                        exits 2 naming tracking.tracking_uri (default: 5)
"""
