"""Split-conformal prediction intervals and their empirical coverage.

Quantiles come from absolute validation residuals ``|y - ŷ|`` in original units, one per horizon
step and target, with the finite-sample correction: the ``ceil((n + 1) * level)``-th smallest
residual, which guarantees coverage >= ``level`` for exchangeable data.

Example
-------
>>> import numpy as np
>>> residuals = np.abs(np.random.default_rng(0).normal(size=(999, 3, 1)))  # (n, horizon, n_targets)
>>> q = conformal_quantiles(residuals, level=0.9)
>>> q.shape
(3, 1)
>>> lower, upper = interval(np.zeros((5, 3, 1)), q)
>>> lower.shape, bool((upper > lower).all())
((5, 3, 1), True)
"""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np

from forecaster.evaluation._checks import as_float_array, same_shape

logger = logging.getLogger(__name__)


def conformal_quantiles(residuals, level: float = 0.9) -> np.ndarray:
    """Per-step, per-target split-conformal half-widths.

    Parameters
    ----------
    residuals : array-like, shape (n, horizon, n_targets)
        Absolute validation residuals ``|y - ŷ|`` (>= 0) in original units.
    level : float in (0, 1)
        Target coverage.

    Returns
    -------
    np.ndarray, shape (horizon, n_targets)
        The ``k = ceil((n + 1) * level)``-th smallest residual per step and target. When
        ``k > n`` (too few residuals for the level) the half-width is ``+inf`` and a
        ``UserWarning`` is issued.

    Raises
    ------
    ValueError
        ``level`` is outside (0, 1); ``residuals`` is not 3-D, is empty, holds NaN or negatives.

    Example
    -------
    >>> conformal_quantiles(np.arange(1.0, 10.0).reshape(9, 1, 1), level=0.8)
    array([[8.]])
    """
    if not 0 < level < 1:
        raise ValueError(f"`level` must be in (0, 1). Received: level={level}")
    array = as_float_array("residuals", residuals, ndim=3)
    if (array < 0).any():
        raise ValueError(
            "`residuals` must be absolute residuals |y - ŷ| (>= 0). "
            f"Received: minimum {float(array.min())}"
        )
    n = array.shape[0]
    # A small tolerance keeps float noise (e.g. 10 * 0.9 = 9.000000000000002) from adding one.
    k = math.ceil((n + 1) * level - 1e-9)
    if k > n:
        message = (
            f"conformal_quantiles: {n} residuals are too few for level={level} "
            f"(needs at least {math.ceil(level / (1 - level) - 1e-9)}); the interval is infinite"
        )
        warnings.warn(message, UserWarning, stacklevel=2)
        logger.warning(message)
        return np.full(array.shape[1:], np.inf)
    return np.sort(array, axis=0)[k - 1]  # -> (horizon, n_targets)


def interval(y_pred, q) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric interval ``(y_pred - q, y_pred + q)``.

    Parameters
    ----------
    y_pred : array-like, shape (n_samples, horizon, n_targets) or (horizon, n_targets)
    q : array-like, shape (horizon, n_targets)
        Half-widths from :func:`conformal_quantiles`.

    Returns
    -------
    (lower, upper) : two np.ndarray shaped like ``y_pred``

    Raises
    ------
    ValueError
        ``q`` does not match the last two dimensions of ``y_pred``.
    """
    pred = as_float_array("y_pred", y_pred, ndim=(2, 3))
    half = np.asarray(q, dtype=np.float64)
    if half.shape != pred.shape[-2:]:
        raise ValueError(
            f"`q` must have shape (horizon, n_targets)={pred.shape[-2:]} to match `y_pred`. "
            f"Received: q.shape={half.shape}"
        )
    return pred - half, pred + half


def coverage(y_true, lower, upper) -> float:
    """Fraction of labels inside ``[lower, upper]`` (all arrays the same shape).

    Example
    -------
    >>> coverage([1.0, 2.0, 5.0], [0.0, 0.0, 0.0], [3.0, 3.0, 3.0])
    0.6666666666666666
    """
    inside = _inside(y_true, lower, upper, ndim=None)
    return float(inside.mean())


def coverage_by_step(y_true, lower, upper) -> np.ndarray:
    """Coverage per horizon step, averaged over samples and targets.

    Parameters
    ----------
    y_true, lower, upper : array-like, shape (n_samples, horizon, n_targets)

    Returns
    -------
    np.ndarray, shape (horizon,)
    """
    inside = _inside(y_true, lower, upper, ndim=3)
    return inside.mean(axis=(0, 2))


def _inside(y_true, lower, upper, ndim) -> np.ndarray:
    true = as_float_array("y_true", y_true, ndim=ndim)
    low = np.asarray(lower, dtype=np.float64)
    high = np.asarray(upper, dtype=np.float64)
    same_shape("y_true", true, "lower", low)
    same_shape("y_true", true, "upper", high)
    if np.isnan(low).any() or np.isnan(high).any():
        raise ValueError("`lower` and `upper` must not contain NaN")
    return (low <= true) & (true <= high)
