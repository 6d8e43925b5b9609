"""Training-path overhead: ``train_model`` against a bare ``model.fit`` of the same Keras model.

For each cell (rnn, gru, lstm) both paths train the same architecture, from the same initial
weights, on the same in-memory arrays (with the same validation arrays); the throughput is
training windows per second in the fastest of epochs 2..N (epoch 1 holds tracing and
compilation). Each measurement is repeated ``--repeats`` times, alternating the paths, and the
best is kept (the machine may be shared). With XLA, both paths run with ``jit_compile=True`` (and without op
determinism, which Keras requires for XLA).

Run:  python bench/bench_training.py            (20,000 windows of (120, 14) -> (24, 1))
      python bench/bench_training.py --quick    (a small run, a few seconds per cell)
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from forecaster.training import GradientTelemetry, NanGuard, TrainSettings, make_optimizer, set_seed, train_model

CELLS = {"rnn": keras.layers.SimpleRNN, "gru": keras.layers.GRU, "lstm": keras.layers.LSTM}


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch (training + validation); touches no batch hook."""

    def on_train_begin(self, logs=None):
        self.seconds, self.cpu_seconds = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self._cpu_start = time.perf_counter(), time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
        self.cpu_seconds.append(time.process_time() - self._cpu_start)


def build(cell: str, lookback: int, n_features: int, horizon: int, units: int) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((lookback, n_features)),
            CELLS[cell](units),
            keras.layers.Dense(horizon),
            keras.layers.Reshape((horizon, 1)),
        ]
    )


def throughput(timer: EpochTimer, n_samples: int) -> tuple[float, float]:
    """Windows per wall second and per CPU second (all threads) in the fastest timed epoch.

    The fastest epoch is the least disturbed by other work on a shared machine; CPU time is
    what the process itself spent, which other processes disturb much less than wall time.
    """
    return n_samples / min(timer.seconds[1:]), n_samples / min(timer.cpu_seconds[1:])


def run_bare(model, weights, data, args, jit):
    set_seed(args.seed, deterministic=not jit)
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", jit_compile=jit)
    timer = EpochTimer()
    X, y, Xv, yv = data
    model.fit(X, y, batch_size=args.batch, epochs=args.epochs, validation_data=(Xv, yv),
              shuffle=True, verbose=0, callbacks=[timer])
    return throughput(timer, len(X))


def run_project(model, weights, data, args, jit):
    model.set_weights(weights)
    settings = TrainSettings(epochs=args.epochs, batch_size=args.batch, patience=args.epochs,
                             clipping="global_clipnorm", clip_threshold=1.0, seed=args.seed, jit_compile=jit)
    timer = EpochTimer()
    X, y, Xv, yv = data
    result = train_model(model, (X, y), (Xv, yv), settings, callbacks=[timer])
    if result.failed or result.epochs_run != args.epochs:
        raise RuntimeError(f"benchmark run did not train all epochs: {result}")
    return throughput(timer, len(X))


def interleaved(cell: str, data, args, rounds: int) -> tuple[float, float]:
    """Median per-epoch wall and CPU overhead of the project's step + callbacks, epochs alternated.

    Two copies of the model, compiled once each: one like ``train_model`` compiles it (telemetry
    Adam with global_clipnorm, telemetry + NaN guard + early stopping callbacks), one bare (Adam,
    no callbacks). One epoch of each, alternately, ``rounds`` times after a warm-up epoch; the
    ratio of each pair is robust to slow changes in the machine's load.
    """
    X, y, Xv, yv = data
    set_seed(args.seed)
    bare = build(cell, args.lookback, args.features, args.horizon, args.units)
    project = build(cell, args.lookback, args.features, args.horizon, args.units)
    project.set_weights(bare.get_weights())
    bare.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    project.compile(optimizer=make_optimizer(1e-3, "global_clipnorm", 1.0), loss="mse")
    extra = lambda: [GradientTelemetry(), NanGuard(),  # noqa: E731
                     keras.callbacks.EarlyStopping(patience=100, restore_best_weights=True)]
    fit = dict(batch_size=args.batch, epochs=1, validation_data=(Xv, yv), verbose=0)
    bare.fit(X, y, **fit)
    project.fit(X, y, callbacks=extra(), **fit)
    wall, cpu = [], []
    for _ in range(rounds):
        times = []
        for model, callbacks in ((bare, []), (project, extra())):
            t, c = time.perf_counter(), time.process_time()
            model.fit(X, y, callbacks=callbacks, **fit)
            times.append((time.perf_counter() - t, time.process_time() - c))
        wall.append(times[1][0] / times[0][0] - 1)
        cpu.append(times[1][1] / times[0][1] - 1)
    return float(np.median(wall)), float(np.median(cpu))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small run: 2,000 windows of (48, 14), 3 epochs")
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--lookback", type=int, default=120)
    parser.add_argument("--features", type=int, default=14)
    parser.add_argument("--horizon", type=int, default=24)
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--cells", default="rnn,gru,lstm")
    parser.add_argument("--no-jit", action="store_true", help="skip the jit_compile=True measurements")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=0,
                        help="also run the interleaved steady-state comparison with this many epoch pairs")
    args = parser.parse_args()
    if args.quick:
        args.samples, args.lookback, args.repeats = 2_000, 48, 1
    if args.epochs < 2:
        parser.error(f"--epochs must be >= 2 (epoch 1 is not timed). Received: --epochs={args.epochs}")

    rng = np.random.default_rng(args.seed)
    n_val = max(args.samples // 10, 1)
    X = rng.normal(size=(args.samples + n_val, args.lookback, args.features)).astype("float32")
    y = (X[:, -args.horizon:, :1] * 0.5 + rng.normal(scale=0.1, size=(len(X), args.horizon, 1))).astype("float32")
    data = (X[:args.samples], y[:args.samples], X[args.samples:], y[args.samples:])
    print(f"{args.samples} windows of ({args.lookback}, {args.features}) -> ({args.horizon}, 1), "
          f"{n_val} validation windows, {args.units} units, batch {args.batch}, {args.epochs} epochs "
          f"(fastest of epochs 2..{args.epochs}), best of {args.repeats}; windows/s")

    modes = [False] if args.no_jit else [False, True]
    rows = []
    for cell in args.cells.split(","):
        set_seed(args.seed)
        model = build(cell, args.lookback, args.features, args.horizon, args.units)
        weights = model.get_weights()
        for jit in modes:
            bare, project = [], []
            for _ in range(args.repeats):
                bare.append(run_bare(model, weights, data, args, jit))
                project.append(run_project(model, weights, data, args, jit))
            best_bare = tuple(max(b[i] for b in bare) for i in range(2))
            best_project = tuple(max(p[i] for p in project) for i in range(2))
            rows.append((cell, jit, best_bare, best_project))
            print(f"  {cell:5s} jit={jit!s:5s} wall, cpu windows/s: bare fit "
                  f"{[(round(w), round(c)) for w, c in bare]}  train_model "
                  f"{[(round(w), round(c)) for w, c in project]}", flush=True)

    print()
    print(f"{'cell':5s} {'XLA':5s} {'bare fit':>9s} {'train_model':>12s} {'overhead':>9s} "
          f"{'bare cpu':>9s} {'tm cpu':>9s} {'cpu overhead':>13s}")
    for cell, jit, (bare_wall, bare_cpu), (proj_wall, proj_cpu) in rows:
        print(f"{cell:5s} {jit!s:5s} {bare_wall:9.0f} {proj_wall:12.0f} {100 * (bare_wall / proj_wall - 1):8.1f}% "
              f"{bare_cpu:9.0f} {proj_cpu:9.0f} {100 * (bare_cpu / proj_cpu - 1):12.1f}%")
    if not args.no_jit:
        print()
        wall = {(cell, jit): proj for cell, jit, _, proj in rows}
        for cell in args.cells.split(","):
            print(f"XLA speedup of train_model, {cell}: {wall[(cell, True)][0] / wall[(cell, False)][0]:.2f}x (wall)")
    if args.rounds:
        print()
        for cell in args.cells.split(","):
            wall, cpu = interleaved(cell, data, args, args.rounds)
            print(f"interleaved steady state, {cell}: median overhead per epoch {100 * wall:.1f}% wall, "
                  f"{100 * cpu:.1f}% CPU ({args.rounds} alternated epoch pairs)", flush=True)
    print("windows/s = training windows per second (wall, or CPU seconds of all threads) in the fastest of "
          "epochs 2..N; overhead = bare / train_model - 1")


if __name__ == "__main__":
    main()
