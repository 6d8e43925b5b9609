"""How the cost grows with the work: more series, more candidates, local vs Ray.

Usage::

    python bench/bench_scale.py series --series 10 100 1000        # per-stage seconds and peak memory
    python bench/bench_scale.py candidates --candidates 2 8 32      # --jobs 1, --jobs 2, --executor ray

``series``: N series of 2,000 hourly steps each from a seeded seasonal process (a daily cycle whose
amplitude and level differ per series, plus AR(1) noise; seed 0), written to a CSV, then through the
product's public functions: load (``read_raw``) -> validate (``frame_from_dataframe``) -> regularise
-> split (``assign_splits``) -> windows (``window_starts``) -> one training epoch
(``RNNForecaster(epochs=1).fit``: features, scaler, tf.data windows gathered per batch, a GRU of 8
units, batch 1,024). Each N runs in a fresh subprocess; per stage: seconds and the peak RSS growth
over the RSS before the stage (Linux ``VmHWM`` reset through ``/proc/self/clear_refs``), then the
growth exponent of each stage's seconds against total rows (least squares on log-log).

``candidates``: ``forecaster run`` on a small pipeline over the bundled Seattle data (1 epoch,
units 4..32, baselines: persistence only, no blend), with 2 / 8 / 32 candidates (models x clipping),
``--executor local --jobs 1``, ``--jobs 2`` and ``--executor ray --ray-address`` (a 2-CPU Ray head
on 127.0.0.1 started once by this script, as a cluster would be; its start-up is printed, not
counted). Reports wall time, the train stage, the Ray overhead against
``--jobs 2``, and the driver's MLflow logging time per candidate (track stage / child runs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STEPS = 2000
STAGES = ("load", "validate", "regularise", "split", "windows", "epoch")


# ---------------------------------------------------------------------------------------- series
def write_series(path: Path, n_series: int, steps: int = STEPS, seed: int = 0) -> None:
    """N seeded seasonal series (hourly, daily cycle + AR(1) noise) in one long CSV."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    stamps = pd.date_range("2020-01-01", periods=steps, freq="h").strftime("%Y-%m-%d %H:%M:%S")
    with path.open("w") as fh:
        fh.write("timestamp,station,y\n")
        for i in range(n_series):
            noise = np.zeros(steps)
            shocks = rng.normal(0, 0.5, steps)
            for k in range(1, steps):
                noise[k] = 0.8 * noise[k - 1] + shocks[k]
            y = 10 + 5 * rng.random() + (2 + 3 * rng.random()) * np.sin(2 * np.pi * t / 24 + rng.random()) + noise
            pd.DataFrame({"timestamp": stamps, "station": f"s{i:04d}", "y": np.round(y, 4)}).to_csv(
                fh, header=False, index=False)


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _stage(name: str, out: dict, fn, *args, **kwargs):
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS (VmHWM) to the current RSS
    before = _rss_kib("VmRSS")
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    out[name] = {"seconds": round(time.perf_counter() - started, 3),
                 "peak_mib": round((_rss_kib("VmHWM") - before) / 1024, 1)}
    return value


def series_child(n_series: int) -> dict:
    """One N, in this (fresh) process: every stage timed and its peak memory measured."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from forecaster.config import DataConfig
    from forecaster.data.reader import read_raw
    from forecaster.data.regularise import regularise
    from forecaster.data.validation import frame_from_dataframe
    from forecaster.estimator import RNNForecaster
    from forecaster.splits import assign_splits
    from forecaster.windowing import window_starts
    import tensorflow  # noqa: F401 - imported before timing, not part of a stage

    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        path = Path(tmp) / "series.csv"
        write_series(path, n_series)
        cfg = DataConfig.model_validate({"path": str(path), "timestamp_column": "timestamp",
                                         "timestamp_format": "%Y-%m-%d %H:%M:%S", "series_column": "station",
                                         "target": ["y"], "frequency": "1h"})
        out: dict = {"series": n_series, "rows": n_series * STEPS}
        raw = _stage("load", out, read_raw, path, cfg)
        frame = _stage("validate", out, frame_from_dataframe, raw, cfg, source=str(path))
        del raw
        frame, _ = _stage("regularise", out, regularise, frame, "1h", "mean", 3)
        frame["split"] = _stage("split", out, assign_splits, frame, 0.2, 0.2).to_numpy()
        starts = _stage("windows", out, window_starts, frame, 24, 6)
        out["train_windows"] = int(len(starts["train"]))
        est = RNNForecaster(target=["y"], lookback=24, horizon=6, cell="gru", units=8, epochs=1, batch_size=1024,
                            patience=1, seed=0)
        _stage("epoch", out, est.fit, frame)
        out["data_mib"] = round(frame.memory_usage(deep=True).sum() / 2**20, 1)
    return out


def exponent(rows: list[int], values: list[float]) -> float:
    x, y = np.log(np.asarray(rows, float)), np.log(np.maximum(np.asarray(values, float), 1e-6))
    return float(np.polyfit(x, y, 1)[0])


def bench_series(sizes: list[int]) -> list[dict]:
    results = []
    for n in sizes:
        proc = subprocess.run([sys.executable, __file__, "_series_child", str(n)], capture_output=True, text=True,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        if proc.returncode:
            sys.exit(f"series={n} failed:\n{proc.stderr[-3000:]}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(f"series={n:5d} rows={r['rows']:>9,d} data={r['data_mib']:7.1f} MiB  " + "  ".join(
            f"{s}={r[s]['seconds']:.2f}s/{r[s]['peak_mib']:+.0f}MiB" for s in STAGES), flush=True)
    if len(results) > 1:
        rows = [r["rows"] for r in results]
        print("growth exponent (seconds vs rows, fit over all sizes): " + "  ".join(
            f"{s}={exponent(rows, [r[s]['seconds'] for r in results]):.2f}" for s in STAGES))
        for a, b in zip(results, results[1:]):
            print(f"growth exponent {a['series']}->{b['series']} series: " + "  ".join(
                f"{s}={exponent([a['rows'], b['rows']], [a[s]['seconds'], b[s]['seconds']]):.2f}" for s in STAGES))
    return results


# ------------------------------------------------------------------------------------ candidates
MODELS = [{"cell": c, "units": u} for u in (4, 8) for c in ("rnn", "gru", "lstm")] + [
    {"cell": "gru", "units": 16}, {"cell": "lstm", "units": 16}]
CLIPPING = ["none", {"clipnorm": 1.0}, {"clipvalue": 0.5}, {"global_clipnorm": 1.0}]


def candidate_pipeline(n: int) -> dict:
    """A pipeline with ``n`` small candidates (2 -> 1 model x 2 clippings, 8 -> 4 x 2, 32 -> 8 x 4)."""
    n_clip = 2 if n <= 8 else 4
    n_models = n // n_clip
    if n_models * n_clip != n or n_models > len(MODELS):
        raise SystemExit(f"--candidates: {n} is not (1..{len(MODELS)}) models x 2 or 4 clippings")
    return {
        "name": f"scale{n}",
        "data": {"path": "data/seattle_weather.csv", "timestamp_column": "date", "timestamp_format": "%Y/%m/%d",
                 "target": ["temp_max"], "features": ["temp_min"], "frequency": "D"},
        "window": {"lookback": 14, "horizon": 3},
        "split": {"val": 0.25, "test": 0.25},
        "models": MODELS[:n_models],
        "clipping": CLIPPING[:n_clip],
        "training": {"epochs": 1, "batch_size": 128, "seed": 0, "blend": False},
        "baselines": ["persistence"],
        "tracking": {"experiment": f"scale{n}", "registered_model": f"scale{n}"},
        "output": {"forecast_path": f"forecasts/scale{n}.csv", "plot_path": None},
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def ray_head(cpus: int = 2):
    """A Ray head on 127.0.0.1 for the benchmark (own process group, stopped at the end)."""
    port = free_port()
    temp_dir = tempfile.mkdtemp(prefix="rayb-", dir="/tmp")
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    head = subprocess.Popen([str(Path(sys.executable).with_name("ray")), "start", "--head", "--block",
                             "--node-ip-address=127.0.0.1", f"--port={port}", f"--num-cpus={cpus}",
                             "--include-dashboard=false", f"--temp-dir={temp_dir}",
                             f"--ray-client-server-port={free_port()}"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        started = time.perf_counter()
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if head.poll() is not None or time.perf_counter() - started > 120:
                    raise SystemExit("the benchmark's Ray head did not start")
                time.sleep(0.5)
        print(f"Ray head on 127.0.0.1:{port} up in {time.perf_counter() - started:.1f}s", flush=True)
        yield f"127.0.0.1:{port}"
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(head.pid, sig)
            except ProcessLookupError:
                break
            time.sleep(5)
        shutil.rmtree(temp_dir, ignore_errors=True)


def run_candidates(n: int, mode: str, address: str | None = None) -> dict:
    import yaml

    args = {"jobs1": ["--jobs", "1"], "jobs2": ["--jobs", "2"],
            "ray": ["--executor", "ray", "--ray-address", str(address)]}[mode]
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        cwd = Path(tmp)
        (cwd / "data").mkdir()
        shutil.copy(ROOT / "data" / "seattle_weather.csv", cwd / "data")
        (cwd / "p.yaml").write_text(yaml.safe_dump(candidate_pipeline(n)))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "RAY_ADDRESS"))}
        env["RAY_AUTH_MODE"] = "disabled"
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "forecaster", "--log-format", "json", "run", "p.yaml", *args],
                              cwd=cwd, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
    stages = {}
    for line in proc.stderr.splitlines():
        try:
            text = json.loads(line).get("message", "")
        except json.JSONDecodeError:
            continue
        if text.startswith("stage ") and " done in " in text:
            name, seconds = text.split()[1], float(text.rsplit(" ", 1)[1].rstrip("s"))
            stages[name] = seconds
    if proc.returncode not in (0, 4):
        sys.exit(f"candidates={n} {mode} exit {proc.returncode}:\n{proc.stderr[-3000:]}")
    return {"candidates": n, "mode": mode, "wall_s": round(wall, 1), "stages": stages,
            "mlflow_s_per_candidate": round(stages.get("track", float("nan")) / (n + 1), 2)}


def bench_candidates(sizes: list[int], modes: list[str]) -> list[dict]:
    with ray_head() if "ray" in modes else nullcontext() as address:
        return _bench_candidates(sizes, modes, address)


def _bench_candidates(sizes: list[int], modes: list[str], address: str | None) -> list[dict]:
    results = []
    for n in sizes:
        row = {}
        for mode in modes:  # interleaved: every mode of one size before the next size
            r = run_candidates(n, mode, address)
            results.append(r)
            row[mode] = r
            print(f"candidates={n:3d} {mode:5s} wall={r['wall_s']:7.1f}s train={r['stages'].get('train', 0):7.1f}s "
                  f"track={r['stages'].get('track', 0):6.1f}s (MLflow {r['mlflow_s_per_candidate']:.2f}s/run)",
                  flush=True)
        if "ray" in row and "jobs2" in row:
            print(f"candidates={n:3d} Ray overhead vs --jobs 2: wall {row['ray']['wall_s'] / row['jobs2']['wall_s'] - 1:+.0%}"
                  f", train stage {row['ray']['stages']['train'] / row['jobs2']['stages']['train'] - 1:+.0%}", flush=True)
    return results


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "_series_child":
        print(json.dumps(series_child(int(sys.argv[2]))))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="part", required=True)
    s = sub.add_parser("series")
    s.add_argument("--series", nargs="+", type=int, default=[10, 100, 1000])
    c = sub.add_parser("candidates")
    c.add_argument("--candidates", nargs="+", type=int, default=[2, 8, 32])
    c.add_argument("--modes", nargs="+", choices=("jobs1", "jobs2", "ray"), default=["jobs1", "jobs2", "ray"])
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()}", flush=True)
    if args.part == "series":
        results = bench_series(args.series)
    else:
        results = bench_candidates(args.candidates, args.modes)
    print(f"load after: {os.getloadavg()}", flush=True)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / f"scale_{args.part}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
