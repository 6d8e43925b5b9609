"""Forecast from the end of a data file with a saved or registered forecaster.

The analyst's path (``forecaster forecast`` and notebooks): resolve a model reference, read
raw history exactly as the training file was read (the model remembers its pipeline's data
section), and forecast ``horizon`` steps after the end of each series.

Example
-------
>>> forecast, history = forecast_from_model("models:/jena-temperature@champion",
...                                         "data/temperature.csv", horizon=12)  # doctest: +SKIP
>>> forecast.columns.tolist()  # doctest: +SKIP
['series_id', 'timestamp', 'step', 'forecast', 'lower', 'upper']
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from forecaster.data.columns import SEGMENT, SERIES_ID, TIMESTAMP
from forecaster.data.schema import HEADER_KEY, DataSchema
from forecaster.errors import ConfigError, DataValidationError, ModelFileError
from forecaster.estimator import load_forecaster

logger = logging.getLogger(__name__)

URI_SCHEMES = ("models:/", "runs:/", "mlflow-artifacts:/")


def is_model_uri(reference: str) -> bool:
    """True for an MLflow model URI (``models:/...``, ``runs:/...``), False for a local path."""
    return reference.startswith(URI_SCHEMES)


def load_model(model: Any) -> Any:
    """Resolve ``model`` to a fitted forecaster.

    Parameters
    ----------
    model:
        An already loaded forecaster (returned as is), an MLflow URI (``models:/NAME@champion``,
        ``models:/NAME/3``, ``runs:/RUN_ID/model``; loaded by
        :func:`forecaster.tracking.load_forecaster_from_uri`), or the directory of a forecaster
        saved with ``save`` (loaded by :func:`forecaster.estimator.load_forecaster`).

    Raises
    ------
    ConfigError
        A local path that does not exist.
    ModelFileError
        Not a saved forecaster, or a file in it (or in the logged model) is invalid or tampered
        with. Nothing from the model's files is unpickled or run: a saved forecaster is read as
        data (:func:`forecaster.estimator.load_forecaster`), a logged model by
        :func:`forecaster.tracking.load_forecaster_from_uri`, never by ``mlflow.pyfunc.load_model``.
    """
    if not isinstance(model, (str, os.PathLike)):
        return model
    reference = os.fspath(model)
    if is_model_uri(reference):
        from forecaster.tracking import (
            load_forecaster_from_uri,  # lazy: MLflow only for a model URI
        )

        logger.info("Loading model %s", reference)
        return load_forecaster_from_uri(reference)
    _check_local_reference(reference)
    path = Path(reference)
    logger.info("Loading saved forecaster %s", path)
    try:
        return load_forecaster(path)
    except ModelFileError as exc:
        raise ModelFileError(f"--model {reference!r}: {exc}") from None


@dataclass
class FileForecast:
    """What :func:`forecast_file` returns: the loaded model, its forecast and the history read."""

    model: Any
    forecast: pd.DataFrame
    history: pd.DataFrame


def _check_local_reference(model: Any) -> None:
    """A local ``--model`` path must exist (cheap; the model itself is not read)."""
    if not isinstance(model, (str, os.PathLike)) or is_model_uri(os.fspath(model)):
        return
    path = Path(model)
    if not path.exists():
        raise ConfigError(
            f"--model {os.fspath(model)!r}: no such directory, and not a models:/ or runs:/ URI "
            f"(looked in {path.resolve()})"
        )


def forecast_from_model(
    model: Any, data_path: str | os.PathLike[str], horizon: int | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forecast ``horizon`` steps after the end of each series of a data file.

    ``(forecast, history)`` of :func:`forecast_file` (which documents the checks and errors).
    """
    result = forecast_file(model, data_path, horizon=horizon)
    return result.forecast, result.history


def forecast_file(
    model: Any, data_path: str | os.PathLike[str], horizon: int | None = None
) -> FileForecast:
    """Forecast ``horizon`` steps after the end of each series of a data file.

    The data file is checked before the model is loaded (loading takes seconds): it must exist,
    and, when the model's saved settings can be read without loading it (a saved directory, or a
    logged forecaster model), hold the model's input columns and at least ``lookback`` usable
    rows per series.

    Parameters
    ----------
    model:
        A fitted forecaster, an MLflow model URI or a saved forecaster's directory
        (see :func:`load_model`).
    data_path:
        CSV or Parquet file with the same columns as the training data.
    horizon:
        Steps to forecast, 1..the model's horizon; the model's horizon when None.

    Returns
    -------
    FileForecast
        ``model``: the loaded forecaster;
        ``forecast``: columns ``series_id, timestamp, step, forecast, lower, upper`` (plus
        ``target`` after ``series_id`` when the model has several targets),
        ``n_series * horizon * n_targets`` rows;
        ``history``: the validated history, ``series_id``, ``timestamp`` and the target
        columns (for plots).

    Raises
    ------
    ConfigError
        ``horizon`` is outside 1..the model's horizon, or ``model`` cannot be found.
    DataValidationError
        The data file is missing, lacks an input column of the model, has fewer usable rows than
        the model's lookback, or breaks a rule of the model's data section.
    """
    path = Path(data_path)
    history = None
    _check_local_reference(model)
    settings = saved_settings(model)
    if settings is not None:
        _check_horizon(horizon, int(settings["horizon"]))
        history = _read_history(settings, path)
    else:
        _check_data_file(path)
    forecaster = load_model(model)
    model_settings = _settings_of(forecaster)
    _check_horizon(horizon, model_settings["horizon"])
    if history is None:
        history = _read_history(model_settings, path)
    forecast = forecaster.forecast(history["raw"], horizon=horizon)
    targets = list(model_settings["target"])
    canonical = history["canonical"]
    return FileForecast(forecaster, forecast,
                        canonical[[SERIES_ID, TIMESTAMP, *targets]].reset_index(drop=True))


def _check_horizon(horizon: int | None, model_horizon: int) -> None:
    if horizon is not None and not 1 <= int(horizon) <= model_horizon:
        raise ConfigError(
            f"--horizon must be between 1 and the model's horizon ({model_horizon}). "
            f"Received: horizon={horizon}"
        )


def _check_data_file(path: Path) -> None:
    if not path.is_file():
        where = "a directory" if path.exists() else f"not found (looked in {path.resolve()})"
        raise DataValidationError(f"{path}: the data file (--data) is {where}")


def saved_settings(model: Any) -> dict[str, Any] | None:
    """The settings a saved or logged forecaster was written with, read WITHOUT loading it.

    ``schema`` (its :class:`~forecaster.data.schema.DataSchema`: data section and raw input columns),
    ``target``, ``lookback``, ``horizon``, ``frequency``; None when they cannot be read cheaply (an
    older save, an unreachable store: the model is then loaded first and checks the data itself).
    """
    if not isinstance(model, (str, os.PathLike)):
        return None
    reference = os.fspath(model)
    if is_model_uri(reference):
        from forecaster.tracking.settings import settings_from_uri

        meta = settings_from_uri(reference)
    else:
        from forecaster.estimator.state_files import META_FILE

        meta_path = Path(reference) / META_FILE
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            return None
    if not isinstance(meta, dict) or not {"lookback", "horizon"} <= set(meta):
        return None
    if HEADER_KEY not in meta and not {"inputs", "data"} <= set(meta):
        return None
    try:
        schema = DataSchema.from_header(meta)
    except (TypeError, ValueError):
        return None  # loading the model reports what is wrong
    return {"schema": schema, "target": list(schema.target or meta.get("target") or ()),
            "lookback": meta["lookback"], "horizon": meta["horizon"], "frequency": meta.get("frequency")}


def _settings_of(forecaster: Any) -> dict[str, Any]:
    settings = forecaster.window_settings()
    return {"schema": forecaster.data_schema(), "target": list(settings.target),
            "lookback": settings.lookback, "horizon": settings.horizon, "frequency": settings.frequency}


def _read_history(settings: dict[str, Any], path: Path) -> dict[str, pd.DataFrame]:
    """Read ``path`` like the model's training file: raw columns and the canonical frame.

    Messages speak of the model's input columns (the user of ``forecast`` may never have seen
    the pipeline file). Raises when a series has fewer usable rows than the model's lookback.
    """
    from forecaster.data.reader import read_raw
    from forecaster.data.validation import expected_columns, speaking_to_model
    from forecaster.estimator.inputs import short_history_error

    schema: DataSchema = settings["schema"]
    cfg = schema.config(str(path))
    with speaking_to_model(schema.inputs or expected_columns(cfg)):
        raw = read_raw(path, cfg)
    canonical = schema.to_canonical(raw, source=str(path), audience="model")
    lookback = int(settings["lookback"])
    regular = schema.regular(canonical, settings.get("frequency"))
    last = regular.groupby(SERIES_ID)[SEGMENT].transform("max")
    usable = regular[regular[SEGMENT] == last].groupby(SERIES_ID, sort=True).size()
    for sid in canonical[SERIES_ID].unique():
        found = int(usable.get(sid, 0))
        if found < lookback:
            raise short_history_error(str(path), sid, found, lookback)
    return {"raw": raw if schema.data is not None else canonical, "canonical": canonical}
