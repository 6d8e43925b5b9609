"""A saved directory as bytes, and back: how a trained model travels from a worker to the driver.

A task returns its model as the tar bytes of the directory it saved (the directory's format is the
estimator's business); the driver unpacks it where the local path would have saved it. Extraction
keeps regular files and folders only (``tarfile``'s ``data`` filter: no links, devices or paths
outside the target).

Example
-------
>>> import tempfile, pathlib
>>> src = pathlib.Path(tempfile.mkdtemp()); (src / "a.txt").write_text("hi")
2
>>> out = unpack_dir(pack_dir(src), pathlib.Path(tempfile.mkdtemp()) / "copy")
>>> (out / "a.txt").read_text()
'hi'
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path


def pack_dir(directory: str | Path) -> bytes:
    """The files under ``directory`` as an uncompressed tar archive (paths relative to it)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(str(directory), arcname=".")
    return buffer.getvalue()


def unpack_dir(blob: bytes, directory: str | Path) -> Path:
    """Extract an archive made by :func:`pack_dir` into ``directory`` (regular files and folders only)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r") as tar:
        tar.extractall(directory, filter="data")
    return directory
