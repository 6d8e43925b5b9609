"""Gradient clipping, shown: a SimpleRNN on a long lookback with a high learning rate.

Without clipping the pre-clip gradient norm explodes and the training loss blows up (often to
NaN, which the NaN guard reports); with ``clipnorm`` or ``global_clipnorm`` the same model, from
the same initial weights, on the same data, trains stably. The per-epoch telemetry of
:func:`forecaster.training.train_model` is printed side by side, then a verdict line.

The data is a deterministic noisy sine plus an AR(1) component generated from ``--seed``;
no data file is needed.

Run:  python bench/clipping_demo.py [--seed 0] [--lookback 300] [--learning-rate 0.05]
"""

from __future__ import annotations

import argparse
import math
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from forecaster.training import TrainSettings, set_seed, train_model  # noqa: E402


def make_series(n: int, seed: int) -> np.ndarray:
    """A noisy sine of period 48 plus an AR(1) process, shape ``(n,)``."""
    rng = np.random.default_rng(seed)
    ar = np.zeros(n)
    shocks = rng.normal(scale=0.3, size=n)
    for t in range(1, n):
        ar[t] = 0.9 * ar[t - 1] + shocks[t]
    t = np.arange(n)
    return np.sin(2 * np.pi * t / 48) + ar + rng.normal(scale=0.1, size=n)


def make_windows(series: np.ndarray, lookback: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """``X: (n_samples, lookback, 1)``, ``y: (n_samples, horizon, 1)``, float32."""
    n = len(series) - lookback - horizon + 1
    idx = np.arange(lookback)[None, :] + np.arange(n)[:, None]
    X = series[idx][..., None]
    y = series[np.arange(horizon)[None, :] + np.arange(n)[:, None] + lookback][..., None]
    return X.astype("float32"), y.astype("float32")


def build(lookback: int, units: int, horizon: int, activation: str) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((lookback, 1)),
            keras.layers.SimpleRNN(units, activation=activation),
            keras.layers.Dense(horizon),
            keras.layers.Reshape((horizon, 1)),
        ]
    )


def fmt(value: float) -> str:
    if value is None or not math.isfinite(value):
        return f"{value!s:>9s}"
    return f"{value:9.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lookback", type=int, default=300)
    parser.add_argument("--horizon", type=int, default=12)
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--activation", default="relu", help="SimpleRNN activation (relu explodes readily)")
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--threshold", type=float, default=1.0, help="clipnorm / global_clipnorm threshold")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    series = make_series(args.samples + args.lookback + args.horizon + 400, args.seed)
    series = (series - series.mean()) / series.std()
    X, y = make_windows(series, args.lookback, args.horizon)
    X_train, y_train, X_val, y_val = X[: args.samples], y[: args.samples], X[-400:], y[-400:]

    set_seed(args.seed)
    initial = build(args.lookback, args.units, args.horizon, args.activation)
    weights = initial.get_weights()
    settings = [("none", None), ("clipnorm", args.threshold), ("global_clipnorm", args.threshold)]
    results = {}
    start = time.perf_counter()
    for kind, threshold in settings:
        model = build(args.lookback, args.units, args.horizon, args.activation)
        model.set_weights(weights)
        train = TrainSettings(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                              patience=0, clipping=kind, clip_threshold=threshold, seed=args.seed)
        label = kind if threshold is None else f"{kind}={threshold:g}"
        results[label] = train_model(model, (X_train, y_train), (X_val, y_val), train)

    print(f"SimpleRNN({args.units}, activation={args.activation!r}), lookback {args.lookback}, horizon "
          f"{args.horizon}, Adam lr={args.learning_rate}, batch {args.batch_size}, {len(X_train)} windows, "
          f"seed {args.seed}")
    columns = ("loss", "val_loss", "gnorm_mean", "gnorm_max", "clipped")
    keys = ("train_loss", "val_loss", "grad_norm_mean", "grad_norm_max", "clipped_fraction")
    print("epoch | " + " | ".join(f"{label:^49s}" for label in results))
    print("      | " + " | ".join(" ".join(f"{c:>9s}" for c in columns) for _ in results))
    for epoch in range(args.epochs):
        cells = []
        for result in results.values():
            if epoch < result.epochs_run:
                cells.append(" ".join(fmt(result.history[k][epoch]) for k in keys))
            else:
                cells.append(f"{'(stopped)':^49s}")
        print(f"{epoch + 1:5d} | " + " | ".join(cells))
    for label, result in results.items():
        if result.failed:
            print(f"{label}: FAILED: {result.failure_reason}")

    print(verdict(results), f"({time.perf_counter() - start:.0f}s)")


def verdict(results: dict) -> str:
    (none_label, none), *clipped = results.items()
    peak = max((v for v in none.history["grad_norm_max"] if math.isfinite(v)), default=float("nan"))
    first = none.history["grad_norm_mean"][0]
    stable = [label for label, r in clipped if not r.failed and all(math.isfinite(v) for v in r.history["val_loss"])]
    best = {label: min(r.history["val_loss"]) for label, r in clipped if label in stable}
    none_best = min((v for v in none.history["val_loss"] if math.isfinite(v)), default=float("nan"))
    exploded = none.failed or (math.isfinite(peak) and peak > 10 * first) or not math.isfinite(peak)
    if exploded and len(stable) == len(clipped):
        how = none.failure_reason if none.failed else f"gradient norm peaked at {peak:.3g}"
        return (f"VERDICT: without clipping training blew up ({how}; best val_loss {none_best:.3g}); "
                f"with clipping it trained stably (best val_loss "
                + ", ".join(f"{k}: {v:.3g}" for k, v in best.items()) + ")")
    return f"VERDICT: no clear effect at these settings (none exploded={exploded}, stable with clipping: {stable})"


if __name__ == "__main__":
    main()
