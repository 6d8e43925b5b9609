"""Point-forecast metrics in the data's original units: MAE, RMSE, sMAPE, MASE, per horizon step.

Callers inverse-transform forecasts and labels first. Forecasts and labels have the shape
``(n_samples, horizon, n_targets)``.

Example
-------
>>> import numpy as np
>>> y = np.array([[[1.0], [2.0]], [[3.0], [4.0]]])      # (n_samples=2, horizon=2, n_targets=1)
>>> m = point_metrics(y, y + 1.0, scale=2.0)
>>> m["mae"], m["rmse"], m["mase"], m["mae_by_step"].shape
(1.0, 1.0, 0.5, (2,))
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from forecaster.evaluation._checks import as_float_array, same_shape

logger = logging.getLogger(__name__)


def naive_scale(
    values,
    series_ids: Sequence[Any] | np.ndarray | None = None,
    segments: Sequence[Any] | np.ndarray | None = None,
) -> float | np.ndarray | dict[Any, float | np.ndarray]:
    """In-sample one-step naive MAE of the training part: ``mean |y_t - y_{t-1}|``.

    This is the denominator of MASE. Differences are taken only between consecutive rows of
    the same series (and of the same segment when ``segments`` is given), so a jump between
    two tickers or across a long gap does not inflate the scale.

    Parameters
    ----------
    values : array-like, shape (n_timesteps,) or (n_timesteps, n_targets)
        Training values in original units, in time order within each series.
    series_ids : array-like, shape (n_timesteps,), optional
        Series label of each row. When given, one scale per series is returned.
    segments : array-like, shape (n_timesteps,), optional
        Segment number of each row (the ``segment`` column of a regularised frame).

    Returns
    -------
    float, np.ndarray of shape (n_targets,), or dict
        Without ``series_ids``: a float for 1-D ``values``, an array ``(n_targets,)`` for 2-D
        ``values``. With ``series_ids``: ``{series_id: float | np.ndarray (n_targets,)}``.
        A series with no consecutive pair of rows gets NaN (logged as a warning).

    Raises
    ------
    ValueError
        ``values`` is not 1-D/2-D, is empty or holds NaN; ``series_ids`` or ``segments`` do not
        have one entry per row.

    Example
    -------
    >>> naive_scale([1.0, 3.0, 2.0])
    1.5
    >>> naive_scale([1.0, 3.0, 10.0, 10.5], series_ids=["a", "a", "b", "b"])
    {'a': 2.0, 'b': 0.5}
    """
    array = as_float_array("values", values, ndim=(1, 2))
    n_rows = array.shape[0]
    ids = _row_labels("series_ids", series_ids, n_rows)
    segs = _row_labels("segments", segments, n_rows)

    same = np.ones(max(n_rows - 1, 0), dtype=bool)
    if ids is not None:
        same &= ids[1:] == ids[:-1]
    if segs is not None:
        same &= segs[1:] == segs[:-1]
    diffs = np.abs(np.diff(array, axis=0))  # -> (n_timesteps - 1,) or (n_timesteps - 1, n_targets)

    def _scale(mask: np.ndarray, label: str) -> float | np.ndarray:
        if not mask.any():
            logger.warning("naive_scale: %s has fewer than 2 consecutive rows; its scale is NaN", label)
            empty = np.full(array.shape[1:], np.nan)
            return float("nan") if array.ndim == 1 else empty
        mean = diffs[mask].mean(axis=0)
        return float(mean) if array.ndim == 1 else mean

    if ids is None:
        return _scale(same, "the series")
    result: dict[Any, float | np.ndarray] = {}
    pair_ids = ids[1:]
    for series in dict.fromkeys(ids.tolist()):
        result[series] = _scale(same & (pair_ids == series), f"series {series!r}")
    return result


def sample_scale(
    scales: Mapping[Any, float | np.ndarray], series_ids: Sequence[Any] | np.ndarray
) -> np.ndarray:
    """Look up each sample's series scale, shaped to broadcast against ``(n_samples, horizon, n_targets)``.

    Parameters
    ----------
    scales : dict
        ``{series_id: float | np.ndarray (n_targets,)}`` as returned by :func:`naive_scale`.
    series_ids : array-like, shape (n_samples,)
        The series of each forecast sample.

    Returns
    -------
    np.ndarray, shape (n_samples, 1, n_targets)

    Raises
    ------
    KeyError
        A sample's series has no scale.

    Example
    -------
    >>> sample_scale({"a": 2.0, "b": 0.5}, ["b", "a", "a"]).shape
    (3, 1, 1)
    """
    rows = []
    for series in series_ids:
        if series not in scales:
            raise KeyError(
                f"`scales` has no entry for series {series!r}. Known series: {sorted(map(str, scales))}"
            )
        rows.append(np.atleast_1d(np.asarray(scales[series], dtype=np.float64)))
    return np.stack(rows)[:, np.newaxis, :]


def point_metrics(y_true, y_pred, scale=None) -> dict[str, Any]:
    """Point-forecast metrics, overall and per horizon step.

    Parameters
    ----------
    y_true, y_pred : array-like, shape (n_samples, horizon, n_targets)
        Labels and forecasts in original units.
    scale : float or array-like broadcastable to (n_samples, horizon, n_targets), optional
        MASE denominator, e.g. a float from :func:`naive_scale` or the
        ``(n_samples, 1, n_targets)`` array of :func:`sample_scale`. ``None`` gives ``mase=NaN``;
        a scale that is NaN or <= 0 anywhere also gives NaN (logged as a warning).

    Returns
    -------
    dict
        ``mae``, ``rmse``, ``smape`` (percent, 0..200), ``mase`` as floats;
        ``mae_by_step`` and ``rmse_by_step`` as ``np.ndarray`` of shape ``(horizon,)``
        (averaged over samples and targets).

    Notes
    -----
    sMAPE is ``mean(200 * |y - ŷ| / (|y| + |ŷ|))``; a term with ``y == ŷ == 0`` counts as 0.
    MASE is ``mean(|y - ŷ| / scale)``.

    Raises
    ------
    ValueError
        The arrays are not 3-D, differ in shape, are empty or hold NaN; ``scale`` does not
        broadcast to the labels' shape.

    Example
    -------
    >>> y = np.zeros((4, 3, 1))
    >>> point_metrics(y, y + 2.0)["smape"]
    200.0
    """
    true = as_float_array("y_true", y_true, ndim=3)
    pred = as_float_array("y_pred", y_pred, ndim=3)
    same_shape("y_true", true, "y_pred", pred)

    error = pred - true  # -> (n_samples, horizon, n_targets)
    abs_error = np.abs(error)
    denominator = np.abs(true) + np.abs(pred)
    smape_terms = np.divide(
        200.0 * abs_error, denominator, out=np.zeros_like(abs_error), where=denominator > 0
    )
    return {
        "mae": float(abs_error.mean()),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "smape": float(smape_terms.mean()),
        "mase": _mase(abs_error, scale),
        "mae_by_step": abs_error.mean(axis=(0, 2)),
        "rmse_by_step": np.sqrt(np.mean(error**2, axis=(0, 2))),
    }


def relative_mae(mae: float, persistence_mae: float) -> float:
    """MAE relative to persistence: below 1 beats persistence.

    Returns 1.0 when both are 0 and ``inf`` when only ``persistence_mae`` is 0.

    Raises
    ------
    ValueError
        Either value is negative or NaN.

    Example
    -------
    >>> relative_mae(0.8, 1.0)
    0.8
    """
    for name, value in (("mae", mae), ("persistence_mae", persistence_mae)):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"`{name}` must be a finite number >= 0. Received: {name}={value}")
    if persistence_mae == 0:
        return 1.0 if mae == 0 else float("inf")
    return float(mae) / float(persistence_mae)


def _mase(abs_error: np.ndarray, scale) -> float:
    if scale is None:
        return float("nan")
    try:
        scale_array = np.asarray(scale, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`scale` must be numeric. Received: {type(scale).__name__}") from exc
    try:
        shape = np.broadcast_shapes(scale_array.shape, abs_error.shape)
    except ValueError:
        shape = None
    if shape != abs_error.shape:
        raise ValueError(
            "`scale` must broadcast to the labels' shape (n_samples, horizon, n_targets)="
            f"{abs_error.shape}. Received: scale.shape={scale_array.shape}"
        )
    if np.isnan(scale_array).any() or (scale_array <= 0).any():
        logger.warning("point_metrics: the MASE scale is NaN or <= 0 somewhere; mase is NaN")
        return float("nan")
    return float(np.mean(abs_error / scale_array))


def _row_labels(name: str, labels, n_rows: int) -> np.ndarray | None:
    if labels is None:
        return None
    array = np.asarray(labels)
    if array.shape != (n_rows,):
        raise ValueError(
            f"`{name}` must have one entry per row of `values` (shape ({n_rows},)). "
            f"Received: shape {array.shape}"
        )
    return array
