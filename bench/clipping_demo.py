"""Gradient clipping, shown: a SimpleRNN on a long lookback with a high learning rate.

The same model, from the same initial weights, on the same data, is trained without clipping,
with ``clipnorm`` and with ``global_clipnorm``; the per-epoch telemetry of
:func:`forecaster.training.train_model` (loss, pre-clip gradient norm mean/max, fraction of steps
clipped) is printed side by side, then a verdict line computed from the runs.

Adam divides each step by a running RMS of the gradients, so an exploding gradient does not make
an exploding step (a spike moves each weight by at most ~3 learning rates): with Adam the effect
of clipping is smaller than the textbook SGD picture. At the defaults the unclipped run's first
epochs have gradient norms in the hundreds with a training loss well above the clipped runs', and
its best validation loss is the worst of the three; the clipped runs see large pre-clip spikes
too (clipped_fraction shows how often clipping acted) without their loss following them. A NaN/inf loss (try
``--activation relu``) is reported by the NaN guard, not raised.

The data is a deterministic noisy sine plus an AR(1) component generated from ``--seed``;
no data file is needed.

Run:  python bench/clipping_demo.py [--seed 0] [--lookback 300] [--learning-rate 0.05]
"""

from __future__ import annotations

import argparse
import math
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

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
    parser.add_argument("--activation", default="tanh", help="SimpleRNN activation")
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--threshold", type=float, default=1.0, help="clipnorm / global_clipnorm threshold")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=16)
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
    """One line of facts computed from the runs: spikes, failures, best validation loss."""

    def summary(result) -> tuple[float, float]:
        finite = [v for v in result.history["val_loss"] if math.isfinite(v)]
        peaks = [v for v in result.history["grad_norm_max"] if math.isfinite(v)]
        return (min(finite) if finite else float("nan")), (max(peaks) if peaks and len(peaks) == result.epochs_run else float("inf"))

    (none_label, none), *clipped = results.items()
    none_best, none_peak = summary(none)
    parts = []
    for label, result in results.items():
        best, peak = summary(result)
        state = f"FAILED ({result.failure_reason})" if result.failed else f"best val_loss {best:.3g}"
        parts.append(f"{label}: {state}, peak pre-clip grad norm {peak:.3g}")
    helped = [label for label, r in clipped if not r.failed and (none.failed or summary(r)[0] < none_best)]
    if len(helped) == len(clipped):
        conclusion = "every clipped run reached a lower validation loss than no clipping"
    elif helped:
        conclusion = f"only {', '.join(helped)} reached a lower validation loss than no clipping"
    else:
        conclusion = "clipping did not help at these settings"
    return "VERDICT: " + conclusion + " | " + "; ".join(parts)


if __name__ == "__main__":
    main()
