"""A tampered champion is quarantined before training and the run goes on as if there were none
(forecaster.tracking.quarantine): real runs of the smoke pipeline on one SQLite store, a payload
planted in the champion's files between them."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--set", "training.epochs=2", "--set", "clipping=[none]"]
pytestmark = pytest.mark.slow


class _Payload:
    """Unpickling it creates the marker file: what a writer to a shared store could plant."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _run(cwd: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(TF_CPP_MIN_LOG_LEVEL="2", FORECASTER_STATE_DIR=str(cwd / "state"))
    return subprocess.run([sys.executable, "-m", "forecaster", "run", "pipelines/smoke.yaml", *FAST, *extra],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_a_tampered_champion_is_quarantined_and_the_gate_decides_without_it(tmp_path):
    import mlflow
    from mlflow.tracking import MlflowClient
    from mlflow.utils.file_utils import local_file_uri_to_path

    cwd = tmp_path / "ws"
    (cwd / "data").mkdir(parents=True)
    shutil.copy(ROOT / "data" / "seattle_weather.csv", cwd / "data")
    (cwd / "pipelines").mkdir()
    shutil.copy(ROOT / "pipelines" / "smoke.yaml", cwd / "pipelines")
    first = _run(cwd)
    assert first.returncode == 0, first.stderr[-3000:]

    uri = f"sqlite:///{cwd.resolve()}/mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    champion = client.get_model_version_by_alias("smoke", "champion")
    mlflow.set_tracking_uri(uri)
    info = mlflow.models.get_model_info(f"models:/smoke/{champion.version}")
    files = Path(local_file_uri_to_path(client.get_logged_model(info.model_id).artifact_location))
    planted = sorted(files.rglob("forecaster.json"))[0]  # the saved forecaster's settings
    marker = tmp_path / "pwned"
    planted.write_bytes(pickle.dumps(_Payload(marker)))
    forecast = cwd / "forecasts" / "smoke.csv"
    forecast.unlink()

    second = _run(cwd, "--force")
    log = second.stderr
    assert second.returncode in (0, 4), log[-3000:]  # the gate's code, never a refusal (2)
    assert not marker.exists()  # nothing planted ran
    assert "Traceback" not in log
    assert f"the champion smoke v{champion.version} cannot be loaded safely and is quarantined" in log
    assert "forecaster.json: not valid JSON" in log  # the error names the file
    tags = client.get_model_version("smoke", champion.version).tags
    assert tags["forecaster.quarantined"] == "true"
    assert "forecaster.json" in tags["forecaster.quarantined_reason"]
    assert forecast.exists()  # a forecast is written: from the new champion, or a baseline (exit 4)

    new = max(client.search_model_versions("name='smoke'"), key=lambda v: int(v.version))
    assert new.version != champion.version
    assert "no current champion" in new.description  # the gate decided as for a first model
    now = client.get_model_version_by_alias("smoke", "champion")
    if new.tags["forecaster.gate_decision"] == "promoted":
        assert second.returncode == 0 and now.version == new.version  # the alias moved away
    else:
        assert second.returncode == 4 and now.version == champion.version
    print(next(line for line in log.splitlines() if "quarantined" in line))
