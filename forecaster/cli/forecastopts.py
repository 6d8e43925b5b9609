"""``forecaster forecast`` options: defaults taken from ``--pipeline``, the registry check, stdout CSV.

With ``--pipeline FILE`` the tracking store is the pipeline's (unless the global ``--tracking-uri``
is given), ``--model`` defaults to ``models:/<registered model>@champion`` and ``--data`` to the
pipeline's ``data.path``. A ``models:/`` reference is checked against the registry before the
model loads, so a typo lists the names and aliases that exist instead of a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any, Callable

from forecaster.errors import ConfigError

logger = logging.getLogger("forecaster.cli")


def forecast_defaults(args: argparse.Namespace, load_config: Callable[..., Any]) -> tuple[str, str, str]:
    """``(model reference, data path, pipeline name or "")``; sets the tracking store for this process.

    Raises
    ------
    ConfigError
        ``--model`` or ``--data`` missing without ``--pipeline``; a ``models:/`` reference that
        names no registered model, alias or version (exit 2).
    """
    model, data, title = args.model, args.data, ""
    tracking_uri = args.tracking_uri
    if args.pipeline:
        cfg = load_config(args.pipeline, [], None)
        tracking_uri = tracking_uri or cfg.tracking.tracking_uri
        model = model or f"models:/{cfg.registered_model_name}@champion"
        data = data or cfg.data.path
        title = cfg.name
    missing = [flag for flag, value in (("--model", model), ("--data", data)) if not value]
    if missing:
        raise ConfigError(f"forecast needs {' and '.join(missing)} (or --pipeline FILE to take them "
                          "from a pipeline file)")
    if model.startswith(("models:/", "runs:/")):
        from forecaster.tracking.lookup import check_model_reference
        from forecaster.tracking.store import resolve_tracking_uri

        uri = resolve_tracking_uri(tracking_uri)
        # The served model's loader reads the store from the environment.
        os.environ["MLFLOW_TRACKING_URI"] = uri
        check_model_reference(model, uri)
    return model, data, title


def write_csv_stdout(frame: Any, float_format: str) -> None:
    """Write ``frame`` as CSV to stdout, the only thing this command writes there."""
    frame.to_csv(sys.stdout, index=False, float_format=float_format)
    sys.stdout.flush()
