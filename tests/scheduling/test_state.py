"""Pipeline lock, code version, run key and idempotence state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import forecaster
from forecaster.errors import LockHeldError
from forecaster.scheduling.lock import PipelineLock, run_identity
from forecaster.scheduling.state import RunState, code_version, run_key
from forecaster.statedir import STATE_DIR_ENV, default_state_dir

HOLD_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from forecaster.scheduling.lock import PipelineLock
    lock = PipelineLock(sys.argv[1], sys.argv[2]).acquire()
    print("locked", flush=True)
    time.sleep(120)
    """
)

TRY_SCRIPT = textwrap.dedent(
    """
    import sys
    from forecaster.errors import LockHeldError
    from forecaster.scheduling.lock import PipelineLock
    try:
        with PipelineLock(sys.argv[1], sys.argv[2]):
            print("acquired")
    except LockHeldError as exc:
        print("held:", exc)
    """
)


def _try_in_other_process(name, state_dir) -> str:
    done = subprocess.run([sys.executable, "-c", TRY_SCRIPT, name, str(state_dir)],
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


@pytest.fixture
def holder(tmp_path):
    """A child process holding the lock of pipeline 'nightly'."""
    child = subprocess.Popen([sys.executable, "-c", HOLD_SCRIPT, "nightly", str(tmp_path)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "locked"
    yield child
    if child.poll() is None:
        child.kill()
        child.wait(timeout=30)


def test_second_process_gets_lock_held_error_naming_pipeline_file_and_pid(tmp_path):
    with PipelineLock("nightly", tmp_path) as lock:
        assert lock.held
        assert lock.path == tmp_path / "locks" / "nightly.lock"
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
        out = _try_in_other_process("nightly", tmp_path)
        assert out.startswith("held:")
        assert "'nightly'" in out and str(lock.path) in out and f"pid {os.getpid()}" in out
        # Another pipeline's lock is independent.
        assert _try_in_other_process("other", tmp_path) == "acquired"
    assert _try_in_other_process("nightly", tmp_path) == "acquired"


def test_lock_held_error_in_this_process(tmp_path, holder):
    with pytest.raises(LockHeldError, match=rf"'nightly' is already running.*pid {holder.pid}"):
        PipelineLock("nightly", tmp_path).acquire()


def test_lock_released_when_holder_is_killed_with_sigkill(tmp_path, holder):
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert holder.returncode == -signal.SIGKILL
    # The lock file is still there (stale), but the OS released the flock with the process.
    assert (tmp_path / "locks" / "nightly.lock").exists()
    with PipelineLock("nightly", tmp_path) as lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()


def test_lock_is_taken_once_even_within_a_process(tmp_path):
    outer = PipelineLock("nightly", tmp_path)
    with outer:
        with pytest.raises(LockHeldError, match="nightly"):
            PipelineLock("nightly", tmp_path).acquire()  # no reference count: a second hold is a bug
        assert outer.held
        assert _try_in_other_process("nightly", tmp_path).startswith("held:")
    assert not outer.held
    assert _try_in_other_process("nightly", tmp_path) == "acquired"


def test_lock_file_symlink_is_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "locks").mkdir()
    (tmp_path / "locks" / "nightly.lock").symlink_to(victim)
    with pytest.raises(OSError):
        PipelineLock("nightly", tmp_path).acquire()
    assert victim.read_text() == "keep me"


def test_default_state_dir_env_override(monkeypatch, tmp_path):
    monkeypatch.delenv(STATE_DIR_ENV, raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_state_dir() == tmp_path / "home" / ".local" / "state" / "forecaster"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_state_dir() == tmp_path / "xdg" / "forecaster"
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "state"))
    assert default_state_dir() == tmp_path / "state"
    assert PipelineLock("p").path == tmp_path / "state" / "locks" / "p.lock"


def test_run_identity_is_the_pipeline_and_the_store_not_the_directory():
    a = run_identity("nightly", "sqlite:////srv/a/mlflow.db")
    assert a == run_identity("nightly", "sqlite:////srv/a/mlflow.db")
    assert a.startswith("nightly-") and len(a) == len("nightly-") + 12
    assert len({a, run_identity("nightly", "sqlite:////srv/b/mlflow.db"),
                run_identity("other", "sqlite:////srv/a/mlflow.db")}) == 3


def test_code_version_keys_and_stability():
    code = code_version()
    assert set(code) == {"package_version", "git_commit", "git_dirty", "source_sha256"}
    assert len(code["source_sha256"]) == 64
    # the commit of the checkout the package runs from (None only outside a git checkout)
    package_dir = Path(forecaster.__file__).resolve().parent
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=package_dir, capture_output=True, text=True)
    assert code["git_commit"] == (head.stdout.strip() if head.returncode == 0 else None)
    assert code is code_version()  # cached


def test_run_key_changes_with_each_part():
    code = {"package_version": "0.1.0", "source_sha256": "a" * 64, "git_commit": "x"}
    base = run_key("cfg", "data", code)
    assert base == run_key("cfg", "data", dict(code, git_commit="y"))  # same sources, new commit
    assert len({base, run_key("cfg2", "data", code), run_key("cfg", "data2", code),
                run_key("cfg", "data", dict(code, source_sha256="b" * 64))}) == 4


def test_run_state_round_trip_and_idempotence(tmp_path):
    state = RunState(tmp_path)
    assert state.last_success("nightly") is None
    assert not state.is_unchanged("nightly", "k1")
    forecast = tmp_path / "x.csv"
    forecast.write_text("a\n")
    path = state.record_success("nightly", "k1", {"forecast_path": str(forecast)})
    assert path == tmp_path / "runs" / "nightly.json"
    record = RunState(tmp_path).last_success("nightly")
    assert record["key"] == "k1" and record["forecast_path"] == str(forecast)
    assert record["name"] == "nightly" and "finished_at" in record
    assert state.is_unchanged("nightly", "k1") and not state.is_unchanged("nightly", "k2")
    assert [p.name for p in path.parent.iterdir()] == ["nightly.json"]  # no temp left
    forecast.unlink()  # an unchanged run whose output is gone is not skipped
    assert not state.is_unchanged("nightly", "k1")


def test_corrupt_run_state_is_ignored(tmp_path, caplog):
    path = tmp_path / "runs" / "nightly.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert RunState(tmp_path).last_success("nightly") is None
    assert "unreadable run state" in caplog.text


def _store_aliases(tmp_path, monkeypatch):
    """One SQLite store named four ways: plain, through a symlinked directory, relative, with ``..``."""
    (tmp_path / "X" / "store").mkdir(parents=True)
    (tmp_path / "X" / "sub").mkdir()
    (tmp_path / "X" / "store_link").symlink_to(tmp_path / "X" / "store", target_is_directory=True)
    monkeypatch.chdir(tmp_path / "X")
    return [f"sqlite:///{tmp_path}/X/store/mlflow.db", f"sqlite:///{tmp_path}/X/store_link/mlflow.db",
            "sqlite:///store/mlflow.db", f"sqlite:///{tmp_path}/X/sub/../store/mlflow.db"]


def test_the_lock_is_keyed_on_the_store_not_the_uri_text(tmp_path, monkeypatch):
    state = tmp_path / "state"
    plain, *aliases = _store_aliases(tmp_path, monkeypatch)
    assert len({run_identity("nightly", uri) for uri in [plain, *aliases]}) == 1
    with PipelineLock("nightly", state, store=plain):
        for uri in aliases:
            with pytest.raises(LockHeldError, match="'nightly' is already running"):
                PipelineLock("nightly", state, store=uri).acquire()
    for uri in aliases:  # and each alias holds it against the plain path
        with PipelineLock("nightly", state, store=uri), pytest.raises(LockHeldError):
            PipelineLock("nightly", state, store=plain).acquire()
