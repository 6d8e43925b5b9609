"""Walk-forward backtest: fold sizes, and the summaries computed from the tidy rows (hand-checked)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.comparison.backtest import (
    backtest_summary,
    run_backtest,
    series_rel_mae,
)
from forecaster.comparison.folds import SERIES_MAE, check_folds, fold_labels, fold_sizes
from forecaster.config import PipelineConfig
from forecaster.errors import DataValidationError
from forecaster.evaluation import tidy_metrics


def config(val=0.2, test=0.3) -> PipelineConfig:
    return PipelineConfig.model_validate({
        "name": "bt", "data": {"path": "unused.csv", "target": "y"},
        "window": {"lookback": 8, "horizon": 2}, "split": {"val": val, "test": test},
        "models": [{"cell": "gru", "units": 2}], "evaluation": {"season": 4},
    })


def test_fold_sizes_divide_the_test_share_and_never_validate_on_less():
    assert fold_sizes(config(0.2, 0.3), 3) == pytest.approx((0.1, 0.1))
    assert fold_sizes(config(0.4, 0.2), 2) == pytest.approx((0.2, 0.1))


def rows_config(**split) -> PipelineConfig:
    return PipelineConfig.model_validate({
        "name": "bt", "data": {"path": "unused.csv", "target": "y"}, "window": {"lookback": 8, "horizon": 2},
        "split": split, "models": [{"cell": "gru", "units": 2}], "evaluation": {"backtest_folds": 2},
    })


def test_fold_sizes_with_row_counts_divide_the_counts_like_the_fractions():
    assert fold_sizes(rows_config(val_rows=10, test_rows=10), 2) == (5, 5)
    assert fold_sizes(rows_config(val_rows=20, test_rows=9), 2) == (10, 5)  # 4.5 rounds half up
    assert fold_sizes(rows_config(val_rows=4, test_rows=12), 3) == (4, 4)  # never validate on less
    assert fold_sizes(rows_config(val_rows=6, test_rows=0), 2) == (3, 3)  # no test rows: the val share


def test_fold_labels_with_row_counts_by_hand():
    frame = pd.DataFrame({"series_id": ["a"] * 60 + ["b"] * 70,
                          "timestamp": list(pd.date_range("2024", periods=60, freq="h"))
                          + list(pd.date_range("2024", periods=70, freq="h"))})
    # latest rows: folds over every row; blocks of 5 (10 / 2 folds)
    cfg = rows_config(val_rows=10, test_rows=10)
    fold0 = fold_labels(cfg, frame, 2, 0)[:60].tolist()
    assert fold0 == ["train"] * 45 + ["val"] * 5 + ["test"] * 5 + ["unused"] * 5
    # first rows (train_rows): folds over each series' first 50 rows; the rest unused in every fold
    cfg = rows_config(train_rows=30, val_rows=10, test_rows=10)
    for fold, train_end in ((0, 35), (1, 40)):
        labels = fold_labels(cfg, frame, 2, fold)
        for series, n in (("a", 60), ("b", 70)):
            got = labels[(frame["series_id"] == series).to_numpy()].tolist()
            assert got == (["train"] * train_end + ["val"] * 5 + ["test"] * 5
                           + ["unused"] * (n - train_end - 10)), (fold, series)
    short = frame[frame["series_id"] == "a"].iloc[:45]
    with pytest.raises(DataValidationError, match="series 'a' has 45 rows; .* = 50 rows"):  # exit 3
        check_folds(rows_config(train_rows=30, val_rows=10, test_rows=10), short)
    with pytest.raises(DataValidationError, match="series 'a'"):  # 10 + 5 + 2 * 5 = 25 rows needed
        check_folds(rows_config(val_rows=10, test_rows=10), short.iloc[:24])


def tidy(maes: dict[tuple[int, str], float], series: dict[tuple[int, str, str], float] | None = None) -> pd.DataFrame:
    rows = []
    for (fold, model), mae in maes.items():
        metrics = {"mae": mae, "mase": mae / 2, "coverage": 0.9}
        for (f, m, sid), v in (series or {}).items():
            if (f, m) == (fold, model):
                metrics[f"{SERIES_MAE}{sid}"] = v
        rows.append(tidy_metrics(fold, model, metrics))
    return pd.concat(rows, ignore_index=True)


def test_summary_is_the_ratio_of_mean_maes_ranked_best_first():
    frame = tidy({(0, "persistence"): 2.0, (1, "persistence"): 4.0, (0, "gru"): 1.0, (1, "gru"): 5.0,
                  (0, "linear"): 2.0, (1, "linear"): 2.0})
    summary = backtest_summary(frame).set_index("model")
    assert list(summary.index) == ["linear", "gru", "persistence"]
    assert summary.loc["gru", "rel_mae"] == pytest.approx(6.0 / 6.0)  # (1 + 5) / (2 + 4)
    assert summary.loc["linear", "rel_mae"] == pytest.approx(4.0 / 6.0)
    assert summary.loc["gru", "worst_fold_rel_mae"] == pytest.approx(5.0 / 4.0)
    assert summary.loc["gru", "mase"] == pytest.approx(1.5)
    assert summary.loc["gru", "folds"] == 2


def test_series_rel_mae_names_the_worst_series():
    frame = tidy({(0, "persistence"): 1.0, (0, "gru"): 1.0},
                 {(0, "persistence", "AAA"): 1.0, (0, "persistence", "BBB"): 2.0,
                  (0, "gru", "AAA"): 0.5, (0, "gru", "BBB"): 3.0})
    rel = series_rel_mae(frame).set_index(["model", "series_id"])["rel_mae"]
    assert rel[("gru", "AAA")] == pytest.approx(0.5) and rel[("gru", "BBB")] == pytest.approx(1.5)
    summary = backtest_summary(frame).set_index("model")
    assert summary.loc["gru", "worst_series"] == "BBB"
    assert summary.loc["gru", "worst_series_rel_mae"] == pytest.approx(1.5)


def test_single_series_has_no_per_series_rows():
    assert series_rel_mae(tidy({(0, "persistence"): 1.0})).empty


def test_baselines_only_backtest_has_every_fold_and_step_and_consistent_ratios():
    n = 400
    t = pd.date_range("2024-01-01", periods=n, freq="h")
    y = np.where(np.arange(n) < 300, 0.0, 10.0) + np.sin(np.arange(n))  # a level shift in the last folds
    frame = pd.DataFrame({"series_id": "s", "timestamp": t, "segment": 0, "y": y})
    cfg = config(0.2, 0.3).model_copy(update={"baselines": ["persistence", "linear"]})
    out = run_backtest(cfg, frame, 3, plans=[])
    assert set(out["model"]) == {"persistence", "linear"}
    assert sorted(out["fold"].unique()) == [0, 1, 2]
    per_step = out[(out["metric"] == "mae") & (out["step"] > 0)]
    assert sorted(per_step["step"].unique()) == [1, 2]  # horizon 2
    wide = out[out["step"] == 0].pivot_table(index=["fold", "model"], columns="metric", values="value")
    for fold in range(3):
        lin, pers = wide.loc[(fold, "linear")], wide.loc[(fold, "persistence")]
        assert np.isfinite(lin["mae"]) and lin["mae"] > 0
        assert lin["rel_mae"] == pytest.approx(lin["mae"] / pers["mae"])


def test_window_errors_are_the_same_folds_as_the_tidy_rows():
    from forecaster.comparison.backtest import backtest_window_errors

    n = 400
    t = pd.date_range("2024-01-01", periods=n, freq="h")
    y = np.where(np.arange(n) < 300, 0.0, 10.0) + np.sin(np.arange(n))
    frame = pd.DataFrame({"series_id": "s", "timestamp": t, "segment": 0, "y": y})
    cfg = config(0.2, 0.3).model_copy(update={"baselines": ["persistence", "linear"]})
    windows = backtest_window_errors(cfg, frame, 3, plans=[])
    assert list(windows.columns[:6]) == ["series_id", "time", "abs_error", "scaled_error", "inside_1", "inside_2"]
    assert set(windows["role"]) == {"baseline"} and set(windows["model"]) == {"persistence", "linear"}
    tidy_rows = run_backtest(cfg, frame, 3, plans=[])
    mae = tidy_rows[(tidy_rows["metric"] == "mae") & (tidy_rows["step"] == 0)].set_index(["fold", "model"])["value"]
    pooled = windows.groupby(["fold", "model"])["abs_error"].mean()
    assert sorted(pooled.index) == sorted(mae.index)  # every fold and model, nothing else
    np.testing.assert_allclose(pooled.sort_index().to_numpy(), mae.sort_index().to_numpy(), rtol=1e-5)
    # test windows move forward fold by fold and never overlap
    first = windows.groupby("fold")["time"].min()
    assert first.is_monotonic_increasing and first.nunique() == 3
    inside = windows.filter(like="inside_").to_numpy()
    assert ((inside == 0) | (inside == 1)).all() and 0 < inside.mean() <= 1
