"""Load a dataset end to end: read, validate, regularise, check length, fingerprint the file.

Example
-------
>>> from forecaster.config import DataConfig, FeaturesConfig
>>> cfg = DataConfig(path="data/temperature.csv", timestamp_column="date", target="T (degC)")
>>> data = load_dataset(cfg, lookback=48, horizon=24, val=0.2, test=0.2)  # doctest: +SKIP
>>> data.frequency, data.report.summary()  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from forecaster.config import DataConfig, FeaturesConfig
from forecaster.data.columns import SERIES_ID, TIMESTAMP
from forecaster.data.length import check_length
from forecaster.data.ranges import range_flags
from forecaster.data.reader import read_frame
from forecaster.data.regularise import RegularisationReport, regularise
from forecaster.data.splits import SplitRule, as_rule
from forecaster.errors import DataValidationError

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20


@dataclass
class LoadedData:
    """A regularised canonical frame with where it came from.

    Attributes
    ----------
    frame : pandas.DataFrame
        ``(n_rows, 3 + n_numeric)``: ``series_id``, ``timestamp``, the numeric columns, ``segment``.
    report : RegularisationReport
    sha256 : str
        Hex digest of the file's bytes.
    path : pathlib.Path
        ``data.path`` as configured.
    frequency : str
        The frequency used (configured, or inferred).
    flags : list of str
        Warnings about the values (far outside the training range), also logged.
    """

    frame: pd.DataFrame
    report: RegularisationReport
    sha256: str
    path: Path
    frequency: str
    flags: list[str] = field(default_factory=list)


def file_sha256(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes, read in 1 MiB chunks.

    Example
    -------
    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(b"abc")
    >>> file_sha256(f.name)[:12]
    'ba7816bf8f01'
    >>> os.remove(f.name)
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_feature_sources(frame: pd.DataFrame, features: FeaturesConfig, source: str) -> None:
    """Raise when ``features.log_returns`` or ``features.wind`` names a column the data lacks."""
    numeric = [c for c in frame.columns if c not in (SERIES_ID, TIMESTAMP)]
    named = [("features.log_returns", c) for c in features.log_returns]
    if features.wind is not None:
        named += [("features.wind.speed", features.wind.speed), ("features.wind.direction", features.wind.direction)]
    for key, column in named:
        if column not in numeric:
            raise DataValidationError(
                f"{source}: {key} names column {column!r}, which is not a numeric column of the data "
                f"(numeric columns: {numeric}). Name one of them, or add the column to data.features."
            )


def load_dataset(
    cfg: DataConfig, lookback: int, horizon: int, val: float | SplitRule, test: float | None = None,
    features: FeaturesConfig | None = None,
) -> LoadedData:
    """Read ``cfg.path``, regularise it, and check every series is long enough.

    Parameters
    ----------
    cfg : DataConfig
        The ``data`` section (path, columns, frequency, aggregate, max_gap, ...).
    lookback, horizon : int
        Window input and output steps.
    val, test : float
        Split fractions, for :func:`~forecaster.data.length.check_length`; or the split rule
        (:class:`~forecaster.data.splits.SplitRule`, e.g. row counts) as ``val``.
    features : FeaturesConfig, optional
        The pipeline's features section: the columns it derives features from must be numeric
        columns of the data.

    Raises
    ------
    DataValidationError
        Any reading or validation error, upsampling, or a series too short (after
        regularisation) for ``lookback + horizon`` and the splits.
    """
    path = Path(cfg.path)
    frame = read_frame(cfg)
    if features is not None:
        check_feature_sources(frame, features, source=str(path))
    try:
        frame, report = regularise(frame, cfg.frequency, cfg.aggregate, cfg.max_gap)
    except DataValidationError as exc:
        raise DataValidationError(f"{path}: {exc}") from exc
    rule = as_rule(val, test)
    check_length(frame, lookback, horizon, rule, source=str(path))
    flags = range_flags(frame, rule, source=str(path))
    for flag in flags:
        logger.warning("%s", flag)
    return LoadedData(
        frame=frame,
        report=report,
        sha256=file_sha256(path),
        path=path,
        frequency=report.frequency,
        flags=flags,
    )
