"""Reading, validation and regularisation of time-series data into the canonical long frame.

The canonical frame: ``series_id`` (str), ``timestamp`` (datetime64[ns], tz-naive), then the
numeric columns under their file names (float64), sorted by ``series_id, timestamp``;
after :func:`regularise` also ``segment`` (int64, 0.. per series).
"""

from __future__ import annotations

from forecaster.data.dataset import LoadedData, file_sha256, load_dataset
from forecaster.data.frequency import infer_frequency
from forecaster.data.length import check_length, minimum_rows, split_sizes
from forecaster.data.reader import read_frame
from forecaster.data.regularise import RegularisationReport, SeriesReport, regularise
from forecaster.data.validation import frame_from_dataframe

__all__ = [
    "LoadedData",
    "RegularisationReport",
    "SeriesReport",
    "check_length",
    "file_sha256",
    "frame_from_dataframe",
    "infer_frequency",
    "load_dataset",
    "minimum_rows",
    "read_frame",
    "regularise",
    "split_sizes",
]
