"""Forecasting models: architecture specs, Keras builders, custom layers and baselines.

Owns the Keras architectures, the registered layers, truncated BPTT and the baselines (with the
seasonal-naive rule). May import ``config`` and the ground floor; never data frames, training or MLflow.

- :mod:`forecaster.models.spec`: :class:`ModelSpec` (plain data, no Keras import);
- :mod:`forecaster.models.builders`: :func:`build_model`, :func:`expected_param_count`;
- :mod:`forecaster.models.layers`: :class:`LastValueResidual` (registered for safe-mode loading);
- :mod:`forecaster.models.baselines`: :func:`persistence`, :func:`seasonal_naive`,
  :func:`season_from_frequency`, :func:`resolve_season` (the seasonal-naive rule),
  :class:`LinearBaseline`.

The names are importable from this package too; Keras is imported only when a Keras-backed
name is first used, so ``from forecaster.models import ModelSpec`` stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "ModelSpec": "spec",
    "build_model": "builders",
    "expected_param_count": "builders",
    "LastValueResidual": "layers",
    "persistence": "baselines",
    "seasonal_naive": "baselines",
    "season_from_frequency": "baselines",
    "resolve_season": "baselines",
    "SeasonError": "baselines",
    "LinearBaseline": "baselines",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
