"""Link the run that ``mlflow run`` creates (the MLproject wrapper) to the comparison it started.

``mlflow run`` creates a run, then starts the entry point's command with ``MLFLOW_RUN_ID`` (and
``MLFLOW_TRACKING_URI``) in its environment. The comparison's parent run is a different run, often
in the pipeline's own store; this module tags both so each leads to the other:

- ``forecaster.comparison_run_id`` (and ``forecaster.comparison_tracking_uri``) on the wrapper run;
- ``forecaster.mlproject_run_id`` on the comparison's parent run.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)

ENV_WRAPPER_RUN_ID = "MLFLOW_RUN_ID"
TAG_COMPARISON_RUN = "forecaster.comparison_run_id"
TAG_COMPARISON_STORE = "forecaster.comparison_tracking_uri"
TAG_WRAPPER_RUN = "forecaster.mlproject_run_id"


def link_wrapper_run(parent_run_id: str, tracking_uri: str) -> str | None:
    """Tag the ``mlflow run`` wrapper run and the comparison's parent with each other's id.

    Returns the wrapper's run id, or None when not started by ``mlflow run`` or the wrapper run
    cannot be reached (a warning says why; the comparison itself is not affected).
    """
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    wrapper = os.environ.get(ENV_WRAPPER_RUN_ID, "").strip()
    if not wrapper or wrapper == parent_run_id:
        return None
    wrapper_uri = os.environ.get("MLFLOW_TRACKING_URI") or tracking_uri
    try:
        client = MlflowClient(tracking_uri=wrapper_uri)
        client.set_tag(wrapper, TAG_COMPARISON_RUN, parent_run_id)
        client.set_tag(wrapper, TAG_COMPARISON_STORE, tracking_uri)
        MlflowClient(tracking_uri=tracking_uri).set_tag(parent_run_id, TAG_WRAPPER_RUN, wrapper)
    except MlflowException as exc:
        logger.warning("could not link the mlflow run wrapper run %s (store %s) to comparison run %s: %s",
                       wrapper, wrapper_uri, parent_run_id, exc.message)
        return None
    logger.info("linked the mlflow run wrapper run %s to comparison run %s", wrapper, parent_run_id)
    return wrapper


__all__ = ["TAG_COMPARISON_RUN", "TAG_COMPARISON_STORE", "TAG_WRAPPER_RUN", "link_wrapper_run"]
