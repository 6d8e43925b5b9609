"""``training.warm_start``: fetch the current champion once per run, for the candidates to start from.

The champion is downloaded from the registry and saved as a plain forecaster directory in the
run's work folder; each candidate then decides on its own whether it matches
(:func:`forecaster.estimator.warm.apply_warm_start`), so the decision also works in worker processes.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def champion_source(cfg: Any, workdir: str | os.PathLike[str]) -> str | None:
    """The saved champion's directory under ``workdir``, or None (warm start off, or no champion)."""
    if not cfg.training.warm_start:
        return None
    from forecaster import tracking

    tracking.configure(cfg.tracking)
    uri = tracking.champion_uri(cfg.registered_model_name)
    if uri is None:
        logger.info("warm start: %s has no champion yet; every candidate starts cold", cfg.registered_model_name)
        return None
    try:
        champion = tracking.load_forecaster_from_uri(uri)
        path = champion.save(Path(workdir) / "warm_start_champion")
    except Exception as exc:  # noqa: BLE001 - a champion that cannot be loaded means cold starts, not a failed run
        logger.warning("warm start: could not load the champion %s (%s); every candidate starts cold", uri, exc)
        return None
    logger.info("warm start: candidates matching the champion %s start from its weights", uri)
    return str(path)
