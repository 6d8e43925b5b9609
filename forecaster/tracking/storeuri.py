"""Which MLflow tracking store a run uses, resolved without importing MLflow.

The run's lock and state are keyed by the store's *identity* (:func:`store_identity`, used by
:mod:`forecaster.scheduling.lock`), and the CLI takes the lock before any heavy import, so the
resolution lives here rather than in :mod:`forecaster.tracking`.

Before anything else a run probes a tracking *server* (:func:`probe_store`): an address that does
not answer fails in ``$FORECASTER_STORE_TIMEOUT`` seconds (default 5) with exit 2 naming
``tracking.tracking_uri``, instead of after MLflow's own retries (minutes).

Precedence: the pipeline file's ``tracking.tracking_uri`` > ``$MLFLOW_TRACKING_URI`` >
``sqlite:///<cwd>/mlflow.db`` (MLflow's own default, made absolute so a later ``cd`` cannot split
one store in two).

Example
-------
>>> resolve_tracking_uri("sqlite:////tmp/demo/mlflow.db")
'sqlite:////tmp/demo/mlflow.db'
>>> sqlite_path("sqlite:////tmp/demo/mlflow.db").name
'mlflow.db'
>>> store_identity("HTTP://Tracking.Example.com:80/")
'http://tracking.example.com'
"""

from __future__ import annotations

import logging
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from forecaster.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_DB_NAME = "mlflow.db"
SQLITE_PREFIX = "sqlite:///"
#: Seconds a run waits for a tracking server to answer before it fails (exit 2); a contract.
STORE_TIMEOUT_ENV = "FORECASTER_STORE_TIMEOUT"
DEFAULT_STORE_TIMEOUT = 5.0


def resolve_tracking_uri(config_uri: str | None = None) -> str:
    """Return the tracking URI to use.

    Parameters
    ----------
    config_uri : str or None
        The pipeline file's ``tracking.tracking_uri``; wins when set.

    Returns
    -------
    str
        ``config_uri``, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///<abs cwd>/mlflow.db``.
        A relative SQLite path (``sqlite:///mlflow.db``) is made absolute against the working
        directory.
    """
    for candidate in (config_uri, os.environ.get("MLFLOW_TRACKING_URI")):
        if candidate is not None and str(candidate).strip():
            return _absolute_sqlite(str(candidate).strip())
    return SQLITE_PREFIX + str(Path.cwd().resolve() / DEFAULT_DB_NAME)


def _absolute_sqlite(uri: str) -> str:
    if not uri.startswith(SQLITE_PREFIX):
        return uri
    path = uri[len(SQLITE_PREFIX):]
    if path.startswith("/") or path in ("", ":memory:"):
        return uri
    return SQLITE_PREFIX + str(Path.cwd().resolve() / path)


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, or None for other stores."""
    if not tracking_uri.startswith(SQLITE_PREFIX):
        return None
    path = tracking_uri[len(SQLITE_PREFIX):]
    if not path or path == ":memory:":
        return None
    return Path(path)


#: Ports a server URI may leave out: ``http://h`` and ``http://h:80`` are one store.
DEFAULT_PORTS = {"http": 80, "https": 443, "postgresql": 5432, "postgres": 5432, "mysql": 3306, "mssql": 1433}


def store_identity(tracking_uri: str) -> str:
    """What makes two tracking URIs one store: the key of the run's lock and state.

    * a SQLite store (``sqlite:///PATH``): ``sqlite:///`` + the real path of its database file
      (symlinks resolved, ``..`` collapsed, a relative path taken against the working directory);
    * a file store (``file:///PATH`` or a bare path): ``file://`` + the real path of its folder;
    * a server or database (``http(s)://``, ``postgresql://``, ...): the URI with its scheme and
      host in lower case, the scheme's default port dropped and no trailing slash;
    * anything else (``databricks``, an in-memory ``sqlite://``): the URI's text.

    An absolute, symlink-free SQLite URI is its own identity, so the keys of existing state do
    not change.

    >>> store_identity("sqlite:////tmp/../tmp/demo/./mlflow.db") == "sqlite:///" + os.path.realpath("/tmp/demo/mlflow.db")
    True
    >>> store_identity("https://mlflow.example.com:443/base/")
    'https://mlflow.example.com/base'
    """
    uri = tracking_uri.strip()
    db = sqlite_path(_absolute_sqlite(uri))
    if db is not None:
        return SQLITE_PREFIX + os.path.realpath(db)
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme == "file" or (not scheme and uri not in ("", "databricks", "uc")):
        path = parts.path if scheme == "file" else uri
        return "file://" + os.path.realpath(path)
    if not parts.netloc:
        return uri
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port is None or port == DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    if parts.username is not None:
        user = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{user}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), parts.query, ""))


def store_timeout() -> float:
    """``$FORECASTER_STORE_TIMEOUT`` in seconds (default 5); a bad value is a usage error (exit 2)."""
    raw = os.environ.get(STORE_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_STORE_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{STORE_TIMEOUT_ENV} must be a number of seconds > 0. Received: {STORE_TIMEOUT_ENV}={raw}")
    return value


def probe_store(tracking_uri: str, timeout: float | None = None) -> None:
    """Fail fast when a tracking server does not answer: one bounded probe before anything else.

    For an ``http(s)://`` store, ``GET <uri>/health`` is tried until any HTTP answer arrives (even
    an error status: something answers) or ``timeout`` seconds (default :func:`store_timeout`)
    have passed. Other stores (SQLite, files) are checked when they are opened. Nothing is written.

    Raises
    ------
    ConfigError
        The server did not answer in time (exit 2); the message names ``tracking.tracking_uri``,
        the reason and ``FORECASTER_STORE_TIMEOUT``.
    """
    parts = urlsplit(tracking_uri.strip())
    if parts.scheme.lower() not in ("http", "https"):
        return
    timeout = store_timeout() if timeout is None else timeout
    url = tracking_uri.strip().rstrip("/") + "/health"
    deadline = time.monotonic() + timeout
    reason = "no answer"
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            with urllib.request.urlopen(url, timeout=max(0.1, min(left, 5.0))):  # noqa: S310 - the user's server
                return
        except urllib.error.HTTPError:
            return  # an HTTP status: the server answers
        except (urllib.error.URLError, OSError, ValueError) as exc:
            cause = getattr(exc, "reason", exc)
            reason = f"{type(cause).__name__}: {cause}" if not isinstance(cause, str) else cause
        time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
    raise ConfigError(
        f"tracking.tracking_uri: the MLflow tracking server did not answer within {timeout:g} s ({reason}). "
        f"Start the server or fix the address; to wait longer set {STORE_TIMEOUT_ENV}=<seconds>. "
        f"Received: tracking.tracking_uri={tracking_uri}"
    )
