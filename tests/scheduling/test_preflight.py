"""Tests of forecaster.scheduling.preflight: outputs are checked before anything is loaded or trained."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import yaml

from forecaster.errors import ConfigError
from forecaster.scheduling.preflight import check_outputs

KEYS = ("output.forecast_path", "output.plot_path")


def test_distinct_writable_outputs_pass_and_nothing_is_written(tmp_path):
    check_outputs(dict(zip(KEYS, [str(tmp_path / "new" / "f.csv"), str(tmp_path / "new" / "f.png")])))
    check_outputs({KEYS[0]: None, KEYS[1]: str(tmp_path / "f.png")})
    assert list(tmp_path.iterdir()) == []  # a missing directory is only checked, not created


def test_the_same_file_twice_is_rejected_naming_the_key(tmp_path):
    same = tmp_path / "out" / "x"
    with pytest.raises(ConfigError, match=r"output.plot_path must differ from output.forecast_path: both name "):
        check_outputs(dict(zip(KEYS, [str(same), str(tmp_path / "out" / ".." / "out" / "x")])))


def test_a_directory_is_not_a_file(tmp_path):
    with pytest.raises(ConfigError, match=rf"output.forecast_path must name a file, not a directory. "
                                          rf"Received: output.forecast_path={tmp_path}"):
        check_outputs({KEYS[0]: str(tmp_path)})


def test_a_parent_that_is_a_file_is_rejected(tmp_path):
    (tmp_path / "blocker").write_text("")
    with pytest.raises(ConfigError, match=r"output.plot_path: .*blocker is a file"):
        check_outputs({KEYS[1]: str(tmp_path / "blocker" / "sub" / "p.png")})


READ_ONLY = r"output.forecast_path: its directory .*ro is not writable"


def _as_unprivileged_user(check) -> tuple[int, str]:
    """Run ``check()`` in a forked child as uid/gid 65534 (no root): its exit code and message.

    Root may write into any directory, so as root (CI) the read-only check is run the way a
    normal user meets it: the same kernel permission check, in a child that gave up root for good.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code, message = 1, "no error"
        try:
            try:
                os.setgroups([])
                os.setresgid(65534, 65534, 65534)
                os.setresuid(65534, 65534, 65534)
            except PermissionError as exc:  # root without CAP_SETUID (a locked-down container)
                code, message = 3, str(exc)
            else:
                check()
        except ConfigError as exc:
            code, message = 0, str(exc)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            message = f"{type(exc).__name__}: {exc}"
        finally:
            os.write(write_end, message.encode()[:4000])
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), message


def test_a_read_only_directory_is_rejected(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.geteuid() != 0:
        with pytest.raises(ConfigError, match=READ_ONLY):
            check_outputs({KEYS[0]: str(ro / "f.csv")})
        return
    if not hasattr(os, "setresuid"):
        pytest.skip("running as root where processes cannot give up root (no setresuid)")
    tmp_path.chmod(0o711)  # the unprivileged child may look up names here, not list or write
    monkeypatch.chdir(tmp_path)  # a relative path: the child need not traverse pytest's private base
    code, message = _as_unprivileged_user(lambda: check_outputs({KEYS[0]: "ro/f.csv"}))
    if code == 3:
        pytest.skip(f"root here cannot give up root ({message})")
    assert code == 0, message
    assert re.search(READ_ONLY, message), message
    assert list(ro.iterdir()) == []


def test_run_exits_2_before_loading_when_outputs_collide(tmp_path):
    # data.csv does not exist: exit 2 (not 3) proves the outputs are checked before any data is read.
    pipeline = {"name": "tiny", "data": {"path": "data.csv", "timestamp_column": "t", "target": ["y"]},
                "window": {"lookback": 4, "horizon": 2}, "models": [{"cell": "gru", "units": 2}],
                "output": {"forecast_path": "out/f.csv", "plot_path": "out/f.csv"}}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(pipeline))
    env = {**os.environ, "FORECASTER_STATE_DIR": str(tmp_path / "state")}
    done = subprocess.run([sys.executable, "-m", "forecaster", "run", "p.yaml"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "output.plot_path must differ from output.forecast_path" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "mlflow.db").exists()
