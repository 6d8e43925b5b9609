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

import contextlib
import contextvars
import difflib
import logging
import warnings
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from forecaster.config import DataConfig
from forecaster.errors import DataValidationError
from forecaster.schema import DEFAULT_SERIES_ID, KEY_COLUMNS, SERIES_ID, TIMESTAMP

logger = logging.getLogger(__name__)

SERIES = SERIES_ID
# Column names the pipeline adds itself; a data column under one of them would be overwritten.
RESERVED = KEY_COLUMNS
_PART_KEYS = ("year", "month", "day", "hour", "minute")
#: The largest magnitude a value may have: larger ones overflow when scaled (squares beyond
#: float64) or when windows are cast to float32, so they are rejected as data errors.
MAX_ABS_VALUE = 1e15
#: Timestamps must fit pandas' nanosecond range (checked before any cast, which would wrap).
_NS_MIN = np.datetime64(pd.Timestamp.min.ceil("s").to_datetime64(), "us")
_NS_MAX = np.datetime64(pd.Timestamp.max.floor("s").to_datetime64(), "us")
#: Who reads the messages: "pipeline" (hints name pipeline keys) or "model" (a served model's
#: caller: hints name the model's input columns). Set by :func:`frame_from_dataframe`.
_AUDIENCE: contextvars.ContextVar[tuple[str, tuple[str, ...]]] = contextvars.ContextVar(
    "forecaster_data_audience", default=("pipeline", ())
)


def _hint(pipeline: str, model: str) -> str:
    """The advice for the current audience: pipeline keys, or the model's inputs."""
    audience, expected = _AUDIENCE.get()
    if audience != "model":
        return pipeline
    return model.replace("{expected}", str(list(expected)))


@contextlib.contextmanager
def speaking_to_model(expected: Sequence[str]) -> Iterator[None]:
    """Within the block, reading and validation errors advise a model's caller (its input
    columns ``expected``), not a pipeline author (pipeline keys)."""
    token = _AUDIENCE.set(("model", tuple(expected)))
    try:
        yield
    finally:
        _AUDIENCE.reset(token)


def expected_columns(cfg: DataConfig) -> list[str]:
    """The raw columns ``cfg`` reads: timestamp (or its parts), series, targets, listed features."""
    names = list((cfg.timestamp_parts or {}).values()) or [cfg.timestamp_column]
    if cfg.series_column:
        names.append(cfg.series_column)
    names += list(cfg.target)
    if cfg.features != "all":
        names += list(cfg.features)
    return list(dict.fromkeys(clean_header(n) for n in names))


def clean_header(name: object) -> str:
    """A header as the canonical frame names it: ``str``, surrounding whitespace and BOM removed."""
    return str(name).strip().lstrip("\ufeff").strip()


def split_missing_values(missing_values: Sequence[object]) -> tuple[list[str], list[float]]:
    """Split ``data.missing_values`` into text sentinels and numeric sentinels.

    Every sentinel is matched as text (``"-9999"`` in a text column); those that read as numbers
    are also matched as numbers (``-9999`` matches ``-9999.0``).
    """
    texts: list[str] = []
    numbers: list[float] = []
    for value in missing_values:
        text = str(value).strip()
        texts.append(text)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            numbers.append(float(value))
            if float(value).is_integer():
                texts.append(str(int(value)))
            continue
        try:
            numbers.append(float(text))
        except ValueError:
            pass
    return sorted(set(texts)), sorted(set(numbers))


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


def _missing_column(source: str, role: str, name: str, columns: Sequence[str], key: str) -> DataValidationError:
    close = difflib.get_close_matches(name, list(columns), n=3, cutoff=0.6)
    hint = f" Did you mean {close}?" if close else ""
    if len(columns) == 1 and any(sep in str(columns[0]) for sep in ",;\t|"):
        hint += " The header reads as one column: " + _hint("check data.separator.", "check the separator.")
    return DataValidationError(
        f"{source}: the {role} column {name!r} is not in the data. Columns found: {list(columns)}."
        f"{hint} "
        + _hint(f"Set {key} to one of the columns found.", "The model expects the input columns {expected}.")
    )


def _require(df: pd.DataFrame, name: str, role: str, key: str, source: str) -> pd.Series:
    if name not in df.columns:
        raise _missing_column(source, role, name, df.columns, key)
    return df[name]


def _first_bad(mask: np.ndarray) -> int:
    """0-based position of the first True in ``mask``."""
    return int(np.flatnonzero(mask)[0])


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


# --------------------------------------------------------------------------- numeric columns


def _numeric_columns(
    df: pd.DataFrame,
    cfg: DataConfig,
    source: str,
    used: set[str],
    texts: list[str],
    numbers: list[float],
) -> tuple[dict[str, np.ndarray], list[str]]:
    """The float64 columns (targets first, then features) and the names given explicitly."""
    targets = [clean_header(t) for t in cfg.target]
    explicit = list(targets)
    if cfg.features == "all":
        candidates = [c for c in df.columns if c not in used and c not in targets]
    else:
        explicit += [clean_header(f) for f in cfg.features]
        candidates = []
    explicit = list(dict.fromkeys(explicit))  # a feature that is also a target counts once

    for name in explicit:
        key = "data.target" if name in targets else "data.features"
        _require(df, name, "target" if name in targets else "feature", key, source)
        if name in used or name in RESERVED:
            raise DataValidationError(
                f"{source}: {key} names column {name!r}, which is already the timestamp or series "
                f"column, or a reserved name ({list(RESERVED)}). Name a value column instead."
            )

    columns: dict[str, np.ndarray] = {}
    for name in explicit:
        columns[name] = _to_float(df[name], name, source, texts, numbers, required=True)

    excluded: list[str] = []
    for name in candidates:
        if name in RESERVED:
            logger.warning(
                "%s: column %r is left out of the features: the name is reserved (%s)",
                source, name, list(RESERVED),
            )
            continue
        values = _to_float(df[name], name, source, texts, numbers, required=False)
        if values is None:
            excluded.append(name)
        else:
            columns[name] = values
    if excluded:
        logger.info(
            "%s: features 'all' leaves out the non-numeric column(s) %s", source, excluded
        )
    return columns, explicit


def _to_float(
    raw: pd.Series,
    name: str,
    source: str,
    texts: list[str],
    numbers: list[float],
    required: bool,
) -> np.ndarray | None:
    """float64 values of one column with sentinels as NaN; ``None`` for a text column not required.

    A column not named explicitly (``features: all``) is text, and left out, when at most half of
    its non-missing values read as numbers; otherwise its non-numeric values are errors.
    """
    if pd.api.types.is_bool_dtype(raw.dtype) or pd.api.types.is_numeric_dtype(raw.dtype):
        values = raw.to_numpy(dtype="float64", na_value=np.nan)
    else:
        text = raw.astype(object).where(raw.notna(), None)
        stripped = text.map(lambda v: v.strip() if isinstance(v, str) else v)
        if texts:
            stripped = stripped.where(~stripped.isin(texts), None)
        converted = pd.to_numeric(stripped, errors="coerce")
        present = stripped.notna().to_numpy()
        bad = converted.isna().to_numpy() & present
        if bad.any():
            if not required and bad.sum() * 2 >= present.sum():
                return None
            row = _first_bad(bad)
            raise DataValidationError(
                f"{source}: column {name!r} must be numeric but holds {raw.iloc[row]!r} at data row "
                f"{row + 1}. "
                + _hint("Fix the value, add it to data.missing_values if it marks a missing value, "
                        "or leave the column out of data.target/data.features.",
                        "Send numbers in the model's input columns {expected} (leave a missing value empty).")
            )
        values = converted.to_numpy(dtype="float64", na_value=np.nan)
    if numbers:
        values = np.where(np.isin(values, numbers), np.nan, values)
    return values


def _check_values(
    frame: pd.DataFrame, columns: list[str], explicit: set[str], source: str
) -> list[str]:
    """Raise on infinities, or on a named column without values (in all data or in a series).

    Returns the columns picked by ``features: all`` that have no values (in all data or in some
    series): they are left out with a WARNING instead.
    """
    codes, uniques = pd.factorize(frame[SERIES].to_numpy())
    unusable: list[str] = []
    for name in columns:
        values = frame[name].to_numpy()
        infinite = np.isinf(values)
        if infinite.any():
            row = _first_bad(infinite)
            raise DataValidationError(
                f"{source}: column {name!r} holds an infinite value ({values[row]}) at data row "
                f"{row + 1}. Replace it with a finite value or leave it empty (missing)."
            )
        huge = np.abs(np.nan_to_num(values)) > MAX_ABS_VALUE
        if huge.any():
            row = _first_bad(huge)
            raise DataValidationError(
                f"{source}: column {name!r} holds {values[row]!r} at data row {row + 1}; values must lie "
                f"within +-{MAX_ABS_VALUE:g} (larger ones overflow when scaled). Fix the value, or "
                "mark it missing" + _hint(" (data.missing_values).", " (leave it empty).")
            )
        present = ~np.isnan(values)
        counts = np.bincount(codes[present], minlength=len(uniques))
        if (counts > 0).all():
            continue
        if name not in explicit:
            unusable.append(name)
            continue
        if not present.any():
            raise DataValidationError(
                f"{source}: column {name!r} has no values (all {len(values)} rows are missing). "
                + _hint("Leave it out of data.target/data.features, or fix data.missing_values.",
                        f"The model needs values in its input column {name!r}.")
            )
        empty = sorted(str(u) for u in uniques[counts == 0])
        raise DataValidationError(
            f"{source}: column {name!r} has no values in series {empty}. "
            + _hint("Leave the column out of data.target/data.features, or drop those series from the data.",
                    "Send values of this input column for every series.")
        )
    if unusable:
        logger.warning(
            "%s: features 'all' leaves out column(s) %s: no values (in all rows or in some series)",
            source, unusable,
        )
    return unusable


def _check_valid_range(frame: pd.DataFrame, cfg: DataConfig, source: str) -> None:
    """Raise on the first value outside ``data.valid_range`` (rows still in file order)."""
    for column, (low, high) in (cfg.valid_range or {}).items():
        name = clean_header(column)
        if name not in frame.columns or name in (SERIES, TIMESTAMP):
            numeric = [c for c in frame.columns if c not in (SERIES, TIMESTAMP)]
            raise DataValidationError(
                f"{source}: data.valid_range names column {name!r}, which is not a numeric column "
                f"of the data (numeric columns: {numeric}). Name a target or feature column."
            )
        values = frame[name].to_numpy()
        outside = (values < low) | (values > high)
        if outside.any():
            row = _first_bad(outside)
            raise DataValidationError(
                f"{source}: column {name!r} holds {values[row]!r} at data row {row + 1}, outside "
                f"data.valid_range [{low:g}, {high:g}] ({int(outside.sum())} such value(s) in all). "
                + _hint("Fix the value, mark it missing (data.missing_values), or widen data.valid_range.",
                        f"The model accepts {name!r} values in [{low:g}, {high:g}]; leave a missing value empty.")
            )


#: A repeated extreme value is a suspected sentinel when it repeats at least this often and lies
#: this many interquartile ranges beyond the quartiles of the column's other values.
SENTINEL_MIN_REPEATS = 3
SENTINEL_IQR_FACTOR = 20.0


def suspected_sentinels(values: np.ndarray) -> list[tuple[float, int, int]]:
    """``(value, count, first 0-based row)`` of repeated extreme values that look like sentinels.

    A value is suspect when it is the column's minimum or maximum, appears at least
    :data:`SENTINEL_MIN_REPEATS` times, and lies more than :data:`SENTINEL_IQR_FACTOR`
    interquartile ranges outside the quartiles of the other values, and further from them than
    their whole range is wide (e.g. -9999 among temperatures; not 600 s of rain per 10 minutes,
    the top of a bounded scale).

    Example
    -------
    >>> import numpy as np
    >>> suspected_sentinels(np.array([1.0, 2.0, -9999.0, 3.0, 2.5, -9999.0, 1.5, -9999.0]))
    [(-9999.0, 3, 2)]
    """
    present = values[~np.isnan(values)]
    if present.size < 2 * SENTINEL_MIN_REPEATS:
        return []
    found = []
    for extreme in {float(present.min()), float(present.max())}:
        is_it = values == extreme
        count = int(is_it.sum())
        rest = present[present != extreme]
        if count < SENTINEL_MIN_REPEATS or rest.size < SENTINEL_MIN_REPEATS:
            continue
        q1, q3 = np.percentile(rest, [25, 75])
        spread = max(q3 - q1, 1e-12 * max(abs(q1), abs(q3), 1.0))
        low, high = float(rest.min()), float(rest.max())
        gap = low - extreme if extreme < low else extreme - high
        far = extreme < q1 - SENTINEL_IQR_FACTOR * spread or extreme > q3 + SENTINEL_IQR_FACTOR * spread
        if far and gap > high - low:
            found.append((extreme, count, _first_bad(is_it)))
    return sorted(found)


def _warn_sentinels(frame: pd.DataFrame, columns: list[str], source: str) -> None:
    for name in columns:
        for value, count, row in suspected_sentinels(frame[name].to_numpy()):
            rest = frame[name][frame[name] != value]
            logger.warning(
                "%s: column %r holds %r in %d rows (first at data row %d), far outside its other values "
                "(%g .. %g): if it marks a missing value, %s",
                source, name, value, count, row + 1, rest.min(), rest.max(),
                _hint(f"declare it in data.missing_values (e.g. missing_values: [{value:g}])",
                      "leave those values empty"),
            )


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
