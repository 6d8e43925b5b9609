"""The exception family of forecaster.

Every error a user can cause names the file, column or key, the rule broken
and the value received. The CLI maps each class to a documented exit code.
"""

from __future__ import annotations


class ForecasterError(Exception):
    """Base class of every error forecaster raises on purpose."""

    exit_code = 1


class ConfigError(ForecasterError, ValueError):
    """A pipeline file (or a ``--set`` override) breaks the schema. Exit code 2."""

    exit_code = 2


class DataValidationError(ForecasterError, ValueError):
    """Input data breaks a rule (missing column, bad timestamp, ...). Exit code 3."""

    exit_code = 3


class LockHeldError(ForecasterError):
    """Another run of the same pipeline holds its lock. Exit code 5."""

    exit_code = 5
