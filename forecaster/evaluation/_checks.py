"""Argument checks shared by the evaluation modules (private)."""

from __future__ import annotations

import numpy as np


def as_float_array(name: str, value, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Return ``value`` as a float64 array after checking its rank and that it holds no NaN.

    Raises
    ------
    ValueError
        ``value`` is not numeric, has the wrong number of dimensions, is empty or holds NaN.
    """
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`{name}` must be numeric. Received: {type(value).__name__} ({exc})") from exc
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if array.ndim not in allowed:
            wanted = " or ".join(str(n) for n in allowed)
            raise ValueError(
                f"`{name}` must have {wanted} dimension(s). Received: shape {array.shape}"
            )
    if array.size == 0:
        raise ValueError(f"`{name}` must not be empty. Received: shape {array.shape}")
    n_nan = int(np.isnan(array).sum())
    if n_nan:
        raise ValueError(
            f"`{name}` must not contain NaN. Received: {n_nan} NaN value(s) in shape {array.shape}"
        )
    return array


def same_shape(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    """Raise ValueError unless ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"`{name_a}` and `{name_b}` must have the same shape. "
            f"Received: {name_a}.shape={a.shape}, {name_b}.shape={b.shape}"
        )
