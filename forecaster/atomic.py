"""Atomic file writes: write a hidden temp file next to the target, fsync, then rename.

``os.replace`` within one directory is atomic on POSIX, so a reader (or the next scheduled
run) sees either the old file or the complete new one, never a partial file. A writer killed
mid-way leaves at most a hidden ``.<name>.<random>.tmp`` file in the target's directory.

Example
-------
>>> import pandas as pd, tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "out" / "forecast.csv"
>>> with atomic_output(target) as tmp:
...     pd.DataFrame({"a": [1, 2]}).to_csv(tmp, index=False)
>>> target.read_text().splitlines()
['a', '1', '2']
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

TEMP_SUFFIX = ".tmp"


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not every platform lets a directory be opened.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path to write; on success it atomically replaces ``path``.

    Parameters
    ----------
    path:
        The final file. Its parent directories are created.
    suffix:
        Appended after ``.tmp`` for writers that infer the format from the file name
        (``savefig`` needs ``.png``; pandas infers compression from ``.gz``). By default the
        temp file is ``.<name>.<random>.tmp``; with ``suffix=".png"`` it is
        ``.<name>.<random>.tmp.png``. Either way it is hidden and recognisably temporary.

    Yields
    ------
    pathlib.Path
        A path in the same directory as ``path`` (so the rename is atomic). The writer
        creates it; if it raises, the temp file is deleted and ``path`` is left untouched.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=TEMP_SUFFIX + (suffix or ""), dir=directory
    )
    os.close(fd)
    tmp = Path(name)
    try:
        # mkstemp makes the file 0600; give the final file the usual umask-based mode.
        os.chmod(tmp, 0o666 & ~_current_umask())
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, target)
        _fsync_dir(directory)
        logger.debug("Wrote %s atomically", target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path.

    Example
    -------
    >>> import tempfile, pathlib
    >>> p = atomic_write_bytes(pathlib.Path(tempfile.mkdtemp()) / "a.bin", b"xyz")
    >>> p.read_bytes()
    b'xyz'
    """
    target = Path(path)
    with atomic_output(target) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; returns the path."""
    return atomic_write_bytes(path, text.encode(encoding))


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a directory beside ``path`` and move it into place only when the block succeeds.

    Yields the temporary directory (hidden, ``.<name>.<random>.tmp``). On success an existing
    ``path`` is replaced; on any exception the temporary directory is removed and ``path`` is left
    as it was. A process killed mid-way leaves at most the hidden temporary directory.
    """
    import shutil

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
