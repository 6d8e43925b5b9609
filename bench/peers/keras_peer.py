"""One Keras peer process: ``forecaster`` (the package's public API, its defaults) or ``keras``
(the same layers written as a user would: Sequential, compile, fit on arrays).

Usage (run.py does this): python keras_peer.py {forecaster|keras} WINDOWS.npz EPOCHS SEED LAUNCHED
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from common import BATCH, HORIZON, LOOKBACK, EpochClock, load_windows, report, test_arrays, test_mae  # noqa: E402


def main() -> None:
    name, path, epochs, seed, launched = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    import keras
    import tensorflow as tf

    data = load_windows(path)
    values, starts = data["values"], data["train_starts"]
    clock = EpochClock(launched)

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            clock.begin()

        def on_epoch_end(self, epoch, logs=None):
            clock.end()

    n_features = values.shape[1]
    if name == "forecaster":
        from forecaster.models.builders import build_model
        from forecaster.models.spec import ModelSpec
        from forecaster.training import TrainSettings, train_model
        from forecaster.windowing import make_dataset

        jit = {"0": False, "1": True}.get(os.environ.get("PEER_XLA", ""), TrainSettings().jit_compile)  # xla=N
        settings = TrainSettings(epochs=epochs, batch_size=BATCH, loss="mse", patience=0, seed=seed, jit_compile=jit)
        model = build_model(ModelSpec(cell="lstm", layers=2, units=32, head="dense"), LOOKBACK, n_features,
                            HORIZON, 1, residual_targets=[0], seed=seed, center_targets=True)
        # Ablations (run.py's data=arrays, fit=keras): which part of forecaster's epoch costs wall time.
        if os.environ.get("PEER_DATA") == "arrays":  # Keras's own batching of materialised windows
            train_ds = (np.stack([values[s:s + LOOKBACK] for s in starts]),
                        np.stack([values[s + LOOKBACK:s + LOOKBACK + HORIZON, :1] for s in starts]))
        else:
            train_ds = make_dataset(values, starts, LOOKBACK, HORIZON, [0], BATCH, shuffle=True, seed=seed)
        if os.environ.get("PEER_FIT") == "keras":  # plain Adam and model.fit: no telemetry, guard or clock
            keras.utils.set_random_seed(seed)
            model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", jit_compile=bool(jit is True))
            fit_data = {"x": train_ds[0], "y": train_ds[1], "batch_size": BATCH} if isinstance(train_ds, tuple) else {"x": train_ds}
            model.fit(**fit_data, epochs=epochs, shuffle=True, verbose=0, callbacks=[Clock()])
            extra = {"jit_compile": str(model.jit_compile)}
        else:
            result = train_model(model, train_ds, None, settings, callbacks=[Clock()])
            extra = {"jit_compile": str(model.jit_compile), "samples_per_s_fit": result.samples_per_second,
                     "xla": result.xla, "epoch_seconds": result.history["epoch_seconds"],
                     "first_epoch_overhead_seconds": result.first_epoch_overhead_seconds}
    else:
        keras.utils.set_random_seed(seed)
        X = np.stack([values[s:s + LOOKBACK] for s in starts])
        y = np.stack([values[s + LOOKBACK:s + LOOKBACK + HORIZON, :1] for s in starts])
        model = keras.Sequential([
            keras.Input((LOOKBACK, n_features)),
            keras.layers.LSTM(32, return_sequences=True),
            keras.layers.LSTM(32),
            keras.layers.Dense(HORIZON),
            keras.layers.Reshape((HORIZON, 1)),
        ])
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        model.fit(X, y, batch_size=BATCH, epochs=epochs, shuffle=True, verbose=0, callbacks=[Clock()])
        extra = {"jit_compile": str(model.jit_compile)}
    X_test, _ = test_arrays(data)
    pred = np.asarray(model(X_test, training=False))[:, :, 0]
    threads = f"tf intra={tf.config.threading.get_intra_op_parallelism_threads()} " \
              f"inter={tf.config.threading.get_inter_op_parallelism_threads()} (0 = all cores)"
    report(name, clock, len(starts), threads, test_mae(data, pred), params=int(model.count_params()), **extra)


if __name__ == "__main__":
    main()
