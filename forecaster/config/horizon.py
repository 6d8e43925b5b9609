"""The rule of ``training.horizon_weights``: which values are valid, and the per-step weights they mean.

One owner for the pipeline file's check (exit 2), the estimator's training settings and the loss
(:mod:`forecaster.training.losses`). Weights are rescaled to mean 1, so the weighted loss keeps the
scale of the plain one and the learning rate means the same.

Example
-------
>>> horizon_weights("linear", 4)
(0.4, 0.8, 1.2, 1.6)
>>> horizon_weights("uniform", 4) is None
True
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

HORIZON_WEIGHTINGS = ("uniform", "linear")


def horizon_weights(spec: str | Sequence[float], horizon: int) -> tuple[float, ...] | None:
    """The per-step weights (mean 1) of a ``training.horizon_weights`` value; None for ``uniform``.

    Raises
    ------
    ValueError
        An unknown name, a list of the wrong length, or a weight that is not a finite number > 0.
    """
    if isinstance(spec, str):
        if spec not in HORIZON_WEIGHTINGS:
            raise ValueError(f"`horizon_weights` must be one of {list(HORIZON_WEIGHTINGS)} or a list of "
                             f"{horizon} positive numbers. Received: horizon_weights={spec!r}")
        if spec == "uniform":
            return None
        raw = [float(k) for k in range(1, horizon + 1)]
    else:
        raw = list(spec)
        if len(raw) != horizon:
            raise ValueError(f"`horizon_weights` lists one weight per forecast step: horizon={horizon} but "
                             f"{len(raw)} weight(s) given. Received: horizon_weights={raw}")
        bad = [w for w in raw if isinstance(w, bool) or not isinstance(w, numbers.Real)
               or not math.isfinite(w) or w <= 0]
        if bad:
            raise ValueError(f"every entry of `horizon_weights` must be a finite number > 0. Received: "
                             f"horizon_weights={raw}")
        raw = [float(w) for w in raw]
    mean = sum(raw) / len(raw)
    return tuple(round(w / mean, 12) for w in raw)
