"""The lag-gradient telemetry of a candidate's training, on a fixed batch of validation windows."""

from __future__ import annotations

import numpy as np

#: At most this many validation windows (evenly spaced) form the fixed batch of the lag telemetry.
LAG_WINDOWS = 64


#: The largest share of a candidate's training wall time its lag-gradient telemetry may take
#: (issue 14: under 5%); see ``LagGradientTelemetry(budget=)``.
LAG_GRADIENT_BUDGET = 0.05


def lag_gradient_callback(values, starts, lookback, horizon, targets, every, share_key=None):
    """The input-gradient-by-lag callback on a fixed batch of validation windows (None when ``every`` is 0).

    ``share_key``: the architecture key under which its traced measurement is reused (see
    :class:`~forecaster.training.lag_gradients.LagGradientTelemetry`).
    """
    if not every:
        return None
    from forecaster.training.lag_gradients import LagGradientTelemetry
    from forecaster.windowing import gather_windows

    pool = starts["val"] if len(starts["val"]) else starts["train"]
    pick = pool[np.unique(np.linspace(0, len(pool) - 1, min(LAG_WINDOWS, len(pool))).astype(int))]
    X, y = gather_windows(values, pick, lookback, horizon, targets)
    return LagGradientTelemetry(X, y, every=int(every), share_key=share_key, budget=LAG_GRADIENT_BUDGET)
