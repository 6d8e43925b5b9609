"""The value columns of a raw table: missing-value sentinels, conversion to float64, the value
rules (finite, within +-MAX_ABS_VALUE, within ``data.valid_range``, not all missing) and the
warning about suspected undeclared sentinels (e.g. -9999 repeated far outside the data)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecaster.config import DataConfig
from forecaster.data.columns import KEY_COLUMNS, SERIES_ID, TIMESTAMP
from forecaster.data.rawcolumns import _first_bad, _hint, _require, clean_header
from forecaster.errors import DataValidationError

logger = logging.getLogger(__name__)

SERIES = SERIES_ID
# Column names the pipeline adds itself; a data column under one of them would be overwritten.
RESERVED = KEY_COLUMNS


#: The largest magnitude a value may have: larger ones overflow when scaled (squares beyond
#: float64) or when windows are cast to float32, so they are rejected as data errors.
MAX_ABS_VALUE = 1e15


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
