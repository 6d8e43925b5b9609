"""The vanishing-gradient figures of a comparison: ``gradient_by_lag.png`` per run, ``memory_study.png`` on the parent.

Nothing here talks to MLflow; :mod:`forecaster.tracking.artifacts` calls these while it writes a run's files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from forecaster import plots
from forecaster.comparison.results import (
    ROLE_CANDIDATE,
    CandidateResult,
    ComparisonResult,
)
from forecaster.tracking.labels import architecture_label, bptt_label, clipping_label

#: At most this many curves in ``memory_study.png`` (file order of the grid).
MAX_MEMORY_CURVES = 10


def memory_study(comparison: ComparisonResult) -> tuple[str, dict[str, np.ndarray], dict[str, dict]] | None:
    """The lag profiles of every architecture, clipping and bptt setting (at most :data:`MAX_MEMORY_CURVES`).

    Takes the non-ensemble candidates that have an ``input_grad_by_lag`` profile, in grid order,
    and labels each ``<architecture> | <bptt>``, with ``| <clipping>`` in between when the
    comparison has several clipping settings.

    Returns
    -------
    (clipping label, or ``"all"`` when several; {label: profile}; {label: history}) or None when no
    candidate has a profile.
    """
    runs = [r for r in comparison.candidates
            if r.role == ROLE_CANDIDATE and np.asarray(r.input_grad_by_lag).size and not r.failed]
    if not runs:
        return None
    clippings = list(dict.fromkeys(clipping_label(r.params) for r in runs))
    profiles: dict[str, np.ndarray] = {}
    histories: dict[str, dict] = {}
    for result in runs:
        if len(profiles) >= MAX_MEMORY_CURVES:
            break
        middle = f" | {clipping_label(result.params)}" if len(clippings) > 1 else ""
        label = f"{architecture_label(result.params)}{middle} | {bptt_label(result.params)}"
        profiles.setdefault(label, np.asarray(result.input_grad_by_lag, dtype=float))
        histories.setdefault(label, result.history)
    return (clippings[0] if len(clippings) == 1 else "all"), profiles, histories


def write_memory_study(comparison: ComparisonResult, directory: Path) -> list[Path]:
    """``memory_study.png`` in ``directory`` when any candidate has a lag profile."""
    study = memory_study(comparison)
    if study is None:
        return []
    clipping, profiles, histories = study
    return [plots.plot_memory_study(
        profiles, f"{comparison.pipeline}: input gradient by lag of the final weights"
                  + (" (every clipping setting)" if clipping == "all" else f" (clipping {clipping})"),
        Path(directory) / "memory_study.png", histories=histories,
    )]


def write_gradient_by_lag(result: CandidateResult, directory: Path) -> list[Path]:
    """``gradient_by_lag.png`` in ``directory`` when the run has a lag profile."""
    if not np.asarray(result.input_grad_by_lag).size:
        return []
    return [plots.plot_gradient_by_lag(
        result.input_grad_by_lag, f"{result.name}: input gradient by lag", Path(directory) / "gradient_by_lag.png"
    )]
