"""Links into the MLflow UI: straight to an experiment's machine-learning runs view, sorted by val MAE,
with the comparison's columns shown.

MLflow 3.17 opens its GenAI overview (traces, an assistant panel) at ``/``, where a comparison's
runs do not show. The hash route below opens the classic runs table of one experiment instead.
Its URL can sort (``orderByKey``) but not choose columns: the table shows a run's name, start and
duration, and hides every metric behind "Columns". MLflow's *saved views* (3.15+) can: an
experiment tag ``mlflow.sharedViewState.<key>`` holds a named view (the envelope ``{"name",
"createdAt", "updatedAt", "state"}``, ``state`` the JSON of the view: sort, ``selectedColumns``,
``columnOrder``), listed in the runs view's "Views" menu, and the URL parameter
``viewStateShareKey=<key>`` opens the runs view in it. :func:`ensure_comparison_view` writes the tag
:data:`COMPARISON_VIEW_KEY` with :data:`COMPARISON_COLUMNS` (val MAE, test MAE, and both relative
to persistence) in that order, sorted by val MAE, and :func:`runs_view_url` with ``shared=True``
links to it: every candidate's and baseline's figures on the first screen (MLflow shows a
"You're viewing a shared view" note above the table). Without the tag (a store this process may
not write to) the link only sorts.

Example
-------
>>> runs_view_url("http://127.0.0.1:5000", "3")
'http://127.0.0.1:5000/#/experiments/3/runs?workflowType=machine_learning&orderByKey=metrics.%60val_mae%60&orderByAsc=true'
>>> runs_view_url("http://127.0.0.1:5000", "3", shared=True)
'http://127.0.0.1:5000/#/experiments/3/runs?workflowType=machine_learning&viewStateShareKey=forecaster-comparison'
>>> browser_host("0.0.0.0"), is_loopback("127.0.0.1"), is_loopback("0.0.0.0")
('127.0.0.1', True, False)
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

RUNS_VIEW = "#/experiments/{experiment_id}/runs?workflowType=machine_learning&orderByKey=metrics.%60val_mae%60&orderByAsc=true"
#: The shared view's key, its experiment tag, and the runs view it opens (no sort parameter in the
#: URL: MLflow ignores a shared view when the URL sets any search facet).
COMPARISON_VIEW_KEY = "forecaster-comparison"
COMPARISON_VIEW_NAME = "forecaster: comparison"
SHARED_VIEW_TAG_PREFIX = "mlflow.sharedViewState."
SHARED_RUNS_VIEW = "#/experiments/{experiment_id}/runs?workflowType=machine_learning&viewStateShareKey={key}"
#: The columns the comparison view shows, in this order (MLflow's column keys).
COMPARISON_COLUMNS = ("metrics.`val_mae`", "metrics.`test_mae`", "metrics.`val_rel_mae`", "metrics.`test_rel_mae`")


def comparison_view_state() -> dict[str, Any]:
    """The shared view state: sorted by val MAE (ascending), the comparison's columns in order."""
    columns = list(COMPARISON_COLUMNS)
    return {"orderByKey": columns[0], "orderByAsc": True, "selectedColumns": columns, "columnOrder": columns}


def ensure_comparison_view(client: Any, experiment_id: str) -> bool:
    """Write the comparison view's tag on the experiment unless it holds it already; False when the
    store refuses the write (the view is then not available)."""
    from mlflow.exceptions import MlflowException

    tag = SHARED_VIEW_TAG_PREFIX + COMPARISON_VIEW_KEY
    try:
        if _saved_view(client.get_experiment(experiment_id).tags.get(tag)) != (COMPARISON_VIEW_NAME,
                                                                               comparison_view_state()):
            now = int(time.time() * 1000)
            envelope = {"name": COMPARISON_VIEW_NAME, "createdAt": now, "updatedAt": now,
                        "state": json.dumps(comparison_view_state())}
            client.set_experiment_tag(experiment_id, tag, json.dumps(envelope))
    except (MlflowException, OSError) as exc:
        logger.warning("could not write the comparison view to experiment %s (%s): the link only sorts by "
                       "val MAE", experiment_id, exc)
        return False
    return True


@dataclass(frozen=True)
class ExperimentLink:
    """One experiment of the store and the URL of its runs view."""

    name: str
    experiment_id: str
    url: str


def base_url(host: str, port: int) -> str:
    """The URL a browser on this machine uses for a server listening on ``host:port``."""
    host = browser_host(host)
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"http://{host}:{int(port)}"


def browser_host(host: str) -> str:
    """``0.0.0.0`` / ``::`` (all interfaces) are reached through the loopback address."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (only this machine can connect)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _saved_view(value: str | None) -> tuple[str, Any] | None:
    """``(name, state)`` of a saved-view tag value, None when it is not one."""
    try:
        envelope = json.loads(value) if value else None
        return envelope["name"], json.loads(envelope["state"])
    except (TypeError, ValueError, KeyError):
        return None


def runs_view_url(base: str, experiment_id: str, shared: bool = False) -> str:
    """The machine-learning runs view of ``experiment_id``, sorted by ``val_mae`` ascending;
    ``shared``: in the comparison view (:func:`ensure_comparison_view` must have written it)."""
    route = (SHARED_RUNS_VIEW.format(experiment_id=experiment_id, key=COMPARISON_VIEW_KEY) if shared
             else RUNS_VIEW.format(experiment_id=experiment_id))
    return base.rstrip("/") + "/" + route


def experiment_links(tracking_uri: str, base: str, experiment_name: str | None = None) -> list[ExperimentLink]:
    """Runs-view links for ``experiment_name``, or for every experiment that holds runs, in the
    comparison view (written on each experiment first; a link only sorts where it cannot be).

    Returns an empty list when the experiment does not exist (yet) or the store holds no runs.
    """
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    if experiment_name is not None:
        experiment = client.get_experiment_by_name(experiment_name)
        found = [experiment] if experiment is not None and experiment.lifecycle_stage == "active" else []
    else:
        found = [e for e in client.search_experiments()
                 if client.search_runs([e.experiment_id], max_results=1)]
    return [ExperimentLink(e.name, e.experiment_id,
                           runs_view_url(base, e.experiment_id, shared=ensure_comparison_view(client, e.experiment_id)))
            for e in found]


__all__ = ["COMPARISON_COLUMNS", "COMPARISON_VIEW_KEY", "ExperimentLink", "RUNS_VIEW", "base_url", "browser_host",
           "comparison_view_state", "ensure_comparison_view", "experiment_links", "is_loopback", "runs_view_url"]
