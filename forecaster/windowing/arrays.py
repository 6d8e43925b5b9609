"""Windows as numpy arrays: every ``stride``-th window of one array, or the windows at given starts.

Both cut zero-copy :func:`numpy.lib.stride_tricks.sliding_window_view` views and copy only the
windows they return: ``X`` ``(n_samples, lookback, n_features)``, ``y``
``(n_samples, horizon, n_targets)``, float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from forecaster.windowing._checks import (
    _check_int_at_least,
    _check_starts,
    check_window_inputs,
)


def _windows_view(values: np.ndarray, length: int) -> np.ndarray:
    """Zero-copy view ``(n_timesteps - length + 1, length, n_columns)`` of every window."""
    # Windowing over both axes with the full column width puts the window axes last in
    # (time, column) order, so no transpose is needed: -> (N, 1, length, C) -> (N, length, C).
    return sliding_window_view(values, (length, values.shape[1]), axis=(0, 1))[:, 0]


# --------------------------------------------------------------------------- plain arrays


def make_windows(
    values: Any,
    lookback: int,
    horizon: int,
    stride: int = 1,
    targets: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut one array into ``(X, y)`` windows.

    Sample ``i`` takes inputs ``values[i*stride : i*stride + lookback]`` and labels
    ``values[i*stride + lookback : i*stride + lookback + horizon, targets]``, with
    ``n_samples = (n_timesteps - lookback - horizon) // stride + 1``.

    Parameters
    ----------
    values : array-like, shape (n_timesteps, n_features)
        Axis 0 is time.
    lookback : int
        Input steps per window (>= 1).
    horizon : int
        Label steps per window (>= 1).
    stride : int, default 1
        Steps between the starts of consecutive windows (>= 1).
    targets : list of int, optional
        Column indices of the labels; default every column.

    Returns
    -------
    X : ndarray, shape (n_samples, lookback, n_features), float32
    y : ndarray, shape (n_samples, horizon, n_targets), float32
        Both are new C-contiguous, writeable arrays (never views of ``values``, even when
        ``values`` is already float32): the windows are cut as zero-copy views and copied once.

    Raises
    ------
    ValueError
        ``lookback``, ``horizon`` or ``stride`` below 1; ``values`` not 2-D or shorter than
        ``lookback + horizon`` rows; a target index out of range.

    Examples
    --------
    Six steps of two features; two steps in, one step out, every second start:

    >>> import numpy as np
    >>> values = np.arange(12).reshape(6, 2)   # row t is [2t, 2t + 1]
    >>> X, y = make_windows(values, lookback=2, horizon=1, stride=2, targets=[1])
    >>> X.shape, y.shape                       # (6 - 2 - 1) // 2 + 1 = 2 samples
    ((2, 2, 2), (2, 1, 1))
    >>> X[1].tolist()                          # rows 2 and 3
    [[4.0, 5.0], [6.0, 7.0]]
    >>> y[:, :, 0].tolist()                    # column 1 of rows 2 and 4
    [[5.0], [9.0]]
    """
    array, lookback, horizon, target_index = check_window_inputs(values, lookback, horizon, targets)
    stride = _check_int_at_least("stride", stride)
    n_timesteps = array.shape[0]

    n_samples = (n_timesteps - lookback - horizon) // stride + 1
    last_start = (n_samples - 1) * stride
    # -> (n_samples, lookback, n_features), still a view of `array`.
    x_view = _windows_view(array, lookback)[: last_start + 1 : stride]
    # -> (n_samples, horizon, n_features) view; the target selection copies.
    y_view = _windows_view(array[lookback:], horizon)[: last_start + 1 : stride]
    X = np.array(x_view, dtype=np.float32, order="C", copy=True)
    y = np.ascontiguousarray(y_view[:, :, target_index], dtype=np.float32)
    return X, y


def gather_windows(
    values: Any,
    starts: Any,
    lookback: int,
    horizon: int,
    targets: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Materialise the windows that start at the given rows.

    Parameters
    ----------
    values : array-like, shape (n_timesteps, n_features)
    starts : array-like of int, shape (n_samples,)
        Row positions of the window starts (e.g. one entry of :func:`window_starts`), each in
        ``[0, n_timesteps - lookback - horizon]``.
    lookback, horizon : int
    targets : list of int, optional
        Column indices of the labels; default every column.

    Returns
    -------
    X : ndarray, shape (n_samples, lookback, n_features), float32
    y : ndarray, shape (n_samples, horizon, n_targets), float32

    Examples
    --------
    >>> import numpy as np
    >>> values = np.arange(12.0).reshape(6, 2)
    >>> X, y = gather_windows(values, [3, 0], lookback=2, horizon=1, targets=[0])
    >>> X.shape, y.shape
    ((2, 2, 2), (2, 1, 1))
    >>> y[:, 0, 0].tolist()                     # column 0 of rows 5 and 2
    [10.0, 4.0]
    """
    array, lookback, horizon, target_index = check_window_inputs(values, lookback, horizon, targets)
    n_timesteps = array.shape[0]
    index = _check_starts(starts, n_timesteps, lookback, horizon)

    # Fancy indexing on the zero-copy window views copies only the requested windows.
    X = _windows_view(array, lookback)[index]  # -> (n_samples, lookback, n_features)
    y = _windows_view(array[lookback:, target_index], horizon)[index]  # -> (n_samples, horizon, n_targets)
    return X.astype(np.float32, copy=False), y.astype(np.float32, copy=False)
