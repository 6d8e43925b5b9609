"""Tests of forecaster.tracking.store/runs/artifacts against a real SQLite MLflow store in tmp."""

from __future__ import annotations

import math
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from forecaster.config import PipelineConfig, TrackingConfig
from forecaster.comparison.plans import CandidatePlan, blend_name, plan_candidates
from forecaster.comparison.results import CandidateResult, ComparisonResult
from forecaster.tracking import comparison_table, log_comparison, resolve_tracking_uri, ui_command
from forecaster.tracking.artifacts import clipping_study, persistence_verdict
from forecaster.tracking.runs import CONTRACT_PARAMS, EPOCH_METRICS, FINAL_METRICS
from forecaster.tracking.store import artifact_root_for, configure, get_or_create_experiment

HORIZON = 3
DATA_SHA = "ab" * 32
CODE = {"package_version": "0.1.0", "git_commit": "deadbeef", "source_sha256": "cd" * 32}


def _config(db: Path, experiment: str | None = None) -> PipelineConfig:
    return PipelineConfig.model_validate({
        "name": "demo",
        "data": {"path": "data.csv", "target": "y", "frequency": "1h"},
        "window": {"lookback": 6, "horizon": HORIZON},
        "models": [{"cell": "lstm", "units": 4}],
        "clipping": ["none", {"clipnorm": 1.0}],
        "training": {"epochs": 3, "batch_size": 8},
        "tracking": {"tracking_uri": f"sqlite:///{db}", "experiment": experiment},
    })


def _plot_data(offset: float = 0.0) -> dict:
    ts = pd.date_range("2024-03-01", periods=12, freq="h")
    actual = np.sin(np.arange(12) / 3)
    return {"timestamps": ts.to_numpy(), "actual": actual, "forecast": actual + offset,
            "lower": actual + offset - 0.2, "upper": actual + offset + 0.2}


def _metrics(val_mae: float, persistence_mae: float = 1.0, **extra: float) -> dict:
    metrics = {
        "val_mae": val_mae, "val_rmse": val_mae * 1.2, "test_mae": val_mae * 1.1,
        "test_rmse": val_mae * 1.3, "test_smape": 12.0, "test_mase": val_mae / persistence_mae,
        "interval_coverage": 0.88, "train_seconds": 1.5, "epochs_run": 3.0,
        "val_rel_mae": val_mae / persistence_mae, "test_rel_mae": val_mae / persistence_mae,
    }
    metrics.update(extra)
    return metrics


def _rnn_params(clipping: str, threshold: float | None) -> dict:
    return {"cell": "lstm", "layers": 1, "units": 4, "bidirectional": False, "dropout": 0.0,
            "recurrent_dropout": 0.0, "head": "dense", "clipping": clipping, "clip_threshold": threshold,
            "learning_rate": 0.001, "batch_size": 8, "lookback": 6, "horizon": HORIZON,
            "n_features": 2, "n_params": 123, "seed": 42}


def _comparison(best_val_mae: float = 0.8) -> ComparisonResult:
    noclip, clipnorm = plan_candidates(_config(Path("unused.db")))  # every result carries its plan
    ok = CandidateResult(
        name="lstm-1x4 | none", role="candidate", params=_rnn_params("none", None), plan=noclip,
        history={"train_loss": [1.0, 0.5, 0.4], "val_loss": [1.1, 0.6, 0.5],
                 "grad_norm_mean": [2.0, 1.0, 0.5], "grad_norm_max": [5.0, 3.0, 1.0],
                 "clipped_fraction": [0.0, 0.0, 0.0], "epoch_seconds": [2.5, 0.4, 0.4],
                 # the telemetry budget measured no epoch; the final weights were measured
                 "memory_lag": [math.nan] * 3, "grad_far_near_ratio": [math.nan] * 3},
        input_grad_by_lag=np.array([1.0, 0.5, 0.2, 0.05, 0.02, 0.001]),
        lag_final={"memory_lag": 5.0, "grad_far_near_ratio": 0.001},
        metrics=_metrics(best_val_mae, first_epoch_overhead_seconds=2.1, xla=0.0),
        test_mae_by_step=np.array([0.7, 0.8, 0.9]), coverage_by_step=np.array([0.9, 0.88, 0.86]),
        val_mae_by_step=np.array([0.6, 0.8, 1.0]),
        plot_data=_plot_data(0.1), started_at=1_700_000_000.0, finished_at=1_700_000_042.5,
    )
    failed = CandidateResult(
        name="lstm-1x4 | clipnorm=1", role="candidate", params=_rnn_params("clipnorm", 1.0),
        history={"train_loss": [3.0, math.nan], "val_loss": [3.5, math.nan],
                 "grad_norm_mean": [40.0, 1e6], "grad_norm_max": [90.0, 1e9],
                 "clipped_fraction": [1.0, 1.0]},
        metrics={"val_mae": math.nan, "train_seconds": 0.7, "epochs_run": 2.0},
        failed=True, failure_reason="loss became nan at epoch 2", failed_epoch=2, plan=clipnorm,
    )
    ensemble = CandidateResult(
        name="ensemble", role="ensemble", params={**_rnn_params("none", None), "cell": "ensemble"}, plan=noclip,
        metrics=_metrics(best_val_mae + 0.05), test_mae_by_step=np.array([0.75, 0.85, 0.95]),
    )
    baselines = [
        CandidateResult(name=name, role="baseline",
                        params={"lookback": 6, "horizon": HORIZON, "n_features": 2, "seed": 42},
                        metrics=_metrics(mae), test_mae_by_step=np.full(HORIZON, mae),
                        plot_data=_plot_data(0.3))
        for name, mae in (("persistence", 1.0), ("seasonal_naive", 1.2), ("linear", 0.95))
    ]
    return ComparisonResult(
        pipeline="demo", candidates=[ok, failed, ensemble], baselines=baselines, horizon=HORIZON,
        target=["y"], significance={"lstm-1x4 | none": {"dm_stat": -2.5, "dm_p_value": 0.012}},
    )


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """One store for the module: creating a SQLite store costs seconds."""
    return tmp_path_factory.mktemp("tracking")


@pytest.fixture(scope="module")
def logged(root):
    data = root / "data.csv"
    data.write_text("timestamp,y\n2024-01-01 00:00,1.0\n")
    cfg = _config(root / "store" / "mlflow.db")
    comparison = _comparison()
    info = log_comparison(comparison, cfg, data_path=data, data_sha256=DATA_SHA, code_version=CODE,
                          workdir=root / "work")
    return {"info": info, "cfg": cfg, "root": root, "client": MlflowClient(), "comparison": comparison}


def _runs(logged, role: str) -> pd.DataFrame:
    configure(logged["cfg"].tracking)
    return mlflow.search_runs(
        experiment_ids=[logged["info"].experiment_id], filter_string=f"tags.`forecaster.role` = '{role}'"
    )


def test_one_parent_with_nested_children(logged):
    info = logged["info"]
    parents = _runs(logged, "comparison")
    candidates = _runs(logged, "candidate")
    baselines = _runs(logged, "baseline")
    assert list(parents["run_id"]) == [info.parent_run_id]
    assert sorted(candidates["tags.forecaster.candidate"]) == ["ensemble", "lstm-1x4 | clipnorm=1", "lstm-1x4 | none"]
    assert sorted(baselines["tags.forecaster.candidate"]) == ["linear", "persistence", "seasonal_naive"]
    children = pd.concat([candidates, baselines])
    assert set(children["tags.mlflow.parentRunId"]) == {info.parent_run_id}
    assert set(children["tags.forecaster.pipeline"]) == {"demo"}
    assert set(info.child_run_ids.values()) == set(children["run_id"])
    ensemble = candidates[candidates["tags.forecaster.candidate"] == "ensemble"].iloc[0]
    assert ensemble["tags.forecaster.ensemble"] == "true"


def test_parent_tags_params_dataset_and_status(logged):
    info, cfg, client = logged["info"], logged["cfg"], logged["client"]
    parent = client.get_run(info.parent_run_id)
    tags = parent.data.tags
    assert parent.info.status == "FINISHED"
    assert tags["forecaster.pipeline"] == "demo"
    assert tags["forecaster.data_sha256"] == DATA_SHA
    assert tags["forecaster.config_sha256"] == cfg.sha256()
    assert tags["forecaster.package_version"] == "0.1.0"
    assert tags["forecaster.git_commit"] == "deadbeef"
    assert tags["forecaster.code_sha256"] == CODE["source_sha256"]
    assert tags["best_run"] == info.best_run_id == info.child_run_ids["lstm-1x4 | none"]
    assert tags["forecaster.best_candidate"] == "lstm-1x4 | none"
    assert "beats persistence" in tags["mlflow.note.content"]
    assert parent.data.params["window.lookback"] == "6"
    assert parent.data.params["training.batch_size"] == "8"
    assert parent.data.params["clipping"] == "[none, clipnorm=1]"
    assert parent.data.params["features.known_future"] == "[]"
    (dataset_input,) = parent.inputs.dataset_inputs
    assert dataset_input.dataset.digest == DATA_SHA[:16]
    assert dataset_input.dataset.name == "data.csv"
    assert {t.key: t.value for t in dataset_input.tags}["mlflow.data.context"] == "training"


def test_every_child_has_the_contract_params(logged):
    client, info = logged["client"], logged["info"]
    for name, run_id in info.child_run_ids.items():
        params = client.get_run(run_id).data.params
        assert set(params) == set(CONTRACT_PARAMS), name
    persistence = client.get_run(info.child_run_ids["persistence"]).data.params
    assert persistence["cell"] == "persistence"
    assert persistence["layers"] == "0"
    assert persistence["clipping"] == "none"
    assert persistence["clip_threshold"] == "0.0"
    assert persistence["n_features"] == "2"  # taken from the result, not the neutral value
    failed = client.get_run(info.child_run_ids["lstm-1x4 | clipnorm=1"]).data.params
    assert (failed["cell"], failed["clipping"], failed["clip_threshold"]) == ("lstm", "clipnorm", "1.0")


def test_metrics_final_per_epoch_and_per_step(logged):
    client, info = logged["client"], logged["info"]
    run_id = info.child_run_ids["lstm-1x4 | none"]
    metrics = client.get_run(run_id).data.metrics
    assert set(FINAL_METRICS) | set(EPOCH_METRICS) | {"test_mae_by_step"} <= set(metrics)
    assert metrics["val_mae"] == pytest.approx(0.8)
    for key in EPOCH_METRICS:
        assert [m.step for m in client.get_metric_history(run_id, key)] == [1, 2, 3], key
    assert [m.value for m in client.get_metric_history(run_id, "epoch_seconds")] == [2.5, 0.4, 0.4]
    assert metrics["first_epoch_overhead_seconds"] == 2.1 and metrics["xla"] == 0.0
    # no epoch measured by the lag telemetry: the final weights' summaries at step = epochs run
    for key, value in (("memory_lag", 5.0), ("grad_far_near_ratio", 0.001)):
        assert [(m.step, m.value) for m in client.get_metric_history(run_id, key)] == [(3, value)], key
        assert metrics[key] == value  # what the runs table shows and sorts by
    by_step = sorted(client.get_metric_history(run_id, "test_mae_by_step"), key=lambda m: m.step)
    assert [(m.step, round(m.value, 6)) for m in by_step] == [(1, 0.7), (2, 0.8), (3, 0.9)]
    val_steps = sorted(client.get_metric_history(run_id, "val_mae_by_step"), key=lambda m: m.step)
    assert [(m.step, round(m.value, 6)) for m in val_steps] == [(1, 0.6), (2, 0.8), (3, 1.0)]
    for name in ("persistence", "seasonal_naive", "linear"):
        steps = client.get_metric_history(info.child_run_ids[name], "test_mae_by_step")
        assert sorted(m.step for m in steps) == [1, 2, 3]


def test_failed_candidate_is_failed_with_reason_and_no_nan(logged):
    client, info = logged["client"], logged["info"]
    run = client.get_run(info.child_run_ids["lstm-1x4 | clipnorm=1"])
    assert run.info.status == "FAILED"
    assert run.data.tags["forecaster.failure_reason"] == "loss became nan at epoch 2"
    assert run.data.tags["forecaster.failed_epoch"] == "2"
    assert "val_mae" not in run.data.metrics  # NaN is skipped, not logged
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")] == [1]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "grad_norm_max")] == [1, 2]
    finished = [client.get_run(r).info.status for n, r in info.child_run_ids.items() if "clipnorm" not in n]
    assert set(finished) == {"FINISHED"}


def test_artifacts_on_parent_and_children(logged):
    client, info, root = logged["client"], logged["info"], logged["root"]
    parent = client.get_run(info.parent_run_id)
    # Deterministic location: beside the SQLite file, one folder per experiment.
    assert parent.info.artifact_uri.startswith((root / "store" / "mlartifacts" / "demo").as_uri())
    names = {a.path for a in client.list_artifacts(info.parent_run_id)}
    assert {"comparison.csv", "comparison.md", "test_mae.png", "mae_by_step.png", "clipping_study.png",
            "pipeline.yaml"} <= names
    local = Path(client.download_artifacts(info.parent_run_id, "comparison.csv", str(root / "dl")))
    table = pd.read_csv(local)
    assert table["name"].iloc[0] == "lstm-1x4 | none"
    assert table["name"].iloc[-1] == "lstm-1x4 | clipnorm=1"  # failed last
    assert table["run_id"].iloc[0] == info.best_run_id
    plots_of = lambda name: {a.path for a in client.list_artifacts(info.child_run_ids[name], "plots")}  # noqa: E731
    assert plots_of("lstm-1x4 | none") == {
        "plots/forecast_vs_actual.png", "plots/learning_curves.png", "plots/gradient_norms.png",
        "plots/gradient_by_lag.png"}
    assert plots_of("persistence") == {"plots/forecast_vs_actual.png"}
    assert plots_of("lstm-1x4 | clipnorm=1") == {"plots/learning_curves.png", "plots/gradient_norms.png"}


def test_an_error_while_logging_marks_the_runs_failed(root, tmp_path):
    cfg = _config(root / "store" / "mlflow.db", experiment="failing")
    comparison = _comparison()
    comparison.baselines[0].plot_data = {**_plot_data(), "forecast": np.ones(5)}  # wrong length
    data = tmp_path / "data.csv"
    data.write_text("x\n")
    with pytest.raises(ValueError, match="`forecast` must have shape"):
        log_comparison(comparison, cfg, data_path=data, data_sha256=DATA_SHA, code_version=CODE,
                       workdir=tmp_path / "work")
    runs = mlflow.search_runs(experiment_names=["failing"])
    statuses = dict(zip(runs["tags.forecaster.candidate"].fillna("parent"), runs["status"]))
    assert statuses["parent"] == "FAILED"
    assert statuses["persistence"] == "FAILED"
    assert statuses["lstm-1x4 | none"] == "FINISHED"
    assert list((tmp_path / "work").iterdir()) == []  # scratch directory removed


def test_comparison_table_ranks_by_val_mae_with_significance():
    table = comparison_table(_comparison())
    assert list(table["name"]) == ["lstm-1x4 | none", "ensemble", "linear", "persistence", "seasonal_naive",
                                   "lstm-1x4 | clipnorm=1"]
    assert list(table["rank"].iloc[:5]) == [1, 2, 3, 4, 5]
    assert table["rank"].isna().iloc[-1]
    assert table["dm_p_value"].iloc[0] == pytest.approx(0.012)
    assert table["status"].iloc[-1] == "failed: loss became nan at epoch 2"
    assert table.loc[table["name"] == "persistence", "cell"].item() == "persistence"


def test_verdict_says_plainly_when_no_candidate_beats_persistence():
    assert persistence_verdict(_comparison(0.8)).startswith("Best candidate lstm-1x4 | none beats persistence")
    assert persistence_verdict(_comparison(1.3)).startswith("No candidate beats persistence")


def test_clipping_study_picks_the_architecture_with_most_settings():
    comparison = _comparison()
    gru = CandidateResult(name="gru", role="candidate", params={**_rnn_params("none", None), "cell": "gru"},
                          history={"grad_norm_mean": [1.0]})
    comparison.candidates.insert(0, gru)
    label, histories = clipping_study(comparison)
    assert label == "lstm 1x4"
    assert list(histories) == ["none", "clipnorm=1"]


def test_resolve_tracking_uri_precedence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_tracking_uri() == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///env.db")
    assert resolve_tracking_uri() == f"sqlite:///{tmp_path.resolve()}/env.db"
    assert resolve_tracking_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert artifact_root_for("sqlite:////srv/x/mlflow.db") == "file:///srv/x/mlartifacts"
    assert artifact_root_for("http://127.0.0.1:5000") is None


def test_experiment_artifacts_beside_the_database(root):
    uri = configure(TrackingConfig(tracking_uri=f"sqlite:///{root}/store/mlflow.db"))
    experiment_id = get_or_create_experiment("my exp/1", artifact_root_for(uri))
    assert get_or_create_experiment("my exp/1", artifact_root_for(uri)) == experiment_id
    location = MlflowClient().get_experiment(experiment_id).artifact_location
    assert location == (root / "store" / "mlartifacts" / "my_exp_1").as_uri()


def test_ui_command_binds_locally_with_one_worker(tmp_path):
    command = ui_command(port=5055, tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    assert command[command.index("--backend-store-uri") + 1] == f"sqlite:///{tmp_path}/mlflow.db"
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "5055"
    assert command[command.index("--workers") + 1] == "1"
    assert "ui" in command
    with pytest.raises(ValueError, match="`port` must be between 1 and 65535. Received: port=0"):
        ui_command(port=0)


def test_stale_running_runs_of_the_pipeline_are_closed(tmp_path):
    import mlflow
    from mlflow import MlflowClient

    from forecaster.tracking.runs import close_stale_runs

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'stale.db'}")
    client = MlflowClient()
    exp = client.create_experiment("stale", artifact_location=(tmp_path / "art").as_uri())
    mine = client.create_run(exp, tags={"forecaster.pipeline": "p"}).info.run_id
    other = client.create_run(exp, tags={"forecaster.pipeline": "q"}).info.run_id
    assert close_stale_runs(client, exp, "p") == 1
    assert client.get_run(mine).info.status == "KILLED"
    assert client.get_run(other).info.status == "RUNNING"


# --- the parent's first screen, run names and times, the champion (issue 15) ---------------------------


def test_parent_shows_headline_metrics_and_what_was_compared(logged):
    client, info = logged["client"], logged["info"]
    parent = client.get_run(info.parent_run_id)
    assert parent.data.metrics == pytest.approx({
        "best_val_mae": 0.8, "best_test_mae": 0.88, "best_test_rel_mae": 0.8, "persistence_test_mae": 1.1})
    assert parent.data.params["models"] == "[lstm-1x4]"
    assert parent.data.params["n_candidates"] == "2"
    note = parent.data.tags["mlflow.note.content"]
    first_lines = note.splitlines()[:2]
    assert first_lines[0].startswith("**Winner: lstm-1x4 | none**: val MAE 0.8")
    assert first_lines[1].startswith("Compared 2 network run(s) (lstm-1x4 x clipping none, clipnorm=1), "
                                      "1 blend(s), 3 baseline(s) (persistence, seasonal_naive, linear)")
    # the comparison at a glance: every candidate and baseline, val MAE, test MAE, relative MAE
    table = [line for line in note.splitlines() if line.startswith("|")]
    assert table == [
        "| rank | name | val_mae | val_rel_mae | test_mae | test_rel_mae | status |",
        "|---|---|---|---|---|---|---|",
        "| 1 | lstm-1x4 \\| none | 0.8 | 0.8 | 0.88 | 0.8 | ok |",
        "| 2 | ensemble | 0.85 | 0.85 | 0.935 | 0.85 | ok |",
        "| 3 | linear | 0.95 | 0.95 | 1.045 | 0.95 | ok |",
        "| 4 | persistence | 1 | 1 | 1.1 | 1 | ok |",
        "| 5 | seasonal_naive | 1.2 | 1.2 | 1.32 | 1.2 | ok |",
        "|  | lstm-1x4 \\| clipnorm=1 |  |  |  |  | failed: loss became nan at epoch 2 |",
    ]
    # the parent starts when the first training started
    assert parent.info.start_time == 1_700_000_000_000


def test_child_runs_have_short_names_full_name_tag_and_training_times(logged):
    client, info = logged["client"], logged["info"]
    names = {}
    for full, run_id in info.child_run_ids.items():
        run = client.get_run(run_id)
        assert run.data.tags["forecaster.candidate"] == full
        names[full] = run.info.run_name
    assert names["lstm-1x4 | clipnorm=1"] == "lstm-1x4 norm1"
    note = client.get_run(info.child_run_ids["linear"]).data.tags["mlflow.note.content"]
    assert note == "linear: rank 3 of 5 by validation MAE; val MAE 0.95 (0.950x persistence), test MAE 1.045."
    note = client.get_run(info.child_run_ids["lstm-1x4 | clipnorm=1"]).data.tags["mlflow.note.content"]
    assert note.startswith("lstm-1x4 | clipnorm=1: **failed** (loss became nan at epoch 2)")
    assert names["persistence"] == "persistence"
    assert all(len(name) <= 30 for name in names.values())
    trained = client.get_run(info.child_run_ids["lstm-1x4 | none"]).info
    assert (trained.start_time, trained.end_time) == (1_700_000_000_000, 1_700_000_042_500)


# The run names users see in the MLflow UI, as they were when they were parsed out of candidate names
# (2026-11-30, before issue 11): full name -> (run name, its blend's run name). Now read from the plan.
RUN_NAMES = {
    "lstm-1x16 | none": ("lstm-1x16 noclip", "lstm-1x16 noclip+lin"),
    "lstm-1x16 | none | truncate=4": ("lstm-1x16 none | truncate4", "lstm-1x16 none | truncate4+lin"),
    "lstm-1x16 | clipnorm=1": ("lstm-1x16 norm1", "lstm-1x16 norm1+lin"),
    "lstm-1x16 | clipnorm=1 | truncate=4": ("lstm-1x16 norm1 | truncate=4", "lstm-1x16 norm1 | truncate=4+lin"),
    "lstm-1x16 | clipvalue=0.5": ("lstm-1x16 value0.5", "lstm-1x16 value0.5+lin"),
    "lstm-1x16 | global_clipnorm=0.25": ("lstm-1x16 gnorm0.25", "lstm-1x16 gnorm0.25+lin"),
    "gru-2x64,32-do0.1-rdo0.2-seq2seq | none": ("gru-2x64,32-do0.1-rdo0.2-seq2seq noclip",
                                                "gru-2x64,32-do0.1-rdo0.2-seq2seq noclip~"),
    "gru-2x64,32-do0.1-rdo0.2-seq2seq | none | truncate=4": ("gru-2x64,32-do0.1-rdo0.2-seq2seq none |~",) * 2,
    "gru-2x64,32-do0.1-rdo0.2-seq2seq | clipnorm=1": ("gru-2x64,32-do0.1-rdo0.2-seq2seq norm1",
                                                      "gru-2x64,32-do0.1-rdo0.2-seq2seq norm1+~"),
    "gru-2x64,32-do0.1-rdo0.2-seq2seq | global_clipnorm=0.25": ("gru-2x64,32-do0.1-rdo0.2-seq2seq gnorm0~",) * 2,
    "rnn-1x32-bi | clipvalue=0.5": ("rnn-1x32-bi value0.5", "rnn-1x32-bi value0.5+lin"),
}


def _grid_plans() -> dict[str, CandidatePlan]:
    grid = [PipelineConfig.model_validate({
        "name": "names", "data": {"path": "x.csv", "target": "y"}, "window": {"lookback": 12, "horizon": 3},
        "models": [{"cell": "lstm", "units": 16},
                   {"cell": "gru", "layers": 2, "units": [64, 32], "dropout": 0.1, "recurrent_dropout": 0.2,
                    "head": "seq2seq"}],
        "clipping": ["none", {"clipnorm": 1.0}, {"clipvalue": 0.5}, {"global_clipnorm": 0.25}],
        "bptt": ["full", {"truncate": 4}]}),
        PipelineConfig.model_validate({
            "name": "names", "data": {"path": "x.csv", "target": "y"}, "window": {"lookback": 12, "horizon": 3},
            "models": [{"cell": "rnn", "units": 32, "bidirectional": True}], "clipping": [{"clipvalue": 0.5}]})]
    return {plan.name: plan for cfg in grid for plan in plan_candidates(cfg)}


def test_run_names_are_read_from_the_plan_and_unchanged():
    from forecaster.tracking.runnames import short_run_name

    plans = _grid_plans()
    assert set(RUN_NAMES) <= set(plans)
    for name, (run_name, blend_run_name) in RUN_NAMES.items():
        plan = plans[name]
        assert short_run_name(CandidateResult(name, "candidate", {}, plan=plan)) == run_name
        assert short_run_name(CandidateResult(blend_name(name), "ensemble", {}, plan=plan)) == blend_run_name
    # The plan, not the name, decides: a result renamed by hand keeps its plan's run name.
    assert short_run_name(CandidateResult("my favourite", "candidate", {}, plan=plans["lstm-1x16 | none"])) == (
        "lstm-1x16 noclip")
    assert short_run_name(CandidateResult("seasonal_naive", "baseline", {})) == "seasonal_naive"


def test_what_was_compared_is_read_from_the_plans():
    from forecaster.tracking.headline import compared_sentence

    comparison = _comparison()
    for result in comparison.candidates:
        result.name = f"run {result.name}"  # names are labels; the plan says what was trained
    assert compared_sentence(comparison).startswith(
        "Compared 2 network run(s) (lstm-1x4 x clipping none, clipnorm=1), 1 blend(s), 3 baseline(s)")


def test_mark_champion_tags_parent_and_child_and_says_so(logged):
    from forecaster.comparison.results import GateDecision
    from forecaster.tracking import mark_champion

    client, info, comparison = logged["client"], logged["info"], logged["comparison"]
    decision = GateDecision(promoted=True, alias="champion", reason="beats persistence", version="3")
    mark_champion(info.parent_run_id, info.child_run_ids, comparison, decision, "demo", client=client)
    parent = client.get_run(info.parent_run_id)
    assert parent.data.tags["forecaster.champion_version"] == "3"
    assert "**Champion: demo v3**, promoted in this run." in parent.data.tags["mlflow.note.content"].splitlines()[1]
    champion = client.get_run(info.child_run_ids["lstm-1x4 | none"])
    assert champion.data.tags["forecaster.champion"] == "true"
    assert champion.info.run_name == "★ lstm-1x4 noclip"
    assert champion.data.tags["mlflow.note.content"].startswith("**Champion**")
    others = [client.get_run(r).data.tags.get("forecaster.champion") for n, r in info.child_run_ids.items()
              if n != "lstm-1x4 | none"]
    assert others == [None] * len(others)


def test_ui_links_open_the_runs_view_sorted_by_val_mae_with_the_comparison_columns(logged):
    import json

    from forecaster.tracking.ui import experiment_links, is_loopback

    uri = resolve_tracking_uri(logged["cfg"].tracking.tracking_uri)
    (link,) = experiment_links(uri, "http://127.0.0.1:5000", "demo")
    experiment_id = logged["info"].experiment_id
    assert link.url == (f"http://127.0.0.1:5000/#/experiments/{experiment_id}/runs?"
                        "workflowType=machine_learning&viewStateShareKey=forecaster-comparison")
    # MLflow's saved view on the experiment: sorted by val MAE, these columns in this order
    envelope = json.loads(MlflowClient(uri).get_experiment(experiment_id).tags[
        "mlflow.sharedViewState.forecaster-comparison"])
    assert envelope["name"] == "forecaster: comparison" and envelope["createdAt"] > 0
    state = json.loads(envelope["state"])
    columns = ["metrics.`val_mae`", "metrics.`test_mae`", "metrics.`val_rel_mae`", "metrics.`test_rel_mae`"]
    assert state == {"orderByKey": "metrics.`val_mae`", "orderByAsc": True, "selectedColumns": columns,
                     "columnOrder": columns}
    assert experiment_links(uri, "http://127.0.0.1:5000", "no-such-experiment") == []
    assert "Default" not in [link.name for link in experiment_links(uri, "http://x:1")]  # only experiments with runs
    assert is_loopback("::1") and is_loopback("localhost") and not is_loopback("192.168.1.5")


def test_an_unknown_model_name_or_alias_lists_what_exists(logged, tmp_path):
    from forecaster.errors import ConfigError
    from forecaster.tracking.lookup import check_model_reference

    uri = resolve_tracking_uri(logged["cfg"].tracking.tracking_uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("demo-model")
    version = client.create_model_version("demo-model", source=str(tmp_path))
    client.set_registered_model_alias("demo-model", "champion", version.version)
    check_model_reference("models:/demo-model@champion", uri)  # exists: no error
    with pytest.raises(ConfigError, match=r"no registered model named 'demo-mdl'.*demo-model \(aliases: @champion\)"):
        check_model_reference("models:/demo-mdl@champion", uri)
    with pytest.raises(ConfigError, match=r"has no alias 'champoin'. Its aliases: @champion; its versions: 1"):
        check_model_reference("models:/demo-model@champoin", uri)
    with pytest.raises(ConfigError, match=r"has no version '7'. Its versions: 1"):
        check_model_reference("models:/demo-model/7", uri)


def test_the_mlflow_run_wrapper_run_and_the_comparison_are_linked(logged, monkeypatch):
    from forecaster.tracking.wrapper import link_wrapper_run

    client, info = logged["client"], logged["info"]
    uri = resolve_tracking_uri(logged["cfg"].tracking.tracking_uri)
    wrapper = client.create_run(info.experiment_id, run_name="mlflow-run-wrapper").info.run_id
    monkeypatch.setenv("MLFLOW_RUN_ID", wrapper)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert link_wrapper_run(info.parent_run_id, uri) == wrapper
    assert client.get_run(wrapper).data.tags["forecaster.comparison_run_id"] == info.parent_run_id
    assert client.get_run(info.parent_run_id).data.tags["forecaster.mlproject_run_id"] == wrapper
    monkeypatch.setenv("MLFLOW_RUN_ID", "0" * 32)  # a wrapper run that is not there: a warning, no error
    assert link_wrapper_run(info.parent_run_id, uri) is None
