"""Every comparison rule that the pipeline file and the data decide, checked before anything is written.

:func:`check_run` is what a run calls after reading its data and before it takes its lock or opens
the tracking store, so a rule broken there (exit 2 or 3) leaves no store, no lock file, no run. It
owns no rule itself; it calls each rule's one owner, the same function the later stage calls:

* the seasonal-naive season must fit the lookback (:func:`forecaster.comparison.candidates.check_baselines`,
  over :func:`forecaster.models.baselines.resolve_season`), e.g. ``evaluation.season: 100000`` on
  daily data with ``window.lookback: 28`` is exit 2 naming the keys;
* every series must be long enough for ``evaluation.backtest_folds``
  (:func:`forecaster.comparison.folds.check_folds`, exit 3).

The data's own rules (columns, timestamps, minimum length for the windows and splits) are checked
when it is read (:mod:`forecaster.data`), also before the store.
"""

from __future__ import annotations

import pandas as pd

from forecaster.comparison.candidates import check_baselines
from forecaster.comparison.folds import check_folds
from forecaster.config import PipelineConfig


def check_run(cfg: PipelineConfig, frame: pd.DataFrame) -> None:
    """Check every rule above on the canonical ``frame`` of the pipeline's data (raises the rule's
    :class:`~forecaster.errors.ForecasterError`)."""
    check_baselines(cfg, frame)
    check_folds(cfg, frame)
