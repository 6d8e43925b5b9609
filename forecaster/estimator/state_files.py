"""A saved forecaster's files: data only, never code.

A forecaster directory holds

- ``forecaster.json``: the format version, the class, the ``forecaster`` version that wrote it, a
  summary (target, lookback, horizon, frequency, features) and the state: settings and the data
  schema as JSON, each array replaced by ``{"__array__": KEY}``;
- ``arrays.npz``: those arrays (scaler statistics, conformal quantiles, ridge coefficients, blend
  weights, ...), read with ``numpy.load(allow_pickle=False)``;
- whatever the class adds (``model.keras``, and ``model_<i>.keras`` for each further member of an
  ensemble, read with Keras ``safe_mode=True``; a blend's
  ``member0/`` and ``member1/``).

Nothing here unpickles or imports anything named in the files: a file that is not what it should
be is a :class:`~forecaster.errors.ModelFileError` naming the file and what is wrong.

Example
-------
>>> import numpy as np, tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> write_state(d, {"class": "Demo"}, {"weights": np.array([0.5, 1.0]), "name": "x"})
>>> header, state = read_state(d, known_classes=("Demo",))
>>> state["weights"].tolist(), state["name"], header["format_version"]
([0.5, 1.0], 'x', 2)
"""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from forecaster._version import __version__
from forecaster.errors import ModelFileError

logger = logging.getLogger(__name__)

META_FILE = "forecaster.json"
ARRAYS_FILE = "arrays.npz"
#: 1: settings and state in a joblib (pickle) file, refused since 2; 2: JSON + npz.
FORMAT_VERSION = 2
ARRAY_KEY = "__array__"
#: Array dtypes a state may hold (bool, integers, floats): never ``object``.
ARRAY_KINDS = "biuf"


def _to_json(value: Any, arrays: dict[str, np.ndarray], path: str) -> Any:
    """``value`` with every array replaced by ``{"__array__": key}`` (collected into ``arrays``)."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in ARRAY_KINDS:
            raise TypeError(f"state entry {path!r}: arrays must be numeric; received dtype {value.dtype}")
        arrays[path] = value
        return {ARRAY_KEY: path}
    if isinstance(value, dict):
        return {str(k): _to_json(v, arrays, f"{path}/{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v, arrays, f"{path}/{i}") for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise TypeError(f"state entry {path!r}: {type(value).__name__} is not plain data")


def _from_json(value: Any, arrays: dict[str, np.ndarray], where: Path) -> Any:
    if isinstance(value, dict):
        if set(value) == {ARRAY_KEY}:
            key = value[ARRAY_KEY]
            if key not in arrays:
                raise ModelFileError(f"{where}: the array {key!r} named in {META_FILE} is not in {ARRAYS_FILE}")
            return arrays[key]
        return {k: _from_json(v, arrays, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v, arrays, where) for v in value]
    return value


def write_state(directory: Path, header: dict[str, Any], state: dict[str, Any]) -> None:
    """Write ``forecaster.json`` (+ ``arrays.npz`` when the state holds arrays) into ``directory``.

    ``header``: JSON values (``class`` required); ``state``: JSON values and numeric arrays.
    """
    arrays: dict[str, np.ndarray] = {}
    body = {**header, "format_version": FORMAT_VERSION, "forecaster_version": __version__,
            "state": _to_json(state, arrays, "state")}
    (Path(directory) / META_FILE).write_text(json.dumps(body, indent=1), encoding="utf-8")
    if arrays:
        np.savez(Path(directory) / ARRAYS_FILE, **arrays)


def read_header(directory: Path) -> dict[str, Any]:
    """The parsed ``forecaster.json`` of a saved forecaster, format version checked.

    Raises
    ------
    ModelFileError
        No such file, not JSON, or another format version (the message names the file).
    """
    path = Path(directory) / META_FILE
    if not path.is_file():
        raise ModelFileError(f"{directory}: not a saved forecaster (no {META_FILE})")
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelFileError(f"{path}: not valid JSON, so not a saved forecaster's settings ({exc})") from None
    if not isinstance(body, dict) or not isinstance(body.get("state"), dict):
        raise ModelFileError(f"{path}: must be a JSON object with a 'state' object; received {type(body).__name__}")
    version = body.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: format_version must be {FORMAT_VERSION}; received {version!r} "
            "(format 1 was pickle-based and is not loaded: save the model again with this version)"
        )
    return body


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, read with ``allow_pickle=False`` (numeric dtypes only)."""
    if not path.is_file():
        return {}
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError(f"a single {type(npz).__name__}, not an .npz archive")
        with npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelFileError(f"{path}: not a numpy .npz archive of plain arrays ({exc})") from None
    bad = {k: str(a.dtype) for k, a in arrays.items() if a.dtype.kind not in ARRAY_KINDS}
    if bad:
        raise ModelFileError(f"{path}: arrays must be numeric; received dtypes {bad}")
    return arrays


def read_state(directory: Path, known_classes: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(header, state)`` of a saved forecaster: JSON and plain arrays only.

    Raises
    ------
    ModelFileError
        A missing or invalid file, another format version, or a class not in ``known_classes``.
    """
    directory = Path(directory)
    header = read_header(directory)
    if header.get("class") not in known_classes:
        raise ModelFileError(
            f"{directory / META_FILE}: 'class' must be one of {list(known_classes)}; received {header.get('class')!r}"
        )
    if header.get("forecaster_version") != __version__:
        logger.warning("%s was saved by forecaster %s; this is forecaster %s", directory,
                       header.get("forecaster_version"), __version__)
    state = _from_json(header.pop("state"), read_arrays(directory / ARRAYS_FILE), directory)
    return header, state
