"""Which MLflow tracking store a run uses, resolved without importing MLflow.

The run's lock and state are keyed by this URI (:mod:`forecaster.scheduling.lock`), and the CLI takes the
lock before any heavy import, so the resolution lives here rather than in :mod:`forecaster.tracking`.

Precedence: the pipeline file's ``tracking.tracking_uri`` > ``$MLFLOW_TRACKING_URI`` >
``sqlite:///<cwd>/mlflow.db`` (MLflow's own default, made absolute so a later ``cd`` cannot split
one store in two).

Example
-------
>>> resolve_tracking_uri("sqlite:////tmp/demo/mlflow.db")
'sqlite:////tmp/demo/mlflow.db'
>>> sqlite_path("sqlite:////tmp/demo/mlflow.db").name
'mlflow.db'
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DB_NAME = "mlflow.db"
SQLITE_PREFIX = "sqlite:///"


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
