"""Warm start: begin training from the current champion's weights when the architecture matches.

A candidate is warm-started only when the champion's network has the same architecture (the
whole :class:`~forecaster.models.spec.ModelSpec`), the same window (lookback, horizon), the same
targets and input features, and the same target transforms (``residual``, ``center_targets``,
``scale_targets``); otherwise it starts cold and the reason is returned for the log.
"""

from __future__ import annotations

import logging
import os
from typing import Any

logger = logging.getLogger(__name__)


def champion_network(champion: Any) -> Any | None:
    """The recurrent network inside a champion: itself, or the network member of a blend."""
    if getattr(champion, "kind", None) == "rnn":
        return champion
    for member in getattr(champion, "members_", ()):
        if getattr(member, "kind", None) == "rnn":
            return member
    return None


def mismatches(est: Any, net: Any) -> list[str]:
    """What differs between the candidate ``est`` (preprocessor fitted) and the champion network."""
    checks = {
        "architecture": (est.spec, net.spec),
        "lookback": (est.lookback, net.lookback),
        "horizon": (est.horizon, net.horizon),
        "target": (list(est.target), list(net.target)),
        "features": (list(est.preprocessor_.feature_names_), list(getattr(net, "feature_names_", []))),
    }
    for flag in ("residual", "center_targets", "scale_targets"):
        checks[flag] = (getattr(est, flag), getattr(net, flag, None))
    return [f"{key} {mine!r} vs champion's {theirs!r}" if key != "architecture" else
            f"architecture {mine.name} vs champion's {theirs.name}"
            for key, (mine, theirs) in checks.items() if mine != theirs]


def apply_warm_start(est: Any, model: Any, source: str | os.PathLike[str]) -> tuple[bool, str]:
    """Copy the champion's weights (saved forecaster at ``source``) into ``model`` when they match.

    Returns ``(warm, note)``: whether the weights were copied, and why not (for the log).
    """
    from forecaster.estimator import load_forecaster

    try:
        champion = load_forecaster(source)
    except Exception as exc:  # noqa: BLE001 - an unreadable champion means a cold start, not a failed run
        return False, f"the champion at {source} could not be loaded ({type(exc).__name__}: {exc})"
    net = champion_network(champion)
    if net is None:
        return False, f"the champion is a {getattr(champion, 'kind', '?')} forecaster with no network"
    differ = mismatches(est, net)
    if differ:
        return False, "; ".join(differ)
    try:
        model.set_weights(net.model_.get_weights())
    except ValueError as exc:
        return False, f"the champion's weights do not fit ({exc})"
    return True, f"from the champion's {net.spec.name} weights"
