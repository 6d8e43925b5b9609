"""Turn a raw table (file columns) into the validated canonical long frame.

The canonical frame has one row per (series, timestamp): ``series_id`` (str), ``timestamp``
(``datetime64[ns]``, tz-naive), then the target and feature columns under their file names
(float64), sorted by ``series_id, timestamp`` with a RangeIndex. Every rule broken raises
:class:`forecaster.errors.DataValidationError` naming the source, the column, the first offending
data row (1-based, as in the file) and its value, and what to do about it.

Example
-------
>>> import pandas as pd
>>> from forecaster.config import DataConfig
>>> raw = pd.DataFrame({"Date": ["2020-01-02", "2020-01-01"], "Temp": ["1.5", "NA"]})
>>> cfg = DataConfig(path="x.csv", timestamp_column="Date", target="Temp", missing_values=["NA"])
>>> frame = frame_from_dataframe(raw, cfg)
>>> frame.columns.tolist(), frame["Temp"].tolist()
(['series_id', 'timestamp', 'Temp'], [nan, 1.5])
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from forecaster.config import DataConfig
from forecaster.data.columns import DEFAULT_SERIES_ID, KEY_COLUMNS, SERIES_ID, TIMESTAMP
from forecaster.data.rawcolumns import (  # noqa: F401 (speaking_to_model, clean_header: public here too)
    _AUDIENCE,
    _first_bad,
    _hint,
    _missing_column,
    _require,
    clean_header,
    speaking_to_model,
)
from forecaster.data.values import (  # noqa: F401 (MAX_ABS_VALUE, suspected_sentinels: public here too)
    MAX_ABS_VALUE,
    _check_valid_range,
    _check_values,
    _numeric_columns,
    _warn_sentinels,
    split_missing_values,
    suspected_sentinels,
)
from forecaster.errors import DataValidationError

logger = logging.getLogger(__name__)

SERIES = SERIES_ID
# Column names the pipeline adds itself; a data column under one of them would be overwritten.
RESERVED = KEY_COLUMNS
_PART_KEYS = ("year", "month", "day", "hour", "minute")
#: Timestamps must fit pandas' nanosecond range (checked before any cast, which would wrap).
_NS_MIN = np.datetime64(pd.Timestamp.min.ceil("s").to_datetime64(), "us")
_NS_MAX = np.datetime64(pd.Timestamp.max.floor("s").to_datetime64(), "us")


def expected_columns(cfg: DataConfig) -> list[str]:
    """The raw columns ``cfg`` reads: timestamp (or its parts), series, targets, listed features."""
    names = list((cfg.timestamp_parts or {}).values()) or [cfg.timestamp_column]
    if cfg.series_column:
        names.append(cfg.series_column)
    names += list(cfg.target)
    if cfg.features != "all":
        names += list(cfg.features)
    return list(dict.fromkeys(clean_header(n) for n in names))


def frame_from_dataframe(
    df: pd.DataFrame,
    cfg: DataConfig,
    source: str = "<dataframe>",
    audience: str = "pipeline",
    expected: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Validate a raw DataFrame (file columns) and return the canonical frame.

    Parameters
    ----------
    df : pandas.DataFrame
        The raw table, one row per observation, with the columns ``cfg`` names (the timestamp or
        its parts, the optional series column, the targets and the features). Row ``i``
        (0-based position) is reported as data row ``i + 1``.
    cfg : DataConfig
        The ``data`` section of the pipeline file.
    source : str
        What to call the data in error messages (a file path, or ``"<dataframe>"``).
    audience : {"pipeline", "model"}
        ``"pipeline"``: messages advise on pipeline keys (``data.timestamp_format``...);
        ``"model"``: the caller of a served model, told about the model's input columns.
    expected : sequence of str, optional
        The input columns to name to a model's caller (default: those ``cfg`` reads).

    Returns
    -------
    pandas.DataFrame
        Shape ``(n_rows, 2 + n_numeric)``: ``series_id``, ``timestamp``, then the targets (in
        ``cfg.target`` order) and the features, float64, sorted by ``series_id, timestamp``.

    Raises
    ------
    DataValidationError
        No rows; a named column is missing; a timestamp cannot be parsed; a timestamp repeats
        within a series with different values (exact repeats of a row are dropped with a
        warning); a numeric column holds text, infinities, magnitudes above
        :data:`MAX_ABS_VALUE`, values outside ``data.valid_range``, or no value at all.

    Example
    -------
    >>> import pandas as pd
    >>> from forecaster.config import DataConfig
    >>> raw = pd.DataFrame({"Ticker": ["B", "A"], "Date": ["2020-01-01", "2020-01-01"],
    ...                     "Close": [2.0, 1.0]})
    >>> cfg = DataConfig(path="x.csv", timestamp_column="Date", series_column="Ticker",
    ...                  target="Close")
    >>> frame_from_dataframe(raw, cfg)["series_id"].tolist()
    ['A', 'B']
    """
    token = _AUDIENCE.set((audience, tuple(expected or expected_columns(cfg))))
    try:
        return _frame_from_dataframe(df, cfg, source)
    finally:
        _AUDIENCE.reset(token)


def _frame_from_dataframe(df: pd.DataFrame, cfg: DataConfig, source: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise DataValidationError(
            f"{source}: expected a pandas DataFrame of raw rows; received {type(df).__name__}"
        )
    if not isinstance(df.index, pd.RangeIndex):
        df = df.reset_index(drop=not _index_is_named(df))
    df = df.copy(deep=False)
    df.columns = [clean_header(c) for c in df.columns]
    _check_unique_headers(df.columns, source)
    if len(df) == 0:
        raise DataValidationError(
            f"{source}: the data has a header but no rows (columns found: {list(df.columns)}). "
            + _hint("Point data.path at a file with data.", "Send rows of recent history.")
        )
    df = df.reset_index(drop=True)
    texts, numbers = split_missing_values(cfg.missing_values)

    timestamp, used = _timestamps(df, cfg, source)
    series = _series_ids(df, cfg, source)
    used |= {cfg.series_column} if cfg.series_column else set()
    numeric, explicit = _numeric_columns(df, cfg, source, used, texts, numbers)

    data: dict[str, object] = {SERIES: series, TIMESTAMP: timestamp}
    data.update(numeric)
    frame = pd.DataFrame(data)
    unusable = _check_values(frame, list(numeric), set(explicit), source)
    _check_valid_range(frame, cfg, source)
    _warn_sentinels(frame, [c for c in numeric if c not in unusable], source)
    if unusable:
        frame = frame.drop(columns=unusable)
    frame = _check_duplicates(frame, source)
    return _sorted(frame, source)


def _index_is_named(df: pd.DataFrame) -> bool:
    return any(name is not None for name in df.index.names)


def _check_unique_headers(columns: pd.Index, source: str) -> None:
    repeated = sorted({c for c in columns if list(columns).count(c) > 1})
    if repeated:
        raise DataValidationError(
            f"{source}: column name(s) {repeated} appear more than once (after removing surrounding "
            "whitespace). Rename the columns so each name is unique."
        )


# --------------------------------------------------------------------------- timestamps


def _require_every_row(raw: pd.Series, what: str, needs: str) -> None:
    """Raise naming the first data row where ``raw`` is missing: ``"<what> at data row N. Every
    row needs <needs>: fill it in or delete the row."``"""
    missing = raw.isna().to_numpy()
    if missing.any():
        raise DataValidationError(
            f"{what} at data row {_first_bad(missing) + 1}. "
            f"Every row needs {needs}: fill it in or delete the row."
        )


def _timestamps(df: pd.DataFrame, cfg: DataConfig, source: str) -> tuple[np.ndarray, set[str]]:
    if cfg.timestamp_parts:
        return _timestamps_from_parts(df, cfg, source)
    name = clean_header(cfg.timestamp_column)
    raw = _require(df, name, "timestamp", "data.timestamp_column", source)
    return _parse_timestamps(raw, name, cfg.timestamp_format, source), {name}


def _parse_timestamps(raw: pd.Series, name: str, fmt: str | None, source: str) -> np.ndarray:
    _require_every_row(raw, f"{source}: column {name!r} has no timestamp", "a timestamp")
    if isinstance(raw.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(raw.dtype):
        parsed = raw
    else:
        text = raw.astype(str).str.strip()
        try:
            parsed = _to_datetime(text, fmt)
        except ValueError as exc:
            raise DataValidationError(
                f"{source}: column {name!r} cannot be parsed with data.timestamp_format {fmt!r} ({exc})."
            ) from exc
        bad = parsed.isna().to_numpy()
        if bad.any():
            row = _first_bad(bad)
            value = text.iloc[row]
            tried = repr(fmt) if fmt else _inferred_format(text)
            raise DataValidationError(
                f"{source}: column {name!r} has a value that is not a timestamp: {value!r} at data "
                f"row {row + 1} (format tried: {tried}). "
                + _hint("Set data.timestamp_format to the format of the column (e.g. "
                        "'%Y-%m-%d %H:%M:%S' or '%d.%m.%Y %H:%M:%S'), or fix the value.",
                        "Send timestamps in the format the model was trained on.")
            )
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        logger.info("%s: column %r holds time zones; converted to UTC and dropped the zone", source, name)
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return _as_ns(parsed, name, source)


def _to_datetime(text: pd.Series, fmt: str | None) -> pd.Series:
    with warnings.catch_warnings():
        # Without a format pandas may warn that it falls back to per-element parsing; bad values
        # are reported by us anyway.
        warnings.simplefilter("ignore", UserWarning)
        try:
            return pd.to_datetime(text, format=fmt, errors="coerce")
        except ValueError:
            # Mixed UTC offsets: convert all to UTC (naive values are taken as UTC).
            return pd.to_datetime(text, format=fmt, errors="coerce", utc=True)


def _inferred_format(text: pd.Series) -> str:
    guessed = guess_datetime_format(str(text.iloc[0])) if len(text) else None
    if guessed:
        return f"{guessed!r}, inferred by pandas from the first value"
    return "pandas inference (no format could be inferred from the first value)"


def _as_ns(parsed: pd.Series, name: str, source: str) -> np.ndarray:
    # pandas 3 parses to datetime64[us]: a value outside 1677-2262 would wrap silently in the
    # cast to [ns], so the range is checked first, on the values as parsed.
    values = np.asarray(parsed.to_numpy()).astype("datetime64[us]")
    outside = (values < _NS_MIN) | (values > _NS_MAX)
    if outside.any():
        row = _first_bad(outside)
        raise DataValidationError(
            f"{source}: column {name!r} holds the timestamp {str(values[row])!r} at data row {row + 1}, "
            f"outside the supported range {str(_NS_MIN)[:10]} .. {str(_NS_MAX)[:10]}. Fix the value "
            "or delete the row."
        )
    try:
        return parsed.to_numpy().astype("datetime64[ns]")
    except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime) as exc:
        raise DataValidationError(
            f"{source}: column {name!r} holds timestamps outside 1677-2262, which pandas cannot "
            f"hold at nanosecond precision ({exc}). Fix the values."
        ) from exc


def _timestamps_from_parts(
    df: pd.DataFrame, cfg: DataConfig, source: str
) -> tuple[np.ndarray, set[str]]:
    parts = {key: clean_header(col) for key, col in (cfg.timestamp_parts or {}).items()}
    values: dict[str, pd.Series] = {}
    for key in _PART_KEYS:
        if key not in parts:
            continue
        col = parts[key]
        raw = _require(df, col, f"timestamp part ({key})", f"data.timestamp_parts.{key}", source)
        number = pd.to_numeric(raw, errors="coerce")
        bad = (number.isna() | (number != np.floor(number))).to_numpy()
        if bad.any():
            row = _first_bad(bad)
            raise DataValidationError(
                f"{source}: timestamp part column {col!r} ({key}) needs whole numbers; received "
                f"{raw.iloc[row]!r} at data row {row + 1}. Fix the value or delete the row."
            )
        values[key] = number.astype("int64")
    try:
        parsed = pd.to_datetime(pd.DataFrame(values), errors="coerce")
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime) as exc:
        raise DataValidationError(
            f"{source}: timestamp parts {list(parts.values())} do not make valid dates ({exc}). "
            "Fix the values."
        ) from exc
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = _first_bad(bad)
        shown = {parts[k]: int(v.iloc[row]) for k, v in values.items()}
        raise DataValidationError(
            f"{source}: timestamp parts {shown} at data row {row + 1} are not a valid date/time. "
            "Fix the values or delete the row."
        )
    return _as_ns(parsed, "+".join(parts.values()), source), set(parts.values())


# --------------------------------------------------------------------------- series


def _series_ids(df: pd.DataFrame, cfg: DataConfig, source: str) -> np.ndarray:
    if cfg.series_column is None:
        return np.full(len(df), DEFAULT_SERIES_ID, dtype=object)
    name = clean_header(cfg.series_column)
    raw = _require(df, name, "series", "data.series_column", source)
    _require_every_row(raw, f"{source}: series column {name!r} is empty", "a series id")
    ids = raw.astype(str).str.strip().to_numpy(dtype=object)
    return ids


def _check_duplicates(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Drop exact repeats of a row (WARNING); a timestamp repeated with other values is an error."""
    keys = frame[[SERIES, TIMESTAMP]]
    repeated = keys.duplicated(keep="first").to_numpy()
    if not repeated.any():
        return frame
    identical = frame.duplicated(keep="first").to_numpy()
    conflicting = repeated & ~identical
    if conflicting.any():
        row = _first_bad(conflicting)
        series, stamp = keys.iloc[row]
        same = (keys[SERIES].to_numpy() == series) & (keys[TIMESTAMP].to_numpy() == stamp)
        first = _first_bad(same)
        where = "" if series == DEFAULT_SERIES_ID else f" in series {series!r}"
        raise DataValidationError(
            f"{source}: timestamp {pd.Timestamp(stamp)} appears twice{where} with different values: "
            f"data rows {first + 1} and {row + 1} ({int(conflicting.sum())} such row(s) in all). "
            + _hint("Keep one row per timestamp (or set data.series_column if the data holds several series).",
                    "Send one row per timestamp and series.")
        )
    row = _first_bad(identical)
    logger.warning(
        "%s: dropped %d row(s) that exactly repeat an earlier row (first: data row %d, %s)",
        source, int(identical.sum()), row + 1, pd.Timestamp(keys[TIMESTAMP].iloc[row]),
    )
    return frame.loc[~identical].reset_index(drop=True)


def canonical_order(frame: pd.DataFrame) -> np.ndarray | None:
    """None when the rows are in ``series_id, timestamp`` order already; else the stable sorting
    permutation (what ``frame.sort_values([series_id, timestamp], kind="stable")`` would take).

    Linear for a sorted frame (one hash factorisation of the ids and a pass over the rows), one
    integer ``lexsort`` otherwise: never a sort of the string ids row by row, nor of a frame that
    is in order already.

    Example
    -------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"series_id": ["b", "a", "a"],
    ...                       "timestamp": pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-01"])})
    >>> canonical_order(frame).tolist(), canonical_order(frame.iloc[[2, 1, 0]]) is None
    ([2, 1, 0], True)
    """
    codes, _ = pd.factorize(frame[SERIES], sort=True)  # codes in sorted id order
    stamps = frame[TIMESTAMP].to_numpy()
    if (codes < 0).any() or (stamps.dtype.kind == "M" and np.isnat(stamps).any()):
        # missing keys (not in a validated frame): pandas' own order, missing last
        return frame.reset_index(drop=True).sort_values([SERIES, TIMESTAMP], kind="stable").index.to_numpy()
    same = codes[1:] == codes[:-1]
    if bool(np.all((codes[1:] > codes[:-1]) | (same & (stamps[1:] >= stamps[:-1])))):
        return None
    return np.lexsort((stamps, codes))  # stable: rows with equal keys keep their order


def _sorted(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    order = canonical_order(frame)
    if order is not None:
        logger.info("%s: rows were not in (series, timestamp) order; sorted them", source)
        frame = frame.take(order).reset_index(drop=True)
    frame[SERIES] = frame[SERIES].astype(str)
    return frame
