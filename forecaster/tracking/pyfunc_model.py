"""The logged model: an MLflow ``pyfunc`` that forecasts from RAW recent history.

It wraps a saved forecaster directory (Keras model + preprocessing as data, see
:meth:`forecaster.estimator.RNNForecaster.save`), so a request needs no preprocessing of its own:

- input: a DataFrame of recent raw history (timestamp, feature columns, series id when there
  are several series), at least ``lookback`` rows per series;
- output: a DataFrame ``series_id, timestamp, step, forecast, lower, upper`` (+ ``target`` when
  the model has several targets), one row per series and future step.

It is logged as MLflow "models from code": ``python_model`` is the small file
:mod:`forecaster.tracking.model_code`, which hands MLflow the :class:`ForecasterModel` of the
INSTALLED ``forecaster`` (pinned as ``forecaster==<version>`` in the requirements; no package copy,
no ``code_paths``, nothing pickled). Loading it elsewhere fails with a clear message when the
installed ``forecaster`` is another version.

Trust model: ``mlflow.pyfunc.load_model`` and ``mlflow models serve`` RUN the logged code file,
so use them only on a store whose writers you trust. forecaster's own loaders
(:func:`load_forecaster_from_uri`: ``forecaster forecast --model``, the scheduled re-scoring of the
champion, ``forecaster.load_model``) never do: they download the files, refuse a code file that
is not byte for byte :mod:`forecaster.tracking.model_code`, and read the saved forecaster as data.

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
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import yaml
from mlflow.exceptions import MlflowException
from mlflow.models import Model, ModelSignature, infer_signature
from mlflow.models.model import MODEL_CODE_PATH, MODEL_CONFIG
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, Schema

from forecaster._version import __version__
from forecaster.data.columns import SERIES_ID, TIMESTAMP
from forecaster.errors import ConfigError, ModelFileError
from forecaster.estimator import load_forecaster

logger = logging.getLogger(__name__)

#: Distributions the model needs at inference, pinned to the versions installed here.
RUNTIME_DISTRIBUTIONS = (
    "tensorflow-cpu", "keras", "numpy", "pandas", "scikit-learn", "scipy", "pydantic", "PyYAML", "mlflow",
)
ARTIFACT_KEY = "forecaster"
#: The ``model_config`` key recording the forecaster version that logged the model.
VERSION_KEY = "forecaster_version"
#: The models-from-code file (a sibling module, found by path: no import of the package ``__init__``).
MODEL_CODE_FILE = Path(__file__).with_name("model_code.py")


def check_version(logged: Any) -> None:
    """Raise :class:`ModelFileError` unless ``logged`` is the installed forecaster version."""
    if logged != __version__:
        raise ModelFileError(
            f"this model was logged by forecaster {logged!r}, but forecaster {__version__!r} is installed; "
            f"install forecaster=={logged} (the model's requirements.txt pins it) to load it"
        )


class ForecasterModel(mlflow.pyfunc.PythonModel):
    """``pyfunc`` wrapper of a saved forecaster directory (artifact key ``forecaster``)."""

    def load_context(self, context: Any) -> None:
        check_version((context.model_config or {}).get(VERSION_KEY))
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


#: The forecast frame's column types (the rest are ``double``): declared, not inferred, so MLflow's
#: "Inferred schema contains integer column(s)" hint (about missing values in integer INPUT columns)
#: is not raised for ``step``, a whole number that is never missing. Same signature as inferred.
OUTPUT_TYPES = {SERIES_ID: "string", TIMESTAMP: "datetime", "step": "long", "target": "string"}


def forecast_signature(input_example: pd.DataFrame, output_example: pd.DataFrame) -> ModelSignature:
    """The logged model's signature: inputs inferred from the raw input example, outputs declared
    (:data:`OUTPUT_TYPES`)."""
    outputs = Schema([ColSpec(OUTPUT_TYPES.get(c, "double"), c) for c in output_example.columns])
    return ModelSignature(inputs=infer_signature(input_example).inputs, outputs=outputs)


def pinned_requirements() -> list[str]:
    """``forecaster==<version>`` and ``name==version`` for each of :data:`RUNTIME_DISTRIBUTIONS`
    installed here."""
    pins = [f"forecaster=={__version__}"]
    for name in RUNTIME_DISTRIBUTIONS:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            logger.warning("%s is not installed; it is left out of the model's pip requirements", name)
    return pins


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
    ModelFileError
        ``model_dir`` is not a saved forecaster.
    """
    model_dir = Path(model_dir)
    if not isinstance(input_example, pd.DataFrame) or input_example.empty:
        raise ValueError(
            "`input_example` must be a non-empty DataFrame of raw history. "
            f"Received: {type(input_example).__name__}"
        )
    forecaster = load_forecaster(model_dir)
    output_example = forecaster.forecast(input_example)
    signature = forecast_signature(input_example, output_example)
    kwargs = dict(
        name=name,
        python_model=str(MODEL_CODE_FILE),
        artifacts={ARTIFACT_KEY: str(model_dir)},
        model_config={VERSION_KEY: __version__},
        input_example=input_example,
        signature=signature,
        pip_requirements=pinned_requirements(),
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
    """Load the forecaster inside a logged model (``models:/NAME@champion``, ``models:/m-...``, ...)
    WITHOUT running any of its code.

    The model's files are downloaded to a temporary directory; its ``MLmodel`` is read as plain
    YAML, its code file must be byte for byte the installed :mod:`forecaster.tracking.model_code`
    (it is compared, never run), the recorded forecaster version must be the installed one, and
    the saved forecaster in its ``forecaster`` artifact is read as data by
    :func:`forecaster.estimator.load_forecaster`.

    Raises
    ------
    ConfigError
        The URI names no model in the configured store.
    ModelFileError
        The model is not a forecaster model, was logged by another forecaster version, or a
        file is invalid or tampered with (the message names it). Exit code 2 in the CLI.
    """
    with tempfile.TemporaryDirectory(prefix="forecaster-model-") as scratch:
        try:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=scratch))
        except MlflowException as exc:
            raise ConfigError(
                f"model {model_uri!r} was not found in the MLflow store {mlflow.get_tracking_uri()} ({exc.message})"
            ) from exc
        flavor = _pyfunc_flavor(model_uri, local / "MLmodel")
        code = flavor.get(MODEL_CODE_PATH)
        if not isinstance(code, str):
            raise ModelFileError(f"model {model_uri!r}: its MLmodel names no models-from-code file, so it is "
                                 "not a forecaster model (older pickled models are not loaded)")
        code_path = local / Path(code).name
        if not code_path.is_file() or code_path.read_bytes() != MODEL_CODE_FILE.read_bytes():
            raise ModelFileError(f"model {model_uri!r}: its code file {code_path.name} is not forecaster's own "
                                 f"{MODEL_CODE_FILE.name} (tampered, or logged by another version); it was not run")
        check_version((flavor.get(MODEL_CONFIG) or {}).get(VERSION_KEY))
        relative = (flavor.get("artifacts") or {}).get(ARTIFACT_KEY, {}).get("path")
        if not isinstance(relative, str) or Path(relative).is_absolute() or ".." in Path(relative).parts:
            raise ModelFileError(
                f"model {model_uri!r} is not a forecaster model: its MLmodel has no relative {ARTIFACT_KEY!r} artifact"
            )
        try:
            return load_forecaster(local / relative)
        except ModelFileError as exc:  # name the file inside the model, not the temporary download
            raise ModelFileError(f"model {model_uri!r}: {str(exc).replace(str(local) + os.sep, '')}") from None


def _pyfunc_flavor(model_uri: str, path: Path) -> dict[str, Any]:
    """The ``python_function`` section of an ``MLmodel`` file, read with ``yaml.safe_load``."""
    try:
        flavor = Model.load(str(path)).flavors.get("python_function")
    except (OSError, ValueError, TypeError, AttributeError, KeyError, yaml.YAMLError, MlflowException) as exc:
        raise ModelFileError(f"model {model_uri!r}: {path.name} is not a valid MLmodel YAML file "
                             f"({type(exc).__name__}: {str(exc)[:200]})") from None
    if not isinstance(flavor, dict):
        raise ModelFileError(f"model {model_uri!r}: {path.name} has no python_function flavor")
    return flavor
