"""Issue 12: the training-speed levers, measured on the windows of ``pipelines/skill/chicago.yaml``.

The windows are the pipeline's own (its data, features, split and scaler, built by the product's
``load_data``/``split_frame``/``Preprocessor``/``window_starts``, as ``RNNForecaster.fit`` builds
them), or, with ``--synthetic``, random values of the same shape (no ``../shared/data`` needed).
Each lever is one *variant* of the candidate's training; all variants train the same model
(``build_model`` of the pipeline's spec, same initial weights) in this one process:

- ``default``    the product as it is: ``train_model`` (TelemetryAdam, GradientTelemetry, NanGuard,
                 EarlyStopping), ``make_dataset`` (``tf.gather`` per batch, prefetch), validation
                 batches of ``TrainSettings().eval_batch_size``, ``LagGradientTelemetry`` every epoch;
- ``spe=N``      ``steps_per_execution=N``;
- ``valbatch=N`` validation batches of N windows;
- ``noval``      no validation pass (what it costs: early stopping needs it, see the README);
- ``notelemetry`` plain ``keras.optimizers.Adam`` without the telemetry and NaN-guard callbacks;
- ``nolag``      without the input-gradient-by-lag callback (``lag_gradient_every=0``);
- ``arrays``     every window gathered once into memory and ``fit`` on arrays (Keras batching)
                 instead of ``tf.gather`` per batch;
- ``best``       every lever kept as a default by this measurement, together.

Epoch 1 of every variant (tracing, XLA compilation) goes through ``train_model`` itself and is
not timed; then the variants run one epoch each in turn, ``--rounds`` times (interleaved, so a
change in the machine's load hits all of them alike). Reported per variant: the median wall and
CPU seconds (all threads of this process) of an epoch, split into its training and validation
parts, and the ratio to ``default``. ``--intra``/``--inter`` set TensorFlow's thread counts for
the whole process, ``--jit`` the XLA setting of every variant (run the script once per setting, at
the same time, so both see the same load: the threads and XLA levers).

Run:  python bench/bench_levers.py --cell gru --train 8192 --val 4608      (a subset, ~15 min busy)
      python bench/bench_levers.py --variants default,best --cell lstm     (all chicago windows)
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PIPELINE = REPO / "pipelines" / "skill" / "chicago.yaml"
ALL = "default,spe=4,spe=16,valbatch=1024,valbatch=4096,noval,notelemetry,nolag,arrays,best"


def chicago_windows(args):
    """``(values, starts, targets, cfg)``: the pipeline's scaled values and window starts per split."""
    from forecaster.config import load_config
    from forecaster.pipeline import load_data, split_frame
    from forecaster.features.preprocessor import Preprocessor
    from forecaster.windowing import window_starts

    cfg = load_config(PIPELINE)
    cfg.data.path = str(Path(args.shared) / Path(cfg.data.path).name)
    if args.synthetic:
        rng = np.random.default_rng(0)
        n_features, n_rows = 9, 61_300
        values = np.cumsum(rng.normal(size=(n_rows, n_features)), axis=0).astype(np.float32)
        values = (values - values.mean(0)) / values.std(0)
        span = n_rows - cfg.window.lookback - cfg.window.horizon
        starts = {"train": np.arange(0, span // 2), "val": np.arange(span // 2 + 144, span * 3 // 4)}
        return values, starts, [0], cfg
    frame = split_frame(cfg, load_data(cfg).frame)
    train_rows = frame[frame["split"].to_numpy() == "train"]
    pre = Preprocessor(target=list(cfg.data.target), features=cfg.features.model_dump(mode="json")).fit(train_rows)
    scaled, values = pre.transform_values(frame)
    starts = window_starts(scaled, cfg.window.lookback, cfg.window.horizon, cfg.window.stride)
    return np.asarray(values, np.float32), starts, list(pre.target_indices_), cfg


class EpochClock:
    """Wall and CPU seconds of the training part and the validation part of each epoch."""

    def __init__(self):
        import keras

        clock = self

        class _Callback(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                clock.mark("train")

            def on_test_begin(self, logs=None):
                clock.stop()
                clock.mark("val")

            def on_epoch_end(self, epoch, logs=None):
                clock.stop()  # the validation part ends here (or the training part, without validation)

        self.callback = _Callback()
        self.times = {"train": [], "val": []}
        self._open = None

    def mark(self, part):
        self._open = (part, time.perf_counter(), time.process_time())

    def stop(self):
        if self._open is not None:
            part, wall, cpu = self._open
            self.times[part].append((time.perf_counter() - wall, time.process_time() - cpu))
            self._open = None


def make_variant(name, values, starts, targets, cfg, model_seed_weights, args):
    """``(model, settings, train, val, extra callbacks factory, fit kwargs)`` for one variant."""

    from forecaster.estimator.lag_telemetry import lag_gradient_callback
    from forecaster.models.builders import build_model
    from forecaster.models.spec import ModelSpec
    from forecaster.training import TrainSettings
    from forecaster.windowing import gather_windows, make_dataset

    t, w = cfg.training, cfg.window
    spec = ModelSpec(cell=args.cell, layers=1, units=args.units)
    model = build_model(spec, w.lookback, values.shape[1], w.horizon, len(targets), residual_targets=targets,
                        seed=t.seed, center_targets=t.center_targets, scale_targets=t.scale_targets)
    model.set_weights(model_seed_weights(model))
    spe = 1
    valbatch = None
    lag_every = 1
    if name.startswith("spe="):
        spe = int(name.split("=")[1])
    if name.startswith("valbatch="):
        valbatch = int(name.split("=")[1])
    if name == "nolag":
        lag_every = 0
    if name == "best":
        spe, valbatch = args.best_spe, args.best_valbatch
    settings = TrainSettings(epochs=1, batch_size=t.batch_size, learning_rate=t.learning_rate, patience=t.patience,
                             loss=t.loss, seed=t.seed, steps_per_execution=spe, jit_compile=args.jit,
                             **({"validation_batch_size": valbatch} if valbatch else {}))
    tr, va = starts["train"], starts["val"]
    if name == "arrays":
        train = gather_windows(values, tr, w.lookback, w.horizon, targets)
        val = gather_windows(values, va, w.lookback, w.horizon, targets)
    else:
        train = make_dataset(values, tr, w.lookback, w.horizon, targets, t.batch_size, shuffle=True, seed=t.seed)
        val = make_dataset(values, va, w.lookback, w.horizon, targets, settings.eval_batch_size, shuffle=False)
    if name == "noval":
        val = None
    lag = lambda: lag_gradient_callback(values, starts, w.lookback, w.horizon, targets, lag_every)  # noqa: E731
    return model, settings, train, val, lag


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default=ALL)
    parser.add_argument("--cell", default="gru", choices=("gru", "lstm", "rnn"))
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--train", type=int, default=0, help="use the first N training windows (0: all)")
    parser.add_argument("--val", type=int, default=0, help="use the first N validation windows (0: all)")
    parser.add_argument("--rounds", type=int, default=2, help="timed epochs per variant (interleaved)")
    parser.add_argument("--synthetic", action="store_true", help="random values of the same shape")
    parser.add_argument("--shared", default=str(REPO.parent / "shared" / "data"),
                        help="folder of the pipeline's data file (default: ../shared/data of the repository)")
    parser.add_argument("--intra", type=int, default=None, help="TensorFlow intra-op threads (default: TF's)")
    parser.add_argument("--inter", type=int, default=None, help="TensorFlow inter-op threads (default: TF's)")
    parser.add_argument("--jit", default=None, choices=("auto", "on", "off"),
                        help="TrainSettings.jit_compile of every variant (default: TrainSettings' default; off: op "
                             "determinism, as train_model sets it; one process per setting: it is process-wide)")
    parser.add_argument("--best-spe", type=int, default=1, help="steps_per_execution of the 'best' variant")
    parser.add_argument("--best-valbatch", type=int, default=0,
                        help="validation batch of the 'best' variant (0: the default)")
    args = parser.parse_args()
    from forecaster.training import TrainSettings

    args.jit = {"auto": "auto", "on": True, "off": False, None: TrainSettings().jit_compile}[args.jit]

    import tensorflow as tf

    if args.intra is not None:
        tf.config.threading.set_intra_op_parallelism_threads(args.intra)
    if args.inter is not None:
        tf.config.threading.set_inter_op_parallelism_threads(args.inter)
    import keras

    from forecaster.training import GradientTelemetry, NanGuard, train_model

    values, starts, targets, cfg = chicago_windows(args)
    if args.train:
        starts["train"] = starts["train"][:args.train]
    if args.val:
        starts["val"] = starts["val"][:args.val]
    names = args.variants.split(",")
    print(f"{'synthetic' if args.synthetic else 'chicago'} windows: {len(starts['train'])} train, "
          f"{len(starts['val'])} validation, ({cfg.window.lookback}, {values.shape[1]}) -> "
          f"({cfg.window.horizon}, {len(targets)}); {args.cell} {args.units}, batch {cfg.training.batch_size}, "
          f"loss {cfg.training.loss}; jit_compile {args.jit}; threads intra={tf.config.threading.get_intra_op_parallelism_threads()} "
          f"inter={tf.config.threading.get_inter_op_parallelism_threads()} (0: TF's default); "
          f"load {os.getloadavg()[0]:.1f}", flush=True)

    first = {}

    def same_weights(model):
        if not first:
            first["w"] = model.get_weights()
        return first["w"]

    runs = {}
    for name in names:
        model, settings, train, val, lag = make_variant(name, values, starts, targets, cfg, same_weights, args)
        if name == "notelemetry":
            keras.utils.set_random_seed(cfg.training.seed)
            model.compile(optimizer=keras.optimizers.Adam(cfg.training.learning_rate), loss=cfg.training.loss,
                          jit_compile=args.jit is not False and len(starts["train"]) >= 4096)
        clock = EpochClock()
        # One lag callback per variant, traced once (in epoch 1) as in a product training: each of the
        # one-epoch fits below would otherwise reset it and trace its function again.
        steady_lag = lag()
        if steady_lag is not None:
            steady_lag.on_train_begin = lambda logs=None: None
        fit_kwargs = {"x": train[0], "y": train[1], "batch_size": cfg.training.batch_size, "shuffle": True} \
            if isinstance(train, tuple) else {"x": train}
        if val is not None:
            fit_kwargs["validation_data"] = val
            if isinstance(val, tuple):
                fit_kwargs["validation_batch_size"] = settings.eval_batch_size

        def callbacks(name=name, extra=steady_lag, clock=clock, settings=settings):
            own = [] if name == "notelemetry" else [GradientTelemetry(), NanGuard(), keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=settings.patience, restore_best_weights=True)]
            return [*own, *([extra] if extra is not None else []), clock.callback]

        started = time.perf_counter()
        if name == "notelemetry":
            model.fit(epochs=1, verbose=0, callbacks=[*([steady_lag] if steady_lag else []), clock.callback],
                      **fit_kwargs)
        else:
            train_model(model, train, val, settings,
                        callbacks=[*([steady_lag] if steady_lag is not None else []), clock.callback])
        print(f"  {name}: epoch 1 (compile + first epoch) {time.perf_counter() - started:.1f} s wall, "
              f"jit_compile={model.jit_compile}", flush=True)
        clock.times = {"train": [], "val": []}
        if steady_lag is not None:  # a product training measures the final weights once, not per epoch
            steady_lag.on_train_end = lambda logs=None: None
        runs[name] = (model, fit_kwargs, callbacks, clock)

    for r in range(args.rounds):
        for name, (model, fit_kwargs, callbacks, clock) in runs.items():
            model.fit(epochs=1, verbose=0, callbacks=callbacks(), **fit_kwargs)
        print(f"  round {r + 1}/{args.rounds} done, load {os.getloadavg()[0]:.1f}", flush=True)

    def med(values, i):
        return statistics.median(v[i] for v in values) if values else 0.0

    print()
    print(f"{'variant':14s} {'epoch wall s':>12s} {'epoch CPU s':>12s} {'train wall':>10s} {'train CPU':>10s} "
          f"{'val wall':>9s} {'val CPU':>8s} {'wall/default':>12s} {'CPU/default':>11s}")
    base = None
    for name, (_, _, _, clock) in runs.items():
        t, v = clock.times["train"], clock.times["val"]
        wall, cpu = med(t, 0) + med(v, 0), med(t, 1) + med(v, 1)
        if base is None:
            base = (wall, cpu)
        print(f"{name:14s} {wall:12.2f} {cpu:12.2f} {med(t, 0):10.2f} {med(t, 1):10.2f} {med(v, 0):9.2f} "
              f"{med(v, 1):8.2f} {wall / base[0]:12.3f} {cpu / base[1]:11.3f}")
    print(f"medians of {args.rounds} interleaved epochs per variant (after epoch 1); CPU = all threads of this "
          f"process; ratios to the first variant; load at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
