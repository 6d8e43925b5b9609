"""Logging configuration for the command line: readable text or JSON lines for schedulers.

Library modules only call ``logging.getLogger(__name__)``; the CLI calls
:func:`configure_logging` once. Everything goes to stderr, so stdout stays free for data.
While a command runs, :class:`NativeStderr` sends what native code (TensorFlow's C++ logging)
writes to file descriptor 2 through :mod:`forecaster.cli.fdrelay`, which shows it in the same
format (JSON records with ``--log-format json``) or hides it at the default verbosity.

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
import subprocess
import sys
import threading
from typing import Any, TextIO

from forecaster.cli import fdrelay

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


class _DropRetracing(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" warnings unless debug logging is on.

    They describe Keras internals (a model called on a few window counts), not anything a user
    can act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "retracing" not in record.getMessage():
            return True
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


_RETRACING_FILTER = _DropRetracing()


def quiet_tensorflow(verbose: bool = False) -> None:
    """Silence TensorFlow's C++ log lines and absl noise; call before TensorFlow is imported.

    At the default verbosity ``TF_CPP_MIN_LOG_LEVEL=3`` hides the C++ INFO/WARNING/ERROR lines
    (the oneDNN and CPU-feature notices, ``E0000 ... NodeDef mentions attribute
    use_unbounded_threadpool``, which TensorFlow prints as errors for every ``tf.data`` map it
    loads and which mean nothing to a user) and with them absl's "All log messages before
    absl::InitializeLog()" line; ``verbose`` keeps the errors (level 2). An explicit environment
    setting wins. The retracing warnings of TensorFlow's Python logger are dropped unless that
    logger is at debug level (``-v``).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if verbose else "3")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "2" if verbose else "3")
    logging.getLogger("absl").setLevel(logging.WARNING)
    tf_logger = logging.getLogger("tensorflow")
    tf_logger.setLevel(logging.WARNING)
    if _RETRACING_FILTER not in tf_logger.filters:
        tf_logger.addFilter(_RETRACING_FILTER)


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

    real_stderr = sys.stderr.original if isinstance(sys.stderr, StderrToLog) else sys.stderr
    handler = logging.StreamHandler(stream if stream is not None else real_stderr)
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
    if stream is None:
        # With JSON logs every stderr line must be JSON: text that libraries print to stderr
        # (MLflow's "Successfully registered model ...", "Created version ...") becomes a log
        # record of the logger "stderr". Text logs leave sys.stderr alone.
        sys.stderr = StderrToLog(real_stderr) if fmt == "json" else real_stderr
    return handler


class StderrToLog:
    """A text stream standing in for ``sys.stderr``: each complete line becomes an INFO record of
    the logger ``stderr`` (the handler writes to the real stream, kept as ``original``)."""

    logger_name = "stderr"

    def __init__(self, original: TextIO) -> None:
        self.original = original
        self._buffer = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._buffer += text
            *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            if line.strip():
                logging.getLogger(self.logger_name).info("%s", line.rstrip())
        return len(text)

    def flush(self) -> None:
        with self._lock:
            rest, self._buffer = self._buffer, ""
        if rest.strip():
            logging.getLogger(self.logger_name).info("%s", rest.rstrip())

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.original.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self.original, "encoding", "utf-8")


class NativeStderr:
    """File descriptor 2 through the relay process of :mod:`forecaster.cli.fdrelay`, for one command.

    :meth:`start` copies fd 2 (the original stderr), points fd 2 at a pipe the relay reads, and
    makes ``sys.stderr`` a stream on the copy: Python's log records, tracebacks and progress bars
    go out directly, and only what native code (or a child process) writes to fd 2 passes through
    the relay. :meth:`stop` flushes, puts the original stderr back on fd 2 and ``sys.stderr``, and
    waits (``timeout`` seconds at most) for the relay to write its last lines. Only when
    ``sys.stderr`` is the process's own fd 2 (not, say, a test's capture) and Python can start the
    relay; otherwise :meth:`start` returns ``None`` and stderr is left alone.
    """

    def __init__(self, process: subprocess.Popen, stream: TextIO, previous: TextIO) -> None:
        self.process = process
        self.stream = stream
        self.previous = previous

    @classmethod
    def start(cls, fmt: str, verbose: bool) -> NativeStderr | None:
        if fmt not in LOG_FORMATS:
            raise ValueError(f"`fmt` must be one of {LOG_FORMATS}. Received: fmt={fmt!r}")
        previous = sys.stderr
        try:
            own_fd2 = previous is sys.__stderr__ and previous.fileno() == 2
        except (AttributeError, OSError, ValueError):
            own_fd2 = False
        if not own_fd2 or not sys.executable:
            return None
        previous.flush()
        try:
            saved = os.dup(2)
        except OSError:
            return None
        try:
            read_end, write_end = os.pipe()
        except OSError:
            os.close(saved)
            return None
        try:
            process = subprocess.Popen(
                [sys.executable, "-I", fdrelay.__file__, fmt, "1" if verbose else "0"],
                stdin=read_end, stdout=saved, stderr=saved, start_new_session=True,
            )
        except OSError:
            for fd in (saved, write_end):
                os.close(fd)
            return None
        finally:
            os.close(read_end)
        os.dup2(write_end, 2)
        os.close(write_end)
        stream = open(saved, "w", encoding=getattr(previous, "encoding", None) or "utf-8",  # noqa: SIM115
                      errors="backslashreplace", buffering=1)
        sys.stderr = stream
        return cls(process, stream, previous)

    def stop(self, timeout: float = 5.0) -> None:
        for stream in (sys.stderr, self.stream):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os.dup2(self.stream.fileno(), 2)  # the original stderr back; this process's pipe end closed
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is self.stream:
                handler.setStream(self.previous)
        if sys.stderr is self.stream:
            sys.stderr = self.previous
        elif isinstance(sys.stderr, StderrToLog) and sys.stderr.original is self.stream:
            sys.stderr.original = self.previous
        self.stream.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass  # a child process still holds the pipe: the relay ends when it does
