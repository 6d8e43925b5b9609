"""A registered champion whose files cannot be loaded safely is quarantined, not obeyed.

Before training, a run loads its champion exactly as serving would (data only,
:func:`forecaster.tracking.pyfunc_model.load_forecaster_from_uri`). When that fails -- a file
tampered with, a planted payload, a file missing -- the version is tagged
``forecaster.quarantined=true`` and ``forecaster.quarantined_reason=<the error>``, an error naming
the files is logged, and the run goes on as if there were no champion
(:func:`forecaster.tracking.registry._champion` skips a quarantined version): no re-scoring, no
warm start, no serving from it. The new best must still beat the baselines; the gate decides. If
it promotes, the ``champion`` alias moves to the new version, away from the quarantined one; if
not, the forecast comes from a baseline (exit 4) and the alias stays until a model earns it.

One bad artifact in a shared store therefore stops no scheduled run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from mlflow.tracking import MlflowClient

from forecaster.comparison.gate import CHAMPION
from forecaster.errors import ForecasterError
from forecaster.tracking.pyfunc_model import load_forecaster_from_uri
from forecaster.tracking.registry import TAG_QUARANTINED, TAG_QUARANTINED_REASON, _champion

logger = logging.getLogger(__name__)

#: The longest reason a tag keeps (MLflow limits tag values).
MAX_REASON = 4000
_SCRATCH = re.compile(r"\S*/forecaster-model-[^/\s]+/")


def quarantine_unsafe_champion(registered_model: str,
                               load: Callable[[str], Any] = load_forecaster_from_uri) -> str | None:
    """Load ``registered_model``'s champion as data; quarantine it when that fails.

    Returns the quarantined version's number, or None (no champion, already quarantined, or it
    loads). Only the model's own refusal (:class:`~forecaster.errors.ForecasterError`, e.g.
    :class:`~forecaster.errors.ModelFileError`) quarantines; a store that cannot be read raises.
    """
    client = MlflowClient()
    version = _champion(client, registered_model)
    if version is None:
        return None
    uri = f"models:/{registered_model}@{CHAMPION}"
    try:
        load(uri)
    except ForecasterError as exc:
        where = str(version.source or f"{registered_model} v{version.version}").rstrip("/") + "/"
        reason = _SCRATCH.sub(where, str(exc))  # name the files where they live, not a temporary copy
    else:
        return None
    number = str(version.version)
    client.set_model_version_tag(registered_model, number, TAG_QUARANTINED, "true")
    client.set_model_version_tag(registered_model, number, TAG_QUARANTINED_REASON, reason[:MAX_REASON])
    logger.error(
        "the champion %s v%s cannot be loaded safely and is quarantined (tagged %s=true): %s (the model's "
        "files: %s). This run goes on as if there were no champion: the new best must beat the baselines "
        "to be promoted", registered_model, number, TAG_QUARANTINED, reason, version.source,
    )
    return number
