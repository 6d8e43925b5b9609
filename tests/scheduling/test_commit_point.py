"""A real ``forecaster run`` of pipelines/smoke.yaml killed at each stage boundary leaves the whole
old state or the whole new state, and the next run cleans up after it (forecaster.scheduling.commit).

The kills are timed on the ``stage NAME ...`` log lines (the names are a contract: outside checks
time their kills on them too). To keep CI time sane the runs train one small model for 2 epochs,
and the stages are killed one after another in ONE workspace: each killed run also exercises the
recovery from the previous kill.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
FAST = ["--set", "training.epochs=2", "--set", "clipping=[none]"]


def _env(cwd: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(TF_CPP_MIN_LOG_LEVEL="2", FORECASTER_STATE_DIR=str(cwd / "state"))
    return env


def _command(*extra: str) -> list[str]:
    return [sys.executable, "-m", "forecaster", "run", "pipelines/smoke.yaml", *FAST, *extra]


def _run(cwd: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(_command(*extra), cwd=cwd, env=_env(cwd), capture_output=True, text=True, timeout=600)


def _kill_at(cwd: Path, line: str, sig: int = signal.SIGKILL) -> tuple[int, str]:
    """Start a forced run, send ``sig`` as soon as it logs ``line``; returns (exit status, log)."""
    proc = subprocess.Popen(_command("--force"), cwd=cwd, env=_env(cwd), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    seen = ""
    watchdog = threading.Timer(600, proc.kill)  # never hang the suite
    watchdog.start()
    try:
        for text in proc.stderr:
            seen += text
            if line in text:
                proc.send_signal(sig)
                break
        seen += proc.stderr.read()  # the rest, through the same buffered reader, up to the exit
        proc.wait(timeout=60)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert line in seen, f"the run never logged {line!r}:\n{seen[-3000:]}"
    return proc.returncode, seen


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Workspace:
    def __init__(self, cwd: Path):
        from forecaster.scheduling.lock import run_identity

        self.cwd = cwd
        self.uri = f"sqlite:///{cwd.resolve()}/mlflow.db"
        self.state = cwd / "state"
        self.identity = run_identity("smoke", self.uri)

    def client(self):
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def record(self) -> dict:
        return json.loads((self.state / "runs" / f"{self.identity}.json").read_text())

    def assert_old_or_new(self) -> dict:
        """The consumed state is one run's, whole: CSV + PNG + run-state record + alias + FINISHED."""
        journal = self.state / "journal" / f"{self.identity}.json"
        if journal.exists():  # killed after the commit point, inside the apply: what the next run does
            from forecaster.scheduling.commit import Commit, apply
            from forecaster.config import TrackingConfig
            from forecaster.tracking import configure

            configure(TrackingConfig(tracking_uri=self.uri))
            apply(self.state, Commit.from_json(journal.read_text()))
        record = self.record()
        forecasts = self.cwd / "forecasts"
        assert _sha(forecasts / "smoke.csv") == record["forecast_sha256"], "CSV is not the recorded run's"
        assert _sha(forecasts / "smoke.png") == record["plot_sha256"], "PNG is not the recorded run's"
        client = self.client()
        mine = client.get_model_version("smoke", record["model_version"])
        assert mine.tags["forecaster.state"] == "committed"
        champion = client.get_model_version_by_alias("smoke", "champion")
        assert champion.tags["forecaster.state"] == "committed"
        if mine.tags["forecaster.gate_decision"] == "promoted":
            assert champion.version == mine.version
        assert client.get_run(record["parent_run_id"]).info.status == "FINISHED"
        return record

    def running(self) -> list:
        client = self.client()
        experiment = client.get_experiment_by_name("smoke")
        return client.search_runs([experiment.experiment_id], "attributes.status = 'RUNNING'")

    def leftovers(self) -> list[str]:
        hidden = [p.name for p in (self.cwd / "forecasts").iterdir() if p.name.startswith(".")]
        work = [p.name for p in (self.state / "work").iterdir()]
        return hidden + work


def test_a_run_killed_at_each_stage_leaves_old_or_new_state_and_the_next_run_recovers(tmp_path):
    cwd = tmp_path / "ws"
    (cwd / "data").mkdir(parents=True)
    shutil.copy(ROOT / "data" / "seattle_weather.csv", cwd / "data")
    (cwd / "pipelines").mkdir()
    shutil.copy(ROOT / "pipelines" / "smoke.yaml", cwd / "pipelines")
    ws = Workspace(cwd)
    started = time.perf_counter()

    first = _run(cwd)
    assert first.returncode == 0, first.stderr[-3000:]
    for stage in ("load", "train", "track", "register", "forecast", "commit"):
        assert f"stage {stage} ..." in first.stderr
    old = ws.assert_old_or_new()
    assert ws.leftovers() == [] and ws.running() == []

    code, log = _kill_at(cwd, "stage train ...")
    assert code == -signal.SIGKILL
    assert ws.assert_old_or_new() == old

    skipped = _run(cwd)  # unchanged: skipped, but it still closes the killed run's MLflow runs
    assert skipped.returncode == 0 and "skipped" in skipped.stderr, skipped.stderr[-3000:]
    assert ws.running() == [] and ws.leftovers() == []

    code, log = _kill_at(cwd, "stage track ...", signal.SIGTERM)
    assert code == 143, log[-3000:]
    assert "Terminated (SIGTERM)" in log and "Traceback" not in log
    assert ws.assert_old_or_new() == old
    assert ws.running() == []  # SIGTERM is handled like Ctrl-C: runs KILLED, not left RUNNING
    assert ws.leftovers() == []

    for line in ("stage register ...", "staged for", "stage commit ..."):  # "staged for": CSV staged, PNG not yet
        code, log = _kill_at(cwd, line)
        assert code == -signal.SIGKILL
        ws.assert_old_or_new()

    (cwd / "forecasts" / "smoke.png").unlink()
    final = _run(cwd)  # unchanged data, config and code -- but an output is missing, so it runs
    assert final.returncode == 0, final.stderr[-3000:]
    assert "skipped" not in final.stderr and "stage train ..." in final.stderr
    new = ws.assert_old_or_new()
    assert new["parent_run_id"] != old["parent_run_id"]
    assert ws.running() == [] and ws.leftovers() == []
    assert not list((ws.state / "journal").iterdir())
    states = {v.version: v.tags.get("forecaster.state") for v in ws.client().search_model_versions("name='smoke'")}
    assert set(states.values()) <= {"committed", "abandoned"}, states
    assert "abandoned" in states.values()  # the versions of the runs killed before their commit point
    killed = ws.client().search_runs([ws.client().get_experiment_by_name("smoke").experiment_id],
                                     "attributes.status = 'KILLED' and tags.`forecaster.role` = 'comparison'")
    assert len(killed) >= 3
    print(f"kill test: {time.perf_counter() - started:.0f}s")
