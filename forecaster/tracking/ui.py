"""Links into the MLflow UI: straight to an experiment's machine-learning runs view, sorted by val MAE.

MLflow 3.17 opens its GenAI overview (traces, an assistant panel) at ``/``, where a comparison's
runs do not show. The hash route below opens the classic runs table of one experiment instead.

Example
-------
>>> runs_view_url("http://127.0.0.1:5000", "3")
'http://127.0.0.1:5000/#/experiments/3/runs?workflowType=machine_learning&orderByKey=metrics.%60val_mae%60&orderByAsc=true'
>>> browser_host("0.0.0.0"), is_loopback("127.0.0.1"), is_loopback("0.0.0.0")
('127.0.0.1', True, False)
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)

RUNS_VIEW = "#/experiments/{experiment_id}/runs?workflowType=machine_learning&orderByKey=metrics.%60val_mae%60&orderByAsc=true"


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


def runs_view_url(base: str, experiment_id: str) -> str:
    """The machine-learning runs view of ``experiment_id``, sorted by ``val_mae`` ascending."""
    return base.rstrip("/") + "/" + RUNS_VIEW.format(experiment_id=experiment_id)


def experiment_links(tracking_uri: str, base: str, experiment_name: str | None = None) -> list[ExperimentLink]:
    """Runs-view links for ``experiment_name``, or for every experiment that holds runs.

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
    return [ExperimentLink(e.name, e.experiment_id, runs_view_url(base, e.experiment_id)) for e in found]


__all__ = ["ExperimentLink", "RUNS_VIEW", "base_url", "browser_host", "experiment_links", "is_loopback",
           "runs_view_url"]
