"""Idempotence: the code version, a run's key, and the record of the last successful run.

* :func:`code_version` and :func:`run_key` identify a run by its pipeline file, data and code.
* :class:`RunState` remembers the key of the last successful run in
  ``<state_dir>/runs/<identity>.json`` (identity: :func:`forecaster.scheduling.lock.run_identity`),
  so an unchanged run can be skipped.

Example
-------
>>> import tempfile
>>> state_dir = tempfile.mkdtemp()
>>> key = run_key("cfg-sha", "data-sha", {"source_sha256": "abc"})
>>> _ = RunState(state_dir).record_success("demo-0123456789ab", key, {"forecast_path": None})
>>> RunState(state_dir).last_success("demo-0123456789ab")["key"] == key
True
"""

from __future__ import annotations

import datetime as _dt
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
from forecaster.statedir import default_state_dir, read_text_nofollow, state_subdir

logger = logging.getLogger(__name__)

#: The package's root folder: every ``forecaster/**/*.py`` under it counts in :func:`code_version`.
_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


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
