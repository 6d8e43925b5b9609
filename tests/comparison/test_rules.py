"""The rules a pipeline file's data decides, checked before anything is written (comparison/rules)."""

from __future__ import annotations

import pandas as pd
import pytest

from forecaster.comparison.rules import check_run
from forecaster.config import PipelineConfig
from forecaster.errors import ConfigError, DataValidationError


def config(**evaluation) -> PipelineConfig:
    return PipelineConfig.model_validate({
        "name": "rules", "data": {"path": "unused.csv", "target": "y", "frequency": "D"},
        "window": {"lookback": 28, "horizon": 7}, "models": [{"cell": "gru", "units": 2}],
        "evaluation": evaluation,
    })


def frame(rows: int = 400) -> pd.DataFrame:
    return pd.DataFrame({"series_id": "s", "timestamp": pd.date_range("2024-01-01", periods=rows, freq="D"),
                         "y": range(rows)}).astype({"y": float})


def test_a_valid_file_passes():
    check_run(config(season=7, backtest_folds=3), frame())


def test_a_season_longer_than_the_lookback_names_the_keys():
    with pytest.raises(ConfigError, match=r"season \(100000 steps at frequency 'D'\); received window.lookback=28"):
        check_run(config(season=100000), frame())


def test_too_many_backtest_folds_for_the_data_names_the_series():
    with pytest.raises(DataValidationError, match="series 's': `n_rows` is too small for the backtest"):
        check_run(config(season=7, backtest_folds=200), frame(120))
