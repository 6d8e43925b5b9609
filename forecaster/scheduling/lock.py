"""One lock per pipeline and tracking store: what must not run twice.

Everything is keyed by the run's *identity*, :func:`run_identity`: the pipeline name together with
the tracking store's identity (``<name>-<12 hex of sha256(store)>``, the store as
:func:`forecaster.tracking.storeuri.store_identity` names it: the real path of a SQLite or file
store, a normalised URI for a server), so the same pipeline started from two working directories,
or through a symlink, a relative path or ``..`` segments, against one store cannot run twice at
once, while the same pipeline name against two stores runs (and is skipped) independently.

:class:`PipelineLock` holds an exclusive ``flock`` on ``<state_dir>/locks/<identity>.lock``. The
operating system releases it when the holder exits or is killed (even by SIGKILL), so a stale lock
never blocks the next run. A run takes it once. The lock file is opened without following
symlinks, in a directory private to the user (:mod:`forecaster.statedir`).

Example
-------
>>> import tempfile
>>> state_dir = tempfile.mkdtemp()
>>> with PipelineLock("demo", state_dir, store="sqlite:////tmp/demo/mlflow.db") as lock:
...     lock.path.name.startswith("demo-")
True
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import hashlib
import json
import logging
import os
from pathlib import Path

from forecaster.errors import LockHeldError
from forecaster.statedir import NOFOLLOW, default_state_dir, state_subdir
from forecaster.tracking.storeuri import store_identity

logger = logging.getLogger(__name__)


def run_identity(name: str, tracking_uri: str) -> str:
    """What must not run twice: ``<pipeline name>-<first 12 hex of sha256(store identity)>``.

    Two URIs of one store (a symlink, a relative path, ``..``, ``HTTP://Host:80/``) give one
    identity (:func:`forecaster.tracking.storeuri.store_identity`).

    >>> run_identity("smoke", "sqlite:////srv/mlflow.db")[:6]
    'smoke-'
    """
    return f"{name}-{hashlib.sha256(store_identity(tracking_uri).encode()).hexdigest()[:12]}"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class PipelineLock:
    """An exclusive, non-blocking lock for one pipeline on one store (see :func:`run_identity`).

    Parameters
    ----------
    name:
        The pipeline name.
    state_dir:
        Directory holding ``locks/``; defaults to :func:`default_state_dir`.
    store:
        The tracking store URI. With it the lock file is ``<run_identity(name, store)>.lock``, so
        the lock is keyed by pipeline and store; without it, by ``name`` alone.

    Raises
    ------
    LockHeldError
        On ``__enter__`` (or :meth:`acquire`) when another holder has the lock -- another process,
        or another ``PipelineLock`` in this process (a run takes its lock exactly once); the message
        names the pipeline, the lock file and the holder's pid and start time.

    Notes
    -----
    Worker processes should be started with the ``spawn`` or ``forkserver`` method: a forked
    child shares the locked file description and would keep the lock alive if the parent died.
    The lock file is opened with ``O_NOFOLLOW`` and ``O_CLOEXEC``.

    Example
    -------
    >>> import tempfile
    >>> with PipelineLock("nightly", tempfile.mkdtemp()) as lock:
    ...     lock.path.name
    'nightly.lock'
    """

    def __init__(self, name: str, state_dir: str | os.PathLike[str] | None = None, *, store: str | None = None):
        self.name = name
        self.store = store
        self.state_dir = Path(state_dir) if state_dir is not None else default_state_dir()
        file_name = run_identity(name, store) if store is not None else name
        self.path = self.state_dir / "locks" / f"{file_name}.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def check_free(self) -> None:
        """Raise :class:`LockHeldError` now when another holder has the lock, writing nothing (no
        directory, no lock file): a run calls it before it reads data, and takes the lock itself
        (:meth:`acquire`) only once the pipeline's rules have passed."""
        try:
            fd = os.open(self.path, os.O_RDWR | NOFOLLOW)
        except FileNotFoundError:
            return
        except OSError:
            return  # acquire() reports what is wrong with the file
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (BlockingIOError, PermissionError):
            holder = _read_holder(fd)
            raise LockHeldError(self._held_message(holder)) from None
        finally:
            os.close(fd)  # releases a flock taken here

    def acquire(self) -> "PipelineLock":
        """Take the lock or raise :class:`LockHeldError`."""
        if self._fd is not None:
            raise RuntimeError(f"lock {self.path} is already held by this object")
        state_subdir(self.state_dir, "locks")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (BlockingIOError, PermissionError):
            holder = _read_holder(fd)
            os.close(fd)
            raise LockHeldError(self._held_message(holder)) from None
        except BaseException:
            os.close(fd)
            raise
        # Only the holder writes; a reader sees the previous holder's line at worst.
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "started": _now()}).encode() + b"\n", 0)
        self._fd = fd
        logger.debug("Acquired lock %s", self.path)
        return self

    def _held_message(self, holder: str) -> str:
        against = f" against the store {self.store}" if self.store else ""
        return (f"pipeline {self.name!r} is already running{against}: another process holds the lock "
                f"{self.path} ({holder}); this run exits without doing anything")

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        logger.debug("Released lock %s", self.path)

    def __enter__(self) -> "PipelineLock":
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        raw = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
        info = json.loads(raw) if raw else {}
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "holder pid unknown"
    return f"held by pid {info['pid']} since {info.get('started', '?')}"
