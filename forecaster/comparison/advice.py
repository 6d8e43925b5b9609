"""Warnings about settings that fit the data badly: the run goes on, the log says why and what to do.

These are not errors (the pipeline is valid and runs), but choices a user would want to hear
about once per run, before any training time is spent.
"""

from __future__ import annotations

import logging

import pandas as pd

from forecaster.config import PipelineConfig
from forecaster.data.columns import SERIES_ID, SPLIT, TIMESTAMP

logger = logging.getLogger(__name__)


def advise(cfg: PipelineConfig, frame: pd.DataFrame) -> None:
    """Log every warning that applies to ``cfg`` on ``frame`` (a canonical frame with ``split``)."""
    warn_interval_scale(cfg, frame)
    warn_calendar_span(cfg, frame)


def warn_interval_scale(cfg: PipelineConfig, frame: pd.DataFrame) -> None:
    """Warn when several series share one interval width in target units."""
    n_series = frame[SERIES_ID].nunique() if SERIES_ID in frame.columns else 1
    if n_series > 1 and cfg.evaluation.interval_scale == "absolute":
        logger.warning(
            "evaluation.interval_scale is 'absolute' with %d series: every series gets the same "
            "interval width in target units, too wide for the small ones and too narrow for the "
            "large ones; set evaluation.interval_scale: local for series of different scales",
            n_series,
        )


def warn_calendar_span(cfg: PipelineConfig, frame: pd.DataFrame) -> None:
    """Warn when ``day_of_year`` is used (``features.calendar`` or ``features.known_future``) but the
    training part does not cover a whole year."""
    keys = [k for k in ("calendar", "known_future") if "day_of_year" in (getattr(cfg.features, k) or [])]
    if not keys or SPLIT not in frame.columns:
        return
    train = frame[frame[SPLIT].to_numpy() == "train"]
    if train.empty:
        return
    span = train[TIMESTAMP].max() - train[TIMESTAMP].min()
    if span < pd.Timedelta(days=365):
        logger.warning(
            "features.%s has day_of_year but the training part spans only %.0f days "
            "(%s to %s): the models never see the annual cycle through and extrapolate it into "
            "the validation and test seasons; drop day_of_year or train on at least a year",
            " and features.".join(keys), span / pd.Timedelta(days=1), train[TIMESTAMP].min(), train[TIMESTAMP].max(),
        )
