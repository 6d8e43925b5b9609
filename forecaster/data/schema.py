"""The data schema: raw file columns <-> the canonical frame.

The one owner of the rule "which raw column becomes which canonical column, and back" (the
canonical names themselves are :mod:`forecaster.data.columns`'s):

- :class:`DataSchema`: a pipeline's ``data`` section (how the file is read: timestamp column,
  format or parts, series column or none, value columns) plus the raw input columns of a model.
  It converts raw rows to the canonical frame (:meth:`DataSchema.to_canonical`, validated by
  :func:`forecaster.data.validation.frame_from_dataframe`; :meth:`DataSchema.to_model_frame`
  also regularises), and canonical rows back to the file's columns (:meth:`DataSchema.to_raw`:
  the logged model's input example).
- a saved forecaster stores it as a typed, versioned JSON section (:meth:`DataSchema.to_json`,
  :meth:`DataSchema.from_header`, which also reads the loose ``data``/``inputs`` keys of models
  saved before the section existed).

Example
-------
>>> import pandas as pd
>>> schema = DataSchema.from_config({"path": "x.csv", "timestamp_column": "Date",
...                                  "timestamp_format": "%Y-%m-%d", "target": ["t"]},
...                                 target=["t"], feature_names=["t", "day_of_year_sin"],
...                                 features={"calendar": ["day_of_year"]})
>>> schema.inputs
('Date', 't')
>>> frame = schema.to_canonical(pd.DataFrame({"Date": ["2024-01-02", "2024-01-01"], "t": [2.0, 1.0]}))
>>> frame.columns.tolist(), frame["t"].tolist()
(['series_id', 'timestamp', 't'], [1.0, 2.0])
>>> schema.to_raw(frame).to_dict("list")
{'Date': ['2024-01-01', '2024-01-02'], 't': [1.0, 2.0]}
>>> DataSchema.from_json(schema.to_json()) == schema
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forecaster.config import DataConfig
from forecaster.data.columns import KEY_COLUMNS, SEGMENT, SERIES_ID, TIMESTAMP
from forecaster.data.regularise import regularise
from forecaster.data.validation import frame_from_dataframe
from forecaster.errors import DataValidationError

#: How the timestamp is written back when the data section gives no format.
DEFAULT_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
#: The version of :meth:`DataSchema.to_json`'s section.
SCHEMA_VERSION = 1
#: Where the section lives in a saved forecaster's header.
HEADER_KEY = "schema"

_WIND = ("wind_x", "wind_y")


def _derived(name: str, features: Mapping[str, Any]) -> bool:
    """Whether ``name`` is computed from other columns (calendar sin/cos, known-future calendar, log
    return, wind vector)."""
    signals = features.get("calendar") or []
    if any(name in (f"{s}_sin", f"{s}_cos") for s in signals):
        return True
    # The known-future columns (features/knownfuture.known_future_columns): from the timestamps.
    if any(name in (f"known_{s}_sin", f"known_{s}_cos") for s in features.get("known_future") or []):
        return True
    if name.endswith("_logret") and name[: -len("_logret")] in (features.get("log_returns") or []):
        return True
    return bool(features.get("wind")) and name in _WIND


def _as_config(data: DataConfig | Mapping[str, Any] | None) -> DataConfig | None:
    if data is None or isinstance(data, DataConfig):
        return data
    values = dict(data)
    return DataConfig.model_validate({**values, "path": values.get("path") or "<request>"})


@dataclass(frozen=True)
class DataSchema:
    """How raw rows map to the canonical frame, and back.

    Parameters
    ----------
    data : DataConfig or None
        The pipeline's ``data`` section; None for a model fitted on canonical frames directly
        (its raw columns are the canonical ones).
    target : tuple of str
        The target columns.
    inputs : tuple of str or None
        The raw columns a model reads: timestamp (or its parts), series column, then its value
        inputs; None for the pipeline's own reading (the columns ``data`` names).
    """

    data: DataConfig | None
    target: tuple[str, ...]
    inputs: tuple[str, ...] | None = None

    # ------------------------------------------------------------ construction
    @classmethod
    def from_config(
        cls,
        data: DataConfig | Mapping[str, Any] | None,
        target: Sequence[str] | None = None,
        feature_names: Sequence[str] | None = None,
        features: Mapping[str, Any] | Any = None,
    ) -> "DataSchema":
        """The schema of a data section; with ``feature_names`` (a fitted model's inputs in network
        order, derived ones included) and ``features`` (the features section), a model's schema."""
        cfg = _as_config(data)
        target = tuple(str(t) for t in (target if target is not None else cfg.target))
        if feature_names is None:
            return cls(cfg, target)
        if hasattr(features, "model_dump"):  # a FeaturesConfig
            features = features.model_dump()
        features = dict(features or {})
        values = [str(n) for n in feature_names if not _derived(str(n), features)]
        wind = features.get("wind") or {}
        values += [str(wind[k]) for k in ("speed", "direction") if k in wind]
        keys = [TIMESTAMP] if cfg is None else cls(cfg, target).key_columns
        return cls(cfg, target, tuple(dict.fromkeys([*keys, *values])))

    # ------------------------------------------------------------ raw columns
    @property
    def key_columns(self) -> list[str]:
        """The raw columns that become ``timestamp`` (the column, or its parts) and ``series_id``."""
        if self.data is None:
            return [TIMESTAMP, SERIES_ID]
        parts = self.data.timestamp_parts or {}
        keys = [str(c) for c in parts.values()] or [str(self.data.timestamp_column)]
        return keys + ([str(self.data.series_column)] if self.data.series_column else [])

    def config(self, source: str = "<request>", columns: Sequence[str] = ()) -> DataConfig:
        """The data section reading ``source``; for a canonical schema, the canonical columns
        (``series_id`` is the series column when ``columns`` hold it)."""
        if self.data is not None:
            return self.data.model_copy(update={"path": str(source)})
        series = SERIES_ID if SERIES_ID in columns else None
        return DataConfig(path=str(source), timestamp_column=TIMESTAMP, series_column=series, target=list(self.target))

    # ------------------------------------------------------------ raw -> canonical
    def to_canonical(self, raw: pd.DataFrame, source: str = "<dataframe>", audience: str = "pipeline") -> pd.DataFrame:
        """Validate raw rows (file columns) into the canonical frame ``series_id, timestamp, values...``.

        ``audience``: ``"pipeline"`` (messages name pipeline keys) or ``"model"`` (a served model's
        caller: messages name the model's input columns, and a missing value input is an error).

        Raises
        ------
        DataValidationError
            A rule of :func:`forecaster.data.validation.frame_from_dataframe`, or a missing input.
        """

        cfg = self.config(source, list(getattr(raw, "columns", ())))
        frame = frame_from_dataframe(raw, cfg, source=source, audience=audience, expected=self.inputs)
        if self.inputs is not None:
            self.check_value_columns(frame, source)
        return frame

    def to_model_frame(self, raw: pd.DataFrame, frequency: str | None, source: str = "model input") -> pd.DataFrame:
        """RAW history -> the regular canonical frame (with ``segment``) a fitted model forecasts from.

        ``frequency``: the model's, used when the data section names none. A canonical schema
        (``data`` None) takes the frame as it is.
        """
        if self.data is None:
            return raw
        return self.regular(self.to_canonical(raw, source=source, audience="model"), frequency)

    def regular(self, frame: pd.DataFrame, frequency: str | None) -> pd.DataFrame:
        """The canonical frame on the data section's grid (aggregate, ``max_gap``), see
        :func:`forecaster.data.regularise`.

        A validated frame of one series that already has one row per step of the grid and no
        missing value (what a served request usually is) is returned as :func:`regularise` would
        return it (``segment`` 0), without its resampling and report (a test keeps the two equal).
        """

        cfg = self.config()
        frequency = cfg.frequency or frequency
        ready = _already_regular(frame, frequency)
        if ready is not None:
            return ready
        regular, _ = regularise(frame, frequency, cfg.aggregate, cfg.max_gap)
        return regular

    def check_value_columns(self, frame: pd.DataFrame, source: str) -> None:
        """Raise when the validated (canonical) history lacks a value input column of the model.

        The timestamp (or its parts) and the series column are checked by the validation itself.
        """
        keys = set(self.key_columns)
        missing = [c for c in self.inputs or () if c not in keys and c not in frame.columns]
        if missing:
            raise DataValidationError(
                f"{source}: the model expects the input columns {list(self.inputs)}; missing: {missing}. "
                "Send every input column the model was trained with."
            )

    # ------------------------------------------------------------ canonical -> raw
    def to_raw(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Canonical rows back in the file's own columns: series column (if any), the timestamp
        (text in ``timestamp_format``, or its parts), then the frame's value columns."""
        values = [c for c in frame.columns if c not in KEY_COLUMNS]
        out = pd.DataFrame()
        cfg = self.config(columns=list(frame.columns))
        if cfg.series_column:
            out[cfg.series_column] = frame[SERIES_ID].to_numpy()
        stamps = frame[TIMESTAMP]
        if cfg.timestamp_parts:
            for part, column in cfg.timestamp_parts.items():
                out[column] = getattr(stamps.dt, part).to_numpy()
        else:
            out[cfg.timestamp_column] = stamps.dt.strftime(cfg.timestamp_format or DEFAULT_TIMESTAMP_FORMAT).to_numpy()
        for c in values:
            out[c] = frame[c].to_numpy()
        return out.reset_index(drop=True)

    # ------------------------------------------------------------ saved form
    def to_json(self) -> dict[str, Any]:
        """The typed, versioned JSON section a saved forecaster's header holds."""
        return {"version": SCHEMA_VERSION,
                "data": None if self.data is None else self.data.model_dump(mode="json"),
                "target": list(self.target), "inputs": None if self.inputs is None else list(self.inputs)}

    @classmethod
    def from_json(cls, section: Any) -> "DataSchema":
        """Rebuild a schema from :meth:`to_json` (ValueError naming the bad entry)."""
        if not isinstance(section, dict) or section.get("version") != SCHEMA_VERSION:
            version = section.get("version") if isinstance(section, dict) else type(section).__name__
            raise ValueError(f"'{HEADER_KEY}' must be an object with version {SCHEMA_VERSION}; received {version!r}")
        unknown = sorted(set(section) - {"version", "data", "target", "inputs"})
        if unknown:
            raise ValueError(f"'{HEADER_KEY}' has unknown entries {unknown}")
        target, inputs = section.get("target"), section.get("inputs")
        if not isinstance(target, list) or not all(isinstance(t, str) for t in target):
            raise ValueError(f"'{HEADER_KEY}.target' must be a list of column names; received {target!r}")
        if inputs is not None and (not isinstance(inputs, list) or not all(isinstance(c, str) for c in inputs)):
            raise ValueError(f"'{HEADER_KEY}.inputs' must be a list of column names; received {inputs!r}")
        data = section.get("data")
        if data is not None and not isinstance(data, dict):
            raise ValueError(f"'{HEADER_KEY}.data' must be an object; received {type(data).__name__}")
        return cls(_as_config(data), tuple(target), None if inputs is None else tuple(inputs))

    @classmethod
    def from_header(cls, header: Mapping[str, Any]) -> "DataSchema":
        """The schema of a saved forecaster's header: its ``schema`` section, or (saved before the
        section existed) the loose ``data`` and ``inputs`` keys."""
        if HEADER_KEY in header:
            return cls.from_json(header[HEADER_KEY])
        inputs = header.get("inputs")
        return cls(_as_config(header.get("data")), tuple(str(t) for t in header.get("target") or ()),
                   None if inputs is None else tuple(str(c) for c in inputs))


def _already_regular(frame: pd.DataFrame, frequency: str | None) -> pd.DataFrame | None:
    """``frame`` with ``segment`` 0 when it is one series, in time order, exactly on the grid of
    ``frequency`` (steps from a bin label, as ``regularise`` bins them) with no missing value;
    else None (``regularise`` does the work)."""
    values = [c for c in frame.columns if c not in KEY_COLUMNS]
    ids = frame[SERIES_ID].to_numpy() if SERIES_ID in frame.columns else None
    if not frequency or ids is None or not len(ids) or not (ids == ids[0]).all() or SEGMENT in frame.columns:
        return None
    try:
        offset = pd.tseries.frequencies.to_offset(frequency)
        data = frame[values].to_numpy(dtype="float64")
    except (TypeError, ValueError):
        return None
    stamps = pd.DatetimeIndex(frame[TIMESTAMP].to_numpy())
    first = stamps[0]
    if np.isnan(data).any() or not offset.is_on_offset(first):
        return None
    if isinstance(offset, pd.offsets.Tick) and (first - first.normalize()) % pd.Timedelta(offset.nanos):
        return None
    if not stamps.equals(pd.date_range(first, periods=len(stamps), freq=offset)):
        return None
    out = pd.DataFrame(data, columns=values)
    out.insert(0, TIMESTAMP, stamps.to_numpy().astype("datetime64[ns]"))
    out.insert(0, SERIES_ID, frame[SERIES_ID].astype(str).to_numpy())
    out[SERIES_ID] = out[SERIES_ID].astype(str)
    out[SEGMENT] = np.zeros(len(out), dtype="int64")
    return out
