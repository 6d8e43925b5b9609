"""XLA training (`jit_compile=True`; `'auto'` for GRU/SimpleRNN from MIN_XLA_WINDOWS windows) under the thread counts of ``--jobs``.

A ``--jobs 2`` worker trains with 1 intra-op and 1 inter-op thread (``comparison._worker_init``),
the sequential run with TensorFlow's defaults (all cores). Without XLA (op determinism) the two are
bit-identical (``tests/comparison/test_comparison.py``). With XLA on a CPU they are not always: XLA's CPU
kernels may split a reduction differently with another thread count. The stated tolerance:
metrics equal to 1e-6 relative, asserted here; and with the same thread
count, bit-identical from one process to the next.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

SCRIPT = """
import json, os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
from forecaster.models.builders import build_model
from forecaster.models.spec import ModelSpec
from forecaster.training import TrainSettings, train_model
from forecaster.windowing import make_dataset
rng = np.random.default_rng(0)
values = np.cumsum(rng.normal(size=(900, 3)), axis=0).astype("float32")
values = (values - values.mean(0)) / values.std(0)
model = build_model(ModelSpec(cell="lstm", layers=2, units=8), 24, 3, 6, 1, residual_targets=[0], seed=3)
train = make_dataset(values, np.arange(0, 600), 24, 6, [0], 64, shuffle=True, seed=3)
val = make_dataset(values, np.arange(600, 870), 24, 6, [0], 64, shuffle=False)
result = train_model(model, train, val, TrainSettings(epochs=2, seed=3, jit_compile=True, patience=0))
assert model.jit_compile is True
print("HISTORY " + json.dumps(result.history))
"""


def _history(threads: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_NUM_")}
    if threads:
        env["TF_NUM_INTRAOP_THREADS"] = env["TF_NUM_INTEROP_THREADS"] = threads
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("HISTORY "))
    return json.loads(line[len("HISTORY "):])


@pytest.mark.slow
def test_xla_training_repeats_itself_and_a_jobs_worker_agrees_to_1e_6():
    default, again, worker = _history(None), _history(None), _history("1")
    for key in ("train_loss", "val_loss", "grad_norm_mean", "grad_norm_max"):
        assert default[key] == again[key], key  # same process setup: bit-identical
        np.testing.assert_allclose(worker[key], default[key], rtol=1e-6, err_msg=key)
