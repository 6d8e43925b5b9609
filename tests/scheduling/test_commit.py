"""Tests of forecaster.scheduling.commit on a real SQLite MLflow store and real files (no training).

The end-to-end kills of a real ``forecaster run`` are in tests/scheduling/test_commit_point.py.
"""

from __future__ import annotations

import json
import os

import pytest
from mlflow.tracking import MlflowClient

from forecaster.scheduling.commit import Commit, StagedFile, commit, journal_path, recover, staged_path, work_folder
from forecaster.config import TrackingConfig
from forecaster.scheduling.state import RunState
from forecaster.tracking import configure

MODEL, PIPELINE, EXPERIMENT = "demo-model", "demo", "demo-exp"  # MODEL, PIPELINE: the JSON test only


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory):
    """One store for the module (creating a SQLite store takes seconds); each test has its own
    registered model and pipeline name in it."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('store')}/mlflow.db"
    configure(TrackingConfig(tracking_uri=uri))
    return uri, MlflowClient().create_experiment(EXPERIMENT)


@pytest.fixture
def store(shared_store, request):
    uri, experiment = shared_store
    configure(TrackingConfig(tracking_uri=uri))
    client = MlflowClient()
    name = request.node.name[5:40]
    client.create_registered_model(name)
    return uri, client, experiment, name


def _version(client, model, state="pending") -> str:
    version = client.create_model_version(model, source="file:///nowhere/model").version
    client.set_model_version_tag(model, version, "forecaster.state", state)
    return str(version)


def _staged(target, text: str) -> StagedFile:
    path = staged_path(target, suffix=target.suffix)
    path.write_text(text)
    return StagedFile(str(path), str(target))


def test_commit_changes_everything_together_and_leaves_no_journal(tmp_path, store):
    uri, client, experiment, model = store
    pipeline = model
    parent = client.create_run(experiment, tags={"forecaster.pipeline": pipeline}).info.run_id
    version = _version(client, model)
    csv, png = tmp_path / "out" / "f.csv", tmp_path / "out" / "f.png"
    record = Commit(identity="demo-x", pipeline=pipeline, tracking_uri=uri, registered_model=model,
                    parent_run_id=parent, version=version, alias="champion",
                    files=[_staged(csv, "new csv"), _staged(png, "new png")], state_key="k1",
                    state_info={"forecast_path": str(csv)})
    assert not csv.exists() and client.get_run(parent).info.status == "RUNNING"
    commit(tmp_path / "state", record)
    assert (csv.read_text(), png.read_text()) == ("new csv", "new png")
    assert sorted(p.name for p in csv.parent.iterdir()) == ["f.csv", "f.png"]  # no staged file left
    assert str(client.get_model_version_by_alias(model, "champion").version) == version
    assert client.get_model_version(model, version).tags["forecaster.state"] == "committed"
    assert RunState(tmp_path / "state").last_success("demo-x")["key"] == "k1"
    assert client.get_run(parent).info.status == "FINISHED"
    assert not journal_path(tmp_path / "state", "demo-x").exists()


def test_a_journal_left_by_a_killed_apply_is_rolled_forward(tmp_path, store):
    uri, client, experiment, model = store
    pipeline = model
    parent = client.create_run(experiment, tags={"forecaster.pipeline": pipeline}).info.run_id
    version = _version(client, model)
    csv, png = tmp_path / "f.csv", tmp_path / "f.png"
    csv.write_text("old csv")
    png.write_text("old png")
    files = [_staged(csv, "new csv"), _staged(png, "new png")]
    record = Commit(identity="demo-x", pipeline=pipeline, tracking_uri=uri, registered_model=model,
                    parent_run_id=parent, version=version, alias="champion", files=files, state_key="k2")
    state = tmp_path / "state"
    journal_path(state, "demo-x").write_text(record.to_json())
    os.replace(files[0].staged, csv)  # the process died after renaming the CSV only
    assert (csv.read_text(), png.read_text()) == ("new csv", "old png")  # mixed: only until recovery
    recover(state, "demo-x", pipeline=pipeline, experiment=EXPERIMENT, registered_model=model,
            targets=[str(csv), str(png)])
    assert (csv.read_text(), png.read_text()) == ("new csv", "new png")
    assert client.get_model_version(model, version).tags["forecaster.state"] == "committed"
    assert str(client.get_model_version_by_alias(model, "champion").version) == version
    assert client.get_run(parent).info.status == "FINISHED"
    assert RunState(state).last_success("demo-x")["key"] == "k2"
    assert not journal_path(state, "demo-x").exists()


def test_without_a_journal_recovery_removes_what_a_killed_run_staged(tmp_path, store):
    uri, client, experiment, model = store
    pipeline = model
    committed = _version(client, model, "committed")
    client.set_registered_model_alias(model, "champion", committed)
    pending = _version(client, model)
    parent = client.create_run(experiment, tags={"forecaster.pipeline": pipeline}).info.run_id
    other = client.create_run(experiment, tags={"forecaster.pipeline": "another-pipeline"}).info.run_id
    csv = tmp_path / "f.csv"
    csv.write_text("old csv")
    leftovers = [_staged(csv, "half"), _staged(tmp_path / "f.png", "half")]
    state = tmp_path / "state"
    with work_folder(state, "demo-x") as folder:
        (folder / "model").mkdir()
    killed = state / "work" / "demo-x-abc123"  # what a SIGKILLed run leaves
    (killed / "model").mkdir(parents=True)
    spared = state / "work" / "other-y-abc123"
    spared.mkdir()
    half_journal = state / "journal" / ".demo-x.json.abc123.tmp"  # killed while writing the journal
    half_journal.parent.mkdir(parents=True)
    half_journal.write_text("{")

    recover(state, "demo-x", pipeline=pipeline, experiment=EXPERIMENT, registered_model=model,
            targets=[str(csv), str(tmp_path / "f.png")])
    assert not any(os.path.exists(f.staged) for f in leftovers)
    assert csv.read_text() == "old csv" and not (tmp_path / "f.png").exists()
    assert not killed.exists() and spared.exists()  # only this identity's folders
    assert not half_journal.exists()
    assert client.get_model_version(model, pending).tags["forecaster.state"] == "abandoned"
    assert client.get_model_version(model, committed).tags["forecaster.state"] == "committed"
    assert str(client.get_model_version_by_alias(model, "champion").version) == committed
    assert client.get_run(parent).info.status == "KILLED"
    assert client.get_run(other).info.status == "RUNNING"  # another pipeline's run is not ours


def test_the_journal_is_json_naming_the_run_version_and_files(tmp_path):
    record = Commit(identity="demo-x", pipeline=PIPELINE, tracking_uri="sqlite:////x.db", registered_model=MODEL,
                    parent_run_id="r1", version="3", alias="challenger",
                    files=[StagedFile("/o/.f.csv.1.staged", "/o/f.csv")])
    raw = json.loads(record.to_json())
    assert raw["files"] == [{"staged": "/o/.f.csv.1.staged", "target": "/o/f.csv"}]
    assert Commit.from_json(record.to_json()) == record
