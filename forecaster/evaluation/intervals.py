"""Split-conformal prediction intervals and their empirical coverage.

Quantiles come from validation residuals ``|y - ŷ| / s``, one per horizon step and target, with the
finite-sample correction: the ``ceil((n + 1) * level)``-th smallest score, which guarantees
coverage >= ``level`` for exchangeable data. The half-width of a window's interval is ``q * s``.

``s`` is the window's *interval scale* (:func:`interval_scales`):

- ``"absolute"``: ``s = 1``, residuals in the target's units. Right when the error scale is stable
  over time (temperatures over several years).
- ``"local"``: ``s`` = the window's own mean absolute one-step change of the target over its
  lookback (a MASE scale computed on the window), floored at a tenth of the series' training
  scale. Normalised conformal scores: the interval widens with the recent volatility and with the
  price level, so one calibration serves series of very different scales (tickers) and
  volatility regimes.

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

INTERVAL_SCALES = ("absolute", "local")
#: ``local`` scales never drop below this fraction of the series' training one-step scale, so a
#: flat window (a stale price, a stuck sensor) still gets an interval.
LOCAL_SCALE_FLOOR = 0.1


def window_spread(history) -> np.ndarray:
    """Mean absolute one-step change of each target over each window's lookback.

    Parameters
    ----------
    history : array-like, shape (n_samples, lookback, n_targets)
        The target's input values in original units (``lookback >= 2``).

    Returns
    -------
    np.ndarray, shape (n_samples, 1, n_targets)

    Example
    -------
    >>> window_spread(np.array([[[0.0], [1.0], [3.0]]]))
    array([[[1.5]]])
    """
    array = np.asarray(history, dtype=np.float64)
    if array.ndim != 3 or array.shape[1] < 2:
        raise ValueError(
            "`history` must have shape (n_samples, lookback >= 2, n_targets). "
            f"Received: shape={array.shape}"
        )
    if not len(array):
        return np.zeros((0, 1, array.shape[2]))
    return np.abs(np.diff(array, axis=1)).mean(axis=1, keepdims=True)


def interval_scales(mode: str, spread, series_scale) -> np.ndarray:
    """Per-window scale ``s`` of the conformal scores ``|y - ŷ| / s``.

    Parameters
    ----------
    mode : {"absolute", "local"}
    spread : array-like, shape (n_samples, 1, n_targets)
        :func:`window_spread` of each window.
    series_scale : array-like, shape (n_samples, 1, n_targets)
        The series' training one-step scale (the MASE scale) of each window; floors ``local``.

    Returns
    -------
    np.ndarray, shape (n_samples, 1, n_targets), all > 0

    Example
    -------
    >>> interval_scales("local", [[[2.0]], [[0.0]]], [[[1.0]], [[1.0]]]).ravel()
    array([2. , 0.1])
    """
    if mode not in INTERVAL_SCALES:
        raise ValueError(f"`interval_scale` must be one of {INTERVAL_SCALES}. Received: {mode!r}")
    local = np.asarray(spread, dtype=np.float64)
    if mode == "absolute":
        return np.ones_like(local)
    floor = LOCAL_SCALE_FLOOR * np.asarray(series_scale, dtype=np.float64)
    scale = np.maximum(local, floor)
    # A series whose training part never moved has scale 0: fall back to 1 (target units).
    return np.where(scale > 0, scale, 1.0)


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
    q : array-like, shape (horizon, n_targets), or (n_samples, horizon, n_targets) per window
        Half-widths: :func:`conformal_quantiles` (times each window's interval scale).

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
    if half.shape != pred.shape[-2:] and half.shape != pred.shape:
        raise ValueError(
            f"`q` must have shape (horizon, n_targets)={pred.shape[-2:]} or {pred.shape} to match `y_pred`. "
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
