"""Where runs, artifacts and registered models are stored, and how to open the MLflow UI on them.

Precedence of the tracking store: the pipeline file's ``tracking.tracking_uri`` > the
``MLFLOW_TRACKING_URI`` environment variable > ``sqlite:///<cwd>/mlflow.db`` (MLflow's own
default, made absolute so a later ``cd`` cannot split one store in two).

With a SQLite store, artifacts go beside the database: every experiment this module creates gets
``artifact_location = file://<dir of the db>/mlartifacts/<experiment>``. (Left alone, MLflow 3.17
would put them under ``./mlruns`` relative to whatever the working directory happens to be.)

Example
-------
>>> uri = resolve_tracking_uri("sqlite:////tmp/demo/mlflow.db")
>>> artifact_root_for(uri)
'file:///tmp/demo/mlartifacts'
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import mlflow
from mlflow.tracking import MlflowClient

from forecaster.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_DB_NAME = "mlflow.db"
ARTIFACT_DIR_NAME = "mlartifacts"
_SQLITE_PREFIX = "sqlite:///"


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
    return _SQLITE_PREFIX + str(Path.cwd().resolve() / DEFAULT_DB_NAME)


def _absolute_sqlite(uri: str) -> str:
    if not uri.startswith(_SQLITE_PREFIX):
        return uri
    path = uri[len(_SQLITE_PREFIX):]
    if path.startswith("/") or path in ("", ":memory:"):
        return uri
    return _SQLITE_PREFIX + str(Path.cwd().resolve() / path)


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, or None for other stores."""
    if not tracking_uri.startswith(_SQLITE_PREFIX):
        return None
    path = tracking_uri[len(_SQLITE_PREFIX):]
    if not path or path == ":memory:":
        return None
    return Path(path)


def artifact_root_for(tracking_uri: str) -> str | None:
    """The artifact root for new experiments: ``file://<dir of db>/mlartifacts`` for SQLite.

    Returns None for other stores (a tracking server or a file store decides for itself).
    """
    db = sqlite_path(tracking_uri)
    if db is None:
        return None
    return (db.parent / ARTIFACT_DIR_NAME).resolve().as_uri()


def configure(cfg_tracking: Any = None) -> str:
    """Point MLflow's tracking and model-registry clients at the resolved store.

    Parameters
    ----------
    cfg_tracking : forecaster.config.TrackingConfig or None
        Only ``tracking_uri`` is read.

    Returns
    -------
    str
        The tracking URI now in use. The database's directory is created when needed.
    """
    uri = resolve_tracking_uri(getattr(cfg_tracking, "tracking_uri", None))
    db = sqlite_path(uri)
    if db is not None:
        if db.exists() and db.is_dir():
            raise ConfigError(
                f"tracking.tracking_uri must name a SQLite file, not a directory. Received: {uri}"
            )
        db.parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    logger.debug("MLflow tracking and registry URI: %s", uri)
    return uri


def _safe_dir_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return cleaned or "experiment"


def get_or_create_experiment(name: str, artifact_root: str | None = None) -> str:
    """Return the id of experiment ``name``, creating it when absent.

    Parameters
    ----------
    name : str
        Experiment name.
    artifact_root : str or None
        Base artifact URI (see :func:`artifact_root_for`); the experiment's artifacts go to
        ``<artifact_root>/<name>``. None lets MLflow decide. Ignored for an existing experiment.

    Returns
    -------
    str
        The experiment id.
    """
    if not name or not name.strip():
        raise ConfigError(f"the experiment name must not be empty. Received: {name!r}")
    client = MlflowClient()
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            logger.info("restoring deleted MLflow experiment %r", name)
            client.restore_experiment(experiment.experiment_id)
        return experiment.experiment_id
    location = None
    if artifact_root is not None:
        location = artifact_root.rstrip("/") + "/" + _safe_dir_name(name)
    experiment_id = client.create_experiment(name, artifact_location=location)
    logger.info("created MLflow experiment %r (id %s, artifacts %s)", name, experiment_id, location)
    return experiment_id


def ui_command(host: str = "127.0.0.1", port: int = 5000, tracking_uri: str | None = None) -> list[str]:
    """The ``mlflow ui`` command line for the same store (one worker: starts in ~9 s, not ~30 s).

    Parameters
    ----------
    host, port :
        Where the UI listens; 127.0.0.1 keeps it local.
    tracking_uri : str or None
        Defaults to :func:`resolve_tracking_uri`.

    Returns
    -------
    list of str
        Ready for :func:`subprocess.run`.
    """
    if not 0 < int(port) < 65536:
        raise ConfigError(f"`port` must be between 1 and 65535. Received: port={port}")
    uri = tracking_uri or resolve_tracking_uri()
    executable = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or shutil.which("mlflow")
    command = [executable] if executable else [sys.executable, "-m", "mlflow"]
    command += ["ui", "--backend-store-uri", uri]
    root = artifact_root_for(uri)
    if root is not None:
        # Only affects experiments created from the UI; ours carry their own location.
        command += ["--default-artifact-root", root]
    command += ["--host", host, "--port", str(int(port)), "--workers", "1"]
    return command
