"""Where the work of a run executes: this process (``local``) or a Ray cluster (``ray``).

Owns where tasks run, how their results travel back (``archive``) and when they must stop
(``termination``: the SIGTERM flag checked at safe points). May import the ground floor only (and
``ray`` in ``ray_executor``); the tasks themselves belong to :mod:`forecaster.comparison`.

The execution environment is not part of the pipeline file: the same file runs on a laptop or a
cluster, and the idempotence key never depends on it. Only :mod:`forecaster.execution.ray_executor`
imports ``ray``; everything else here is plain Python.

Example
-------
>>> with make_executor("local", jobs=1) as executor:  # doctest: +SKIP
...     outcome = run_pipeline(cfg, executor=executor)
"""

from __future__ import annotations

import importlib.util

from forecaster.errors import ConfigError
from forecaster.execution.local import LocalExecutor
from forecaster.execution.outcome import ExecutorUnavailableError, TaskOutcome

#: The values of ``--executor`` (a contract).
EXECUTORS = ("local", "ray")
#: What to install for ``--executor ray``.
RAY_EXTRA = 'pip install "forecaster[ray]"'

__all__ = ["EXECUTORS", "RAY_EXTRA", "ExecutorUnavailableError", "LocalExecutor", "TaskOutcome",
           "make_executor", "ray_installed"]


def ray_installed() -> bool:
    return importlib.util.find_spec("ray") is not None


def make_executor(kind: str = "local", *, jobs: int = 1, address: str | None = None):
    """The executor named by ``--executor``.

    Parameters
    ----------
    kind : {"local", "ray"}
        ``local``: this machine, candidates in ``jobs`` processes. ``ray``: every candidate and every
        backtest fold is a Ray task.
    address : str, optional
        Ray only: the cluster address (``host:port``, ``ray://host:port``); else ``RAY_ADDRESS``; else
        a Ray started on this machine for the run.

    Raises
    ------
    ConfigError
        Unknown ``kind``, ``address`` without ``ray``, or ``ray`` not installed (exit 2).
    """
    if kind not in EXECUTORS:
        raise ConfigError(f"--executor must be one of {', '.join(EXECUTORS)}; received {kind!r}")
    if kind == "local":
        if address:
            raise ConfigError(f"--ray-address applies to --executor ray; received --ray-address {address} "
                              "with --executor local")
        return LocalExecutor(jobs=jobs)
    if not ray_installed():
        raise ConfigError(f"--executor ray needs Ray, which is not installed here: {RAY_EXTRA}")
    from forecaster.execution.ray_executor import RayExecutor

    return RayExecutor(address=address)
