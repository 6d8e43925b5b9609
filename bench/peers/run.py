"""forecaster against bare Keras, Darts and NeuralForecast, side by side, interleaved (issue 12).

The same model everywhere: two stacked LSTM(32) layers and a direct 24-step linear head, trained
with Adam (learning rate 1e-3) on MSE, batch 256, on the same windows of the shared hourly data
(Chicago O'Hare 2010-2016, 6 columns standardised on the training rows, target ``T (degC)``,
lookback 120, horizon 24, split 50/25/25 by time; the training windows are every window of the
training rows, counted and checked in each peer). Each implementation runs in its own process,
once per round, the order rotating from round to round so the machine's load hits all alike.

Reported per implementation (medians over rounds): wall and CPU seconds per epoch (epochs after
the first), training samples per second (wall), start-up seconds (process launch to the first
epoch), peak memory (max RSS), and test MAE (degC, every 24th test window) after N epochs.
No per-epoch validation pass in any of them (the same work everywhere).

The PyTorch peers run in their own virtualenv, ``bench/peers/.venv``, created on first use from
``bench/peers/requirements.txt`` (CPU PyTorch 2.13.0 from this machine's disk); they are never a
dependency of the package.

Usage::

    python bench/peers/run.py                         # 3 rounds x 4 implementations, 3 epochs
    python bench/peers/run.py --rounds 2 --epochs 3 --only forecaster,keras
    python bench/peers/run.py --torch-threads 2       # PyTorch threads (default 1, as issue 12)
    python bench/peers/run.py --only forecaster,forecaster:inter=1,forecaster:inter=1+intra=1
    python bench/peers/run.py --only forecaster,forecaster:bfc=0+xla=0,keras,keras:bfc=1

Without ``../shared/data`` (or ``--data DIR``) it says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import venv
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
FILE = "chicago_ohare_hourly_2010_2016.csv"
VENV = HERE / ".venv"
IMPLS = ("forecaster", "keras", "darts", "neuralforecast")
LOOKBACK, HORIZON = 120, 24


def prepare(data_file: Path, out: Path) -> dict:
    """Write the windows file: standardised values, training and test window starts."""
    import pandas as pd

    from forecaster.data.splits import assign_splits
    from forecaster.windowing import window_starts

    raw = pd.read_csv(data_file, parse_dates=["date"])
    columns = ["T (degC)", "p (mbar)", "rh (%)", "VPmax (mbar)", "wv (m/s)", "Tdew (degC)"]
    if raw[columns].isna().any().any() or raw["date"].diff().iloc[1:].nunique() != 1:
        raise SystemExit(f"{data_file}: expected a gap-free hourly file without missing values")
    frame = pd.DataFrame({"series_id": "s", "timestamp": raw["date"], **{c: raw[c] for c in columns}})
    frame["split"] = assign_splits(frame, val=0.25, test=0.25).to_numpy()
    train = frame["split"] == "train"
    mean, std = frame.loc[train, columns].mean(), frame.loc[train, columns].std()
    values = ((frame[columns] - mean) / std).to_numpy(np.float32)
    starts = window_starts(frame, LOOKBACK, HORIZON)
    train_end = int(train.sum())
    arrays = dict(values=values, train_starts=starts["train"].astype(np.int64),
                  test_starts=starts["test"][::HORIZON].astype(np.int64), train_end=np.int64(train_end),
                  target_mean=np.float64(mean.iloc[0]), target_std=np.float64(std.iloc[0]))
    if len(arrays["train_starts"]) != train_end - LOOKBACK - HORIZON + 1:
        raise SystemExit("training windows are not every window of the training rows")
    np.savez(out, **arrays)
    return {"rows": len(frame), "train_rows": train_end, "train_windows": len(arrays["train_starts"]),
            "test_windows": len(arrays["test_starts"]), "features": len(columns)}


def peer_python() -> Path:
    """The peers' virtualenv python, created from requirements.txt when missing."""
    python = VENV / "bin" / "python"
    if not (VENV / ".ready").exists():
        print(f"creating {VENV} (a few minutes) ...", flush=True)
        venv.create(VENV, with_pip=True)
        pip = [str(python), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "torch==2.13.0"], check=True)  # the CPU wheel on this disk, first
        subprocess.run([*pip, "-r", str(HERE / "requirements.txt")], check=True)
        (VENV / ".ready").write_text("ok\n")
    return python


def parse_impl(spec: str) -> tuple[str, dict[str, str]]:
    """``forecaster`` or a variant ``forecaster:inter=1+intra=2`` (TensorFlow thread counts, via
    TF_NUM_INTEROP_THREADS / TF_NUM_INTRAOP_THREADS; ``xla=0``/``xla=1``: forecaster's
    ``jit_compile`` False/True instead of its default; ``bfc=0``/``bfc=1``: TensorFlow's CPU
    allocator, the system's or its own pool, ``TF_CPU_ALLOCATOR_USE_BFC``, which ``import
    forecaster`` turns on by default and bare Keras does not; ``onednn=0``/``onednn=1``: TensorFlow's
    oneDNN kernels off/on, ``TF_ENABLE_ONEDNN_OPTS``, whose default depends on the CPU; ablations of
    forecaster's epoch: ``data=arrays``, the windows materialised and batched by Keras instead of
    ``make_dataset``'s gather per batch, ``fit=keras``, plain Adam and ``model.fit`` instead of
    ``train_model``'s telemetry optimizer, callbacks and XLA choice) -> (implementation, extra environment)."""
    impl, _, options = spec.partition(":")
    env = {}
    for option in filter(None, options.split("+")):
        key, _, value = option.partition("=")
        names = {"inter": "TF_NUM_INTEROP_THREADS", "intra": "TF_NUM_INTRAOP_THREADS", "xla": "PEER_XLA",
                 "bfc": "TF_CPU_ALLOCATOR_USE_BFC", "onednn": "TF_ENABLE_ONEDNN_OPTS", "data": "PEER_DATA",
                 "fit": "PEER_FIT"}
        words = {"data": ("arrays",), "fit": ("keras",)}
        ok = value in words[key] if key in words else value.isdigit()
        if impl not in ("forecaster", "keras") or key not in names or not ok:
            raise SystemExit(f"--only: a variant takes inter=N, intra=N, xla=0|1, bfc=0|1, onednn=0|1 and, on "
                             f"forecaster, data=arrays and/or fit=keras (joined by +) on forecaster or keras. "
                             f"Received: {spec}")
        env[names[key]] = {"0": "false", "1": "true"}.get(value, value) if key == "bfc" else value
    return impl, env


def run_one(spec: str, windows: Path, args) -> dict:
    launched = time.time()
    impl, extra_env = parse_impl(spec)
    if impl in ("forecaster", "keras"):
        cmd = [sys.executable, str(HERE / "keras_peer.py")]
        # This process imported forecaster (which sets TF_CPU_ALLOCATOR_USE_BFC): bare Keras runs
        # without it, as a user's own script would, unless the variant says otherwise.
        inherited = {k: v for k, v in os.environ.items() if not (impl == "keras" and k == "TF_CPU_ALLOCATOR_USE_BFC")}
        env = {**inherited, **extra_env,
               "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    else:
        cmd = [str(peer_python()), str(HERE / "torch_peer.py")]
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PEER_TORCH_THREADS"] = str(args.torch_threads)
    cmd += [impl, str(windows), str(args.epochs), str(args.seed), repr(launched)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stderr[-4000:])
        print(f"{spec} failed (exit {proc.returncode}); its error is above", flush=True)
        return None
    result = json.loads(lines[-1][len("RESULT "):])
    result["impl"] = spec
    return result


def summarise(results: list[dict]) -> list[dict]:
    rows = []
    for impl in dict.fromkeys(r["impl"] for r in results):
        runs = [r for r in results if r["impl"] == impl]
        wall = statistics.median(w for r in runs for w in r["epoch_wall"][1:])
        cpu = statistics.median(c for r in runs for c in r["epoch_cpu"][1:])
        rows.append({
            "impl": impl, "windows": runs[0]["n_windows"], "wall_s_epoch": wall, "cpu_s_epoch": cpu,
            "samples_s": runs[0]["n_windows"] / wall,
            "first_epoch_s": statistics.median(r["epoch_wall"][0] for r in runs),
            "startup_s": statistics.median(r["startup_s"] for r in runs),
            "peak_mib": statistics.median(r["peak_mib"] for r in runs),
            "mae": [r["test_mae"] for r in runs], "mae24": [r["test_mae_last_step"] for r in runs],
            "threads": runs[0]["threads"],
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (>= 2; the first is not timed)")
    parser.add_argument("--only", default=",".join(IMPLS))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="the shared data folder")
    parser.add_argument("--out", default=str(REPO / "bench" / "out" / "peers"))
    parser.add_argument("--table", action="store_true", help="print the table of OUT/results.json and stop")
    args = parser.parse_args()
    if args.table:
        print_table(json.loads((Path(args.out) / "results.json").read_text()))
        return
    impls = args.only.split(",")
    unknown = sorted({i.partition(":")[0] for i in impls} - set(IMPLS))
    if unknown or args.epochs < 2:
        parser.error(f"--only takes {','.join(IMPLS)} and --epochs >= 2. Received: --only={args.only} "
                     f"--epochs={args.epochs}")
    if not (args.data / FILE).exists():
        print(f"{args.data / FILE} not found: nothing to measure")
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    windows = out / "windows.npz"
    print("data:", prepare(args.data / FILE, windows), flush=True)
    for spec in impls:
        parse_impl(spec)
    if any(i in ("darts", "neuralforecast") for i in impls):
        peer_python()
    results = []
    for k in range(args.rounds):
        order = impls[k % len(impls):] + impls[:k % len(impls)]
        for impl in order:
            load = os.getloadavg()[0]
            r = run_one(impl, windows, args)
            if r is None:
                continue
            r.update(round=k + 1, load_before=load, load_after=os.getloadavg()[0])
            results.append(r)
            (out / "results.json").write_text(json.dumps(results, indent=1))  # kept if stopped early
            print(f"round {k + 1} {impl:15s} epochs wall {[round(w, 1) for w in r['epoch_wall']]} "
                  f"cpu {[round(c, 1) for c in r['epoch_cpu']]} start-up {r['startup_s']:.1f}s "
                  f"MAE {r['test_mae']:.3f} (24h {r['test_mae_last_step']:.3f}) load {load:.2f}", flush=True)
    print_table(results)


def print_table(results: list[dict]) -> None:
    loads = [r[k] for r in results for k in ("load_before", "load_after") if k in r]
    print(f"\n{max((r['round'] for r in results), default=0)} interleaved round(s); medians of the epochs after the "
          f"first; 1-min load average {min(loads, default=0):.1f}-{max(loads, default=0):.1f} during the runs")
    print("| implementation | windows | wall s/epoch | CPU s/epoch | samples/s | 1st epoch s | start-up s "
          "| peak MiB | test MAE (all steps) | MAE at 24 h | threads |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in summarise(results):
        print(f"| {r['impl']} | {r['windows']} | {r['wall_s_epoch']:.1f} | {r['cpu_s_epoch']:.1f} | "
              f"{r['samples_s']:.0f} | {r['first_epoch_s']:.1f} | {r['startup_s']:.1f} | {r['peak_mib']:.0f} | "
              f"{min(r['mae']):.3f}-{max(r['mae']):.3f} | {min(r['mae24']):.3f}-{max(r['mae24']):.3f} | "
              f"{r['threads']} |")


if __name__ == "__main__":
    main()
