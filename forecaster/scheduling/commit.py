"""The commit point of a run: stage everything, write one journal, apply it, recover after a kill.

Nothing a user or a scheduler consumes changes before the commit point: the registry's aliases,
the forecast CSV and plot, the run-state record and the parent MLflow run's FINISHED status. A run

1. *stages*: registers its version tagged ``forecaster.state=pending`` (no alias), writes the CSV
   and PNG to hidden temp files beside their targets (``.<name>.<random>.staged<suffix>``), and
   logs its MLflow runs (the parent stays RUNNING);
2. *commits*: writes ONE journal file atomically, ``<state_dir>/journal/<identity>.json``, naming
   the parent run, the version and its alias, the staged files and their targets, and the
   run-state record. Its rename is the commit point;
3. *applies* the journal, in this order: rename the staged files onto their targets, point the
   alias at the version and tag it ``committed``, write the run-state record, set the parent run
   FINISHED, delete the journal. Every step is idempotent, and SIGINT/SIGTERM are held back while
   it runs.

Any later run of the same identity (pipeline + store) first calls :func:`recover`, holding the lock:
a journal present is applied again (roll forward); otherwise the leftovers of a run killed before
its commit point are removed -- its staged files, its temporary work folder
(``<state_dir>/work/<identity>-*``), a half-written journal -- its ``pending`` versions are tagged
``abandoned`` and its RUNNING MLflow runs are set KILLED. A kill anywhere therefore leaves the
whole old state or the whole new state, and the CSV and the PNG always come from the same run.

Another output joins the commit by staging its file (:func:`staged_path`) and appending a
:class:`StagedFile` to :attr:`Commit.files` before :func:`commit`; it is then renamed with the rest.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from forecaster.atomic import _fsync_dir, atomic_write_text
from forecaster.scheduling.state import RunState
from forecaster.statedir import read_text_nofollow, state_subdir

logger = logging.getLogger(__name__)

JOURNAL_DIR = "journal"
WORK_DIR = "work"
STAGED_MARK = ".staged"


@dataclass
class StagedFile:
    """A finished output written beside its target, renamed onto it when the run commits."""

    staged: str
    target: str


@dataclass
class Commit:
    """Everything a run changes at its commit point (the journal's content)."""

    identity: str
    pipeline: str
    tracking_uri: str
    registered_model: str
    parent_run_id: str | None = None
    version: str | None = None
    alias: str | None = None
    files: list[StagedFile] = field(default_factory=list)
    #: The run-state record (:class:`forecaster.scheduling.state.RunState`); None when the run is not a success.
    state_key: str | None = None
    state_info: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "Commit":
        raw = json.loads(text)
        raw["files"] = [StagedFile(**f) for f in raw.get("files", [])]
        return cls(**raw)


# --- staging ----------------------------------------------------------------------------------
def staged_path(target: str | os.PathLike[str], suffix: str = "") -> Path:
    """A new hidden file beside ``target`` to stage it in (``.<name>.<random>.staged<suffix>``).

    Creates the target's directory. ``suffix`` (e.g. ``.png``) lets writers infer the format.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=STAGED_MARK + suffix, dir=target.parent)
    os.close(fd)
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(name, 0o666 & ~mask)
    return Path(name)


def leftovers_beside(targets: Iterable[str | os.PathLike[str] | None]) -> list[Path]:
    """Hidden temp files of ``targets`` (staged or half-written: ``.<name>.*``, ``..<name>.*``)."""
    found: list[Path] = []
    for target in targets:
        if not target:
            continue
        target = Path(target)
        if not target.parent.is_dir():
            continue
        for pattern in (f".{target.name}.*", f"..{target.name}.*"):
            found.extend(p for p in target.parent.glob(pattern) if p.is_file() and not p.is_symlink())
    return sorted(set(found))


def discard_staged(files: Iterable[StagedFile]) -> None:
    for f in files:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f.staged)


@contextlib.contextmanager
def work_folder(state_dir: str | os.PathLike[str] | None, identity: str) -> Iterator[Path]:
    """A temporary work folder ``<state_dir>/work/<identity>-<random>``, removed on exit.

    While it is open, :mod:`tempfile` creates its temporary files and folders inside it too (so the
    scratch space of MLflow and Keras goes there); a killed run's folder is removed by the next
    run's :func:`recover`.
    """
    root = state_subdir(state_dir, WORK_DIR)
    path = Path(tempfile.mkdtemp(prefix=f"{identity}-", dir=root))
    previous = tempfile.tempdir
    tempfile.tempdir = str(path)
    try:
        yield path
    finally:
        tempfile.tempdir = previous
        shutil.rmtree(path, ignore_errors=True)


# --- the commit point -------------------------------------------------------------------------
def journal_path(state_dir: str | os.PathLike[str] | None, identity: str) -> Path:
    return state_subdir(state_dir, JOURNAL_DIR) / f"{identity}.json"


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back (delivered on exit) so an interrupt cannot split an apply."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def commit(state_dir: str | os.PathLike[str] | None, record: Commit) -> None:
    """Write the journal (the commit point) and apply it."""
    with _signals_held():
        path = journal_path(state_dir, record.identity)
        atomic_write_text(path, record.to_json())
        logger.info("committed run of %r (journal %s)", record.pipeline, path)
        apply(state_dir, record)


def apply(state_dir: str | os.PathLike[str] | None, record: Commit) -> None:
    """Apply a written journal; idempotent, so a killed apply is simply applied again."""
    from forecaster import tracking

    for f in record.files:
        staged, target = Path(f.staged), Path(f.target)
        if staged.exists():
            os.replace(staged, target)
            _fsync_dir(target.parent)
    if record.version is not None and record.alias is not None:
        tracking.commit_version(record.registered_model, record.version, record.alias)
    if record.state_key is not None:
        RunState(state_dir).record_success(record.identity, record.state_key, record.state_info)
    if record.parent_run_id is not None:
        tracking.end_run(record.parent_run_id, "FINISHED")
        from forecaster.lifecycle.ledger import Ledger

        Ledger.in_state_dir(state_dir).commit(record.parent_run_id)  # the forecast ledger's rows (issue 16)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(journal_path(state_dir, record.identity))


# --- recovery ---------------------------------------------------------------------------------
def recover(state_dir: str | os.PathLike[str] | None, identity: str, *, pipeline: str, experiment: str,
            registered_model: str, targets: Iterable[str | None]) -> None:
    """Bring the state of a killed run of ``identity`` back to old-or-new (module docstring).

    Call it holding the run's lock, with MLflow pointed at the run's store.
    """
    from forecaster import tracking

    path = journal_path(state_dir, identity)
    try:
        text = read_text_nofollow(path)
    except FileNotFoundError:
        text = None
    if text is not None:
        try:
            record = Commit.from_json(text)
        except (ValueError, TypeError) as exc:  # a journal is written atomically; this is tampering
            logger.error("ignoring the unreadable commit journal %s (%s)", path, exc)
            path.unlink()
        else:
            logger.warning("a previous run of %r was killed after its commit point; finishing its commit", pipeline)
            with _signals_held():
                apply(state_dir, record)
    for part in (JOURNAL_DIR, "runs"):  # a journal or run record killed while being written
        for partial in state_subdir(state_dir, part).glob(f".{identity}.json.*"):
            logger.warning("removing a killed run's unfinished state file %s", partial)
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
    work = state_subdir(state_dir, WORK_DIR)
    for folder in sorted(work.glob(f"{identity}-*")):
        logger.warning("removing the work folder of a killed run: %s", folder)
        shutil.rmtree(folder, ignore_errors=True)
    for leftover in leftovers_beside(targets):
        logger.warning("removing a killed run's unfinished output %s", leftover)
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
    tracking.abandon_pending(registered_model)
    tracking.close_stale_pipeline_runs(experiment, pipeline)
