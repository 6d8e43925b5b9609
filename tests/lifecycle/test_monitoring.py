"""Drift rules (pure), ``forecaster monitor`` (exit 6, MLflow run and version tags, no TensorFlow),
and a degraded champion making the next run retrain although nothing changed."""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from forecaster.config import load_config
from forecaster.lifecycle.ledger import Ledger, ledger_rows
from forecaster.lifecycle.monitoring import EXIT_DEGRADED, LiveScores, decide_drift

ROOT = Path(__file__).resolve().parents[2]

RULES = dict(window=10, interval_level=0.9, coverage_tolerance=0.1, mae_tolerance=1.5, test_mae=2.0)


def _scores(n=10, mae=2.0, persistence_mae=2.5, coverage=0.85) -> LiveScores:
    return LiveScores(n=n, mae=mae, persistence_mae=persistence_mae, rel_mae=mae / persistence_mae,
                      coverage=coverage)


@pytest.mark.parametrize("scores, fired", [
    (_scores(), []),                                            # every rule holds (coverage 0.85 >= 0.8)
    (_scores(coverage=0.8), []),                                # on the coverage floor: not degraded
    (_scores(coverage=0.79), ["live coverage 0.790 < 0.800"]),
    (_scores(mae=2.5, persistence_mae=2.5), []),                # rel MAE exactly 1: not degraded
    (_scores(mae=2.6, persistence_mae=2.5), ["live relative MAE 1.040 > 1"]),
    (_scores(mae=3.0, persistence_mae=4.0), []),                # exactly 1.5 x test MAE: not degraded
    (_scores(mae=3.1, persistence_mae=4.0), ["live MAE 3.1 > 1.5 x test MAE 2"]),
    (_scores(mae=3.1, persistence_mae=3.0, coverage=0.5),
     ["live coverage 0.500 < 0.800", "live relative MAE 1.033 > 1", "live MAE 3.1 > 1.5 x test MAE 2"]),
])
def test_each_rule_fires_only_when_broken(scores, fired):
    decision = decide_drift(scores, **RULES)
    assert decision.judged
    assert decision.degraded == bool(fired)
    assert len(decision.reasons) == len(fired)
    for reason, start in zip(decision.reasons, fired):
        assert reason.startswith(start), reason
    assert decision.exit_code == (EXIT_DEGRADED if fired else 0)


def test_no_verdict_before_a_full_window_and_unknown_test_mae_skips_its_rule():
    early = decide_drift(_scores(n=9, coverage=0.0), **RULES)
    assert not early.judged and not early.degraded and early.reason == "no verdict yet: 9 of 10 scored values"
    unknown = decide_drift(_scores(mae=30.0, persistence_mae=40.0), **{**RULES, "test_mae": math.nan})
    assert unknown.judged and not unknown.degraded


# ------------------------------------------------------------------- with a real MLflow store
@pytest.fixture
def workspace(tmp_path):
    """A pipeline on the first 200 days of the bundled data, a champion v1 (test MAE 2.0) in a
    real SQLite store, and a ledger holding its 3-step forecasts from 6 origins, all 5 degrees off."""
    yield _workspace(tmp_path, "champion")
    mlflow.set_tracking_uri(None)


@pytest.fixture
def fallback_workspace(tmp_path):
    """The same, but no champion: a comparison run whose baseline ``persistence`` (test MAE 2.0)
    served the forecasts as the fallback, all 5 degrees off."""
    yield _workspace(tmp_path, "fallback")
    mlflow.set_tracking_uri(None)


@pytest.fixture(params=["champion", "fallback"])
def served_workspace(request, tmp_path):
    """Either workspace: what served the degraded forecasts is the champion or the fallback."""
    yield (*_workspace(tmp_path, request.param), request.param)
    mlflow.set_tracking_uri(None)


def _workspace(tmp_path, served):
    raw = pd.read_csv(ROOT / "data" / "seattle_weather.csv").head(200)
    raw.to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "p.yaml").write_text(f"""
name: mon
data: {{path: {tmp_path / 'data.csv'}, timestamp_column: date, timestamp_format: "%Y/%m/%d",
       target: [temp_max], features: [temp_min], frequency: D}}
window: {{lookback: 7, horizon: 3}}
models: [{{cell: rnn, units: 2}}]
training: {{epochs: 1, batch_size: 64, patience: 0, blend: false}}
baselines: [persistence]
monitoring: {{window: 12}}
tracking: {{tracking_uri: "sqlite:///{tmp_path / 'mlflow.db'}"}}
output: {{forecast_path: {tmp_path / 'out' / 'f.csv'}}}
""")
    cfg = load_config(tmp_path / "p.yaml")
    from forecaster.tracking import artifact_root_for, configure, get_or_create_experiment

    uri = configure(cfg.tracking)
    client = MlflowClient()
    experiment = get_or_create_experiment(cfg.experiment_name, artifact_root_for(uri))
    if served == "fallback":
        parent = client.create_run(experiment, tags={"forecaster.role": "comparison"})
        child = client.create_run(experiment, tags={"mlflow.parentRunId": parent.info.run_id,
                                                    "forecaster.role": "baseline", "forecaster.candidate": "persistence"})
        client.log_metric(child.info.run_id, "test_mae", 2.0)
        for run in (child, parent):
            client.set_terminated(run.info.run_id)
        _ledger(cfg, tmp_path, uri, lambda k: {"run_id": parent.info.run_id if k == 5 else f"run{k}",
                                               "served_by": "baseline persistence", "model_version": None})
        return tmp_path, cfg
    run = client.create_run(experiment)
    client.log_metric(run.info.run_id, "test_mae", 2.0)
    client.set_terminated(run.info.run_id)
    client.create_registered_model("mon")
    (tmp_path / "src").mkdir()
    version = client.create_model_version("mon", (tmp_path / "src").as_uri(), run_id=run.info.run_id)
    client.set_model_version_tag("mon", version.version, "forecaster.run_id", run.info.run_id)
    client.set_model_version_tag("mon", version.version, "forecaster.val_mae", "1e9")  # any new model wins
    client.set_registered_model_alias("mon", "champion", version.version)
    _ledger(cfg, tmp_path, uri, lambda k: {"run_id": f"run{k}", "served_by": "mon v1",
                                           "model_version": str(version.version)})
    return tmp_path, cfg


def _ledger(cfg, tmp_path, uri, served_by_run):
    """Committed 3-step forecasts from 6 daily origins, each 5 degrees above the actuals."""
    from forecaster.data import read_frame

    frame = read_frame(cfg.data)
    ledger = Ledger.in_state_dir(tmp_path / "state")
    for k, origin in enumerate(pd.date_range("2012-06-01", periods=6, freq="D")):
        history = frame[frame["timestamp"] <= origin]
        actual = frame.set_index("timestamp").loc[origin + pd.Timedelta(days=1):, "temp_max"].head(3).to_numpy()
        forecast = pd.DataFrame({"series_id": "series", "step": [1, 2, 3], "forecast": actual + 5.0,
                                 "timestamp": pd.date_range(origin + pd.Timedelta(days=1), periods=3, freq="D"),
                                 "lower": actual + 4.0, "upper": actual + 6.0})
        who = served_by_run(k)
        ledger.stage(who["run_id"], "mon", ledger_rows(forecast, history, ["temp_max"]), served_by=who["served_by"],
                     model_version=who["model_version"], store=uri)
        ledger.commit(who["run_id"])


_MONITOR = """
import sys
from forecaster.cli import main
code = main(["monitor", sys.argv[1]])
print("tensorflow imported" if "tensorflow" in sys.modules or "keras" in sys.modules else "no tensorflow")
sys.exit(code)
"""


def test_monitor_exits_6_tags_the_version_and_logs_the_monitoring_run(workspace):
    tmp_path, cfg = workspace
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(FORECASTER_STATE_DIR=str(tmp_path / "state"),
               PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", _MONITOR, str(tmp_path / "p.yaml")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == EXIT_DEGRADED, done.stderr
    assert "no tensorflow" in done.stdout
    assert "18 with actuals" in done.stdout and "DEGRADED" in done.stdout, done.stdout
    client = MlflowClient()
    tags = client.get_model_version("mon", "1").tags
    assert tags["forecaster.degraded"] == "true"
    assert "live MAE 5 > 1.5 x test MAE 2" in tags["forecaster.degraded_reason"]
    assert "live coverage 0.000 < 0.800" in tags["forecaster.degraded_reason"]
    assert float(tags["forecaster.live_mae"]) == pytest.approx(5.0)
    assert (tags["forecaster.live_n"], float(tags["forecaster.live_coverage"])) == ("12", 0.0)
    runs = client.search_runs([client.get_experiment_by_name("mon").experiment_id],
                              "tags.`forecaster.role` = 'monitoring'")
    assert len(runs) == 1
    history = client.get_metric_history(runs[0].info.run_id, "live_mae")
    assert [m.step for m in history] == [int(pd.Timestamp("2012-06-09").timestamp())]
    assert [a.path for a in client.list_artifacts(runs[0].info.run_id)] == ["live_accuracy.png"]


def test_monitor_judges_the_fallback_baseline_that_served(fallback_workspace, capsys, monkeypatch):
    tmp_path, _ = fallback_workspace
    from forecaster.cli import main

    monkeypatch.setenv("FORECASTER_STATE_DIR", str(tmp_path / "state"))
    code = main(["monitor", str(tmp_path / "p.yaml")])
    out = capsys.readouterr().out
    assert code == EXIT_DEGRADED, out
    assert "no champion" not in out
    assert ("served by the fallback baseline persistence (test MAE 2): DEGRADED: live coverage 0.000 < 0.800"
            in out), out
    assert "live MAE 5 > 1.5 x test MAE 2" in out
    client = MlflowClient()
    (run,) = client.search_runs([client.get_experiment_by_name("mon").experiment_id],
                                "tags.`forecaster.role` = 'monitoring'")
    assert run.data.tags["forecaster.served_by"] == "baseline persistence"
    assert run.data.tags["forecaster.degraded"] == "true"
    # fewer scored values than monitoring.window: no verdict, said plainly, exit 0
    code = main(["monitor", str(tmp_path / "p.yaml"), "--set", "monitoring.window=100"])
    out = capsys.readouterr().out
    assert code == 0 and "served by the fallback baseline persistence (test MAE 2): no verdict yet: " \
                          "18 of 100 scored values" in out, out


def test_no_verdict_yet_for_the_champion_names_the_count(workspace, capsys, monkeypatch):
    tmp_path, _ = workspace
    from forecaster.cli import main

    monkeypatch.setenv("FORECASTER_STATE_DIR", str(tmp_path / "state"))
    code = main(["monitor", str(tmp_path / "p.yaml"), "--set", "monitoring.window=19"])
    out = capsys.readouterr().out
    assert code == 0 and "champion mon v1 (test MAE 2): no verdict yet: 18 of 19 scored values" in out, out


@pytest.mark.slow
def test_a_degraded_served_model_makes_the_next_run_retrain(served_workspace, caplog):
    tmp_path, cfg, served = served_workspace
    from forecaster.pipeline import load_data, run_pipeline
    from forecaster.scheduling.lock import run_identity
    from forecaster.scheduling.state import RunState, code_version, run_key
    from forecaster.tracking import configure

    state = tmp_path / "state"
    key = run_key(cfg.sha256(), load_data(cfg).sha256, code_version())
    identity = run_identity("mon", configure(cfg.tracking))
    RunState(state).record_success(identity, key, {})  # nothing changed since the "last" run
    assert RunState(state).is_unchanged(identity, key)  # so, without the verdict, the run would skip
    with caplog.at_level(logging.INFO, logger="forecaster"):
        outcome = run_pipeline(cfg, state_dir=state)
    assert outcome.status != "skipped" and outcome.parent_run_id
    subject = "champion" if served == "champion" else "fallback baseline persistence"
    assert f"the {subject} is degraded (live coverage 0.000 < 0.800" in caplog.text
    assert "retraining even if nothing changed" in caplog.text
    # the run's own forecast is in the ledger, committed, under its run id
    rows = Ledger.in_state_dir(state).forecasts("mon", configure(cfg.tracking))
    assert set(rows.loc[rows["run_id"] == outcome.parent_run_id, "step"]) == {1, 2, 3}


@pytest.mark.parametrize("override, message", [
    ("monitoring.window=0", "monitoring.window: Input should be greater than or equal to 1; received 0"),
    ("monitoring.coverage_tolerance=1.5", "monitoring.coverage_tolerance: Input should be less than 1; received 1.5"),
    ("monitoring.mae_tolerance=0", "monitoring.mae_tolerance: Input should be greater than 0; received 0"),
    ("monitoring.windw=5", "monitoring.windw: unknown key; received 5"),
    ("training.warm_start=maybe", "training.warm_start: Input should be a valid boolean"),
])
def test_monitoring_keys_are_validated(override, message):
    from forecaster.errors import ConfigError

    with pytest.raises(ConfigError) as exc:
        load_config(ROOT / "pipelines" / "smoke.yaml", overrides=[override])
    assert message in str(exc.value)
    defaults = load_config(ROOT / "pipelines" / "smoke.yaml").monitoring
    assert (defaults.window, defaults.coverage_tolerance, defaults.mae_tolerance) == (100, 0.1, 1.5)


def test_ledger_rows_commit_with_the_run_journal_and_only_then(workspace):
    """Rows staged by a run count only once its journal is applied -- also by the next run's
    roll-forward after a kill past the commit point; rows of a run killed before it are removed."""
    tmp_path, cfg = workspace
    from forecaster.scheduling import ledger_steps
    from forecaster.atomic import atomic_write_text
    from forecaster.scheduling.commit import Commit, journal_path, recover
    from forecaster.scheduling.lock import run_identity
    from forecaster.tracking import configure

    uri, state = configure(cfg.tracking), tmp_path / "state"
    identity = run_identity(cfg.name, uri)
    ledger = Ledger.in_state_dir(state)
    before = len(ledger.forecasts("mon", uri))
    client = MlflowClient()
    experiment = client.get_experiment_by_name("mon").experiment_id
    frame = pd.DataFrame({"series_id": "series", "timestamp": pd.date_range("2012-07-01", periods=3), "temp_max": 20.0})
    forecast = pd.DataFrame({"series_id": "series", "timestamp": pd.date_range("2012-07-04", periods=2),
                             "step": [1, 2], "forecast": 21.0, "lower": 19.0, "upper": 23.0})
    killed_late, killed_early = (client.create_run(experiment).info.run_id for _ in range(2))
    for run_id in (killed_late, killed_early):
        ledger_steps.stage_forecast(cfg, run_id, forecast, frame, served_by="mon v1", model_version="1",
                                    state_dir=state)
    # killed_late died right after writing its journal (the commit point), before applying it
    atomic_write_text(journal_path(state, identity),
                      Commit(identity=identity, pipeline="mon", tracking_uri=uri, registered_model="mon",
                             parent_run_id=killed_late).to_json())
    assert len(ledger.forecasts("mon", uri)) == before  # staged rows are invisible
    recover(state, identity, pipeline="mon", experiment="mon", registered_model="mon", targets=[])
    ledger_steps.discard_uncommitted(cfg, state)  # what the next run does after recovering
    rows = ledger.forecasts("mon", uri, include_uncommitted=True, latest_only=False)
    assert set(rows["run_id"]) - {f"run{k}" for k in range(6)} == {killed_late}
    assert (rows["committed"] == 1).all() and len(rows) == before + 2
    assert client.get_run(killed_late).info.status == "FINISHED"
