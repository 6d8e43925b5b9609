"""Scheduler safety: one lock per pipeline, the code version, and idempotence state.

* :class:`PipelineLock` holds an exclusive ``flock`` on ``<state_dir>/locks/<name>.lock``. The
  operating system releases it when the holder exits or is killed (even by SIGKILL), so a stale
  lock never blocks the next run.
* :func:`code_version` and :func:`run_key` identify a run by its pipeline file, data and code.
* :class:`RunState` remembers the key of the last successful run of each pipeline in
  ``<state_dir>/runs/<name>.json``, so an unchanged run can be skipped.

The state directory is ``.forecaster/`` in the working directory unless the environment
variable ``FORECASTER_STATE_DIR`` names another one.

Example
-------
>>> import tempfile
>>> state_dir = tempfile.mkdtemp()
>>> with PipelineLock("demo", state_dir):
...     key = run_key("cfg-sha", "data-sha", {"source_sha256": "abc"})
...     _ = RunState(state_dir).record_success("demo", key, {"forecast_path": None})
>>> RunState(state_dir).last_success("demo")["key"] == key
True
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import functools
import hashlib
import json
import logging
import os
import subprocess
from pathlib import Path
from typing import Any

from forecaster.atomic import atomic_write_text
from forecaster.errors import LockHeldError

logger = logging.getLogger(__name__)

STATE_DIR_ENV = "FORECASTER_STATE_DIR"
DEFAULT_STATE_DIR = ".forecaster"
_PACKAGE_DIR = Path(__file__).resolve().parent
# Locks this process holds: resolved lock path -> (pid, fd, nesting count). The pid guards a
# forked child, which inherits the dict but must not believe it holds the lock.
_HELD: dict[str, tuple[int, int, int]] = {}


def default_state_dir() -> Path:
    """``$FORECASTER_STATE_DIR`` if set, else ``.forecaster`` in the working directory."""
    return Path(os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class PipelineLock:
    """An exclusive, non-blocking lock for one pipeline name.

    Parameters
    ----------
    name:
        The pipeline name (``PipelineConfig.name``); names the lock file.
    state_dir:
        Directory holding ``locks/``; defaults to :func:`default_state_dir`.

    Raises
    ------
    LockHeldError
        On ``__enter__`` (or :meth:`acquire`) when another process holds the lock; the message
        names the pipeline, the lock file and the holder's pid and start time.

    Notes
    -----
    Re-entrant within one process (nested ``with`` blocks share one ``flock``), so the CLI can
    lock before loading anything and :func:`forecaster.pipeline.run_pipeline` can lock too.
    Worker processes should be started with the ``spawn`` or ``forkserver`` method: a forked
    child shares the locked file description and would keep the lock alive if the parent died.

    Example
    -------
    >>> import tempfile
    >>> with PipelineLock("nightly", tempfile.mkdtemp()) as lock:
    ...     lock.path.name
    'nightly.lock'
    """

    def __init__(self, name: str, state_dir: str | os.PathLike[str] | None = None):
        self.name = name
        self.state_dir = Path(state_dir) if state_dir is not None else default_state_dir()
        self.path = self.state_dir / "locks" / f"{name}.lock"
        self._key: str | None = None

    @property
    def held(self) -> bool:
        return self._key is not None

    def acquire(self) -> "PipelineLock":
        """Take the lock, or join this process's hold on it (the CLI and the pipeline both
        lock; the second, nested acquire in the same process succeeds without a second flock).
        """
        if self._key is not None:
            raise RuntimeError(f"lock {self.path} is already held by this object")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        key = str(self.path.resolve())
        held = _HELD.get(key)
        if held is not None and held[0] == os.getpid():
            _HELD[key] = (held[0], held[1], held[2] + 1)
            self._key = key
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (BlockingIOError, PermissionError):
            holder = _read_holder(fd)
            os.close(fd)
            raise LockHeldError(
                f"pipeline {self.name!r} is already running: another process holds the lock "
                f"{self.path} ({holder}); this run exits without doing anything"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        # Only the holder writes; a reader sees the previous holder's line at worst.
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "started": _now()}).encode() + b"\n", 0)
        _HELD[key] = (os.getpid(), fd, 1)
        self._key = key
        logger.debug("Acquired lock %s", self.path)
        return self

    def release(self) -> None:
        if self._key is None:
            return
        key, self._key = self._key, None
        pid, fd, count = _HELD[key]
        if count > 1:
            _HELD[key] = (pid, fd, count - 1)
            return
        del _HELD[key]
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


@functools.lru_cache(maxsize=1)
def code_version() -> dict[str, Any]:
    """Identify the code that runs: package version, git commit and a hash of the sources.

    Returns
    -------
    dict
        ``package_version`` (str), ``git_commit`` (str or None when the package is not in a
        git checkout or git is missing), ``git_dirty`` (bool or None), ``source_sha256`` (hash
        of every ``forecaster/**/*.py`` file's relative path and bytes, in sorted path order).
        Cached for the life of the process.
    """
    from forecaster import __version__

    digest = hashlib.sha256()
    for path in sorted(_PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(_PACKAGE_DIR).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    commit, dirty = _git_state(_PACKAGE_DIR.parent)
    return {
        "package_version": __version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "source_sha256": digest.hexdigest(),
    }


def _git_state(repo_dir: Path) -> tuple[str | None, bool | None]:
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=repo_dir, capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None, None
    status = git("status", "--porcelain", "--untracked-files=no")
    return commit.strip(), (bool(status.strip()) if status is not None else None)


def run_key(config_sha256: str, data_sha256: str, code: dict[str, Any] | str) -> str:
    """The identity of a run: sha256 over the pipeline config, data and code version.

    ``code`` is :func:`code_version`'s dict (only ``source_sha256`` and ``package_version``
    count, so a commit of unchanged sources does not force a rerun) or a plain string.
    """
    if isinstance(code, dict):
        code_text = json.dumps(
            {k: code.get(k) for k in ("package_version", "source_sha256")}, sort_keys=True
        )
    else:
        code_text = str(code)
    digest = hashlib.sha256()
    for part in (config_sha256, data_sha256, code_text):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


class RunState:
    """The last successful run of each pipeline, stored as JSON under ``<state_dir>/runs/``.

    Parameters
    ----------
    state_dir:
        Defaults to :func:`default_state_dir`.
    """

    def __init__(self, state_dir: str | os.PathLike[str] | None = None):
        self.state_dir = Path(state_dir) if state_dir is not None else default_state_dir()

    def path(self, name: str) -> Path:
        return self.state_dir / "runs" / f"{name}.json"

    def last_success(self, name: str) -> dict[str, Any] | None:
        """The record of the last successful run, or None.

        The record holds ``name``, ``key``, ``finished_at`` (ISO 8601, UTC) and the ``info``
        fields passed to :meth:`record_success` (e.g. ``forecast_path``) at its top level.
        An unreadable record is logged and treated as absent (the run then simply runs).
        """
        path = self.path(name)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            logger.warning("Ignoring unreadable run state %s (%s)", path, exc)
            return None
        if not isinstance(record, dict) or "key" not in record:
            logger.warning("Ignoring run state %s: it has no 'key'", path)
            return None
        return record

    def is_unchanged(self, name: str, key: str) -> bool:
        """True when ``key`` equals the key of the last successful run of ``name``."""
        record = self.last_success(name)
        return record is not None and record["key"] == key

    def record_success(self, name: str, key: str, info: dict[str, Any]) -> Path:
        """Atomically store ``key`` and the JSON-serialisable ``info`` as the last success."""
        record = {**info, "name": name, "key": key, "finished_at": _now()}
        path = atomic_write_text(self.path(name), json.dumps(record, indent=2, default=str) + "\n")
        logger.debug("Recorded successful run of %s in %s", name, path)
        return path
