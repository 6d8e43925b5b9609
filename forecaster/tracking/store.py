"""Where runs, artifacts and registered models are stored, and how to open the MLflow UI on them.

Creating or upgrading a SQLite store is serialised by a file lock beside it (:func:`open_store`).

Precedence of the tracking store (resolved by :mod:`forecaster.tracking.storeuri`): the pipeline file's ``tracking.tracking_uri`` > the
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

import fcntl
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
from forecaster.tracking.storeuri import (  # noqa: F401
    DEFAULT_DB_NAME,
    resolve_tracking_uri,
    sqlite_path,
)

logger = logging.getLogger(__name__)

ARTIFACT_DIR_NAME = "mlartifacts"


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
        try:
            db.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"tracking.tracking_uri: cannot create the store's directory {db.parent} "
                              f"({exc.strerror}). Received: {uri}") from None
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    open_store(uri)
    logger.debug("MLflow tracking and registry URI: %s", uri)
    return uri


_OPENED: set[str] = set()
STORE_LOCK_SUFFIX = ".lock"


def open_store(uri: str) -> None:
    """Open (create or upgrade) the store once per process, serialised across processes.

    MLflow creates and migrates a SQLite schema when it first opens the file; two processes doing
    that at once race (``table _alembic_tmp_experiments already exists``) and can leave a
    half-migrated store. So the first open holds an exclusive ``flock`` on ``<db>.lock`` beside
    the database (opened without following symlinks) while both the tracking and the registry
    store initialise. Any number of first runs against one new store then all succeed.

    Raises
    ------
    ConfigError
        The store cannot be opened (exit 2); the message names ``tracking.tracking_uri``.
    """
    if uri in _OPENED:
        return
    db = sqlite_path(uri)
    fd = None
    try:
        if db is not None:
            fd = os.open(f"{db}{STORE_LOCK_SUFFIX}", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.search_experiments(max_results=1)
        client.search_registered_models(max_results=1)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to open the store is the user's setting
        summary = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
        raise ConfigError(f"tracking.tracking_uri: the MLflow store cannot be opened ({type(exc).__name__}: "
                          f"{summary}). Received: {uri}") from None
    finally:
        if fd is not None:
            os.close(fd)  # releases the flock
    _OPENED.add(uri)


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
    from forecaster.tracking.ui import ensure_comparison_view

    ensure_comparison_view(client, experiment_id)  # the runs view with the comparison's columns
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
