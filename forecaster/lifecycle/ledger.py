"""The forecast ledger: every forecast a run served, kept to be scored when the actuals arrive.

One SQLite file, ``<state_dir>/ledger.sqlite`` (beside the run state, see
:func:`forecaster.statedir.default_state_dir`), in WAL mode so readers (``forecaster monitor``)
never block the writer and never see a half-written run. One row per forecast value:

==================  ==========================================================================
column              meaning
==================  ==========================================================================
run_id              the run that wrote the forecast (the MLflow parent run id)
pipeline            the pipeline name
store               the MLflow tracking URI the run used ('' when not given): a pipeline name on
                    two stores is two ledgers, as it is two locks
served_by           what served it: ``<registered model> v<N>`` or ``baseline <kind>``
model_version       the registered model version (text), NULL for a baseline
origin              the last observed timestamp of the series when the forecast was made
series_id, target   which series and target column
target_timestamp    the timestamp forecast
step                1..horizon
forecast, lower,    the forecast and its conformal interval
upper
last_value          the target's observed value at the origin (the same-origin persistence
                    forecast, from the history as it stood then)
committed           0 while the run is in flight, 1 once it committed
recorded_at         when the row was staged (UTC, ISO 8601)
==================  ==========================================================================

Writes happen in single transactions: :meth:`Ledger.stage` writes a run's rows with
``committed=0`` (all or nothing); :meth:`Ledger.commit` flips them to 1 in one statement at the
run's commit point. Readers only ever see committed rows; a run killed in between leaves rows
that :meth:`Ledger.discard_uncommitted` removes (the next run does this under its lock).
Timestamps are stored as ``YYYY-MM-DDTHH:MM:SS`` text, so they sort as time.

Example
-------
>>> import tempfile, pandas as pd
>>> ledger = Ledger.in_state_dir(tempfile.mkdtemp())
>>> rows = pd.DataFrame({"series_id": ["s"], "target": ["y"], "origin": [pd.Timestamp("2024-01-01")],
...                      "target_timestamp": [pd.Timestamp("2024-01-02")], "step": [1], "forecast": [1.5],
...                      "lower": [1.0], "upper": [2.0], "last_value": [1.2]})
>>> ledger.stage("run-1", "demo", rows, served_by="baseline persistence", model_version=None)
1
>>> len(ledger.forecasts("demo")), ledger.commit("run-1"), len(ledger.forecasts("demo"))
(0, 1, 1)
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import sqlite3
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from forecaster.statedir import default_state_dir

logger = logging.getLogger(__name__)

LEDGER_FILE = "ledger.sqlite"
TS_FORMAT = "%Y-%m-%dT%H:%M:%S"
COLUMNS = ("run_id", "pipeline", "store", "served_by", "model_version", "origin", "series_id", "target",
           "target_timestamp", "step", "forecast", "lower", "upper", "last_value", "committed", "recorded_at")
#: The columns a caller passes to :meth:`Ledger.stage` (see :func:`ledger_rows`).
ROW_COLUMNS = ("series_id", "target", "origin", "target_timestamp", "step", "forecast", "lower", "upper",
               "last_value")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS forecasts (
    run_id TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    store TEXT NOT NULL DEFAULT '',
    served_by TEXT NOT NULL,
    model_version TEXT,
    origin TEXT NOT NULL,
    series_id TEXT NOT NULL,
    target TEXT NOT NULL,
    target_timestamp TEXT NOT NULL,
    step INTEGER NOT NULL,
    forecast REAL NOT NULL,
    lower REAL,
    upper REAL,
    last_value REAL,
    committed INTEGER NOT NULL DEFAULT 0,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (run_id, series_id, target, step)
);
CREATE INDEX IF NOT EXISTS forecasts_by_pipeline ON forecasts (pipeline, store, committed, target_timestamp);
"""


def _ts(values) -> list[str]:
    return [pd.Timestamp(v).strftime(TS_FORMAT) for v in values]


def _float_or_none(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def ledger_rows(forecast: pd.DataFrame, history: pd.DataFrame, target: list[str]) -> pd.DataFrame:
    """The ledger rows of one forecast: its values plus each series' origin and last observed value.

    Parameters
    ----------
    forecast : DataFrame
        A forecast frame (``series_id, timestamp, step, forecast, lower, upper`` and ``target`` when
        there are several targets), as :meth:`WindowForecaster.predict` returns it.
    history : DataFrame
        The canonical frame the forecast was made from (``series_id, timestamp`` and the targets).
    target : list of str
        The target columns; the first one is used when ``forecast`` has no ``target`` column.

    Returns
    -------
    DataFrame with the columns :data:`ROW_COLUMNS`, one row per forecast row.
    """
    out = forecast.rename(columns={"timestamp": "target_timestamp"}).copy()
    out["series_id"] = out["series_id"].astype(str)
    if "target" not in out.columns:
        out["target"] = target[0]
    hist = history.assign(series_id=history["series_id"].astype(str)).sort_values(["series_id", "timestamp"])
    last = hist.groupby("series_id", sort=True).tail(1).set_index("series_id")
    out["origin"] = out["series_id"].map(last["timestamp"])
    out["last_value"] = [float(last.at[s, t]) for s, t in zip(out["series_id"], out["target"])]
    return out[list(ROW_COLUMNS)].reset_index(drop=True)


class Ledger:
    """The forecast ledger of every pipeline: one SQLite file (see the module docstring).

    Parameters
    ----------
    path : path-like
        The SQLite file; created (with its folder) on the first write, never by a read.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    @classmethod
    def in_state_dir(cls, state_dir: str | os.PathLike[str] | None = None) -> "Ledger":
        """The ledger beside the run state: ``<state_dir>/ledger.sqlite``."""
        return cls((Path(state_dir) if state_dir is not None else default_state_dir()) / LEDGER_FILE)

    @contextmanager
    def _connect(self, write: bool) -> Iterator[sqlite3.Connection]:
        if write:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
        with closing(sqlite3.connect(self.path, timeout=30.0, isolation_level=None)) as conn:
            if write:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.executescript(_SCHEMA)
            yield conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect(write=True) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # ------------------------------------------------------------------ writes
    def stage(self, run_id: str, pipeline: str, rows: pd.DataFrame, *, served_by: str,
              model_version: str | None, store: str = "") -> int:
        """Write a run's forecast rows, not yet committed, in one transaction; returns the count.

        Rows the same run staged before are replaced. ``rows`` has the columns :data:`ROW_COLUMNS`
        (see :func:`ledger_rows`).
        """
        missing = [c for c in ROW_COLUMNS if c not in rows.columns]
        if missing:
            raise ValueError(f"ledger rows lack the column(s) {missing}; columns: {list(rows.columns)}")
        now = _dt.datetime.now(_dt.timezone.utc).strftime(TS_FORMAT)
        records = [
            (run_id, pipeline, store, served_by, model_version, origin, str(sid), str(target), target_ts, int(step),
             float(fc), _float_or_none(lo), _float_or_none(up), _float_or_none(last), 0, now)
            for sid, target, origin, target_ts, step, fc, lo, up, last in zip(
                rows["series_id"], rows["target"], _ts(rows["origin"]), _ts(rows["target_timestamp"]),
                rows["step"], rows["forecast"], rows["lower"], rows["upper"], rows["last_value"])
        ]
        with self._transaction() as conn:
            conn.execute("DELETE FROM forecasts WHERE run_id = ?", (run_id,))
            conn.executemany(f"INSERT INTO forecasts ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                             records)
        logger.debug("ledger %s: staged %d rows of run %s", self.path, len(records), run_id)
        return len(records)

    def commit(self, run_id: str) -> int:
        """Mark every row of ``run_id`` committed, in one statement; returns the count.

        Idempotent (a journal applied again commits nothing new); no ledger file: nothing to do.
        """
        if not self.path.is_file():
            return 0
        with self._transaction() as conn:
            count = conn.execute("UPDATE forecasts SET committed = 1 WHERE run_id = ?", (run_id,)).rowcount
        logger.info("ledger: recorded %d forecast values of run %s in %s", count, run_id, self.path)
        return count

    def discard_uncommitted(self, pipeline: str, store: str = "") -> int:
        """Delete the rows of ``pipeline`` runs on ``store`` that never committed (call it holding the
        run lock of that pipeline and store)."""
        if not self.path.is_file():
            return 0
        with self._transaction() as conn:
            count = conn.execute("DELETE FROM forecasts WHERE pipeline = ? AND store = ? AND committed = 0",
                                 (pipeline, store)).rowcount
        if count:
            logger.warning("ledger: removed %d forecast values of an earlier run of %r that never committed",
                           count, pipeline)
        return count

    # ------------------------------------------------------------------- reads
    def forecasts(self, pipeline: str, store: str = "", *, include_uncommitted: bool = False,
                  latest_only: bool = True) -> pd.DataFrame:
        """The committed forecast rows of ``pipeline`` on ``store`` (columns :data:`COLUMNS`), timestamps parsed.

        ``latest_only``: when several committed runs forecast the same series, target and step from
        the same origin (a forced rerun), keep the most recently recorded one.
        """
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
        if not self.path.is_file():
            return empty
        query = ("SELECT * FROM forecasts WHERE pipeline = ? AND store = ?"
                 + ("" if include_uncommitted else " AND committed = 1"))
        with self._connect(write=False) as conn:
            try:
                frame = pd.read_sql_query(query, conn, params=(pipeline, store))
            except pd.errors.DatabaseError as exc:
                if "no such table" in str(exc):
                    return empty
                raise
        if frame.empty:
            return empty
        for col in ("origin", "target_timestamp"):
            frame[col] = pd.to_datetime(frame[col], format=TS_FORMAT)
        if latest_only:
            frame = frame.sort_values(["recorded_at", "run_id"], kind="stable")
            frame = frame.drop_duplicates(["origin", "series_id", "target", "step"], keep="last")
        return frame.sort_values(["target_timestamp", "origin", "series_id", "target", "step"],
                                 kind="stable").reset_index(drop=True)
