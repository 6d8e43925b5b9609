"""Raw columns as the reader and the validator meet them: header cleaning, a required column (with
close-match suggestions), the first offending row, and who reads the error (a pipeline author,
told pipeline keys, or a served model's caller, told its input columns)."""

from __future__ import annotations

import contextlib
import contextvars
import difflib
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from forecaster.errors import DataValidationError

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


def clean_header(name: object) -> str:
    """A header as the canonical frame names it: ``str``, surrounding whitespace and BOM removed."""
    return str(name).strip().lstrip("\ufeff").strip()


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
