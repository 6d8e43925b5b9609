"""Scheduler safety: one lock per pipeline and store, the code version, and idempotence state.

Everything here is keyed by the run's *identity*, :func:`run_identity`: the pipeline name
together with the tracking store URI (``<name>-<12 hex of sha256(uri)>``), so the same pipeline
started from two working directories against one store cannot run twice at once, while the same
pipeline name against two stores runs (and is skipped) independently.

* :class:`PipelineLock` holds an exclusive ``flock`` on ``<state_dir>/locks/<identity>.lock``. The
  operating system releases it when the holder exits or is killed (even by SIGKILL), so a stale
  lock never blocks the next run. A run takes it once.
* :func:`code_version` and :func:`run_key` identify a run by its pipeline file, data and code.
* :class:`RunState` remembers the key of the last successful run in
  ``<state_dir>/runs/<identity>.json``, so an unchanged run can be skipped.
* The commit journal (``<state_dir>/journal/<identity>.json``) and the runs' temporary work
  folders (``<state_dir>/work/<identity>-*``) are handled by :mod:`forecaster.commit`.

The state directory is ``$FORECASTER_STATE_DIR`` when set, else ``$XDG_STATE_HOME/forecaster``,
else ``~/.local/state/forecaster``. Lock and state files are opened without following symlinks
(``O_NOFOLLOW``), and the directories are created private to the user (mode 0700).

Example
-------
>>> import tempfile
>>> state_dir = tempfile.mkdtemp()
>>> ident = run_identity("demo", "sqlite:////tmp/demo/mlflow.db")
>>> with PipelineLock("demo", state_dir, store="sqlite:////tmp/demo/mlflow.db"):
...     key = run_key("cfg-sha", "data-sha", {"source_sha256": "abc"})
...     _ = RunState(state_dir).record_success(ident, key, {"forecast_path": None})
>>> RunState(state_dir).last_success(ident)["key"] == key
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

from forecaster._version import __version__
from forecaster.atomic import atomic_write_text
from forecaster.errors import LockHeldError

logger = logging.getLogger(__name__)

STATE_DIR_ENV = "FORECASTER_STATE_DIR"
XDG_STATE_ENV = "XDG_STATE_HOME"
STATE_DIR_NAME = "forecaster"
_PACKAGE_DIR = Path(__file__).resolve().parent
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def default_state_dir() -> Path:
    """``$FORECASTER_STATE_DIR``, else ``$XDG_STATE_HOME/forecaster``, else ``~/.local/state/forecaster``."""
    explicit = os.environ.get(STATE_DIR_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get(XDG_STATE_ENV)
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "state"
    return base / STATE_DIR_NAME


def run_identity(name: str, tracking_uri: str) -> str:
    """What must not run twice: ``<pipeline name>-<first 12 hex of sha256(tracking URI)>``.

    >>> run_identity("smoke", "sqlite:////srv/mlflow.db")[:6]
    'smoke-'
    """
    return f"{name}-{hashlib.sha256(tracking_uri.encode()).hexdigest()[:12]}"


def state_subdir(state_dir: str | os.PathLike[str] | None, part: str) -> Path:
    """``<state_dir>/<part>``, created (mode 0700) when missing."""
    root = Path(state_dir) if state_dir is not None else default_state_dir()
    path = root / part
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def read_text_nofollow(path: str | os.PathLike[str]) -> str:
    """Read a state file without following a symlink (``OSError`` ``ELOOP`` when it is one)."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    with os.fdopen(fd, "r", encoding="utf-8") as fh:
        return fh.read()


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

    def acquire(self) -> "PipelineLock":
        """Take the lock or raise :class:`LockHeldError`."""
        if self._fd is not None:
            raise RuntimeError(f"lock {self.path} is already held by this object")
        state_subdir(self.state_dir, "locks")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (BlockingIOError, PermissionError):
            holder = _read_holder(fd)
            os.close(fd)
            against = f" against the store {self.store}" if self.store else ""
            raise LockHeldError(
                f"pipeline {self.name!r} is already running{against}: another process holds the lock "
                f"{self.path} ({holder}); this run exits without doing anything"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        # Only the holder writes; a reader sees the previous holder's line at worst.
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "started": _now()}).encode() + b"\n", 0)
        self._fd = fd
        logger.debug("Acquired lock %s", self.path)
        return self

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
    """The last successful run of each run identity, stored as JSON under ``<state_dir>/runs/``.

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
            record = json.loads(read_text_nofollow(path))
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
        """True when ``key`` equals the key of the last successful run of ``name`` and the
        outputs that run wrote (``forecast_path``, ``plot_path``) are still there."""
        record = self.last_success(name)
        if record is None or record["key"] != key:
            return False
        missing = [str(record[k]) for k in ("forecast_path", "plot_path")
                   if record.get(k) and not Path(str(record[k])).is_file()]
        if missing:
            logger.info("not skipping although nothing changed: output(s) %s are missing", ", ".join(missing))
            return False
        return True

    def record_success(self, name: str, key: str, info: dict[str, Any]) -> Path:
        """Atomically store ``key`` and the JSON-serialisable ``info`` as the last success."""
        record = {**info, "name": name, "key": key, "finished_at": _now()}
        state_subdir(self.state_dir, "runs")
        path = atomic_write_text(self.path(name), json.dumps(record, indent=2, default=str) + "\n")
        logger.debug("Recorded successful run of %s in %s", name, path)
        return path
