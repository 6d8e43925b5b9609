"""What a fitted forecaster needs from raw history, and the checks that say so in its own words.

A served model's caller (the ``pyfunc`` model, ``forecaster forecast``) knows the model's input
columns, not the pipeline file that trained it, so these messages name input columns and row
counts, never pipeline keys.

Example
-------
>>> input_columns({"timestamp_column": "date", "target": ["t"], "features": "all"},
...               ["t", "p", "day_of_year_sin", "day_of_year_cos"], {"calendar": ["day_of_year"]})
['date', 't', 'p']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from forecaster.errors import DataValidationError

_DERIVED_SUFFIXES = ("_logret",)
_WIND = ("wind_x", "wind_y")


def _derived(name: str, features: Mapping[str, Any]) -> bool:
    signals = features.get("calendar") or []
    if any(name in (f"{s}_sin", f"{s}_cos") for s in signals):
        return True
    if name.endswith(_DERIVED_SUFFIXES) and name[: -len("_logret")] in (features.get("log_returns") or []):
        return True
    return bool(features.get("wind")) and name in _WIND


def input_columns(
    data: Mapping[str, Any] | None, feature_names: Sequence[str], features: Mapping[str, Any] | None
) -> list[str]:
    """The raw columns a forecaster reads: timestamp (or its parts), series, then its value inputs.

    Parameters
    ----------
    data : mapping or None
        The pipeline's data section the model was trained with (None: a canonical frame).
    feature_names : sequence of str
        The model's inputs in network order (targets first), derived ones included.
    features : mapping or None
        The pipeline's features section (calendar signals, log returns and wind are derived from
        other columns, so they are not inputs).
    """
    if hasattr(features, "model_dump"):  # a FeaturesConfig
        features = features.model_dump()
    features = dict(features or {})
    if data is None:
        keys = ["timestamp"]
    else:
        parts = data.get("timestamp_parts") or {}
        keys = list(parts.values()) or [data.get("timestamp_column", "timestamp")]
        if data.get("series_column"):
            keys.append(data["series_column"])
    values = [str(n) for n in feature_names if not _derived(str(n), features)]
    wind = features.get("wind") or {}
    values += [str(wind[k]) for k in ("speed", "direction") if k in wind]
    return list(dict.fromkeys([*map(str, keys), *values]))


def key_columns(data: Mapping[str, Any] | None) -> set[str]:
    """The raw columns that become ``timestamp`` and ``series_id`` (not value columns)."""
    if data is None:
        return {"timestamp", "series_id"}
    parts = data.get("timestamp_parts") or {}
    keys = set(map(str, parts.values())) or {str(data.get("timestamp_column", "timestamp"))}
    if data.get("series_column"):
        keys.add(str(data["series_column"]))
    return keys


def check_value_columns(
    frame: pd.DataFrame, inputs: Sequence[str], data: Mapping[str, Any] | None, source: str
) -> None:
    """Raise when the validated (canonical) history lacks a value input column of the model.

    ``inputs`` are the model's raw input columns (:func:`input_columns`); the timestamp (or its
    parts) and the series column are checked by the validation itself.
    """
    keys = key_columns(data)
    missing = [c for c in inputs if c not in keys and c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"{source}: the model expects the input columns {list(inputs)}; missing: {missing}. "
            "Send every input column the model was trained with."
        )


def short_history_error(source: str, series_id: object, found: int, lookback: int) -> DataValidationError:
    """One line naming the rows a forecast needs and the rows found."""
    where = "" if str(series_id) == "series" else f" of series {str(series_id)!r}"
    return DataValidationError(
        f"{source}: too short a history{where}: the model needs the last {lookback} rows (its lookback) "
        f"without a long gap; found {found}. Send at least {lookback} recent rows per series."
    )
