"""Argument checks shared by the windowing functions; each raises a Keras-style ``ValueError``
naming the argument, the rule and the value received."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def _check_int_at_least(name: str, value: Any, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise a Keras-style ``ValueError``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}. Received: {name}={value}")
    return int(value)


def _check_values(values: Any) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 2:
        raise ValueError(
            "`values` must be 2-D with shape (n_timesteps, n_features). "
            f"Received: values.shape={array.shape}"
        )
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise ValueError(f"`values` must be numeric. Received: values.dtype={array.dtype}")
    return array


def _check_targets(targets: Sequence[int] | None, n_features: int) -> np.ndarray:
    """Column indices of the labels as an int64 array (default: every column)."""
    if targets is None:
        return np.arange(n_features, dtype=np.int64)
    if isinstance(targets, (int, np.integer)):
        targets = [targets]
    index = np.asarray(targets)
    if index.ndim != 1 or index.size == 0 or not np.issubdtype(index.dtype, np.integer):
        raise ValueError(
            "`targets` must be a non-empty list of column indices. "
            f"Received: targets={targets!r}"
        )
    bad = index[(index < 0) | (index >= n_features)]
    if bad.size:
        raise ValueError(
            f"`targets` must be column indices in [0, {n_features - 1}] (n_features={n_features}). "
            f"Received: targets={index.tolist()}"
        )
    return index.astype(np.int64)


def _check_length(n_timesteps: int, lookback: int, horizon: int) -> None:
    if n_timesteps < lookback + horizon:
        raise ValueError(
            "`values` must have at least lookback + horizon rows to make one window. "
            f"Received: n_timesteps={n_timesteps}, lookback={lookback}, horizon={horizon}"
        )


def check_window_inputs(values: Any, lookback: Any, horizon: Any,
                        targets: Sequence[int] | None) -> tuple[np.ndarray, int, int, np.ndarray]:
    """The checks every window builder starts with: ``(array, lookback, horizon, target_index)``."""
    lookback = _check_int_at_least("lookback", lookback)
    horizon = _check_int_at_least("horizon", horizon)
    array = _check_values(values)
    _check_length(array.shape[0], lookback, horizon)
    return array, lookback, horizon, _check_targets(targets, array.shape[1])


def _check_starts(starts: Any, n_timesteps: int, lookback: int, horizon: int) -> np.ndarray:
    index = np.asarray(starts)
    if index.size == 0:
        return np.zeros(0, dtype=np.int64)
    if index.ndim != 1 or not np.issubdtype(index.dtype, np.integer):
        raise ValueError(
            "`starts` must be a 1-D array of integer row positions. "
            f"Received: starts with shape {index.shape} and dtype {index.dtype}"
        )
    last = n_timesteps - lookback - horizon
    low, high = int(index.min()), int(index.max())
    if low < 0 or high > last:
        raise ValueError(
            f"`starts` must lie in [0, {last}] (n_timesteps - lookback - horizon with "
            f"n_timesteps={n_timesteps}, lookback={lookback}, horizon={horizon}). "
            f"Received: starts from {low} to {high}"
        )
    return index.astype(np.int64, copy=False)
