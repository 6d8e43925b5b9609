"""Linear algebra of the ridge baseline: a float64 solve on one thread, over chunks of windows.

The ridge baseline solves its normal equations over every training window. On the Chicago windows
(30,541 windows of 120 steps x 9 features) they are ill-conditioned (the calendar columns repeat
with the window). scikit-learn's ``Ridge`` on the float32 windows then made the Cholesky solve
fail, depending on BLAS's thread count, and fell back to an SVD of the whole 30,541 x 1,080
matrix: 20-36 CPU s (25-36 s wall) with OpenBLAS's default of one thread per core, at load 3.5-4.5
on 2 cores. :func:`ridge_normal_equations` accumulates ``X'X`` and ``X'y`` of the centred windows
in float64, a chunk of windows at a time (no float64 copy of the whole matrix), and solves once:
the arithmetic scikit-learn's Cholesky solver does, without the float32 failure, and on one BLAS
thread, so it is the same whatever the machine's core count (numpy's and scipy's OpenBLAS threads
spin for work and competed with each other and with TensorFlow's). ``python
bench/bench_baselines.py`` (load 2.9): the solve 1.1 s wall / 1.1 CPU s against scikit-learn's
26.5 s / 29.3 s, its coefficients within 9e-11 of scikit-learn's float64 fit (float32: 1e-5); the
whole Chicago ``linear`` baseline (fit, validation and test forecasts, intervals) 2.8 s wall, its
metrics equal to the old ones to 1e-6 relative.

:func:`single_threaded_blas` limits the loaded BLAS libraries only inside its block, so a caller's
own numpy code keeps its threads; the controller finds the libraries once, and entering the limit
costs microseconds.

Example
-------
>>> import numpy as np
>>> X = np.arange(12.0).reshape(6, 2) ** [1, 2]; y = X @ [[2.0], [0.5]] + 1.0
>>> coef, intercept = ridge_normal_equations(X, y, alpha=0.0, chunk=4)
>>> np.round(coef, 6).tolist(), np.round(intercept, 6).tolist()
([[2.0, 0.5]], [1.0])
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import numpy as np

#: Windows per chunk of the float64 accumulation (a chunk of 1,080 inputs is about 35 MB).
CHUNK = 4096

_controller = None


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the block with every loaded BLAS library (numpy's, scipy's) limited to one thread."""
    global _controller
    if _controller is None:
        import scipy.linalg  # noqa: F401 - scipy's BLAS loaded before the controller looks
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    with _controller.limit(limits=1, user_api="blas"):
        yield


def ridge_normal_equations(X: np.ndarray, y: np.ndarray, alpha: float,
                           chunk: int = CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """Ridge with an intercept: ``(coef (n_out, n_in), intercept (n_out,))``, float64.

    Minimises ``|y - X w - b|^2 + alpha |w|^2`` (the intercept not penalised), as scikit-learn's
    ``Ridge(alpha, fit_intercept=True)``: ``w = (Xc'Xc + alpha I)^-1 Xc'yc`` on centred ``X``, ``y``.
    """
    from scipy import linalg

    n_in = X.shape[1]
    x_mean = X.mean(axis=0, dtype=np.float64)
    y_mean = y.mean(axis=0, dtype=np.float64)
    gram = np.zeros((n_in, n_in))
    cross = np.zeros((n_in, y.shape[1]))
    with single_threaded_blas():
        for start in range(0, len(X), chunk):
            xc = X[start:start + chunk].astype(np.float64) - x_mean
            gram += xc.T @ xc
            cross += xc.T @ (y[start:start + chunk].astype(np.float64) - y_mean)
        gram[np.diag_indices_from(gram)] += alpha
        try:
            coef = linalg.solve(gram, cross, assume_a="pos", overwrite_a=True, overwrite_b=True).T
        except (linalg.LinAlgError, ValueError):  # singular even with the penalty (alpha=0): least squares
            coef = linalg.lstsq(gram, cross)[0].T
    return coef, y_mean - coef @ x_mean
