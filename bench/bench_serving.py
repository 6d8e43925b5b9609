"""Serving speed of a champion's pyfunc model (issue 12): warm latency and cold start.

A champion like the hourly skill pipeline's (``pipelines/skill/chicago.yaml``: lookback 120,
horizon 24, calendar features, rolling conformal intervals over the last 720 windows) is trained
for one epoch on the last ``--rows`` rows of the shared Chicago file (accuracy is not the point
here), saved, logged as the MLflow ``pyfunc`` model the pipeline logs (throw-away SQLite store)
and loaded back with ``mlflow.pyfunc.load_model``. Then, for one series:

- warm latency of ``pyfunc.predict`` (= ``forecast`` from raw history), p50 and p99 over
  ``--repeats`` calls, for two requests: the input example the pipeline logs (``lookback + 1`` raw
  rows: static intervals) and a history long enough for rolling interval recalibration
  (``lookback + calibration_window + horizon - 1`` raw rows);
- where the warm time goes (``--profile``: cProfile of the long request, top functions);
- cold start: a new process that imports, loads the model from the store and forecasts once,
  from process start to the forecast (median of ``--cold`` runs).

Usage::

    python bench/bench_serving.py                 # about a minute on an idle machine
    python bench/bench_serving.py --profile --repeats 100 --cold 3

Without ``../shared/data`` (or ``--data DIR``) it says so and exits 0.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
PIPELINE = REPO / "pipelines" / "skill" / "chicago.yaml"
#: ``../shared/data`` beside the checkout (or beside the folder of a git worktree, /work/wt/NAME).
SHARED_DATA = next((p for p in (REPO.parent / "shared" / "data", REPO.parents[1] / "shared" / "data") if p.exists()),
                   REPO.parent / "shared" / "data")

COLD = """
import os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import mlflow, pandas as pd
mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.pyfunc.load_model(sys.argv[2])
out = model.predict(pd.read_csv(sys.argv[3]))
print("ROWS", len(out))
"""


def train_champion(rows: int, workdir: Path, data_dir: Path):
    """(model_uri, tracking_uri, raw history DataFrame, cfg) of a one-epoch champion."""
    import mlflow

    from forecaster.comparison.candidates import rnn_params
    from forecaster.comparison.plans import plan_candidates
    from forecaster.config import load_config
    from forecaster.data import load_dataset
    from forecaster.estimator import RNNForecaster
    from forecaster.tracking.pyfunc_model import log_forecaster_model

    cfg = load_config(PIPELINE)
    cfg.data.path = str(data_dir / Path(cfg.data.path).name)
    loaded = load_dataset(cfg.data, cfg.window.lookback, cfg.window.horizon, cfg.split.val, cfg.split.test)
    frame = loaded.frame.tail(rows).reset_index(drop=True)
    params = {**rnn_params(cfg, plan_candidates(cfg)[0]), "epochs": 1, "patience": 0}
    est = RNNForecaster(**params).fit(frame)
    est.save(workdir / "champion")
    tracking_uri = f"sqlite:///{workdir / 'mlflow.db'}"
    mlflow.set_tracking_uri(tracking_uri)
    raw = pd.read_csv(cfg.data.path)
    with mlflow.start_run():
        uri = log_forecaster_model(workdir / "champion", input_example=raw.tail(cfg.window.lookback + 1))
    return uri, tracking_uri, raw, cfg


def latencies(model, request: pd.DataFrame, repeats: int) -> tuple[np.ndarray, np.ndarray]:
    """Wall and process-CPU milliseconds of each warm call (CPU time: what a busy machine's other
    processes disturb least)."""
    model.predict(request)  # warm-up: first call traces
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        model.predict(request)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return np.asarray(wall) * 1000, np.asarray(cpu) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=4000, help="training rows (end of the file)")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--cold", type=int, default=3, help="cold-start processes")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="the shared data folder")
    args = parser.parse_args()
    if not args.data.exists():
        print(f"{args.data} not found: nothing to measure")
        return
    import mlflow

    with tempfile.TemporaryDirectory(prefix="bench-serving-") as scratch:
        workdir = Path(scratch)
        uri, tracking_uri, raw, cfg = train_champion(args.rows, workdir, args.data)
        model = mlflow.pyfunc.load_model(uri)
        lookback, horizon = cfg.window.lookback, cfg.window.horizon
        requests = {
            f"input example ({lookback + 1} rows)": raw.tail(lookback + 1),
            f"rolling intervals ({lookback + cfg.evaluation.calibration_window + horizon - 1} rows)":
                raw.tail(lookback + cfg.evaluation.calibration_window + horizon - 1),
        }
        load = os.getloadavg()
        print(f"warm pyfunc.predict, one series, {args.repeats} calls after one warm-up; "
              f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        for name, request in requests.items():
            ms, cpu = latencies(model, request, args.repeats)
            print(f"  {name:36s} p50 {np.percentile(ms, 50):7.1f} ms   p99 {np.percentile(ms, 99):7.1f} ms   "
                  f"(CPU p50 {np.percentile(cpu, 50):6.1f} ms, p99 {np.percentile(cpu, 99):6.1f} ms)", flush=True)
        if args.profile:
            profiler = cProfile.Profile()
            request = list(requests.values())[-1]
            profiler.enable()
            for _ in range(10):
                model.predict(request)
            profiler.disable()
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
            print(text.getvalue())
        request_path = workdir / "request.csv"
        list(requests.values())[0].to_csv(request_path, index=False)
        cold = []
        env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        for _ in range(args.cold):
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", COLD, tracking_uri, uri, str(request_path)],
                                  env=env, capture_output=True, text=True)
            if proc.returncode != 0 or "ROWS" not in proc.stdout:
                sys.stderr.write(proc.stderr[-3000:])
                raise SystemExit("the cold-start process failed")
            cold.append(time.perf_counter() - start)
        if not cold:
            return
        load = os.getloadavg()
        print(f"cold start (process start -> first forecast, input example): median {statistics.median(cold):.1f} s "
              f"of {[round(c, 1) for c in cold]}; load average {load[0]:.2f}")


if __name__ == "__main__":
    main()
