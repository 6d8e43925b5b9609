"""Checks made before any training: every output location is usable and the outputs are distinct.

A run that cannot write its forecast must fail before it trains or promotes anything, with exit 2
naming the key (``output.forecast_path``, ``output.plot_path``) and the value. Nothing is written:
a missing directory is only checked to be creatable.

Example
-------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> check_outputs({"output.forecast_path": str(d / "f.csv"), "output.plot_path": str(d / "f.csv")})
Traceback (most recent call last):
...
forecaster.errors.ConfigError: output.plot_path must differ from output.forecast_path: both name ...
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from forecaster.errors import ConfigError


def _nearest_existing(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path(path.anchor or ".")


def check_output(key: str, value: str) -> Path:
    """Check that the file ``value`` (the setting ``key``) can be written; returns it resolved."""
    path = Path(value).expanduser()
    if path.is_dir():
        raise ConfigError(f"{key} must name a file, not a directory. Received: {key}={value}")
    if path.exists() and not path.is_file():
        raise ConfigError(f"{key} must name a regular file. Received: {key}={value}")
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists():
        if not parent.is_dir():
            raise ConfigError(f"{key}: its directory {parent} is not a directory. Received: {key}={value}")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise ConfigError(f"{key}: its directory {parent} is not writable. Received: {key}={value}")
    else:
        base = _nearest_existing(path)
        if not base.is_dir():
            raise ConfigError(f"{key}: {base} is a file, so the directory {parent} cannot be created. "
                              f"Received: {key}={value}")
        if not os.access(base, os.W_OK | os.X_OK):
            raise ConfigError(f"{key}: the directory {parent} cannot be created ({base} is not writable). "
                              f"Received: {key}={value}")
    if path.exists() and not os.access(path, os.W_OK) and not os.access(parent, os.W_OK):
        raise ConfigError(f"{key}: the file is not writable. Received: {key}={value}")
    return path.resolve()


def check_outputs(outputs: Mapping[str, str | None]) -> None:
    """Check every output (``{key: path or None}``) with :func:`check_output`, and that they differ.

    Raises
    ------
    ConfigError
        Exit 2; the message names the key and the value.
    """
    seen: dict[Path, str] = {}
    for key, value in outputs.items():
        if not value:
            continue
        resolved = check_output(key, str(value))
        if resolved in seen:
            raise ConfigError(f"{key} must differ from {seen[resolved]}: both name {resolved}. "
                              f"Received: {key}={value}")
        seen[resolved] = key
