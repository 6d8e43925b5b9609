"""Benchmark: forecaster's windowing path against ``keras.utils.timeseries_dataset_from_array``.

Both paths window the same float32 array (default 420,000 x 14; lookback 120, horizon 24,
batch 256, no shuffle) and iterate every batch once:

- ``forecaster``: ``window_starts`` on a one-series frame + ``make_dataset`` (one base tensor,
  batched ``tf.gather`` on start indices);
- ``keras``: ``timeseries_dataset_from_array`` for the inputs (``data=values[:-horizon]``,
  ``sequence_length=lookback``) zipped with a second one for the labels
  (``data=values[lookback:]``, ``sequence_length=horizon``): the many-to-many recipe of the Keras
  docs (example 3), since its ``targets`` argument holds one row per window, not a horizon.

Each path runs in its own subprocess so that its memory is measured alone: ``ru_maxrss`` (peak
resident set size of the process) after TensorFlow is imported and the data built, and again
after the iteration; the difference is the extra peak memory of the path. A third subprocess
checks that both paths give identical ``X`` and ``y`` on the first batches.

Usage::

    python bench/bench_windowing.py            # full size (the Keras path takes minutes)
    python bench/bench_windowing.py --rows 50000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

N_FEATURES = 14


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _maxrss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _values(rows: int):
    import numpy as np

    return np.random.default_rng(0).normal(size=(rows, N_FEATURES)).astype(np.float32)


def _forecaster_dataset(values, lookback, horizon, batch_size):
    import pandas as pd

    from forecaster.windowing import make_dataset, window_starts

    frame = pd.DataFrame({"series_id": "series"}, index=range(len(values)))
    starts = window_starts(frame, lookback, horizon)["train"]
    return make_dataset(
        values, starts, lookback, horizon, list(range(N_FEATURES)), batch_size, shuffle=False
    )


def _keras_dataset(values, lookback, horizon, batch_size):
    import keras
    import tensorflow as tf

    inputs = keras.utils.timeseries_dataset_from_array(
        values[:-horizon], None, sequence_length=lookback, batch_size=batch_size, shuffle=False
    )
    labels = keras.utils.timeseries_dataset_from_array(
        values[lookback:], None, sequence_length=horizon, batch_size=batch_size, shuffle=False
    )
    return tf.data.Dataset.zip((inputs, labels))


def run_path(path: str, rows: int, lookback: int, horizon: int, batch_size: int) -> dict:
    """Build and iterate one path; return its timings and memory (called in a subprocess)."""
    # Every module either path needs is imported before the baseline measurement.
    import keras  # noqa: F401
    import pandas  # noqa: F401
    import tensorflow  # noqa: F401

    import forecaster.windowing  # noqa: F401

    values = _values(rows)
    baseline = _maxrss_mb()
    build = {"forecaster": _forecaster_dataset, "keras": _keras_dataset}[path]
    began, cpu_began = time.perf_counter(), _cpu_seconds()
    dataset = build(values, lookback, horizon, batch_size)
    built = time.perf_counter()
    n_batches = n_windows = 0
    for X, y in dataset:
        n_batches += 1
        n_windows += int(X.shape[0])
    ended, cpu_ended = time.perf_counter(), _cpu_seconds()
    return {
        "path": path,
        "build_seconds": built - began,
        "iterate_seconds": ended - built,
        "seconds": ended - began,
        "cpu_seconds": cpu_ended - cpu_began,
        "batches": n_batches,
        "windows": n_windows,
        "maxrss_before_mb": baseline,
        "maxrss_after_mb": _maxrss_mb(),
        "extra_peak_mb": _maxrss_mb() - baseline,
    }


def verify(rows: int, lookback: int, horizon: int, batch_size: int, n_batches: int = 3) -> dict:
    """Compare the first batches of both paths element by element."""
    import numpy as np

    values = _values(rows)
    ours = _forecaster_dataset(values, lookback, horizon, batch_size).take(n_batches)
    theirs = _keras_dataset(values, lookback, horizon, batch_size).take(n_batches)
    checked = 0
    for (X1, y1), (X2, y2) in zip(ours, theirs, strict=True):
        if not (np.array_equal(X1.numpy(), X2.numpy()) and np.array_equal(y1.numpy(), y2.numpy())):
            return {"identical": False, "batches_checked": checked}
        checked += 1
    return {"identical": True, "batches_checked": checked}


def _child(args: argparse.Namespace) -> None:
    if args.child == "verify":
        result = verify(args.rows, args.lookback, args.horizon, args.batch_size)
    else:
        result = run_path(args.child, args.rows, args.lookback, args.horizon, args.batch_size)
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")


def _spawn(kind: str, args: argparse.Namespace) -> dict:
    command = [
        sys.executable, __file__, "--child", kind, "--rows", str(args.rows),
        "--lookback", str(args.lookback), "--horizon", str(args.horizon),
        "--batch-size", str(args.batch_size),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        sys.stderr.write(done.stderr[-3000:])
        raise SystemExit(f"the {kind} subprocess failed (exit code {done.returncode})")
    return json.loads(lines[-1][len("RESULT "):])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=420_000)
    parser.add_argument("--lookback", type=int, default=120)
    parser.add_argument("--horizon", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--child", choices=["forecaster", "keras", "verify"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args)
        return

    data_mb = args.rows * N_FEATURES * 4 / 2**20
    print(
        f"{args.rows:,} x {N_FEATURES} float32 ({data_mb:.1f} MiB), lookback={args.lookback}, "
        f"horizon={args.horizon}, batch={args.batch_size}"
    )
    check = _spawn("verify", args)
    print(f"first {check['batches_checked']} batches identical: {check['identical']}")
    if not check["identical"]:
        raise SystemExit("the two paths disagree; timings would be meaningless")
    results = {}
    for path in ("forecaster", "keras"):
        r = results[path] = _spawn(path, args)
        print(
            f"{path:>10}: {r['seconds']:8.2f} s wall (build {r['build_seconds']:.2f} s), "
            f"{r['cpu_seconds']:.2f} s CPU, for "
            f"{r['windows']:,} windows in {r['batches']:,} batches; peak RSS "
            f"{r['maxrss_before_mb']:.0f} -> {r['maxrss_after_mb']:.0f} MiB "
            f"(+{r['extra_peak_mb']:.0f} MiB)"
        )
    if results["forecaster"]["windows"] != results["keras"]["windows"]:
        raise SystemExit("the two paths made a different number of windows")
    ratio = results["keras"]["seconds"] / results["forecaster"]["seconds"]
    batch_mb = args.batch_size * (args.lookback + args.horizon) * N_FEATURES * 4 / 2**20
    cpu_ratio = results["keras"]["cpu_seconds"] / results["forecaster"]["cpu_seconds"]
    print(
        f"speed-up: {ratio:.1f}x wall-clock (target >= 20x), {cpu_ratio:.1f}x CPU time; "
        f"one batch is {batch_mb:.1f} MiB"
    )
    print(
        "memory: ru_maxrss of each path's own subprocess (peak RSS, MiB), measured after "
        "importing TensorFlow and building the data, then after iterating every batch."
    )


if __name__ == "__main__":
    main()
