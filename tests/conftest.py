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
