"""Rolling split-conformal quantiles: calibrate each forecast on its series' most recent errors.

Static split conformal calibrates once, on the validation windows. When the error scale drifts
(seasons for weather, volatility regimes for prices) the validation errors stop describing the
test period: a one-year temperature series calibrated on summer over-covers in autumn. Rolling
calibration takes, for each forecast, the ``window`` most recent windows of the same series whose
labels were all observed before the forecast's first label (so nothing from the future is used),
and the usual finite-sample conformal quantile of their scores. In deployment this is what
re-calibrating on the latest realised errors does.

Example
-------
>>> import numpy as np
>>> scores = np.arange(1.0, 11.0).reshape(10, 1, 1)       # 10 past windows, horizon 1
>>> known = np.arange(10)                                  # label of window j known at time j
>>> q = rolling_quantiles(scores, known, np.zeros(10), np.array([10]), np.zeros(1),
...                       level=0.5, window=4, fallback=np.zeros((1, 1)))
>>> q.ravel()  # the 3rd smallest of the last 4 scores (7, 8, 9, 10)
array([9.])
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: Rows of the (query x window) matrix handled at once (bounds memory for long series).
CHUNK = 4096


def rolling_quantiles(scores, known_at, series, query_time, query_series, *, level: float, window: int,
                      fallback) -> np.ndarray:
    """Per-query conformal quantiles from the ``window`` most recent scores of the same series.

    Parameters
    ----------
    scores : array-like, shape (n, horizon, n_targets)
        Nonconformity scores ``|y - ŷ| / s`` of the calibration pool's windows.
    known_at : array-like, shape (n,)
        When each pool window's labels are all known (its last label time); any ordered type.
    series : array-like, shape (n,)
        Series id of each pool window.
    query_time : array-like, shape (m,)
        First label time of each query forecast; pool windows with ``known_at < query_time`` are
        eligible.
    query_series : array-like, shape (m,)
    level : float in (0, 1)
    window : int >= 1
        How many of the most recent eligible windows to calibrate on.
    fallback : array-like, shape (horizon, n_targets)
        Used when fewer eligible windows exist than the level needs (``ceil((n + 1) * level) > n``).

    Returns
    -------
    np.ndarray, shape (m, horizon, n_targets)
    """
    if not 0 < level < 1:
        raise ValueError(f"`level` must be in (0, 1). Received: level={level}")
    if int(window) < 1:
        raise ValueError(f"`window` must be >= 1. Received: window={window}")
    window = int(window)
    pool = np.asarray(scores, dtype=np.float64)
    known = np.asarray(known_at)
    series = np.asarray(series).astype(str)
    qtime = np.asarray(query_time)
    qseries = np.asarray(query_series).astype(str)
    fallback = np.asarray(fallback, dtype=np.float64)
    if pool.ndim != 3 or not (len(known) == len(series) == len(pool)):
        raise ValueError(
            "`scores` must be (n, horizon, n_targets) with one `known_at` and `series` per window. "
            f"Received: scores {pool.shape}, known_at {known.shape}, series {series.shape}"
        )
    out = np.broadcast_to(fallback, (len(qtime), *pool.shape[1:])).copy()
    k_full = math.ceil((window + 1) * level - 1e-9)
    for sid in np.unique(qseries):
        queries = np.flatnonzero(qseries == sid)
        mine = np.flatnonzero(series == sid)
        if not len(mine):
            continue
        order = mine[np.argsort(known[mine], kind="stable")]
        own, own_known = pool[order], known[order]
        eligible = np.searchsorted(own_known, qtime[queries], side="left")  # -> (n_queries,)
        full = eligible >= window
        if full.any() and k_full <= window:
            _full_window_quantiles(out, own, queries[full], eligible[full] - window, window, k_full)
        for query, n_eligible in zip(queries[~full], eligible[~full]):
            k = math.ceil((n_eligible + 1) * level - 1e-9)
            if n_eligible and k <= n_eligible:
                out[query] = np.sort(own[:n_eligible], axis=0)[k - 1]
    return out


def _full_window_quantiles(out: np.ndarray, own: np.ndarray, queries: np.ndarray, first: np.ndarray,
                           window: int, k: int) -> None:
    """``out[queries]`` = the k-th smallest of ``own[first : first + window]`` per step and target."""
    for h in range(own.shape[1]):
        for t in range(own.shape[2]):
            views = sliding_window_view(own[:, h, t], window)  # -> (n - window + 1, window), no copy
            for lo in range(0, len(queries), CHUNK):
                rows = views[first[lo:lo + CHUNK]]
                out[queries[lo:lo + CHUNK], h, t] = np.partition(rows, k - 1, axis=1)[:, k - 1]
