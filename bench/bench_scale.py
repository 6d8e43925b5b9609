"""How the cost grows with the work: more series, more candidates, local vs Ray.

Usage::

    python bench/bench_scale.py series --series 10 100 1000        # per-stage seconds and peak memory
    python bench/bench_scale.py candidates --candidates 2 8 32      # --jobs 1, --jobs 2, --executor ray
    python bench/bench_scale.py shuffle --starts 1200000            # memory of the training shuffle
    python bench/bench_scale.py length --shapes 1000x2000 20000x100  # CPU of check_length (many series)

``series``: N series of 2,000 hourly steps each from a seeded seasonal process (a daily cycle whose
amplitude and level differ per series, plus AR(1) noise; seed 0), written to a CSV, then through the
product's public functions: load (``read_raw``) -> validate (``frame_from_dataframe``) -> regularise
-> split (``assign_splits``) -> windows (``window_starts``) -> one training epoch
(``RNNForecaster(epochs=1).fit``: features, scaler, tf.data windows gathered per batch, a GRU of 8
units, batch 1,024, then the validation forecasts for the intervals). Each N runs in a fresh
subprocess. Per stage: the least CPU and wall seconds over ``--repeats`` runs (the epoch runs once;
the machine is shared, so CPU seconds are the figure to compare and noise only ever adds time), and
the peak RSS growth over the RSS before the stage (Linux ``VmHWM`` reset through
``/proc/self/clear_refs``, after ``malloc_trim`` returned the freed heap to the system). Then the growth exponent of each stage against total rows between
consecutive sizes (``log(t2/t1) / log(rows2/rows1)``), and the epoch's peak memory growth per MiB of
frame (its slope between sizes, apart from TensorFlow's fixed start-up cost). The load average is
printed with each size.

``candidates``: ``forecaster run`` on a small pipeline over the bundled Seattle data (1 epoch,
units 4..16, baselines: persistence only, no blend), with 2 / 8 / 32 candidates (models x clipping),
``--executor local --jobs 1``, ``--jobs 2`` and ``--executor ray --ray-address`` (a 2-CPU Ray head
on 127.0.0.1 started once by this script, as a cluster would be; its start-up is printed, not
counted), interleaved: every mode of one size before the next size. Reports wall time, CPU seconds
(the driver and its child processes; with Ray plus what the head's live process tree and its reaped
children used: a lower bound, as the raylet's exited workers are not always counted), the
train stage, the Ray overhead against ``--jobs 2``, and the driver's MLflow logging time per run
(track stage / logged runs: the candidates and the baseline), the driver's share of the work.
"""

from __future__ import annotations

import argparse
import ctypes
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


def _trim() -> None:
    """Give the C heap's free memory back to the system (glibc ``malloc_trim``), so that memory freed
    by an earlier stage cannot absorb the next stage's allocations unseen in its RSS growth."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the growth may then be understated
        pass


def _stage(name: str, out: dict, repeats: int, fn, *args, **kwargs):
    """Run ``fn`` ``repeats`` times (it must not mutate its inputs): the least wall and CPU seconds
    (noise only ever adds time), and the peak RSS growth of the first run."""
    walls, cpus, peak = [], [], None
    for _ in range(repeats):
        value = None  # the previous repetition's result is freed before the next one is measured
        _trim()
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS (VmHWM) to the current RSS
        before = _rss_kib("VmRSS")
        started, cpu_started = time.perf_counter(), time.process_time()
        value = fn(*args, **kwargs)
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu_started)
        peak = (_rss_kib("VmHWM") - before) / 1024 if peak is None else peak
    out[name] = {"seconds": round(min(walls), 3), "cpu_seconds": round(min(cpus), 3),
                 "peak_mib": round(peak, 1), "repeats": repeats}
    return value


def phase_peaks():
    """A Keras callback splitting the epoch stage's peak RSS growth (over the RSS when it is made) in
    three phases: ``prepare`` (features, scaler, window starts, datasets, model, Keras's sample
    count), ``train`` (``model.fit``) and ``evaluate`` (the validation forecasts for the intervals)."""
    import keras

    class PhasePeaks(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            _trim()
            self.before, self.peaks = _rss_kib("VmRSS"), {}

        def _close(self, phase: str) -> None:
            self.peaks[phase] = round((_rss_kib("VmHWM") - self.before) / 1024, 1)
            Path("/proc/self/clear_refs").write_text("5")

        def on_train_begin(self, logs=None):
            self._close("prepare")

        def on_train_end(self, logs=None):
            self._close("train")

        def finish(self) -> dict:
            self._close("evaluate")
            return self.peaks

    return PhasePeaks()


def series_child(n_series: int, repeats: int = 3, epoch: bool = True) -> dict:
    """One N, in this (fresh) process: every stage timed and its peak memory measured."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from forecaster.config import DataConfig
    from forecaster.data.reader import read_raw
    from forecaster.data.regularise import regularise
    from forecaster.data.validation import frame_from_dataframe
    from forecaster.estimator import RNNForecaster
    from forecaster.data.splits import assign_splits
    from forecaster.windowing import window_starts
    import tensorflow  # noqa: F401 - imported before timing, not part of a stage

    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        path = Path(tmp) / "series.csv"
        write_series(path, n_series)
        cfg = DataConfig.model_validate({"path": str(path), "timestamp_column": "timestamp",
                                         "timestamp_format": "%Y-%m-%d %H:%M:%S", "series_column": "station",
                                         "target": ["y"], "frequency": "1h"})
        out: dict = {"series": n_series, "rows": n_series * STEPS, "load_avg_before": os.getloadavg()[0]}
        raw = _stage("load", out, repeats, read_raw, path, cfg)
        frame = _stage("validate", out, repeats, frame_from_dataframe, raw, cfg, source=str(path))
        del raw
        frame, _ = _stage("regularise", out, repeats, regularise, frame, "1h", "mean", 3)
        frame["split"] = _stage("split", out, repeats, assign_splits, frame, 0.2, 0.2).to_numpy()
        starts = _stage("windows", out, repeats, window_starts, frame, 24, 6)
        out["train_windows"] = int(len(starts["train"]))
        out["data_mib"] = round(frame.memory_usage(deep=True).sum() / 2**20, 1)
        # What materialising every training window would take: X (n, 24, 1) + y (n, 6, 1), float32.
        out["all_train_windows_mib"] = round(len(starts["train"]) * (24 + 6) * 4 / 2**20, 1)
        est = RNNForecaster(target=["y"], lookback=24, horizon=6, cell="gru", units=8, epochs=1, batch_size=1024,
                            patience=1, seed=0)
        if epoch:
            phases = phase_peaks()
            _stage("epoch", out, 1, est.fit, frame, callbacks=[phases])
            out["epoch"]["phases_mib"] = phases.finish()  # the phases reset the peak: the stage's is their max
            out["epoch"]["peak_mib"] = max(out["epoch"]["phases_mib"].values())
        else:  # --no-epoch: the data stages only
            out["epoch"] = {"seconds": float("nan"), "cpu_seconds": float("nan"), "peak_mib": float("nan"),
                            "repeats": 0}
        out["load_avg_after"] = os.getloadavg()[0]
    return out


def exponent(rows: list[int], values: list[float]) -> float:
    x, y = np.log(np.asarray(rows, float)), np.log(np.maximum(np.asarray(values, float), 1e-6))
    return float(np.polyfit(x, y, 1)[0])


def bench_series(sizes: list[int], repeats: int = 3, epoch: bool = True) -> list[dict]:
    results = []
    for n in sizes:
        proc = subprocess.run([sys.executable, __file__, "_series_child", str(n), str(repeats), str(int(epoch))],
                              capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        if proc.returncode:
            sys.exit(f"series={n} failed:\n{proc.stderr[-3000:]}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(f"series={n:5d} rows={r['rows']:>9,d} data={r['data_mib']:7.1f} MiB "
              f"(all training windows would be {r['all_train_windows_mib']:.1f} MiB), "
              f"load {r['load_avg_before']:.1f}-{r['load_avg_after']:.1f}; "
              "per stage CPU s / wall s / peak RSS growth:\n  " + "  ".join(
                  f"{s}={r[s]['cpu_seconds']:.2f}/{r[s]['seconds']:.2f}s/{r[s]['peak_mib']:+.0f}MiB" for s in STAGES),
              flush=True)
        if "phases_mib" in r["epoch"]:
            print("  epoch peak RSS growth by phase: " + "  ".join(
                f"{k}={v:+.0f}MiB" for k, v in r["epoch"]["phases_mib"].items()), flush=True)
    for a, b in zip(results, results[1:]):
        rows = [a["rows"], b["rows"]]
        for key in ("cpu_seconds", "seconds"):
            print(f"growth exponent of {key} {a['series']}->{b['series']} series: " + "  ".join(
                f"{s}={exponent(rows, [a[s][key], b[s][key]]):.2f}" for s in STAGES))
        if not b["epoch"]["repeats"]:
            continue
        slope = (b["epoch"]["peak_mib"] - a["epoch"]["peak_mib"]) / (b["data_mib"] - a["data_mib"])
        print(f"epoch peak RSS {a['series']}->{b['series']} series: +{a['epoch']['peak_mib']:.0f} -> "
              f"+{b['epoch']['peak_mib']:.0f} MiB, i.e. {slope:.2f} MiB per MiB of frame on top of a fixed part "
              f"(frame {a['data_mib']:.1f} -> {b['data_mib']:.1f} MiB)")
    return results


def shuffle_child(n_starts: int, shuffle: bool) -> dict:
    """RSS growth of ``make_dataset`` over ``n_starts`` window starts: after its first batch, and the
    peak over one whole epoch (with its CPU seconds)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow  # noqa: F401 - imported before measuring

    from forecaster.windowing import make_dataset

    values = np.random.default_rng(0).normal(size=(n_starts + 30, 1)).astype("float32")
    Path("/proc/self/clear_refs").write_text("5")
    before = _rss_kib("VmRSS")
    dataset = make_dataset(values, np.arange(n_starts), 24, 6, [0], 1024, shuffle=shuffle, seed=0)
    batches = iter(dataset)
    next(batches)
    first = round((_rss_kib("VmRSS") - before) / 1024, 1)
    started = time.process_time()
    for _ in batches:  # the rest of the epoch
        pass
    return {"starts": n_starts, "shuffle": shuffle, "rss_growth_mib": first,
            "epoch_peak_mib": round((_rss_kib("VmHWM") - before) / 1024, 1),
            "epoch_cpu_s": round(time.process_time() - started, 2)}


def bench_shuffle(n_starts: int) -> list[dict]:
    """The memory of tf.data's shuffle buffer: make_dataset with and without ``shuffle``."""
    results = []
    for shuffle in (True, False):
        proc = subprocess.run([sys.executable, __file__, "_shuffle_child", str(n_starts), str(int(shuffle))],
                              capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        if proc.returncode:
            sys.exit(f"shuffle={shuffle} failed:\n{proc.stderr[-3000:]}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(f"make_dataset over {n_starts:,d} starts, shuffle={shuffle}: +{r['rss_growth_mib']:.0f} MiB "
              f"RSS after the first batch, peak +{r['epoch_peak_mib']:.0f} MiB over the epoch "
              f"(iterated in {r['epoch_cpu_s']:.1f} CPU s)", flush=True)
    extra = results[0]["rss_growth_mib"] - results[1]["rss_growth_mib"]
    print(f"shuffle buffer: {extra:.0f} MiB, {extra * 2**20 / n_starts:.0f} bytes per window start")
    return results


def bench_length(shapes: list[str], repeats: int = 3) -> list[dict]:
    """CPU seconds of ``check_length`` (row counts, then the per-segment window check) on N series x
    S rows, one segment each: the least of ``repeats`` runs. ``PYTHONPATH`` at another checkout
    measures that one."""
    import pandas as pd

    from forecaster.data.length import check_length

    results = []
    for shape in shapes:
        n, steps = (int(v) for v in shape.split("x"))
        frame = pd.DataFrame({"series_id": np.repeat([f"s{i:06d}" for i in range(n)], steps),
                              "timestamp": np.tile(pd.date_range("2020", periods=steps, freq="h"), n),
                              "segment": 0})
        cpus = []
        for _ in range(repeats):
            started = time.process_time()
            check_length(frame, 24, 6, 0.2, 0.2, "bench")
            cpus.append(time.process_time() - started)
        results.append({"series": n, "steps": steps, "cpu_seconds": round(min(cpus), 3)})
        print(f"check_length over {n:,d} series x {steps:,d} rows: {min(cpus):.3f} CPU s (least of {repeats})",
              flush=True)
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
    """A Ray head on 127.0.0.1 for the benchmark (own session, stopped at the end): yields
    ``(address, session id)``."""
    port = free_port()
    temp_dir = tempfile.mkdtemp(prefix="rayb-", dir="/tmp")
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    head = subprocess.Popen([str(Path(sys.executable).with_name("ray")), "start", "--head", "--block",
                             "--node-ip-address=127.0.0.1", f"--port={port}", f"--num-cpus={cpus}",
                             "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp_dir}",
                             f"--ray-client-server-port={free_port()}", f"--node-manager-port={free_port()}",
                             f"--object-manager-port={free_port()}", f"--runtime-env-agent-port={free_port()}",
                             f"--dashboard-agent-listen-port={free_port()}", f"--metrics-export-port={free_port()}"],
                            env=env,
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
        yield f"127.0.0.1:{port}", head.pid
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(head.pid, sig)
            except ProcessLookupError:
                break
            time.sleep(5)
        shutil.rmtree(temp_dir, ignore_errors=True)


def session_cpu_seconds(session: int | None) -> float:
    """CPU seconds of every live process in a session (the Ray head's tree), reaped children included."""
    if session is None:
        return 0.0
    total, tick = 0, os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session:  # field 6 of stat: the session id
            total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total / tick


def run_candidates(n: int, mode: str, address: str | None = None, session: int | None = None) -> dict:
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
        env["FORECASTER_STATE_DIR"] = str(cwd / ".state")  # never the user's own run records
        load = os.getloadavg()[0]
        cluster_cpu = session_cpu_seconds(session) if mode == "ray" else 0.0
        children = os.times()
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "forecaster", "--log-format", "json", "run", "p.yaml", *args],
                              cwd=cwd, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        done = os.times()
        driver_cpu = (done.children_user - children.children_user) + (done.children_system - children.children_system)
        if mode == "ray":
            cluster_cpu = session_cpu_seconds(session) - cluster_cpu
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
    return {"candidates": n, "mode": mode, "wall_s": round(wall, 1), "stages": stages, "load": load,
            "cpu_s": round(driver_cpu + cluster_cpu, 1), "driver_cpu_s": round(driver_cpu, 1),
            "mlflow_s_per_candidate": round(stages.get("track", float("nan")) / (n + 1), 2)}


def bench_candidates(sizes: list[int], modes: list[str]) -> list[dict]:
    with ray_head() if "ray" in modes else nullcontext((None, None)) as (address, session):
        return _bench_candidates(sizes, modes, address, session)


def _bench_candidates(sizes: list[int], modes: list[str], address: str | None, session: int | None) -> list[dict]:
    results = []
    for n in sizes:
        row = {}
        for mode in modes:  # interleaved: every mode of one size before the next size
            r = run_candidates(n, mode, address, session)
            results.append(r)
            row[mode] = r
            print(f"candidates={n:3d} {mode:5s} wall={r['wall_s']:7.1f}s cpu={r['cpu_s']:7.1f}s "
                  f"(driver {r['driver_cpu_s']:.1f}s) train={r['stages'].get('train', 0):7.1f}s "
                  f"track={r['stages'].get('track', 0):6.1f}s (MLflow {r['mlflow_s_per_candidate']:.2f}s/run) "
                  f"load={r['load']:.1f}", flush=True)
        if "ray" in row and "jobs2" in row:
            print(f"candidates={n:3d} Ray overhead vs --jobs 2: wall {row['ray']['wall_s'] / row['jobs2']['wall_s'] - 1:+.0%}"
                  f", train stage {row['ray']['stages']['train'] / row['jobs2']['stages']['train'] - 1:+.0%}"
                  f", driver CPU {row['ray']['driver_cpu_s']:.1f} s vs {row['jobs2']['driver_cpu_s']:.1f} s", flush=True)
    return results


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "_shuffle_child":
        print(json.dumps(shuffle_child(int(sys.argv[2]), sys.argv[3] == "1")))
        return
    if len(sys.argv) == 5 and sys.argv[1] == "_series_child":
        print(json.dumps(series_child(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1")))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="part", required=True)
    s = sub.add_parser("series")
    s.add_argument("--series", nargs="+", type=int, default=[10, 100, 1000])
    s.add_argument("--repeats", type=int, default=3, help="runs of each data stage (the least time counts)")
    s.add_argument("--no-epoch", dest="epoch", action="store_false", help="the data stages only")
    m = sub.add_parser("shuffle")
    m.add_argument("--starts", type=int, default=1_200_000, help="window starts (1,000 series: about 1.2 M)")
    ln = sub.add_parser("length")
    ln.add_argument("--shapes", nargs="+", default=["1000x2000", "20000x100"], help="N series x S rows")
    c = sub.add_parser("candidates")
    c.add_argument("--candidates", nargs="+", type=int, default=[2, 8, 32])
    c.add_argument("--modes", nargs="+", choices=("jobs1", "jobs2", "ray"), default=["jobs1", "jobs2", "ray"])
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()}", flush=True)
    if args.part == "series":
        results = bench_series(args.series, args.repeats, args.epoch)
    elif args.part == "shuffle":
        results = bench_shuffle(args.starts)
    elif args.part == "length":
        results = bench_length(args.shapes)
    else:
        results = bench_candidates(args.candidates, args.modes)
    print(f"load after: {os.getloadavg()}", flush=True)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / f"scale_{args.part}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
