"""Logging configuration for the command line: readable text or JSON lines for schedulers.

Library modules only call ``logging.getLogger(__name__)``; the CLI calls
:func:`configure_logging` once. Everything goes to stderr, so stdout stays free for data.

Example
-------
>>> configure_logging("INFO", fmt="json")  # doctest: +SKIP
>>> logging.getLogger("forecaster.pipeline").info("done")  # doctest: +SKIP
{"ts": "2026-11-22T01:02:03.456+00:00", "level": "INFO", "logger": "forecaster.pipeline", "message": "done"}
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import sys
from typing import Any, TextIO

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
TEXT_DATEFMT = "%Y-%m-%d %H:%M:%S"

# Third-party loggers that are chatty at INFO; kept at WARNING unless --verbose asks for DEBUG.
NOISY_LOGGERS = (
    "absl",
    "tensorflow",
    "h5py",
    "matplotlib",
    "PIL",
    "urllib3",
    "alembic",
    "mlflow",
    "git",
    "numexpr",
)

_HANDLER_NAME = "forecaster-cli"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (ISO 8601, UTC), ``level``, ``logger``, ``message``,
    plus ``exc_info`` (the formatted traceback) when an exception is attached, and any
    ``extra={...}`` fields that are JSON-serialisable."""

    _STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": _dt.datetime.fromtimestamp(record.created, _dt.timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._STANDARD and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


def quiet_tensorflow() -> None:
    """Silence TensorFlow's C++ log lines (set before TensorFlow is imported) and absl noise."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "2")
    logging.getLogger("absl").setLevel(logging.WARNING)
    logging.getLogger("tensorflow").setLevel(logging.WARNING)


def quiet_mlflow(progress_bars: bool = False) -> None:
    """Route MLflow's log records through our handler and turn its usage telemetry off (set
    before MLflow is imported; an explicit environment setting wins).

    MLflow otherwise installs its own handler and format on its loggers, which breaks
    ``--log-format json``; without ``progress_bars`` its artifact download bars are off too.
    """
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    # No usage telemetry from scheduled runs: nothing leaves the machine, and a run (or the UI
    # server, which inherits this) never waits on a network it may not have.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    if not progress_bars:
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def configure_logging(
    level: str | int = "INFO",
    fmt: str = "text",
    quiet: bool = False,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send log records to stderr in ``text`` or ``json`` format.

    Parameters
    ----------
    level:
        Root level, e.g. ``"INFO"`` or ``"DEBUG"``.
    fmt:
        ``"text"`` (``2026-11-22 01:02:03 INFO forecaster.pipeline: message``) or ``"json"``
        (one JSON object per line with ``ts``, ``level``, ``logger``, ``message``).
    quiet:
        Only warnings and errors (overrides ``level`` when that is lower).
    stream:
        Defaults to ``sys.stderr``.

    Returns
    -------
    logging.Handler
        The installed handler (a previous one installed by this function is replaced).

    Raises
    ------
    ValueError
        ``fmt`` is not one of ``text``, ``json``.
    """
    if fmt not in LOG_FORMATS:
        raise ValueError(f"`fmt` must be one of {LOG_FORMATS}. Received: fmt={fmt!r}")
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else int(level)
    if not isinstance(numeric, int):
        raise ValueError(f"`level` must be a logging level name. Received: level={level!r}")
    if quiet:
        numeric = max(numeric, logging.WARNING)

    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(_HANDLER_NAME)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, datefmt=TEXT_DATEFMT))

    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    logging.captureWarnings(True)

    noisy_level = logging.DEBUG if numeric <= logging.DEBUG else logging.WARNING
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(noisy_level, numeric))
    return handler
