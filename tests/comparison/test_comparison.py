"""The comparison: candidates x clipping and baselines on the same windows; --jobs equals sequential."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from forecaster.comparison.grid import run_comparison
from forecaster.comparison.plans import plan_candidates
from forecaster.config import PipelineConfig
from forecaster.data.splits import assign_splits


def tiny_config(**training) -> PipelineConfig:
    return PipelineConfig.model_validate({
        "name": "tiny",
        "data": {"path": "unused.csv", "target": "y"},
        "window": {"lookback": 16, "horizon": 4, "stride": 1},
        "split": {"val": 0.2, "test": 0.2},
        "models": [{"cell": "gru", "units": 4}, {"cell": "rnn", "units": 4, "head": "seq2seq"}],
        "clipping": ["none", {"clipnorm": 0.5}],
        "training": {"epochs": 2, "batch_size": 64, "seed": 11, **training},
        "evaluation": {"interval_level": 0.8, "season": 12},
    })


def tiny_frame(n=500) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    t = pd.date_range("2023-01-01", periods=n, freq="h")
    y = np.sin(2 * np.pi * np.arange(n) / 24) * 3 + rng.normal(0, 0.2, n).cumsum() * 0.2
    frame = pd.DataFrame({"series_id": "s", "timestamp": t, "segment": 0, "y": y})
    frame["split"] = assign_splits(frame, 0.2, 0.2).to_numpy()
    return frame


def test_plan_is_models_times_clipping():
    names = [p.name for p in plan_candidates(tiny_config())]
    assert names == ["gru-1x4 | none", "gru-1x4 | clipnorm=0.5", "rnn-1x4-seq2seq | none",
                     "rnn-1x4-seq2seq | clipnorm=0.5"]


@pytest.mark.slow
def test_parallel_jobs_equal_sequential(tmp_path):
    cfg, frame = tiny_config(), tiny_frame()
    seq = run_comparison(cfg, frame, tmp_path / "seq", jobs=1)
    par = run_comparison(cfg, frame, tmp_path / "par", jobs=2)
    assert [c.name for c in seq.candidates] == [c.name for c in par.candidates]
    for a, b in zip(seq.candidates, par.candidates):
        assert a.metrics["val_mae"] == b.metrics["val_mae"], a.name
        assert a.metrics["test_mae"] == b.metrics["test_mae"], a.name
        np.testing.assert_array_equal(a.history.get("grad_norm_max", []), b.history.get("grad_norm_max", []))
    # contract: relative MAE against persistence on the same windows, for baselines and candidates
    persistence = seq.baseline("persistence")
    assert persistence.val_mae > 0 and not math.isclose(seq.baseline("linear").metrics["val_rel_mae"], 1.0)
    blend = seq.candidates[-1]
    assert blend.role == "ensemble"  # the blend of the best network with linear, carrying its network's plan
    best_network = min(seq.candidates[:-1], key=lambda c: c.val_mae)
    assert blend.plan == best_network.plan and blend.name == f"blend({best_network.plan.name} + linear)"
    assert [c.plan for c in seq.candidates[:-1]] == plan_candidates(cfg)
    assert all(b.plan is None for b in seq.baselines)
    for c in [*seq.candidates, *seq.baselines]:
        for split in ("val", "test"):
            assert math.isclose(c.metrics[f"{split}_rel_mae"], c.metrics[f"{split}_mae"] / persistence.metrics[f"{split}_mae"])
    for c in seq.candidates:
        assert c.params["clipping"] in {"none", "clipnorm"} and c.params["n_params"] > 0
        assert len(c.test_mae_by_step) == 4 and 0 <= c.metrics["interval_coverage"] <= 1
        assert c.val_mae_by_step.mean() == pytest.approx(c.metrics["val_mae"])  # one target: the mean of steps
    assert set(seq.significance) >= {c.name for c in seq.candidates}


def test_failed_candidate_is_reported_not_raised(tmp_path):
    # validation values this far from the training range overflow the float32 validation loss
    cfg = tiny_config()
    cfg = cfg.model_copy(update={"models": cfg.models[:1], "clipping": cfg.clipping[:1]})
    frame = tiny_frame()
    frame.loc[frame.index[frame["split"] == "val"][:30], "y"] = 1e25
    result = run_comparison(cfg, frame, tmp_path, jobs=1)
    (candidate,) = result.candidates
    assert candidate.failed and candidate.failed_epoch == 1
    assert candidate.plan == plan_candidates(cfg)[0]
    assert "nan" in candidate.failure_reason.lower() or "inf" in candidate.failure_reason.lower()
    assert result.best_candidate is None and result.best_baseline is not None


@pytest.mark.slow
def test_walk_forward_backtest_is_tidy_and_refits_per_fold():
    from forecaster.comparison.backtest import backtest_summary, run_backtest

    cfg = tiny_config()
    plans = plan_candidates(cfg)[:1]
    frame = tiny_frame(700).drop(columns="split")
    tidy = run_backtest(cfg, frame, 3, plans=plans)
    assert list(tidy.columns) == ["fold", "model", "step", "metric", "value"]
    assert sorted(tidy["fold"].unique()) == [0, 1, 2]
    assert set(tidy["model"]) == {"persistence", "seasonal_naive", "linear", plans[0].name,
                                  f"blend({plans[0].name} + linear)"}
    per_step = tidy[(tidy["metric"] == "mae") & (tidy["step"] > 0)]
    assert sorted(per_step["step"].unique()) == [1, 2, 3, 4]
    rel = tidy[(tidy["metric"] == "rel_mae") & (tidy["model"] == "persistence")]["value"]
    assert (rel == 1.0).all()
    # folds test on different, later blocks: persistence's MAE differs between folds
    mae = tidy[(tidy["metric"] == "mae") & (tidy["step"] == 0) & (tidy["model"] == "persistence")]["value"]
    assert mae.nunique() == 3
    summary = backtest_summary(tidy)
    assert summary.loc[summary["model"] == "persistence", "rel_mae"].item() == 1.0


def test_seasonal_naive_longer_than_lookback_is_a_config_error(tmp_path):
    from forecaster.errors import ConfigError

    cfg = PipelineConfig.model_validate({**tiny_config().model_dump(), "evaluation": {"season": None}})
    with pytest.raises(ConfigError, match=r"window.lookback >= the season \(24 steps.*window.lookback=16"):
        run_comparison(cfg, tiny_frame(), tmp_path)


def test_progress_reports_candidates_and_epochs(tmp_path):
    class Recorder:
        def __init__(self):
            self.events = []

        def start(self, stage, total=None):
            self.events.append(("start", stage, total))

        def advance(self, stage, n=1, **info):
            self.events.append(("advance", stage))

        def finish(self, stage):
            self.events.append(("finish", stage))

    cfg = tiny_config()
    cfg = cfg.model_copy(update={"models": cfg.models[:1], "clipping": cfg.clipping[:1]})
    recorder = Recorder()
    run_comparison(cfg, tiny_frame(), tmp_path, progress=recorder)
    assert recorder.events == [
        ("start", "candidates", 1), ("start", "epochs", 2), ("advance", "epochs"), ("advance", "epochs"),
        ("finish", "epochs"), ("advance", "candidates"), ("finish", "candidates"),
    ]


def test_blend_is_never_worse_than_its_members_on_validation_and_round_trips(tmp_path):
    from forecaster.estimator import BaselineForecaster, BlendForecaster, RNNForecaster, load_forecaster

    frame = tiny_frame()
    common = dict(target=["y"], lookback=16, horizon=4)
    net = RNNForecaster(units=4, epochs=2, batch_size=64, seed=3, **common).fit(frame)
    linear = BaselineForecaster(kind="linear", **common).fit(frame)
    blend = BlendForecaster([net, linear], interval_level=0.8).fit(frame)
    assert blend.weights_.shape == (4,) and ((blend.weights_ >= 0) & (blend.weights_ <= 1)).all()

    def val_mae_by_step(model):
        p = model.evaluate_windows(frame, splits=("val",))["val"]
        return np.abs(p.y_pred - p.y_true).mean(axis=(0, 2))

    b, n, lin = val_mae_by_step(blend), val_mae_by_step(net), val_mae_by_step(linear)
    assert (b <= np.minimum(n, lin) + 1e-9).all()
    expected = blend.predict(frame)
    assert list(expected.columns) == ["series_id", "timestamp", "step", "forecast", "lower", "upper"]
    loaded = load_forecaster(blend.save(tmp_path / "blend"))
    pd.testing.assert_frame_equal(loaded.predict(frame), expected)


def test_blend_local_intervals_follow_each_series(tmp_path):
    from forecaster.estimator import BaselineForecaster, BlendForecaster, load_forecaster
    from tests.estimator.test_estimator import random_walks

    frame = random_walks()
    common = dict(target=["y"], lookback=20, horizon=3, interval_scale="local")
    members = [BaselineForecaster(kind="persistence", **common).fit(frame),
               BaselineForecaster(kind="linear", **common).fit(frame)]
    blend = BlendForecaster(members, interval_scale="local").fit(frame)
    test = blend.evaluate_windows(frame, splits=("test",))["test"]
    inside = np.abs(test.y_true - test.y_pred) <= blend.half_widths(test)
    for sid in ("s0", "s1"):
        assert 0.85 <= inside[test.series_ids == sid].mean() <= 0.95
    forecast = blend.predict(frame)
    width = (forecast["upper"] - forecast["lower"]).groupby(forecast["series_id"]).mean()
    assert width["s1"] > 20 * width["s0"]
    loaded = load_forecaster(blend.save(tmp_path / "blend"))
    assert loaded.interval_scale == "local"
    pd.testing.assert_frame_equal(loaded.predict(frame), forecast)


def test_backtest_reports_each_series_and_the_worst_one():
    from forecaster.comparison.backtest import backtest_summary, run_backtest, series_rel_mae
    from forecaster.comparison.folds import SERIES_MAE
    from tests.estimator.test_estimator import random_walks

    cfg = PipelineConfig.model_validate({
        "name": "walks", "data": {"path": "unused.csv", "timestamp_column": "t", "target": ["y"],
                                  "series_column": "s"},
        "window": {"lookback": 10, "horizon": 2}, "split": {"val": 0.2, "test": 0.3},
        "models": [{"cell": "gru", "units": 2}], "training": {"epochs": 1, "blend": False},
        "baselines": ["persistence", "linear"],
    })
    frame = random_walks(n=400).drop(columns="split")
    tidy = run_backtest(cfg, frame, 2, plans=[])
    series_rows = tidy[tidy["metric"].str.startswith(SERIES_MAE)]
    assert set(series_rows["metric"]) == {f"{SERIES_MAE}s0", f"{SERIES_MAE}s1"}
    by_series = series_rel_mae(tidy)
    assert (by_series.loc[by_series["model"] == "persistence", "rel_mae"] == 1.0).all()
    linear = by_series[by_series["model"] == "linear"].set_index("series_id")["rel_mae"]
    summary = backtest_summary(tidy).set_index("model")
    assert summary.loc["linear", "worst_series"] == linear.idxmax()
    assert summary.loc["linear", "worst_series_rel_mae"] == pytest.approx(linear.max())
    assert "series_mae:s0" not in summary.columns


def test_day_of_year_with_less_than_a_year_of_training_warns(caplog):
    from forecaster.comparison.advice import warn_calendar_span

    cfg = tiny_config().model_copy(deep=True)
    cfg.features.calendar = ["hour_of_day", "day_of_year"]
    with caplog.at_level("WARNING", logger="forecaster.comparison.advice"):
        warn_calendar_span(cfg, tiny_frame(500))  # 300 hourly training rows
    assert "training part spans only 12 days" in caplog.text
    caplog.clear()
    cfg.features.calendar, cfg.features.known_future = [], ["day_of_year"]
    with caplog.at_level("WARNING", logger="forecaster.comparison.advice"):
        warn_calendar_span(cfg, tiny_frame(500))
    assert "features.known_future has day_of_year but the training part spans only 12 days" in caplog.text
    caplog.clear()
    long = tiny_frame(1000)  # 600 daily training rows
    long["timestamp"] = pd.date_range("2020-01-01", periods=1000, freq="D")
    with caplog.at_level("WARNING", logger="forecaster.comparison.advice"):
        warn_calendar_span(cfg, long)
    assert caplog.text == ""


def test_blend_rolling_calibration_widens_after_a_regime_shift(tmp_path):
    from forecaster.estimator import BaselineForecaster, BlendForecaster, load_forecaster
    from tests.estimator.test_estimator import regime_shift

    frame = regime_shift()
    common = dict(target=["y"], lookback=10, horizon=2, calibration_window=100)
    members = [BaselineForecaster(kind="persistence", **common).fit(frame),
               BaselineForecaster(kind="linear", **common).fit(frame)]
    rolling = BlendForecaster(members, calibration_window=100).fit(frame)
    static = BlendForecaster(members).fit(frame)
    preds = rolling.evaluate_windows(frame)
    err = np.abs(preds["test"].y_true - preds["test"].y_pred)[200:]
    cov = (err <= rolling.half_widths(preds["test"], history=preds["val"])[200:]).mean()
    assert 0.85 <= cov <= 0.95
    widths = [float((m.predict(frame)["upper"] - m.predict(frame)["lower"]).mean()) for m in (rolling, static)]
    assert widths[0] > 3 * widths[1]
    pd.testing.assert_frame_equal(rolling.predict(frame.tail(11)), static.predict(frame.tail(11)))
    loaded = load_forecaster(rolling.save(tmp_path / "blend"))
    assert loaded.calibration_window == 100
    pd.testing.assert_frame_equal(loaded.predict(frame), rolling.predict(frame))


def test_absolute_intervals_over_several_series_warn(caplog):
    from forecaster.comparison.advice import warn_interval_scale
    from tests.estimator.test_estimator import random_walks

    cfg = tiny_config().model_copy(deep=True)
    with caplog.at_level("WARNING", logger="forecaster.comparison.advice"):
        warn_interval_scale(cfg, random_walks(n=50))
    assert "interval_scale is 'absolute' with 2 series" in caplog.text
    caplog.clear()
    cfg.evaluation.interval_scale = "local"
    with caplog.at_level("WARNING", logger="forecaster.comparison.advice"):
        warn_interval_scale(cfg, random_walks(n=50))
        warn_interval_scale(tiny_config(), tiny_frame())  # one series: nothing to say
    assert caplog.text == ""


def test_known_future_runs_every_candidate_baseline_and_the_blend(tmp_path):
    """features.known_future through the comparison: dense and seq2seq candidates, the ridge with the
    block among its regressors, the blend, every model saved and reloaded with its known-future inputs."""
    from forecaster.estimator import load_forecaster

    cfg = PipelineConfig.model_validate({**tiny_config(epochs=1).model_dump(), "clipping": ["none"],
                                         "features": {"known_future": ["hour_of_day"]}})
    result = run_comparison(cfg, tiny_frame(), tmp_path, jobs=1)
    assert [c.name for c in result.candidates][:2] == ["gru-1x4 | none", "rnn-1x4-seq2seq | none"]
    assert not any(c.failed for c in result.candidates) and len(result.candidates) == 3  # and the blend
    linear = next(b for b in result.baselines if b.name == "linear")
    model = load_forecaster(linear.model_dir)
    assert model.linear_.known == 2 and model.feature_names_[-2:] == ["known_hour_of_day_sin", "known_hour_of_day_cos"]
    for c in result.candidates:
        assert load_forecaster(c.model_dir).predict(tiny_frame()).shape == (4, 6)
