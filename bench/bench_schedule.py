"""A replayed daily schedule: cold against warm-started retraining, and the live accuracy of the forecasts.

The bundled Seattle data is daily. Day 0 is the data up to ``--days`` days before its end; each
following day adds one more day of real data, like a nightly ``forecaster run``. Each day:

* cold: the candidate is trained from random weights (``training.warm_start: false``);
* warm: the same candidate starts from yesterday's warm model (yesterday's champion), through
  the same ``train_candidate`` the pipeline uses (``warm_start_from``);
* both record their forecast from the end of the data in a forecast ledger (one per mode), and
  the ledger is scored against the data as it stands that day (live MAE of the days arrived).

Recorded per day and mode: training wall and CPU seconds, epochs run, validation and test MAE
(each day's own split of the data it has), and at the end the live MAE, relative MAE and coverage.
Target (issue 16): warm at least 2x faster for the same accuracy (within 1%).

The model is deliberately small (61 fits; about 6 s of CPU per cold fit, 4 s per warm one), yet the replay took 62
minutes here, on 2 cores at load average 11-24 shared with other work (most of it waiting for CPU):
``pipelines/smoke.yaml`` with one LSTM of 16 units, no clipping study, at most 20 epochs,
patience 2, batch 128 (early stopping on validation loss, best weights restored). Day 0's cold
model is the first champion of both chains, and its forecast is in both ledgers.

Run:  python bench/bench_schedule.py                    (30 days; writes bench/results/schedule.csv)
      python bench/bench_schedule.py --days 3 --epochs 5    (a quick look)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pandas as pd

from forecaster.comparison import plan_candidates, train_candidate
from forecaster.config import load_config
from forecaster.estimator import load_forecaster
from forecaster.ledger import Ledger, ledger_rows
from forecaster.monitoring import live_scores, score_rows
from forecaster.pipeline import load_data, split_frame

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default=str(ROOT / "pipelines" / "smoke.yaml"))
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "schedule.csv"))
    parser.add_argument("--summarise", metavar="CSV",
                        help="only print the summary of an earlier replay's CSV (also one cut short)")
    args = parser.parse_args()
    if args.summarise:
        summarise(pd.read_csv(args.summarise))
        return

    cfg = load_config(args.pipeline, overrides=[
        f"data.path={ROOT / 'data' / 'seattle_weather.csv'}", "models=[{cell: lstm, units: 16}]",
        "clipping=none", f"training.epochs={args.epochs}", "training.patience=2", "training.batch_size=128",
        "training.blend=false"])
    full = load_data(cfg).frame
    (plan,) = plan_candidates(cfg)
    days = sorted(full["timestamp"].unique())[-(args.days + 1):]
    rows = []
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-schedule-") as tmp:
        tmp = Path(tmp)
        ledger = Ledger.in_state_dir(tmp)
        champion = {"cold": None, "warm": None}
        for d, day in enumerate(days):
            frame = full[full["timestamp"] <= day].reset_index(drop=True)
            data_ref = tmp / "frame.pkl"
            split_frame(cfg, frame).to_pickle(data_ref)
            for mode in ("cold", "warm"):
                if d == 0 and mode == "warm":  # day 0: one cold model is both chains' first champion
                    champion["warm"] = champion["cold"]
                    ledger.stage("warm-0", "warm", day0_rows, served_by="cold", model_version="0")
                    ledger.commit("warm-0")
                    continue
                warm_from = champion["warm"] if mode == "warm" else None
                cpu, wall = time.process_time(), time.perf_counter()
                result = train_candidate(cfg, plan, data_ref, tmp / f"{mode}-{d}", warm_start_from=warm_from)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                champion[mode] = result.model_dir
                model = load_forecaster(result.model_dir)
                forecast = model.predict(frame)
                day0_rows = ledger_rows(forecast, frame, list(cfg.data.target))
                ledger.stage(f"{mode}-{d}", mode, day0_rows, served_by=mode, model_version=str(d))
                ledger.commit(f"{mode}-{d}")
                live = live_scores(score_rows(ledger.forecasts(mode), frame))
                rows.append({"day": pd.Timestamp(day).date(), "mode": mode, "warm_start": result.params["warm_start"],
                             "train_seconds": result.metrics["train_seconds"], "fit_cpu_seconds": cpu,
                             "fit_wall_seconds": wall, "epochs_run": result.metrics["epochs_run"],
                             "val_mae": result.val_mae, "test_mae": result.metrics["test_mae"],
                             "live_n": live.n, "live_mae": live.mae, "live_rel_mae": live.rel_mae,
                             "live_coverage": live.coverage})
                pd.DataFrame(rows).to_csv(args.output, index=False)  # so far: a killed replay keeps its days
                r = rows[-1]
                print(f"{r['day']} {mode:4s} epochs={r['epochs_run']:.0f} train={r['train_seconds']:.1f}s "
                      f"val_mae={r['val_mae']:.4f} test_mae={r['test_mae']:.4f} live_mae={r['live_mae']:.4f} "
                      f"(n={r['live_n']})", flush=True)
    summarise(pd.DataFrame(rows))
    print(f"written: {args.output}")


def summarise(table: pd.DataFrame) -> None:
    """Means per mode over the days both modes trained, and warm against cold."""
    both = table.groupby("day")["mode"].nunique()
    runs = table[table["day"].isin(both[both == 2].index)]  # day 0 (and a day cut short) has no warm run
    table = runs
    by = runs.groupby("mode")[["train_seconds", "fit_cpu_seconds", "epochs_run", "val_mae", "test_mae"]].mean()
    last = table.groupby("mode").tail(1).set_index("mode")[["live_n", "live_mae", "live_rel_mae", "live_coverage"]]
    print(f"\n{len(runs) // 2} daily retrains per mode (means; live scores over every forecast scored):")
    print(by.join(last).to_string(float_format="{:.4f}".format))
    c, w = by.loc["cold"], by.loc["warm"]
    print(f"\nwarm vs cold: training time {c['train_seconds'] / w['train_seconds']:.2f}x faster (wall), "
          f"{c['fit_cpu_seconds'] / w['fit_cpu_seconds']:.2f}x (CPU of the whole fit), epochs "
          f"{c['epochs_run'] / w['epochs_run']:.2f}x fewer; val MAE {w['val_mae'] / c['val_mae'] - 1:+.2%}, "
          f"test MAE {w['test_mae'] / c['test_mae'] - 1:+.2%}, live MAE "
          f"{last.loc['warm', 'live_mae'] / last.loc['cold', 'live_mae'] - 1:+.2%}")


if __name__ == "__main__":
    main()
