"""Per-window test errors: the data a per-series walk-forward study (bench/skill.py) pools.

>>> import numpy as np
>>> from types import SimpleNamespace
>>> preds = SimpleNamespace(y_true=np.zeros((2, 2, 1)), y_pred=np.ones((2, 2, 1)), scale=np.full((2, 1, 1), 2.0),
...                         series_ids=np.array(["a", "b"]), timestamps=np.array([[1, 2], [1, 2]]))
>>> window_errors(preds, half_width=np.full((2, 2, 1), 1.5))[["series_id", "abs_error", "scaled_error", "inside_2"]].values.tolist()
[['a', 1.0, 0.5, 1.0], ['b', 1.0, 0.5, 1.0]]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster.data.columns import SERIES_ID


def window_errors(preds, half_width: np.ndarray) -> pd.DataFrame:
    """One row per window of ``preds`` (``y_true``, ``y_pred`` of shape ``(n_windows, horizon, n_targets)``,
    ``scale``, ``series_ids``, ``timestamps``): its series, first label time, mean absolute error,
    mean scaled absolute error, and whether each step's label fell inside ``y_pred +- half_width``
    (``inside_1`` .. ``inside_<horizon>``, the share of targets inside)."""
    abs_err = np.abs(preds.y_pred - preds.y_true)  # -> (n_windows, horizon, n_targets)
    inside = (abs_err <= half_width).mean(axis=2)  # -> (n_windows, horizon)
    return pd.DataFrame({
        SERIES_ID: np.asarray(preds.series_ids).astype(str),
        "time": preds.timestamps[:, 0],
        "abs_error": abs_err.mean(axis=(1, 2)),
        "scaled_error": (abs_err / preds.scale).mean(axis=(1, 2)),
        **{f"inside_{k + 1}": inside[:, k] for k in range(inside.shape[1])},
    })


__all__ = ["window_errors"]
