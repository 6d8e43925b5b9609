"""Describe a bare data file (CSV or Parquet) for ``forecaster data check``: infer its timestamp
column and format and its numeric target columns, then build a :class:`~forecaster.config.DataConfig`.

pandas and the config model are imported inside the functions, so importing the CLI stays fast.
"""

from __future__ import annotations

import logging
import os
import zlib
from pathlib import Path
from typing import Sequence

from forecaster.errors import ConfigError, DataValidationError

# The package's name, not this module's: log records keep the logger name "forecaster.cli"
# (log collectors and bench/bench_pipeline.py select the CLI's messages by it).
logger = logging.getLogger(__package__)


def infer_data_config(
    path: str | os.PathLike[str],
    *,
    timestamp_column: str | None = None,
    timestamp_format: str | None = None,
    target: Sequence[str] | None = None,
    series_column: str | None = None,
    frequency: str | None = None,
    max_gap: int = 3,
    separator: str = ",",
):
    """A :class:`~forecaster.config.DataConfig` for a bare data file, filling what is not given.

    The timestamp column is the first non-numeric column whose first values all parse as
    datetimes; the targets are every numeric column (other than the series column).

    Raises
    ------
    DataValidationError
        The file is missing or unreadable, no column parses as datetimes, or no numeric column
        is left for the target.
    """

    import pandas as pd

    path = Path(path)
    # The options first (exit 2 naming the option), before the file is read with them.
    _data_config(path=str(path), timestamp_format=timestamp_format, target=["-"], frequency=frequency,
                 max_gap=max_gap, separator=separator)
    if not path.is_file():
        raise DataValidationError(f"{path}: data file not found (looked in {path.resolve()})")
    try:
        if path.name.lower().endswith((".parquet", ".pq")):
            sample = pd.read_parquet(path).head(1000)
        else:
            sample = pd.read_csv(path, nrows=1000, sep=separator)
    except (EOFError, zlib.error) as exc:
        raise DataValidationError(
            f"{path}: the compressed file is truncated or corrupt ({type(exc).__name__}: {exc}). "
            "Copy or download the file again."
        ) from exc
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataValidationError(f"{path}: cannot be read as a data table ({exc})") from exc
    columns = [str(c) for c in sample.columns]
    if timestamp_column is None:
        for name, column in sample.items():
            if str(name) == series_column or pd.api.types.is_numeric_dtype(column):
                continue
            fmt = timestamp_format or _timestamp_format(column)
            if fmt is None:
                continue
            timestamp_column, timestamp_format = str(name), fmt
            break
        else:
            raise DataValidationError(
                f"{path}: no column parses as datetimes; columns: {columns}. "
                "Name it with --timestamp-column (and --timestamp-format)."
            )
        logger.info("%s: using %r as the timestamp column (format %r)", path, timestamp_column,
                    timestamp_format)
    elif timestamp_format is None and timestamp_column in sample.columns:
        timestamp_format = _timestamp_format(sample[timestamp_column])
    if not target:
        skip = {timestamp_column, series_column}
        target = [str(c) for c, col in sample.items()
                  if str(c) not in skip and pd.api.types.is_numeric_dtype(col)]
        if not target:
            raise DataValidationError(
                f"{path}: no numeric column to check besides {timestamp_column!r}; columns: "
                f"{columns}. Name the target with --target."
            )
        logger.info("%s: checking target column(s) %s", path, target)
    return _data_config(
        path=str(path), timestamp_column=timestamp_column, timestamp_format=timestamp_format,
        series_column=series_column, target=list(target), frequency=frequency,
        max_gap=max_gap, separator=separator,
    )


def _data_config(**options):
    """A DataConfig of the command's options; a bad value is a usage error naming the option."""
    from pydantic import ValidationError

    from forecaster.config import DataConfig

    try:
        return DataConfig(**options)
    except ValidationError as exc:  # a bad option value: name the option, the rule, the value
        problems = "; ".join(
            f"--{'-'.join(str(p) for p in item['loc']).replace('_', '-')}: "
            f"{item['msg'].removeprefix('Value error, ')}; received {item.get('input')!r}"
            for item in exc.errors()
        )
        raise ConfigError(f"data check options: {problems}") from exc


def _timestamp_format(column) -> str | None:
    """The strftime format that parses every sampled value of ``column``, or None.

    Day-first and month-first readings of ambiguous dates (``01.02.2024``) are both tried; when
    both parse, the one that keeps the file's order (timestamps non-decreasing) and then the one
    with the most regular steps wins.
    """
    import warnings

    import pandas as pd
    from pandas.tseries.api import guess_datetime_format

    values = column.dropna().astype(str).str.strip()
    if values.empty:
        return None
    first = values.iloc[0]
    candidates = [guess_datetime_format(first, dayfirst=d) for d in (False, True)]
    working = []
    for fmt in dict.fromkeys(f for f in candidates if f):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                parsed = pd.to_datetime(values, format=fmt)
            except (ValueError, TypeError, OverflowError):
                continue
        working.append((fmt, parsed))
    if not working:
        return None

    def score(parsed) -> tuple[bool, float]:
        steps = parsed.diff().dropna()
        regular = float(steps.value_counts(normalize=True).iloc[0]) if len(steps) else 0.0
        return bool(parsed.is_monotonic_increasing), regular

    # max() keeps the first of equals: month-first, pandas' own default, on a full tie.
    return max(working, key=lambda item: score(item[1]))[0]
