"""The canonical column names: every module takes them from here.

The canonical frame is one row per (series, timestamp): ``series_id`` (str), ``timestamp``
(datetime64[ns], tz-naive), then the numeric columns under their file names (float64); after
regularisation also ``segment``, after splitting also ``split``. This module has no imports: it is
the bottom of :mod:`forecaster.data`, so the readers, the validation, the schema, the splits, the
windows and the evaluation can all import it.

Example
-------
>>> KEY_COLUMNS
('series_id', 'timestamp', 'segment', 'split')
"""

#: The series a row belongs to (str; :data:`DEFAULT_SERIES_ID` when the file has no series column).
SERIES_ID = "series_id"
#: The row's time (``datetime64[ns]``, tz-naive).
TIMESTAMP = "timestamp"
#: The contiguous stretch of a series after regularisation (int64, 0.. per series).
SEGMENT = "segment"
#: ``train`` | ``val`` | ``test`` (:func:`forecaster.data.splits.assign_splits`).
SPLIT = "split"
#: The series id of a file without a series column.
DEFAULT_SERIES_ID = "series"
#: The columns the pipeline adds itself, never value columns (a data column under one is reserved).
KEY_COLUMNS = (SERIES_ID, TIMESTAMP, SEGMENT, SPLIT)
