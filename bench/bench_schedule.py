"""A replayed daily schedule: cold against warm-started retraining, and the live accuracy of the forecasts.

The bundled Seattle data is daily. Day 0 is the data up to ``--days`` days before its end; each
following day adds one more day of real data, like a nightly ``forecaster run``. Each day, in
alternating order (cold first on even days, warm first on odd ones, so a change of machine load
hits both modes alike):

* cold: the candidate is trained from random weights;
* warm: the same candidate starts from the warm chain's champion (yesterday's warm model), through
  the same ``train_candidate`` the pipeline uses (``warm_start_from``), with the pipeline's warm
  fine-tuning budget (``training.warm_epochs``, ``warm_patience``, ``warm_learning_rate``; their
  defaults unless ``--set`` changes them) and the champion's own weights kept when no epoch beats
  them on validation;
* each mode's model is its chain's champion for the next day (no gate in the replay: a chain always
  serves its newest model); its forecast from the end of the data goes into that chain's forecast
  ledger, and the ledger is scored against the data as it stands that day (live MAE of the days
  arrived).

Recorded per day and mode: training CPU and wall seconds (``train_cpu_seconds``: from the call of
``train_candidate`` to the end of Keras ``fit``, i.e. preprocessing, building the network, loading
the champion's weights, fitting with early stopping; ``keras_fit_cpu_seconds``: the ``fit`` part
only; ``candidate_cpu_seconds``: the whole call, evaluation and saving included), epochs run, whether
the champion's weights were kept, validation and test MAE (each day's own split of the data it
has), and the live MAE, relative MAE and coverage so far. CPU seconds are this process's (all its
threads); wall seconds depend on the machine's load.

Selection leakage: the warm chain's champion was early-stopped on yesterday's validation rows, most
of which are today's validation rows, so a warm candidate's val MAE is optimistic. Today's test
rows lie after every row the champion's lineage saw (the split fractions only move forward as days
are added); the replay checks that each day (``test_after_champion``) and the summary says so.

Target (issue 16): warm at least 2x faster (CPU seconds of training) for the same accuracy (mean
test and val MAE over the runs within 1% of cold's).

Run:  nice -n 10 python bench/bench_schedule.py                   (30 days; writes bench/results/schedule.csv)
      python bench/bench_schedule.py --days 2 --epochs 3            (a quick look)
      python bench/bench_schedule.py --summarise bench/results/schedule.csv
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import pandas as pd

from forecaster.comparison.candidates import train_candidate
from forecaster.comparison.plans import plan_candidates
from forecaster.config import load_config
from forecaster.estimator import load_forecaster
from forecaster.lifecycle.ledger import Ledger, ledger_rows
from forecaster.lifecycle.monitoring import live_scores, score_rows
from forecaster.pipeline import load_data, split_frame

ROOT = Path(__file__).resolve().parents[1]


class CpuMarks(keras.callbacks.Callback):
    """Process CPU and wall clock when Keras ``fit`` begins and ends (passed last: it ends after
    early stopping and the warm start's restore)."""

    def on_train_begin(self, logs=None):
        self.begin = (time.process_time(), time.perf_counter())

    def on_train_end(self, logs=None):
        self.end = (time.process_time(), time.perf_counter())


class KeptStart(logging.Handler):
    """Notices the log line of a warm candidate that kept the champion's weights."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.kept = False

    def emit(self, record):
        self.kept = self.kept or "kept them" in record.getMessage()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default=str(ROOT / "pipelines" / "smoke.yaml"))
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--epochs", type=int, help="cold candidates' maximum epochs (default: the pipeline's)")
    parser.add_argument("--patience", type=int, help="cold candidates' early-stopping patience (default: the pipeline's)")
    parser.add_argument("--batch-size", type=int, help="default: the pipeline's")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="more pipeline overrides, e.g. training.warm_epochs=5")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "schedule.csv"))
    parser.add_argument("--summarise", metavar="CSV",
                        help="only print the summary of an earlier replay's CSV (also one cut short)")
    args = parser.parse_args()
    if args.summarise:
        summarise(pd.read_csv(args.summarise))
        return

    overrides = [f"data.path={ROOT / 'data' / 'seattle_weather.csv'}", "models=[{cell: lstm, units: 16}]",
                 "clipping=none", "training.blend=false"]
    for key, value in (("epochs", args.epochs), ("patience", args.patience), ("batch_size", args.batch_size)):
        overrides += [f"training.{key}={value}"] if value is not None else []
    cfg = load_config(args.pipeline, overrides=[*overrides, *args.set])
    t = cfg.training
    print(f"cold: epochs {t.epochs}, patience {t.patience}, learning rate {t.learning_rate:g}; warm: warm_epochs "
          f"{t.warm_epochs}, warm_patience {t.warm_patience}, warm_learning_rate {t.warm_learning_rate}; batch "
          f"{t.batch_size}, seed {t.seed}; load {os.getloadavg()[0]:.1f}", flush=True)
    full = load_data(cfg).frame
    (plan,) = plan_candidates(cfg)
    days = sorted(full["timestamp"].unique())[-(args.days + 1):]
    rows = []
    kept = KeptStart()
    logging.getLogger("forecaster").addHandler(kept)
    logging.getLogger("forecaster").setLevel(logging.INFO)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-schedule-") as tmp:
        tmp = Path(tmp)
        ledger = Ledger.in_state_dir(tmp)
        champion = {"cold": None, "warm": None}
        seen_until = None  # the last row (timestamp) the warm champion's lineage trained or early-stopped on
        for d, day in enumerate(days):
            frame = full[full["timestamp"] <= day].reset_index(drop=True)
            split = split_frame(cfg, frame)
            test_start = split.loc[split["split"] == "test", "timestamp"].min()
            for mode in (("cold", "warm") if d % 2 == 0 else ("warm", "cold")):
                if d == 0 and mode == "warm":  # day 0: one cold model is both chains' first champion
                    continue
                marks, kept.kept = CpuMarks(), False
                cpu, wall = time.process_time(), time.perf_counter()
                result = train_candidate(cfg, plan, split, tmp / f"{mode}-{d}", callbacks=[marks],
                                         warm_start_from=champion["warm"] if mode == "warm" else None)
                cpu_end, wall_end = time.process_time(), time.perf_counter()
                for chain in (("cold", "warm") if d == 0 else (mode,)):
                    champion[chain] = result.model_dir
                model = load_forecaster(result.model_dir)
                forecast = ledger_rows(model.predict(frame), frame, list(cfg.data.target))
                for chain in (("cold", "warm") if d == 0 else (mode,)):
                    ledger.stage(f"{chain}-{d}", chain, forecast, served_by=mode, model_version=str(d))
                    ledger.commit(f"{chain}-{d}")
                live = live_scores(score_rows(ledger.forecasts(mode), frame))
                rows.append({
                    "day": pd.Timestamp(day).date(), "mode": mode, "warm_start": result.params["warm_start"],
                    "kept_champion": kept.kept,
                    "train_cpu_seconds": marks.end[0] - cpu, "train_wall_seconds": marks.end[1] - wall,
                    "keras_fit_cpu_seconds": marks.end[0] - marks.begin[0],
                    "candidate_cpu_seconds": cpu_end - cpu, "candidate_wall_seconds": wall_end - wall,
                    "epochs_run": result.metrics["epochs_run"],
                    "val_mae": result.val_mae, "test_mae": result.metrics["test_mae"],
                    "test_after_champion": None if mode == "cold" else bool(seen_until < test_start),
                    "live_n": live.n, "live_mae": live.mae, "live_rel_mae": live.rel_mae,
                    "live_coverage": live.coverage, "load_1min": os.getloadavg()[0]})
                pd.DataFrame(rows).to_csv(args.output, index=False)  # so far: a killed replay keeps its days
                r = rows[-1]
                print(f"{r['day']} {mode:4s} epochs={r['epochs_run']:.0f}{' kept' if r['kept_champion'] else ''} "
                      f"train_cpu={r['train_cpu_seconds']:.2f}s wall={r['train_wall_seconds']:.1f}s "
                      f"val_mae={r['val_mae']:.4f} test_mae={r['test_mae']:.4f} live_mae={r['live_mae']:.4f} "
                      f"(n={r['live_n']}) load={r['load_1min']:.1f}", flush=True)
            # every row before today's test rows was train or val today: the next champion saw up to there
            seen_until = split.loc[split["split"] != "test", "timestamp"].max()
    summarise(pd.DataFrame(rows))
    print(f"written: {args.output}")


def summarise(table: pd.DataFrame) -> None:
    """Means per mode over the days both modes trained, and warm against cold."""
    both = table.groupby("day")["mode"].nunique()
    runs = table[table["day"].isin(both[both == 2].index)]  # day 0 (and a day cut short) has no warm run
    cols = ["train_cpu_seconds", "train_wall_seconds", "keras_fit_cpu_seconds", "candidate_cpu_seconds",
            "epochs_run", "val_mae", "test_mae"]
    by = runs.groupby("mode")[cols].mean()
    last = runs.groupby("mode").tail(1).set_index("mode")[["live_n", "live_mae", "live_rel_mae", "live_coverage"]]
    print(f"\n{len(runs) // 2} daily retrains per mode (means; live scores over every forecast scored):")
    print(by.join(last).T.to_string(float_format="{:.4f}".format))
    c, w = by.loc["cold"], by.loc["warm"]
    warm = runs[runs["mode"] == "warm"]
    unseen = warm["test_after_champion"].astype(str).eq("True").sum()
    speed = c["train_cpu_seconds"] / w["train_cpu_seconds"]
    val, test = w["val_mae"] / c["val_mae"] - 1, w["test_mae"] / c["test_mae"] - 1
    live = last.loc["warm", "live_mae"] / last.loc["cold", "live_mae"] - 1
    met = speed >= 2 and val <= 0.01 and test <= 0.01  # "same accuracy": at most 1% worse
    print(f"\nwarm vs cold: training {speed:.2f}x faster in CPU ({c['train_cpu_seconds']:.2f} vs "
          f"{w['train_cpu_seconds']:.2f} s), {c['train_wall_seconds'] / w['train_wall_seconds']:.2f}x in wall, "
          f"{c['candidate_cpu_seconds'] / w['candidate_cpu_seconds']:.2f}x in CPU of the whole candidate "
          f"(evaluation and saving included), epochs {c['epochs_run']:.1f} vs {w['epochs_run']:.1f}; "
          f"val MAE {val:+.2%}, test MAE {test:+.2%}, live MAE {live:+.2%}; champion's weights kept on "
          f"{int(warm['kept_champion'].astype(str).eq('True').sum())} of {len(warm)} days; test rows after the "
          f"champion's cut-off on {unseen} of {len(warm)} days; load {runs['load_1min'].min():.1f}-"
          f"{runs['load_1min'].max():.1f}; target (>= 2x CPU, val and test MAE at most 1% worse): "
          f"{'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
