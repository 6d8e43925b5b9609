"""The ``data`` section of a pipeline file: where the data is and how to read it.

Import :class:`DataConfig` from :mod:`forecaster.config`; the frequency and timestamp-format
checks are plain functions, so a message names the rule and the value outside pydantic too.

Example
-------
>>> DataConfig(path="data/temperature.csv", target="T (degC)", frequency="1h").target
['T (degC)']
>>> check_frequency("fortnightly")
Traceback (most recent call last):
...
ValueError: must be a positive pandas offset alias such as '10min', '1h', 'D' or 'B'
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, field_validator

from forecaster.config.sections import StrictSection


def check_frequency(value: str) -> str:
    """``value`` when it is a positive pandas offset alias (``'10min'``, ``'1h'``, ``'D'``, ``'B'``).

    Raises ``ValueError`` (a pipeline-file error under ``data.frequency``) otherwise.
    """
    from pandas.tseries.frequencies import to_offset

    try:
        offset = to_offset(value)
    except (ValueError, TypeError):
        offset = None
    if offset is None or offset.n <= 0:
        raise ValueError(
            "must be a positive pandas offset alias such as '10min', '1h', 'D' or 'B'"
        )
    return value


def check_timestamp_format(value: str) -> str:
    """``value`` when pandas accepts it as a strftime format (``'%d.%m.%Y %H:%M:%S'``).

    Raises ``ValueError`` (a pipeline-file error under ``data.timestamp_format``) for a bad
    directive such as ``'%Q'`` or a stray ``%``.
    """
    import warnings

    import pandas as pd

    if value in ("ISO8601", "mixed"):  # pandas' own keywords
        return value
    if "%" not in value:
        raise ValueError("must be a strftime format with % directives (e.g. '%Y-%m-%d')")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pd.to_datetime(pd.Series(["2000-01-01"]), format=value, errors="coerce")
        except ValueError as exc:
            raise ValueError(f"must be a valid strftime format ({exc})") from None
    return value


class DataConfig(StrictSection):
    """Where the data is and how to read it into the canonical long frame."""

    path: str
    timestamp_column: str = "timestamp"
    timestamp_format: str | None = None
    timestamp_parts: dict[str, str] | None = Field(
        default=None,
        description="Build the timestamp from several columns, e.g. "
        "{year: year, month: month, day: day, hour: hour} (keys: year, month, day, hour, minute).",
    )
    series_column: str | None = None
    target: list[str]
    features: Literal["all"] | list[str] = "all"
    missing_values: list[float | int | str] = Field(default_factory=list)
    frequency: str | None = None
    aggregate: Literal["mean", "last", "sum"] = "mean"
    max_gap: int = Field(default=3, ge=0)
    encoding: str = "utf-8"
    separator: str = ","
    units: str | None = Field(
        default=None,
        description="Unit of the target(s), e.g. degC or USD; shown on plot axes (default: the column name).",
    )
    valid_range: dict[str, tuple[float, float]] | None = Field(
        default=None,
        description="Per column, the closed range [low, high] of plausible values, e.g. "
        '{"T (degC)": [-60, 60]}: a value outside it is a data error (exit 3) naming the file, '
        "column, row and value. Without it, values far outside the training range are only warned about.",
    )

    @field_validator("target", mode="before")
    @classmethod
    def _one_target_is_a_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [value]
        return value

    @field_validator("target")
    @classmethod
    def _target_not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("must name at least one column, received []")
        return value

    @field_validator("frequency")
    @classmethod
    def _frequency_is_an_offset(cls, value: str | None) -> str | None:
        return value if value is None else check_frequency(value)

    @field_validator("timestamp_format")
    @classmethod
    def _format_parses(cls, value: str | None) -> str | None:
        return value if value is None else check_timestamp_format(value)

    @field_validator("encoding")
    @classmethod
    def _encoding_known(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(
                "must be a Python text encoding such as 'utf-8', 'latin-1' or 'cp1252'"
            ) from None
        return value

    @field_validator("separator")
    @classmethod
    def _separator_usable(cls, value: str) -> str:
        if value == r"\s+":
            return value
        if len(value) != 1 or value in "\"'\r\n\0" or value.isalnum():
            raise ValueError(
                "must be one character that is not a letter, digit, quote or line break (e.g. ',', "
                "';', '\\t', '|'), or '\\s+' for runs of whitespace"
            )
        return value

    @field_validator("valid_range")
    @classmethod
    def _ranges_ordered(cls, value: dict[str, tuple[float, float]] | None) -> Any:
        for column, (low, high) in (value or {}).items():
            if not low < high or not math.isfinite(low - high):
                raise ValueError(
                    f"column {column!r}: a range is [low, high] with finite low < high; received [{low}, {high}]"
                )
        return value

    @field_validator("timestamp_parts")
    @classmethod
    def _parts_known(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return value
        allowed = {"year", "month", "day", "hour", "minute"}
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise ValueError(f"unknown part(s) {unknown}; allowed: {sorted(allowed)}")
        for needed in ("year", "month", "day"):
            if needed not in value:
                raise ValueError(f"needs at least year, month and day; received {sorted(value)}")
        return value


__all__ = ["DataConfig", "check_frequency", "check_timestamp_format"]
