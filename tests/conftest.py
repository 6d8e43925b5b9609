"""Fixtures shared by every test module."""

from __future__ import annotations

import os
import sys

import pytest

_MLFLOW_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@pytest.fixture(autouse=True, scope="module")
def _mlflow_store_does_not_leak_between_modules():
    """The product points MLflow at a store process-wide (``mlflow.set_tracking_uri`` and
    ``set_registry_uri``, which also export ``MLFLOW_*`` variables). A test module that ran a
    comparison in-process must not leave the next module reading or writing that store."""
    saved = {name: os.environ.get(name) for name in _MLFLOW_ENV}
    yield
    if "mlflow" in sys.modules:
        import mlflow

        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


#: Memory one test worker may need at its peak (TensorFlow, a real MLflow store, a subprocess run).
_WORKER_MEMORY = 1.5 * 2**30
#: More workers than this contend for the same cores: every worker's TensorFlow uses all of them.
_MAX_WORKERS = 4


def _available_memory() -> float | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as lines:
            for line in lines:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (the default in pyproject.toml): one worker per core this process may use, at most
    ``_MAX_WORKERS``, and no more than the available memory holds at ``_WORKER_MEMORY`` each."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = min(cores, _MAX_WORKERS)
    memory = _available_memory()
    if memory is not None:
        workers = min(workers, int(memory // _WORKER_MEMORY))
    return max(1, workers)
