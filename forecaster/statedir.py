"""Where the product keeps its state between runs, and how it reads it back.

The state directory is ``$FORECASTER_STATE_DIR`` when set, else ``$XDG_STATE_HOME/forecaster``,
else ``~/.local/state/forecaster``. Its sub-folders (``locks/``, ``runs/``, ``journal/``,
``work/``, the forecast ledger) are created private to the user (mode 0700), and state files are
read without following symlinks (``O_NOFOLLOW``). Used by :mod:`forecaster.scheduling` (lock,
run records, commit journal) and :mod:`forecaster.lifecycle.ledger`.

Example
-------
>>> import tempfile
>>> root = tempfile.mkdtemp()
>>> state_subdir(root, "runs").name
'runs'
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR_ENV = "FORECASTER_STATE_DIR"
XDG_STATE_ENV = "XDG_STATE_HOME"
STATE_DIR_NAME = "forecaster"
#: ``os.open`` flags of every state file: never follow a symlink, never leak into a child process.
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def default_state_dir() -> Path:
    """``$FORECASTER_STATE_DIR``, else ``$XDG_STATE_HOME/forecaster``, else ``~/.local/state/forecaster``."""
    explicit = os.environ.get(STATE_DIR_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get(XDG_STATE_ENV)
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "state"
    return base / STATE_DIR_NAME


def state_subdir(state_dir: str | os.PathLike[str] | None, part: str) -> Path:
    """``<state_dir>/<part>``, created (mode 0700) when missing."""
    root = Path(state_dir) if state_dir is not None else default_state_dir()
    path = root / part
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def read_text_nofollow(path: str | os.PathLike[str]) -> str:
    """Read a state file without following a symlink (``OSError`` ``ELOOP`` when it is one)."""
    fd = os.open(path, os.O_RDONLY | NOFOLLOW)
    with os.fdopen(fd, "r", encoding="utf-8") as fh:
        return fh.read()
