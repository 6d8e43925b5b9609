"""forecaster: recurrent-network forecasting of stock prices and temperatures, tracked in MLflow.

The few things an analyst needs in a notebook:

>>> import forecaster
>>> cfg = forecaster.load_config("pipelines/smoke.yaml")          # doctest: +SKIP
>>> outcome = forecaster.run(cfg)                                   # doctest: +SKIP
>>> outcome.status, outcome.forecast_path                           # doctest: +SKIP
('success', 'forecasts/smoke.csv')
>>> model = forecaster.load_model("models:/smoke@champion")        # doctest: +SKIP
>>> model.forecast(history_df)                                      # doctest: +SKIP
   series_id           timestamp  step  forecast     lower     upper
...

Heavy modules (TensorFlow, MLflow) load only when a function needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from forecaster._version import __version__
from forecaster.runtime_env import apply_tensorflow_defaults

# Before any module of this package imports TensorFlow: settings it reads once, at start-up.
apply_tensorflow_defaults()

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from forecaster.config import PipelineConfig
    from forecaster.estimator import WindowForecaster
    from forecaster.pipeline import RunOutcome

__all__ = ["__version__", "load_config", "run", "load_model", "forecast", "RNNForecaster"]


# The functions below import their modules when called, not here: ``import forecaster`` (and so
# ``forecaster --help``) must stay fast, without loading TensorFlow, MLflow or pandas.


def load_config(path: Any, overrides: list[str] | None = None) -> "PipelineConfig":
    """Load and validate a pipeline file; ``overrides`` are ``key.path=value`` strings."""
    from forecaster.config import load_config as _load

    return _load(path, overrides)


def run(config: Any, *, force: bool = False, jobs: int = 1, executor: str = "local",
        ray_address: str | None = None) -> "RunOutcome":
    """Run a pipeline (a loaded config or a path to a pipeline file), like ``forecaster run``.

    ``executor="ray"`` (with ``ray_address``, else ``RAY_ADDRESS``, else a local Ray) runs every
    candidate as a Ray task, like ``--executor ray``.

    Returns a :class:`forecaster.pipeline.RunOutcome` with ``status``, ``exit_code``, ``message``,
    ``forecast_path``, ``plot_path`` and the ``comparison`` (every candidate's metrics).
    """
    from forecaster.config import PipelineConfig
    from forecaster.execution import make_executor
    from forecaster.pipeline import run_pipeline

    cfg = config if isinstance(config, PipelineConfig) else load_config(config)
    with make_executor(executor, jobs=jobs, address=ray_address) as ex:
        return run_pipeline(cfg, force=force, jobs=jobs, executor=ex)


def load_model(uri: str) -> "WindowForecaster":
    """Load a forecaster from ``models:/NAME@champion``, ``runs:/RUN_ID/model`` or a local directory.

    The result has ``forecast(history_df, horizon=None)`` (raw history in the training file's
    columns) and ``predict(canonical_frame)``.
    """
    from forecaster.forecasting import load_model as _load_model

    return _load_model(uri)


def forecast(model: Any, history: "pd.DataFrame", horizon: int | None = None) -> "pd.DataFrame":
    """Forecast from raw history with a model (or a model URI/path).

    Returns columns ``series_id, timestamp, step, forecast, lower, upper``.
    """
    if isinstance(model, str):
        model = load_model(model)
    return model.forecast(history, horizon=horizon)


def __getattr__(name: str) -> Any:
    if name == "RNNForecaster":
        from forecaster.estimator import RNNForecaster

        return RNNForecaster
    raise AttributeError(f"module 'forecaster' has no attribute {name!r}")
