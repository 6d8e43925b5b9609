"""The exception family of forecaster.

Every error a user can cause names the file, column or key, the rule broken
and the value received. Each class carries its exit code (:mod:`forecaster.exitcodes`), which
the CLI returns.
"""

from __future__ import annotations

from forecaster.exitcodes import EXIT_DATA, EXIT_ERROR, EXIT_LOCKED, EXIT_USAGE


class ForecasterError(Exception):
    """Base class of every error forecaster raises on purpose."""

    exit_code = EXIT_ERROR


class ConfigError(ForecasterError, ValueError):
    """A pipeline file (or a ``--set`` override) breaks the schema. Exit code 2."""

    exit_code = EXIT_USAGE


class ModelFileError(ConfigError):
    """A saved forecaster or logged model (``--model``) is not valid data, or was written by another
    ``forecaster`` version. Exit code 2. Loading never runs code from the files it reads."""


class DataValidationError(ForecasterError, ValueError):
    """Input data breaks a rule (missing column, bad timestamp, ...). Exit code 3."""

    exit_code = EXIT_DATA


class LockHeldError(ForecasterError):
    """Another run of the same pipeline on the same tracking store holds its lock. Exit code 5."""

    exit_code = EXIT_LOCKED


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: handled like Ctrl-C (open runs KILLED, nothing consumed changed), exit 143."""
