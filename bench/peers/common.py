"""Shared by every peer process of bench/peers (numpy only: it runs in both virtualenvs).

A peer process reads the windows file written by ``run.py``, trains, and prints one JSON line
starting with ``RESULT `` on stdout.
"""

from __future__ import annotations

import json
import resource
import time

import numpy as np

LOOKBACK, HORIZON, BATCH = 120, 24, 256


def load_windows(path: str) -> dict:
    """The arrays of ``run.py``'s windows file (values are standardised, float32)."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def test_arrays(data: dict) -> tuple[np.ndarray, np.ndarray]:
    """Test windows: X ``(n, LOOKBACK, n_features)``, y ``(n, HORIZON)`` (target column 0, scaled)."""
    values, starts = data["values"], data["test_starts"]
    X = np.stack([values[s:s + LOOKBACK] for s in starts])
    y = np.stack([values[s + LOOKBACK:s + LOOKBACK + HORIZON, 0] for s in starts])
    return X, y


def test_mae(data: dict, pred_scaled: np.ndarray) -> dict:
    """MAE in target units over all steps and at the last step; ``pred_scaled`` is ``(n, HORIZON)``."""
    _, y = test_arrays(data)
    err = np.abs(np.asarray(pred_scaled, dtype=np.float64).reshape(y.shape) - y) * float(data["target_std"])
    return {"test_mae": float(err.mean()), "test_mae_last_step": float(err[:, -1].mean())}


class EpochClock:
    """Wall and process-CPU seconds of each epoch; start-up = launch to the first epoch's start."""

    def __init__(self, launched: float) -> None:
        self.launched = launched
        self.startup = None
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def begin(self) -> None:
        now = time.time()
        if self.startup is None:
            self.startup = now - self.launched
        self._t, self._c = time.perf_counter(), time.process_time()

    def end(self) -> None:
        self.wall.append(time.perf_counter() - self._t)
        self.cpu.append(time.process_time() - self._c)


def report(name: str, clock: EpochClock, n_windows: int, threads: str, metrics: dict, **extra) -> None:
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    line = {"impl": name, "n_windows": int(n_windows), "epoch_wall": clock.wall, "epoch_cpu": clock.cpu,
            "startup_s": clock.startup, "peak_mib": peak_mib, "threads": threads, **metrics, **extra}
    print("RESULT " + json.dumps(line), flush=True)
