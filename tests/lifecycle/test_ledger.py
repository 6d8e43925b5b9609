"""The forecast ledger: exact live scores on real data, atomic staged/committed writes, killed writers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from forecaster.config import DataConfig
from forecaster.data import read_frame
from forecaster.lifecycle.ledger import Ledger, ledger_rows
from forecaster.lifecycle.monitoring import live_scores, score_rows

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def seattle() -> pd.DataFrame:
    """The bundled Seattle daily data, 2012-01-01 .. 2012-01-11 (temp_max 12.8 10.6 11.7 12.2 8.9 4.4
    7.2 10.0 9.4 6.1 6.1)."""
    cfg = DataConfig(path=str(ROOT / "data" / "seattle_weather.csv"), timestamp_column="date",
                     timestamp_format="%Y/%m/%d", target=["temp_max"], features=["temp_min"], frequency="D")
    frame = read_frame(cfg)
    return frame[frame["timestamp"] <= "2012-01-11"].reset_index(drop=True)


def _forecast(origin: str, values, lower, upper) -> pd.DataFrame:
    """A forecast frame as ``predict`` returns it, from the day after ``origin``."""
    stamps = pd.date_range(pd.Timestamp(origin) + pd.Timedelta(days=1), periods=len(values), freq="D")
    return pd.DataFrame({"series_id": "series", "timestamp": stamps, "step": range(1, len(values) + 1),
                         "forecast": values, "lower": lower, "upper": upper})


def _record(ledger: Ledger, run_id: str, frame: pd.DataFrame, origin: str, values, lower, upper) -> None:
    history = frame[frame["timestamp"] <= origin]
    rows = ledger_rows(_forecast(origin, values, lower, upper), history, ["temp_max"])
    ledger.stage(run_id, "seattle", rows, served_by="seattle v1", model_version="1")
    ledger.commit(run_id)


def test_scores_match_hand_computed_errors(tmp_path, seattle):
    ledger = Ledger.in_state_dir(tmp_path)
    # origin 01-05 (last value 8.9): actuals 4.4 7.2 10.0
    _record(ledger, "r1", seattle, "2012-01-05", [6.0, 8.0, 9.0], [5.0, 7.0, 8.0], [7.0, 9.0, 11.0])
    # origin 01-06 (last value 4.4): actuals 7.2 10.0 9.4 (10.0 on the upper bound counts as covered)
    _record(ledger, "r2", seattle, "2012-01-06", [5.0, 9.5, 9.4], [4.0, 9.0, 9.0], [6.0, 10.0, 10.0])
    # origin 01-10 (last value 6.1): only 01-11 (6.1) is in the data yet
    _record(ledger, "r3", seattle, "2012-01-10", [7.0, 7.0, 7.0], [6.5, 6.5, 6.5], [7.5, 7.5, 7.5])

    rows = ledger.forecasts("seattle")
    assert len(rows) == 9
    assert rows.loc[rows["run_id"] == "r1", "last_value"].tolist() == [8.9] * 3
    assert set(rows.loc[rows["run_id"] == "r3", "origin"]) == {pd.Timestamp("2012-01-10")}
    scored = score_rows(rows, seattle)
    assert len(scored) == 7
    # |errors|: 1.6 0.8 1.0 | 2.2 0.5 0.0 | 0.9 ; persistence: 4.5 1.7 1.1 | 2.8 5.6 5.0 | 0.0
    assert scored["abs_error"].tolist() == pytest.approx([1.6, 0.8, 2.2, 1.0, 0.5, 0.0, 0.9])  # time order
    s = live_scores(scored)
    assert s.n == 7
    assert s.mae == pytest.approx(7.0 / 7)
    assert s.persistence_mae == pytest.approx(20.7 / 7)
    assert s.rel_mae == pytest.approx(7.0 / 20.7)
    assert s.coverage == pytest.approx(4 / 7)
    assert s.mae_by_step == pytest.approx({1: 4.7 / 3, 2: 1.3 / 2, 3: 1.0 / 2})
    assert s.n_by_step == {1: 3, 2: 2, 3: 2}
    last3 = live_scores(scored, window=3)  # targets 01-08 (from 01-06), 01-09, 01-11
    assert (last3.n, last3.mae, last3.persistence_mae) == (3, pytest.approx(1.4 / 3), pytest.approx(10.6 / 3))


def test_uncommitted_rows_are_invisible_and_discarded(tmp_path, seattle):
    ledger = Ledger.in_state_dir(tmp_path)
    assert ledger.forecasts("seattle").empty and not ledger.path.exists()  # a read creates nothing
    history = seattle[seattle["timestamp"] <= "2012-01-05"]
    rows = ledger_rows(_forecast("2012-01-05", [6.0, 8.0], [5.0, 7.0], [7.0, 9.0]), history, ["temp_max"])
    assert ledger.stage("killed", "seattle", rows, served_by="baseline persistence", model_version=None) == 2
    assert ledger.forecasts("seattle").empty
    assert len(ledger.forecasts("seattle", include_uncommitted=True)) == 2
    assert ledger.discard_uncommitted("seattle") == 2
    assert ledger.forecasts("seattle", include_uncommitted=True).empty
    # a forced rerun from the same origin: the later committed run's values are the ones scored
    ledger.stage("a", "seattle", rows, served_by="seattle v1", model_version="1")
    ledger.commit("a")
    ledger.stage("b", "seattle", rows.assign(forecast=[7.0, 7.0]), served_by="seattle v2", model_version="2")
    ledger.commit("b")
    latest = ledger.forecasts("seattle")
    assert latest["run_id"].tolist() == ["b", "b"] and latest["forecast"].tolist() == [7.0, 7.0]
    assert len(ledger.forecasts("seattle", latest_only=False)) == 4


_WRITER = """
import sys, pandas as pd
from forecaster.lifecycle.ledger import Ledger
ledger = Ledger(sys.argv[1])
n = int(sys.argv[2])
rows = pd.DataFrame({"series_id": "s", "target": "y", "origin": pd.Timestamp("2024-01-01"),
                     "target_timestamp": pd.date_range("2024-01-02", periods=n, freq="h"),
                     "step": range(1, n + 1), "forecast": 1.0, "lower": 0.0, "upper": 2.0, "last_value": 1.0})
i = 0
while True:
    ledger.stage(f"run-{i}", "p", rows, served_by="p v1", model_version="1")
    if i == 0:
        print("ready", flush=True)
    ledger.commit(f"run-{i}")
    i += 1
"""


def test_a_killed_writer_leaves_whole_runs_only(tmp_path):
    """SIGKILL a process that stages and commits runs in a loop: every run is all-or-nothing."""
    path, n = tmp_path / "ledger.sqlite", 2000
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(n)], env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        reader = Ledger(path)
        for _ in range(3):  # concurrent readers see whole committed runs only (WAL)
            seen = reader.forecasts("p", latest_only=False).groupby("run_id").size()
            assert (seen == n).all()
            time.sleep(0.3)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        per_run = conn.execute("SELECT run_id, COUNT(*), MIN(committed), MAX(committed) FROM forecasts "
                               "GROUP BY run_id").fetchall()
    assert per_run and all(count == n and lo == hi for _, count, lo, hi in per_run), per_run[-3:]
    ledger = Ledger(path)
    ledger.discard_uncommitted("p")
    everything = ledger.forecasts("p", include_uncommitted=True, latest_only=False)
    assert (everything["committed"] == 1).all() and len(everything) % n == 0
