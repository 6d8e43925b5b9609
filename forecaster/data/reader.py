"""Read a CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``) file into the canonical frame.

Reading only gets the raw table off the disk (with the encoding, separator and missing-value
sentinels of the ``data`` section); the schema (:meth:`forecaster.data.schema.DataSchema.to_canonical`)
turns it into the canonical frame, validated by :func:`forecaster.data.validation.frame_from_dataframe`.

Example
-------
>>> from forecaster.config import DataConfig
>>> cfg = DataConfig(path="data/temperature.csv", timestamp_column="date", target="T (degC)",
...                  missing_values=[-9999])
>>> frame = read_frame(cfg)  # doctest: +SKIP
>>> frame.columns[:3].tolist()  # doctest: +SKIP
['series_id', 'timestamp', 'T (degC)']
"""

from __future__ import annotations

import csv
import gzip
import logging
import lzma
import os
import zlib
from pathlib import Path

import pandas as pd

from forecaster.config import DataConfig
from forecaster.data.rawcolumns import _hint, clean_header
from forecaster.data.schema import DataSchema
from forecaster.data.values import split_missing_values
from forecaster.errors import DataValidationError

logger = logging.getLogger(__name__)

CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")


def read_frame(cfg: DataConfig) -> pd.DataFrame:
    """Read ``cfg.path`` and return the validated canonical frame.

    Parameters
    ----------
    cfg : DataConfig
        The ``data`` section: path, timestamp column/format/parts, series column, targets,
        features, missing-value sentinels, encoding and separator.

    Returns
    -------
    pandas.DataFrame
        Shape ``(n_rows, 2 + n_numeric)``: ``series_id``, ``timestamp``, targets, features;
        sorted by ``series_id, timestamp`` (unsorted input is sorted, with an INFO log).

    Raises
    ------
    DataValidationError
        The file is missing, unreadable, empty, or breaks a rule of
        :func:`~forecaster.data.validation.frame_from_dataframe`.
    """
    path = Path(cfg.path)
    raw = read_raw(path, cfg)
    return DataSchema.from_config(cfg).to_canonical(raw, source=str(path))


def read_raw(path: Path, cfg: DataConfig) -> pd.DataFrame:
    """The raw table of a CSV or Parquet file, text sentinels already NaN (no validation)."""
    source = str(path)
    if not path.exists():
        raise DataValidationError(
            f"{source}: data file not found (looked in {path.resolve()}). "
            + _hint("Check data.path; relative paths are resolved against the working directory.",
                    "Relative paths are resolved against the working directory.")
        )
    if not path.is_file():
        raise DataValidationError(
            f"{source}: " + _hint("data.path must name a file", "the data must be a file") + "; received a directory"
        )
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return _read_parquet(path, source)
    if name.endswith(CSV_SUFFIXES):
        return _read_csv(path, cfg, source)
    raise DataValidationError(
        f"{source}: unsupported file type; " + _hint("data.path", "the file name") + " must end in one of "
        f"{list(CSV_SUFFIXES + PARQUET_SUFFIXES)}"
    )


def _read_csv(path: Path, cfg: DataConfig, source: str) -> pd.DataFrame:
    texts, _ = split_missing_values(cfg.missing_values)
    options = {"sep": cfg.separator, "encoding": cfg.encoding}
    try:
        header = pd.read_csv(path, nrows=0, **options).columns
        # Timestamps and series ids stay text: pandas must not turn "0001" into 1.
        as_text = {clean_header(cfg.series_column)} if cfg.series_column else set()
        if not cfg.timestamp_parts:
            as_text.add(clean_header(cfg.timestamp_column))
        dtype = {col: str for col in header if clean_header(col) in as_text}
        raw = pd.read_csv(path, na_values=texts, dtype=dtype, low_memory=False, **options)
    except pd.errors.EmptyDataError as exc:
        raise DataValidationError(
            f"{source}: the file is empty (no header, no rows). "
            + _hint("Point data.path at a file with data.", "Send a file of recent history.")
        ) from exc
    except UnicodeDecodeError as exc:
        raise DataValidationError(
            f"{source}: the file is not valid {cfg.encoding!r} text ({exc}). "
            + _hint("Set data.encoding to the file's encoding, e.g. 'latin-1' or 'cp1252'.",
                    f"The model reads {cfg.encoding!r} text; convert the file.")
        ) from exc
    except PermissionError as exc:
        raise DataValidationError(f"{source}: the file cannot be read: permission denied ({exc}).") from exc
    except LookupError as exc:
        raise DataValidationError(
            f"{source}: unknown data.encoding {cfg.encoding!r} ({exc})."
        ) from exc
    except (EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile) as exc:
        raise DataValidationError(
            f"{source}: the compressed file is truncated or corrupt ({type(exc).__name__}: {exc}). "
            "Copy or download the file again."
        ) from exc
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        raise DataValidationError(
            f"{source}: cannot be read as CSV with separator {cfg.separator!r} ({exc}). "
            + _hint("Check data.separator and that the file is a CSV.", "Check that the file is a CSV.")
        ) from exc
    _check_repeated_header(path, cfg, source)
    check_last_line(path, cfg, len(header), len(raw), source)
    return raw


def _check_repeated_header(path: Path, cfg: DataConfig, source: str) -> None:
    """Raise on a header naming a column twice (pandas would silently rename one ``x.1``)."""
    if cfg.separator == r"\s+" or path.name.lower().endswith((".bz2", ".xz", ".zst", ".zip")):
        return
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding=cfg.encoding, newline="") as handle:
        first = next(csv.reader(handle, delimiter=cfg.separator), [])
    names = [clean_header(n) for n in first]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataValidationError(
            f"{source}: column name(s) {repeated} appear more than once in the header. Rename the "
            "columns so each name is unique."
        )


def check_last_line(path: Path, cfg: DataConfig, n_fields: int, n_rows: int, source: str) -> None:
    """Raise when the file was cut inside its last line.

    A last line with fewer fields than the header (pandas would fill the rest with NaN), or a file
    that ends without a line break right after a separator, was cut while being written or copied:
    its values cannot be trusted (a cut timestamp may even read as an earlier one).
    """
    if n_rows == 0 or cfg.separator == r"\s+":
        return
    try:
        tail = _tail_bytes(path)
    except (EOFError, zlib.error, lzma.LZMAError, OSError) as exc:
        raise DataValidationError(
            f"{source}: the compressed file is truncated or corrupt ({type(exc).__name__}: {exc}). "
            "Copy or download the file again."
        ) from exc
    if tail is None:
        return
    text = tail.decode(cfg.encoding, errors="replace")
    ends_cleanly = text.endswith(("\n", "\r"))
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return
    last = lines[-1]
    try:
        fields = next(csv.reader([last], delimiter=cfg.separator))
    except csv.Error:
        return
    shown = last if len(last) <= 80 else last[:77] + "..."
    if len(fields) < n_fields:
        raise DataValidationError(
            f"{source}: the last line (data row {n_rows}) has {len(fields)} field(s) where the header "
            f"has {n_fields}: {shown!r}{'' if ends_cleanly else ' and no line break after it'}. The "
            "file looks cut off: copy it again, or delete the partial line."
        )
    if not ends_cleanly and len(fields) == n_fields and fields[-1] == "":
        raise DataValidationError(
            f"{source}: the file ends inside its last line (data row {n_rows}): {shown!r} ends with "
            "the separator and no line break. The file looks cut off: copy it again, or delete the "
            "partial line."
        )


def _tail_bytes(path: Path, size: int = 1 << 16) -> bytes | None:
    """The last ``size`` bytes of the (decompressed) file; None for compressions not handled."""
    name = path.name.lower()
    if name.endswith(".gz"):
        with gzip.open(path, "rb") as handle:
            tail = b""
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                tail = (tail + chunk)[-size:]
            return tail
    if name.endswith((".bz2", ".xz", ".zst", ".zip")):
        return None
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - size))
        return handle.read()


def _read_parquet(path: Path, source: str) -> pd.DataFrame:
    try:
        raw = pd.read_parquet(path)
    except (OSError, ValueError, EOFError, ImportError, NotImplementedError) as exc:
        # pyarrow's errors for corrupt files derive from these (ArrowInvalid is a ValueError).
        raise DataValidationError(
            f"{source}: cannot be read as Parquet ({exc}). Check that the file is a Parquet file."
        ) from exc
    if len(raw.columns) == 0:
        raise DataValidationError(f"{source}: the Parquet file has no columns.")
    return raw
