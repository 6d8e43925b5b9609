"""What each run carries as MLflow values (forecaster.tracking.runparams): the lag summaries' and members' steps."""

from __future__ import annotations

import math

from forecaster.comparison.results import CandidateResult
from forecaster.tracking.runparams import child_metrics


def _lag_points(result: CandidateResult) -> dict[str, list[tuple[int, float]]]:
    points: dict[str, list[tuple[int, float]]] = {}
    for m in child_metrics(result, timestamp=0):
        if m.key in ("memory_lag", "grad_far_near_ratio"):
            points.setdefault(m.key, []).append((m.step, m.value))
    return points


def _network(history_lag: list[float], epochs: int, final: dict[str, float]) -> CandidateResult:
    return CandidateResult(
        "rnn-1x16 | none", "candidate", {},
        history={"train_loss": [1.0] * epochs, "memory_lag": history_lag,
                 "grad_far_near_ratio": [v / 100 for v in history_lag]},
        metrics={"epochs_run": float(epochs)}, lag_final=final)


def test_no_epoch_measured_still_logs_the_final_weights_summaries_at_the_last_step():
    result = _network([math.nan] * 3, 3, {"memory_lag": 7.0, "grad_far_near_ratio": 0.02})
    assert _lag_points(result) == {"memory_lag": [(3, 7.0)], "grad_far_near_ratio": [(3, 0.02)]}


def test_measured_epochs_are_kept_and_the_final_weights_hold_the_last_step():
    result = _network([math.nan, 9.0, math.nan, 11.0], 4, {"memory_lag": 10.0, "grad_far_near_ratio": 0.05})
    assert _lag_points(result) == {"memory_lag": [(2, 9.0), (4, 10.0)],
                                   "grad_far_near_ratio": [(2, 0.09), (4, 0.05)]}


def test_no_final_summaries_no_change():
    result = _network([math.nan, 9.0], 2, {})
    assert _lag_points(result) == {"memory_lag": [(2, 9.0)], "grad_far_near_ratio": [(2, 0.09)]}
    assert _lag_points(CandidateResult("linear", "baseline", {}, metrics={"val_mae": 1.0})) == {}


def test_parent_params_name_the_split_as_written():
    from forecaster.config import PipelineConfig
    from forecaster.tracking.runparams import parent_params

    def params(split):
        cfg = PipelineConfig.model_validate({"name": "p", "data": {"path": "d.csv", "target": "y"},
                                             "window": {"lookback": 8, "horizon": 2}, "split": split})
        return {k: v for k, v in parent_params(cfg, "d.csv").items() if k.startswith("split.")}

    assert params({"val": 0.2, "test": 0.1}) == {"split.val": "0.2", "split.test": "0.1"}
    assert params({"train_rows": 100, "val_rows": 20, "test_rows": 10}) == {
        "split.train_rows": "100", "split.val_rows": "20", "split.test_rows": "10"}
    assert params({"val_rows": 20, "test_rows": 0}) == {"split.val_rows": "20", "split.test_rows": "0"}


def test_an_ensemble_logs_each_members_val_loss_at_its_member_index():
    result = _network([math.nan], 1, {})
    result.history["ensemble_member_val_loss"] = [0.5, math.nan, 0.25]
    points = [(m.step, m.value) for m in child_metrics(result, timestamp=0) if m.key == "ensemble_member_val_loss"]
    assert points == [(0, 0.5), (2, 0.25)]
    assert not [m for m in child_metrics(_network([1.0], 1, {}), 0) if m.key == "ensemble_member_val_loss"]


def test_parent_params_name_the_known_future_signals():
    from forecaster.config import load_config
    from forecaster.tracking.runparams import parent_params

    cfg = {"name": "x", "data": {"path": "p.csv", "target": "t"}, "window": {"lookback": 6, "horizon": 2},
           "models": [{"cell": "gru", "units": 4}]}
    assert parent_params(load_config(cfg), "p.csv")["features.known_future"] == "[]"
    cfg["features"] = {"known_future": ["day_of_week", "hour_of_day"]}
    assert parent_params(load_config(cfg), "p.csv")["features.known_future"] == "[day_of_week, hour_of_day]"


def test_a_scheduled_rate_is_logged_per_epoch_and_only_when_a_schedule_ran():
    result = _network([math.nan] * 3, 3, {})
    assert not [m for m in child_metrics(result, 0) if m.key == "learning_rate"]
    result.history["learning_rate"] = [1e-3, 1e-3, 5e-4]
    points = [(m.step, m.value) for m in child_metrics(result, 0) if m.key == "learning_rate"]
    assert points == [(1, 1e-3), (2, 1e-3), (3, 5e-4)]
