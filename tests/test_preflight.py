"""Tests of forecaster.preflight: outputs are checked before anything is loaded or trained."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from forecaster.errors import ConfigError
from forecaster.preflight import check_outputs

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


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only directories")
def test_a_read_only_directory_is_rejected(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(ConfigError, match=r"output.forecast_path: its directory .* is not writable"):
            check_outputs({KEYS[0]: str(ro / "f.csv")})
    finally:
        ro.chmod(0o700)


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
