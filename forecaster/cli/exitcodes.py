"""The CLI's view of the exit codes; they are owned by :mod:`forecaster.exitcodes`."""

from __future__ import annotations

from forecaster.exitcodes import (  # noqa: F401 - re-exported for the CLI modules
    EXIT_CODES_HELP,
    EXIT_DATA,
    EXIT_DEGRADED,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_QUALITY_GATE,
    EXIT_TERMINATED,
    EXIT_USAGE,
)
