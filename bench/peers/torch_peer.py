"""One PyTorch peer process (runs in bench/peers/.venv): ``darts`` (BlockRNNModel) or
``neuralforecast`` (LSTM), the same model as the Keras peers: LSTM(32) x 2 and a linear head to
24 steps, Adam 1e-3, MSE, batch 256, the training windows of run.py's windows file.

- Darts: the training rows as one target series (``T``) with the 5 other columns as past
  covariates; Darts' training set is every window of it (counted against the file's).
- NeuralForecast: the same rows as one series with 5 historic exogenous columns, no scaler
  (already standardised), ``recurrent=False`` with a one-layer (linear) decoder; it trains by steps
  of 256 windows sampled from all windows, so an epoch here is ``ceil(n_windows / 256)`` steps.

Usage (run.py does this): python torch_peer.py {darts|neuralforecast} WINDOWS.npz EPOCHS SEED LAUNCHED
"""

from __future__ import annotations

import logging
import math
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from common import BATCH, HORIZON, LOOKBACK, EpochClock, load_windows, report, test_arrays, test_mae  # noqa: E402

COLUMNS = ["T", "p", "rh", "VPmax", "wv", "Tdew"]


def clock_callback(clock: EpochClock, steps_per_epoch: int | None):
    import pytorch_lightning as pl

    class Clock(pl.Callback):
        """Per Lightning epoch, or per ``steps_per_epoch`` optimizer steps when given."""

        def __init__(self):
            self.step = 0

        def on_train_epoch_start(self, trainer, module):
            if steps_per_epoch is None:
                clock.begin()

        def on_train_epoch_end(self, trainer, module):
            if steps_per_epoch is None:
                clock.end()

        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            if steps_per_epoch and self.step % steps_per_epoch == 0:
                clock.begin()

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            self.step += 1
            if steps_per_epoch and self.step % steps_per_epoch == 0:
                clock.end()

    return Clock()


def trainer_kwargs(callback) -> dict:
    return dict(accelerator="cpu", callbacks=[callback], enable_progress_bar=False, logger=False,
                enable_model_summary=False, enable_checkpointing=False)


def run_darts(data, epochs, seed, clock):
    import torch
    from darts import TimeSeries
    from darts.models import BlockRNNModel

    values, train_end = data["values"], int(data["train_end"])
    train = values[:train_end]
    series = TimeSeries.from_values(train[:, :1])
    covariates = TimeSeries.from_values(train[:, 1:])
    model = BlockRNNModel(
        input_chunk_length=LOOKBACK, output_chunk_length=HORIZON, model="LSTM", hidden_dim=32,
        n_rnn_layers=2, dropout=0.0, batch_size=BATCH, n_epochs=epochs, loss_fn=torch.nn.MSELoss(),
        optimizer_kwargs={"lr": 1e-3}, random_state=seed,
        pl_trainer_kwargs=trainer_kwargs(clock_callback(clock, None)),
    )
    model.fit(series, past_covariates=covariates, verbose=False)
    n_windows = len(train) - LOOKBACK - HORIZON + 1
    X, _ = test_arrays(data)
    pred = model.predict(n=HORIZON, series=[TimeSeries.from_values(x[:, :1]) for x in X],
                         past_covariates=[TimeSeries.from_values(x[:, 1:]) for x in X], verbose=False)
    pred = np.stack([p.values()[:, 0] for p in pred])
    return n_windows, pred, sum(p.numel() for p in model.model.parameters())


def run_neuralforecast(data, epochs, seed, clock):
    import pandas as pd
    from neuralforecast import NeuralForecast
    from neuralforecast.losses.pytorch import MSE
    from neuralforecast.models import LSTM

    values, train_end = data["values"], int(data["train_end"])
    n_windows = train_end - LOOKBACK - HORIZON + 1
    steps = math.ceil(n_windows / BATCH)
    ds = pd.date_range("2010-01-01", periods=len(values), freq="h")
    frame = pd.DataFrame(values, columns=COLUMNS).rename(columns={"T": "y"})
    frame.insert(0, "ds", ds)
    frame.insert(0, "unique_id", "chicago")
    model = LSTM(
        h=HORIZON, input_size=LOOKBACK, encoder_n_layers=2, encoder_hidden_size=32, decoder_layers=1,
        hist_exog_list=COLUMNS[1:], recurrent=False, loss=MSE(), learning_rate=1e-3,
        max_steps=steps * epochs, val_check_steps=10**9, batch_size=1, windows_batch_size=BATCH,
        scaler_type="identity", random_seed=seed, **trainer_kwargs(clock_callback(clock, steps)),
    )
    nf = NeuralForecast(models=[model], freq="h")
    nf.fit(frame.iloc[:train_end], val_size=0)
    starts = data["test_starts"]
    pieces = []
    for k, s in enumerate(starts):
        piece = frame.iloc[s:s + LOOKBACK].copy()
        piece["unique_id"] = f"w{k:05d}"
        pieces.append(piece)
    out = nf.predict(df=pd.concat(pieces, ignore_index=True))
    out = out.sort_values(["unique_id", "ds"])
    pred = out["LSTM"].to_numpy().reshape(len(starts), HORIZON)
    return n_windows, pred, sum(p.numel() for p in model.parameters())


def main() -> None:
    name, path, epochs, seed, launched = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    import torch

    threads = int(os.environ.get("PEER_TORCH_THREADS", "1"))
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    data = load_windows(path)
    clock = EpochClock(launched)
    run = run_darts if name == "darts" else run_neuralforecast
    n_windows, pred, params = run(data, epochs, seed, clock)
    if n_windows != len(data["train_starts"]):
        raise SystemExit(f"{name} trained on {n_windows} windows, the others on {len(data['train_starts'])}")
    report(name, clock, n_windows, f"torch {threads} intra-op, 1 inter-op", test_mae(data, pred), params=int(params))


if __name__ == "__main__":
    main()
