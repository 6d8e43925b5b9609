"""Candidate plans and the MLflow parameter contract: one writer, the same names and values."""

from __future__ import annotations

from types import SimpleNamespace

from forecaster.config import PipelineConfig
from forecaster.comparison.plans import CONTRACT_PARAMS, CandidatePlan, contract_params, plan_candidates


def config() -> PipelineConfig:
    return PipelineConfig.model_validate({
        "name": "plans", "data": {"path": "unused.csv", "target": "y"},
        "window": {"lookback": 12, "horizon": 3},
        "models": [{"cell": "gru", "units": [8, 4], "layers": 2, "dropout": 0.1}],
        "clipping": ["none", {"clipnorm": 1.0}], "bptt": [{"truncate": None}, {"truncate": 4}],
        "training": {"learning_rate": 0.01, "batch_size": 16, "seed": 3},
    })


def test_the_contract_names_are_the_documented_ones():
    # docs/mlflow.md: every child run carries exactly these parameters
    assert CONTRACT_PARAMS == (
        "cell", "layers", "units", "bidirectional", "dropout", "recurrent_dropout", "head", "clipping",
        "clip_threshold", "learning_rate", "batch_size", "lookback", "horizon", "n_features", "n_params",
        "seed", "warm_start", "bptt", "segment", "norm", "ensemble", "highway",
    )


def test_a_plan_writes_its_architecture_clipping_and_bptt():
    plans = plan_candidates(config())
    assert [p.name for p in plans] == ["gru-2x8,4-do0.1 | none", "gru-2x8,4-do0.1 | none | truncate=4",
                                      "gru-2x8,4-do0.1 | clipnorm=1", "gru-2x8,4-do0.1 | clipnorm=1 | truncate=4"]
    fitted = SimpleNamespace(n_features_=5, n_params_=321, warm_started_=True)
    params = contract_params(config(), plans[3], fitted)
    assert set(params) == set(CONTRACT_PARAMS)
    assert params == {
        "cell": "gru", "layers": 2, "units": "8,4", "bidirectional": False, "dropout": 0.1,
        "recurrent_dropout": 0.0, "head": "dense", "clipping": "clipnorm", "clip_threshold": 1.0, "bptt": 4,
        "learning_rate": 0.01, "batch_size": 16, "lookback": 12, "horizon": 3, "n_features": 5,
        "n_params": 321, "seed": 3, "warm_start": True, "segment": 0, "norm": "none", "ensemble": 1,
        "highway": False,
    }
    assert contract_params(config(), plans[0])["bptt"] == "full"


def test_a_baseline_gets_neutral_values_and_its_kind_as_cell():
    params = contract_params(config(), None, SimpleNamespace(n_features_=2), baseline="linear")
    assert params == {
        "cell": "linear", "layers": 0, "units": 0, "bidirectional": False, "dropout": 0.0,
        "recurrent_dropout": 0.0, "head": "none", "clipping": "none", "clip_threshold": 0.0, "bptt": "none",
        "learning_rate": 0.0, "batch_size": 0, "lookback": 12, "horizon": 3, "n_features": 2, "n_params": 0,
        "seed": 3, "warm_start": False, "segment": 0, "norm": "none", "ensemble": 1, "highway": False,
    }


def test_a_segment_plan_logs_its_segment_and_norm():
    cfg = config().model_copy(deep=True)
    cfg.models = [cfg.models[0].model_validate({"cell": "gru", "units": 8, "segment": 3}),
                  cfg.models[0].model_validate({"cell": "lstm", "units": 8, "segment": 3, "norm": "last"})]
    params = [contract_params(cfg, plan) for plan in plan_candidates(cfg)]
    assert {(p["cell"], p["segment"], p["norm"]) for p in params} == {("gru", 3, "revin"), ("lstm", 3, "last")}


def test_plans_are_values():
    a = CandidatePlan("x", {"cell": "gru"}, {"kind": "none", "threshold": None})
    assert a == CandidatePlan("x", {"cell": "gru"}, {"kind": "none", "threshold": None})
    assert a.bptt == {"truncate": None}


def test_an_ensemble_candidate_logs_its_size_and_a_baseline_one():
    cfg = config().model_copy(deep=True)
    cfg.training.ensemble = 3
    assert contract_params(cfg, plan_candidates(cfg)[0])["ensemble"] == 3
    assert contract_params(cfg, None, baseline="linear")["ensemble"] == 1


def test_a_highway_plan_logs_highway():
    cfg = config().model_copy(deep=True)
    cfg.models = [cfg.models[0].model_validate({"cell": "gru", "units": 8, "highway": True})]
    params = contract_params(cfg, plan_candidates(cfg)[0])
    assert params["highway"] is True and params["segment"] == 0
