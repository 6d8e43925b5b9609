"""Read a logged forecaster's saved settings (its JSON) without downloading or loading the model.

``forecaster forecast --model models:/...`` checks the data file against the model's inputs and
lookback before paying for the model (TensorFlow import, Keras load: seconds). Two small files are
fetched: the ``MLmodel`` (where the forecaster artifact lives) and the forecaster's settings JSON.
"""

from __future__ import annotations

import json
import logging
import posixpath
import tempfile
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def settings_from_uri(model_uri: str) -> dict[str, Any] | None:
    """The saved forecaster's settings JSON of a logged model, or None when it cannot be read.

    None is not an error: the caller then loads the model, which reports what is wrong.
    """
    import mlflow
    import yaml
    from mlflow.exceptions import MlflowException

    from forecaster.estimator.base import META_FILE
    from forecaster.tracking.pyfunc_model import ARTIFACT_KEY

    base = model_uri.rstrip("/")
    with tempfile.TemporaryDirectory(prefix="forecaster-settings-") as scratch:
        try:
            mlmodel = Path(mlflow.artifacts.download_artifacts(
                artifact_uri=f"{base}/MLmodel", dst_path=scratch))
            flavor = (yaml.safe_load(mlmodel.read_text()) or {}).get("flavors", {}).get("python_function", {})
            relative = ((flavor.get("artifacts") or {}).get(ARTIFACT_KEY) or {}).get("path")
            if not relative:
                return None
            meta = Path(mlflow.artifacts.download_artifacts(
                artifact_uri=f"{base}/{posixpath.join(relative, META_FILE)}", dst_path=scratch))
            return json.loads(meta.read_text())
        except (MlflowException, OSError, ValueError, AttributeError, yaml.YAMLError) as exc:
            logger.debug("settings of %s not read before loading it: %s", model_uri, exc)
            return None
