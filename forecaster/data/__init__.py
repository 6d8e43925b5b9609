"""From a raw file to the canonical long frame: read, validate, regularise, check lengths, split.

Owns the canonical column names (:mod:`~forecaster.data.columns`), the raw <-> canonical schema
(:mod:`~forecaster.data.schema`), every data-validation rule (exit 3), regularisation to the
frequency, the minimum lengths and the chronological split rule (:mod:`~forecaster.data.splits`: by
fractions or by row counts, :class:`SplitRule`).
May import ``config`` and the ground floor only.

The canonical frame: ``series_id`` (str), ``timestamp`` (datetime64[ns], tz-naive), then the
numeric columns under their file names (float64), sorted by ``series_id, timestamp``; after
:func:`regularise` also ``segment`` (int64, 0.. per series); after :func:`assign_splits` ``split``.
"""

from __future__ import annotations

from forecaster.data.dataset import LoadedData, file_sha256, load_dataset
from forecaster.data.frequency import infer_frequency
from forecaster.data.length import check_length, minimum_rows
from forecaster.data.reader import read_frame
from forecaster.data.regularise import RegularisationReport, SeriesReport, regularise
from forecaster.data.schema import DataSchema
from forecaster.data.splits import SplitRule, assign_splits, drop_unused, split_sizes
from forecaster.data.validation import frame_from_dataframe

__all__ = [
    "DataSchema",
    "LoadedData",
    "RegularisationReport",
    "SeriesReport",
    "SplitRule",
    "assign_splits",
    "check_length",
    "drop_unused",
    "file_sha256",
    "frame_from_dataframe",
    "infer_frequency",
    "load_dataset",
    "minimum_rows",
    "read_frame",
    "regularise",
    "split_sizes",
]
