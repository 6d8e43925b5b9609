"""Tests of forecaster.tracking.registry: the champion gate on a real SQLite model registry."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from forecaster.config import TrackingConfig
from forecaster.tracking import (
    artifact_root_for,
    champion_uri,
    configure,
    get_or_create_experiment,
    register_and_gate,
)

NAME = "demo-model"
SHA = "ef" * 32


class _Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


@pytest.fixture(scope="module")
def logged_model(tmp_path_factory):
    """One tiny logged model; each test registers it again as a new version."""
    root = tmp_path_factory.mktemp("registry")
    uri = configure(TrackingConfig(tracking_uri=f"sqlite:///{root}/mlflow.db"))
    mlflow.set_experiment(experiment_id=get_or_create_experiment("registry-test", artifact_root_for(uri)))
    with mlflow.start_run() as run:
        info = mlflow.pyfunc.log_model(name="model", python_model=_Echo(), pip_requirements=[])
    return info.model_uri, run.info.run_id


def _gate(logged_model, name, val_mae, rel, **kwargs):
    uri, run_id = logged_model
    return register_and_gate(uri, registered_model=name, run_id=run_id, candidate_val_mae=val_mae,
                             candidate_val_rel_mae=rel, data_sha256=SHA, **kwargs)


def _alias_version(name, alias):
    return str(MlflowClient().get_model_version_by_alias(name, alias).version)


def test_only_a_better_model_moves_champion(logged_model):
    client = MlflowClient()
    assert champion_uri(NAME) is None

    first = _gate(logged_model, NAME, 0.8, 0.8)
    assert (first.promoted, first.alias, first.version) == (True, "champion", "1")
    assert first.champion_val_mae is None
    assert "no current champion" in first.reason
    assert champion_uri(NAME) == f"models:/{NAME}@champion"

    worse = _gate(logged_model, NAME, 0.9, 0.9)  # beats persistence but not the champion
    assert (worse.promoted, worse.alias, worse.version) == (False, "challenger", "2")
    assert worse.champion_val_mae == pytest.approx(0.8)
    assert worse.champion_version == "1"
    assert "recorded on the same data" in worse.reason
    assert _alias_version(NAME, "champion") == "1"
    assert _alias_version(NAME, "challenger") == "2"

    no_skill = _gate(logged_model, NAME, 0.5, 1.1)  # lower MAE than the champion, but not below persistence
    assert (no_skill.promoted, no_skill.alias) == (False, "challenger")
    assert "does not beat persistence" in no_skill.reason
    assert _alias_version(NAME, "champion") == "1"
    assert _alias_version(NAME, "challenger") == "3"

    better = _gate(logged_model, NAME, 0.7, 0.7)
    assert (better.promoted, better.alias) == (True, "champion")
    assert _alias_version(NAME, "champion") == better.version == "4"

    version = client.get_model_version(NAME, "2")
    assert version.tags["forecaster.gate_decision"] == "rejected"
    assert float(version.tags["forecaster.val_mae"]) == pytest.approx(0.9)
    assert float(version.tags["forecaster.val_rel_mae"]) == pytest.approx(0.9)
    assert float(version.tags["forecaster.champion_val_mae"]) == pytest.approx(0.8)
    assert version.tags["forecaster.data_sha256"] == SHA
    assert version.tags["forecaster.run_id"] == logged_model[1]
    assert version.description.startswith("Kept as challenger (champion unchanged): validation MAE 0.9")
    promoted = client.get_model_version(NAME, "1")
    assert promoted.tags["forecaster.gate_decision"] == "promoted"
    assert promoted.tags["forecaster.champion_val_mae"] == "none"
    assert promoted.description.startswith("Promoted to champion")
    assert not any(v.current_stage not in (None, "None") for v in client.search_model_versions(f"name='{NAME}'"))


def test_the_champion_is_re_evaluated_when_the_caller_can(logged_model):
    name = "reevaluated"
    _gate(logged_model, name, 0.8, 0.8)
    seen = []

    def evaluate(uri):
        seen.append(uri)
        return 0.6  # on the current data the champion does better than its old tag says

    decision = _gate(logged_model, name, 0.7, 0.7, evaluate_champion=evaluate)
    assert seen == [f"models:/{name}@champion"]
    assert (decision.promoted, decision.champion_val_mae) == (False, 0.6)
    assert "re-evaluated on the current validation data" in decision.reason


def test_a_tag_from_other_data_is_used_but_said_so(logged_model):
    name = "otherdata"
    uri, run_id = logged_model
    register_and_gate(uri, registered_model=name, run_id=run_id, candidate_val_mae=0.8,
                      candidate_val_rel_mae=0.8, data_sha256="00" * 32)
    decision = _gate(logged_model, name, 0.75, 0.75)
    assert decision.promoted
    assert "DIFFERENT or unknown data" in decision.reason


def test_a_candidate_that_does_not_beat_the_best_baseline_is_not_promoted(logged_model):
    name = "baselinegate"
    decision = _gate(logged_model, name, 0.9, 0.9, baseline_val_mae=0.9, baseline_name="linear")
    assert (decision.promoted, decision.alias) == (False, "challenger")
    assert decision.reason == "val MAE 0.9 does not beat the best baseline linear (0.9) on validation"
    assert champion_uri(name) is None
    tags = MlflowClient().get_model_version(name, decision.version).tags
    assert float(tags["forecaster.baseline_val_mae"]) == pytest.approx(0.9)
    assert _gate(logged_model, name, 0.8, 0.8, baseline_val_mae=0.9).promoted


def test_a_model_that_loses_to_the_random_walk_on_one_series_is_not_promoted(logged_model):
    name = "seriesgate"
    decision = _gate(logged_model, name, 0.8, 0.99, backtest_rel_mae=0.9993,
                     backtest_worst_series=("AMZN", 1.0001))
    assert (decision.promoted, decision.alias) == (False, "challenger")
    assert decision.reason == ("walk-forward MAE on series 'AMZN' is 1.0001x persistence's (>= 1): does not "
                               "beat the random walk on every series it would serve")
    tags = MlflowClient().get_model_version(name, decision.version).tags
    assert tags["forecaster.backtest_worst_series"] == "AMZN"
    assert float(tags["forecaster.backtest_worst_series_rel_mae"]) == pytest.approx(1.0001)
    assert champion_uri(name) is None
    assert _gate(logged_model, name, 0.8, 0.99, backtest_rel_mae=0.99, backtest_worst_series=("KO", 0.999)).promoted
