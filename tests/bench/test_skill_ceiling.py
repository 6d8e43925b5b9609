"""bench/skill_ceiling.py: the probe's windows, by hand (alignment, splits, no window across a gap)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster.data.columns import SPLIT, TIMESTAMP

_BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(_BENCH))  # (it imports its sibling bench/skill.py)
_SPEC = importlib.util.spec_from_file_location("skill_ceiling", _BENCH / "skill_ceiling.py")
ceiling = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(ceiling)


def _frame(n: int, gap_at: int | None = None) -> pd.DataFrame:
    stamps = pd.date_range("2021-01-01", periods=n, freq="h")
    if gap_at is not None:  # the rows from gap_at on come 5 hours later: a hole the probe must not span
        stamps = stamps.where(np.arange(n) < gap_at, stamps + pd.Timedelta(hours=5))
    split = np.where(np.arange(n) < n // 2, "train", np.where(np.arange(n) < 3 * n // 4, "val", "test"))
    return pd.DataFrame({TIMESTAMP: stamps, "T": np.arange(n, dtype=float), "p": np.arange(n) * 10.0,
                         SPLIT: split})


def test_each_window_targets_its_step_and_belongs_to_its_targets_split():
    lookback, horizon, n = 120, 24, 600
    X, flat, y, persistence, split, names = ceiling.design(_frame(n), ["T", "p"], "T", lookback, horizon)
    origins = persistence.astype(int)  # T is the row number, so persistence is the origin's row
    assert np.array_equal(y, origins + horizon)
    assert origins.min() == lookback - 1 and origins.max() <= n - horizon - 1
    # the flattened window is the lookback rows up to the origin, every input column side by side
    assert np.array_equal(flat[0].reshape(lookback, 2)[:, 0], np.arange(origins[0] - lookback + 1, origins[0] + 1))
    # a window whose 24 target rows straddle two splits is dropped; the others take their targets' split
    labels = _frame(n)[SPLIT].to_numpy()
    for o, s in zip(origins, split):
        assert set(labels[o + 1:o + horizon + 1]) == {s}
    assert set(split) == {"train", "val", "test"}
    assert names.index("T_lag24") >= 0 and X[:, names.index("T_lag24")].tolist() == (origins - 24).tolist()


def test_no_window_spans_a_gap_in_time():
    lookback, horizon, n, gap = 120, 24, 600, 300
    _, _, y, persistence, _, _ = ceiling.design(_frame(n, gap_at=gap), ["T"], "T", lookback, horizon)
    origins = persistence.astype(int)
    spans = (origins - lookback + 1 < gap) & (origins + horizon >= gap)
    assert not spans.any()
    assert ((origins + horizon < gap) | (origins - lookback + 1 >= gap)).all() and len(origins) > 0
