"""The logged model: an MLflow ``pyfunc`` that forecasts from RAW recent history.

It wraps a saved forecaster directory (Keras model + preprocessing, see
:meth:`forecaster.estimator.RNNForecaster.save`), so a request needs no preprocessing of its own:

- input: a DataFrame of recent raw history (timestamp, feature columns, series id when there
  are several series), at least ``lookback`` rows per series;
- output: a DataFrame ``series_id, timestamp, step, forecast, lower, upper`` (+ ``target`` when
  the model has several targets), one row per series and future step.

The ``forecaster`` package is bundled with the model (``code_paths``), so it loads where
``forecaster`` is not installed, and the pinned ``pip_requirements`` save MLflow from inferring
them (about 10 s at logging time).

Example
-------
>>> with mlflow.start_run():                                      # doctest: +SKIP
...     uri = log_forecaster_model("runs/best", input_example=history.tail(48))
>>> mlflow.pyfunc.load_model(uri).predict(history.tail(48))       # doctest: +SKIP
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

logger = logging.getLogger(__name__)

#: Distributions the model needs at inference, pinned to the versions installed here.
RUNTIME_DISTRIBUTIONS = (
    "tensorflow-cpu", "keras", "numpy", "pandas", "scikit-learn", "scipy", "joblib", "pydantic",
    "PyYAML", "mlflow",
)
ARTIFACT_KEY = "forecaster"


class ForecasterModel(mlflow.pyfunc.PythonModel):
    """``pyfunc`` wrapper of a saved forecaster directory (artifact key ``forecaster``)."""

    def load_context(self, context: Any) -> None:
        from forecaster.estimator import load_forecaster

        self.forecaster_ = load_forecaster(context.artifacts[ARTIFACT_KEY])

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Forecast from raw history.

        Parameters
        ----------
        model_input : pandas.DataFrame
            Recent raw history, ``(n_rows, n_columns)`` with the training file's columns.
        params : dict, optional
            Unused.

        Returns
        -------
        pandas.DataFrame
            ``series_id, timestamp, step, forecast, lower, upper``; ``n_series * horizon`` rows.
        """
        if not isinstance(model_input, pd.DataFrame):
            model_input = pd.DataFrame(model_input)
        return self.forecaster_.forecast(model_input)


def pinned_requirements() -> list[str]:
    """``name==version`` for each of :data:`RUNTIME_DISTRIBUTIONS` installed here."""
    pins = []
    for name in RUNTIME_DISTRIBUTIONS:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            logger.warning("%s is not installed; it is left out of the model's pip requirements", name)
    return pins


def package_dir() -> Path:
    """The directory of the ``forecaster`` package (bundled into the model as code)."""
    import forecaster

    return Path(forecaster.__file__).resolve().parent


def log_forecaster_model(
    model_dir: str | os.PathLike,
    *,
    input_example: pd.DataFrame,
    name: str = "model",
    run_id: str | None = None,
) -> str:
    """Log a saved forecaster as a ``pyfunc`` model, with signature and input example.

    Parameters
    ----------
    model_dir : path-like
        A directory written by the forecaster's ``save``.
    input_example : pandas.DataFrame
        Recent raw history, ``(n_rows, n_columns)``; the output example (and so the signature)
        comes from actually forecasting from it.
    name : str
        The model's name within the run.
    run_id : str, optional
        Log into this existing run (its status is kept); by default the active run, if any
        (MLflow 3 can also log a model outside any run).

    Returns
    -------
    str
        The model URI (``models:/m-...``) to load or register.

    Raises
    ------
    FileNotFoundError
        ``model_dir`` is not a saved forecaster.
    """
    from forecaster.estimator import load_forecaster

    model_dir = Path(model_dir)
    if not isinstance(input_example, pd.DataFrame) or input_example.empty:
        raise ValueError(
            "`input_example` must be a non-empty DataFrame of raw history. "
            f"Received: {type(input_example).__name__}"
        )
    forecaster = load_forecaster(model_dir)
    output_example = forecaster.forecast(input_example)
    signature = infer_signature(input_example, output_example)
    with tempfile.TemporaryDirectory(prefix="forecaster-code-") as scratch:
        # Bundle the package's sources only (no __pycache__).
        code_dir = Path(scratch) / "forecaster"
        shutil.copytree(package_dir(), code_dir, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        kwargs = dict(
            name=name,
            python_model=ForecasterModel(),
            artifacts={ARTIFACT_KEY: str(model_dir)},
            input_example=input_example,
            signature=signature,
            pip_requirements=pinned_requirements(),
            code_paths=[str(code_dir)],
        )
        active = mlflow.active_run()
        if run_id is not None and (active is None or active.info.run_id != run_id):
            # Resuming a run marks it FINISHED on exit; put its own status back afterwards.
            status = MlflowClient().get_run(run_id).info.status
            with mlflow.start_run(run_id=run_id, nested=active is not None):
                info = mlflow.pyfunc.log_model(**kwargs)
            if status != "RUNNING":
                MlflowClient().set_terminated(run_id, status)
        else:
            info = mlflow.pyfunc.log_model(**kwargs)
    logger.info("logged the forecaster in %s as %s", model_dir, info.model_uri)
    return info.model_uri


def load_forecaster_from_uri(model_uri: str) -> Any:
    """Load the forecaster inside a logged model (``models:/NAME@champion``, ``models:/m-...``, ...).

    The model's files are downloaded to a temporary directory and the saved forecaster in its
    ``forecaster`` artifact is loaded with :func:`forecaster.estimator.load_forecaster` (the
    installed package's code, not the copy bundled with the model).

    Raises
    ------
    ConfigError
        The URI names no model in the configured store, or a model that is not a forecaster.
    """
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    from forecaster.errors import ConfigError
    from forecaster.estimator import load_forecaster

    with tempfile.TemporaryDirectory(prefix="forecaster-model-") as scratch:
        try:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=scratch))
        except MlflowException as exc:
            raise ConfigError(
                f"model {model_uri!r} was not found in the MLflow store {mlflow.get_tracking_uri()} ({exc.message})"
            ) from exc
        flavor = Model.load(str(local / "MLmodel")).flavors.get("python_function", {})
        relative = (flavor.get("artifacts") or {}).get(ARTIFACT_KEY, {}).get("path")
        if relative is None:
            raise ConfigError(
                f"model {model_uri!r} is not a forecaster model: its MLmodel has no {ARTIFACT_KEY!r} artifact"
            )
        return load_forecaster(local / relative)
