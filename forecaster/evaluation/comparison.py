"""Diebold-Mariano test of equal predictive accuracy, with the Harvey-Leybourne-Newbold correction.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> e_small, e_large = rng.normal(size=200), 3 * rng.normal(size=200)
>>> stat, p = diebold_mariano(e_small, e_large)
>>> stat < 0, p < 0.01
(True, True)
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import stats

from forecaster.evaluation._checks import as_float_array, same_shape

logger = logging.getLogger(__name__)

LOSSES = ("abs", "squared")


def diebold_mariano(errors_a, errors_b, horizon: int = 1, loss: str = "abs") -> tuple[float, float]:
    """Test whether forecasts a and b have equal expected loss.

    The loss differential is ``d_t = L(e_a,t) - L(e_b,t)``. Its long-run variance uses the
    autocovariances up to lag ``horizon - 1`` (an h-step forecast error is at most MA(h-1));
    should that rectangular-window estimate be <= 0, Bartlett (Newey-West) weights are used
    instead. The statistic is scaled by the Harvey-Leybourne-Newbold (1997) factor
    ``sqrt((n + 1 - 2h + h(h-1)/n) / n)`` and compared with Student t, ``n - 1`` degrees of freedom.

    Parameters
    ----------
    errors_a, errors_b : array-like, shape (n,)
        Forecast errors of the two models on the same points in time order (e.g. one horizon step).
    horizon : int
        Forecast horizon (steps ahead) of the errors; >= 1 and < n.
    loss : {"abs", "squared"}

    Returns
    -------
    (statistic, p_value) : tuple of float
        Two-sided p-value. A NEGATIVE statistic means model a has the LOWER loss.
        Identical losses (zero variance, zero mean differential) give ``(0.0, 1.0)``; a constant
        non-zero differential gives ``(∓inf, 0.0)``.

    Raises
    ------
    ValueError
        The errors are not 1-D, differ in length, have fewer than 2 points or hold NaN;
        ``horizon`` or ``loss`` is invalid.

    Example
    -------
    >>> diebold_mariano([1.0, -2.0, 0.5], [1.0, -2.0, 0.5])
    (0.0, 1.0)
    """
    if loss not in LOSSES:
        raise ValueError(f"`loss` must be one of {LOSSES}. Received: loss={loss!r}")
    a = as_float_array("errors_a", errors_a, ndim=1)
    b = as_float_array("errors_b", errors_b, ndim=1)
    same_shape("errors_a", a, "errors_b", b)
    n = a.shape[0]
    if n < 2:
        raise ValueError(f"`errors_a` must hold at least 2 errors. Received: n={n}")
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or not 1 <= horizon < n:
        raise ValueError(f"`horizon` must be an integer in [1, n={n}). Received: horizon={horizon!r}")

    if loss == "abs":
        d = np.abs(a) - np.abs(b)
    else:
        d = a**2 - b**2
    mean = float(d.mean())
    centred = d - mean
    gammas = np.array([centred[k:] @ centred[: n - k] / n for k in range(horizon)])
    # Zero variance up to float noise: the differential is constant.
    if gammas[0] <= (1e-10 * float(np.abs(d).max())) ** 2:
        if mean == 0:
            return 0.0, 1.0
        return (float("-inf") if mean < 0 else float("inf")), 0.0

    long_run = gammas[0] + 2.0 * gammas[1:].sum()
    if long_run <= 0:
        weights = 1.0 - np.arange(1, horizon) / horizon
        logger.warning(
            "diebold_mariano: the rectangular long-run variance is %.3g <= 0; using Bartlett weights",
            long_run,
        )
        long_run = gammas[0] + 2.0 * (weights * gammas[1:]).sum()
    statistic = mean / np.sqrt(long_run / n)
    correction = np.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
    statistic = float(statistic * correction)
    p_value = float(2.0 * stats.t.sf(abs(statistic), df=n - 1))
    return statistic, p_value
