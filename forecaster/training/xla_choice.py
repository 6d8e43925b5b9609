"""``jit_compile='auto'``: XLA or TensorFlow's own kernels, chosen by measuring on the machine at hand.

Whether XLA makes a recurrent network's training step faster depends on the CPU: on an AMD EPYC
without oneDNN it cut an epoch of GRU(64) on the Chicago windows 1.6x, while on an Intel Xeon
with AVX-512, where TensorFlow turns its oneDNN kernels on, the same setting cost 65% more CPU per
epoch. So the choice is not assumed; it is measured once per machine and model shape:

1. **Probe.** A throwaway clone of the model (same layers and weights, its own optimizer) is
   compiled each way and runs a few training steps on a synthetic batch of the real shape, timed
   after the first call of each (which traces, or traces and compiles). Nothing the real training
   uses is touched: not its weights, not its dataset (iterating it would advance the seeded
   shuffle), not its seeds (:func:`~forecaster.training.set_seed` runs after the probe).
2. **Decide.** XLA is chosen when its step is at least :data:`MARGIN` faster and the time it saves
   over the planned training (``epochs x steps per epoch``, halved for early stopping) repays its
   extra compile time. Otherwise TensorFlow's own kernels (and op determinism).
3. **Cache.** The measured step and compile times are kept in ``<state dir>/speed/xla.json`` under a
   key of the CPU model, the machine architecture, TensorFlow's and Keras's versions and the
   model's shape (layer types, output shapes, parameter counts, batch size, loss, whether oneDNN is
   on). A later training of the same shape on the same machine decides from the cache in
   microseconds, and so always the same way: a seeded run gives the same results run after run.

An explicit ``jit_compile=True`` or ``False`` is obeyed without a probe. The probe's own cost (both
first calls and the timed steps) is returned, logged and reported by the benchmark.

Example
-------
>>> decide(xla_step=0.040, plain_step=0.060, xla_compile=20.0, plain_compile=1.0, planned_steps=5000)
(True, 'XLA: 40.0 ms/step against 60.0 ms without; saves ~50 s of a planned 5000 steps for 19.0 s more compiling')
>>> decide(xla_step=0.070, plain_step=0.060, xla_compile=20.0, plain_compile=1.0, planned_steps=5000)[0]
False
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from forecaster.atomic import atomic_write_text
from forecaster.statedir import read_text_nofollow, state_subdir
from forecaster.training.seeding import disable_op_determinism, is_op_determinism_enabled

logger = logging.getLogger(__name__)

#: XLA must make a step at least this much faster (relative) to be chosen: within it, timings are noise.
MARGIN = 0.05
#: Timed steps of each way, at least; more while a way has run under :data:`PROBE_SECONDS`.
MIN_STEPS, MAX_STEPS = 3, 20
#: Each way's timed steps stop after about this many seconds (the first calls are not bounded).
PROBE_SECONDS = 1.5
#: The planned steps count at this weight (early stopping usually ends a training before its epochs).
PLANNED_FRACTION = 0.5
CACHE_PART, CACHE_FILE = "speed", "xla.json"


@dataclass(frozen=True)
class XlaTimings:
    """What the probe measured: seconds per step and of each first call (trace, or trace + compile)."""

    xla_step: float
    plain_step: float
    xla_compile: float
    plain_compile: float


@dataclass(frozen=True)
class XlaChoice:
    """The decision: ``xla``, why (for the log), whether it came from the cache, the probe's cost."""

    xla: bool
    reason: str
    cached: bool = False
    probe_seconds: float = 0.0
    timings: XlaTimings | None = None


def decide(xla_step: float, plain_step: float, xla_compile: float, plain_compile: float,
           planned_steps: int) -> tuple[bool, str]:
    """XLA when it is :data:`MARGIN` faster per step and its savings over ``planned_steps`` (weighted
    by :data:`PLANNED_FRACTION`) repay its extra compile time. Returns ``(xla, reason)``."""
    ms = f"{xla_step * 1e3:.1f} ms/step against {plain_step * 1e3:.1f} ms without"
    if not xla_step < plain_step * (1 - MARGIN):
        return False, f"no XLA: {ms} (XLA must be >= {MARGIN:.0%} faster)"
    saved = (plain_step - xla_step) * planned_steps * PLANNED_FRACTION
    extra = max(0.0, xla_compile - plain_compile)
    if saved <= extra:
        return False, (f"no XLA: {ms}, but ~{saved:.0f} s saved over a planned {planned_steps} steps does not "
                       f"repay {extra:.1f} s more compiling")
    return True, f"XLA: {ms}; saves ~{saved:.0f} s of a planned {planned_steps} steps for {extra:.1f} s more compiling"


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else :func:`platform.processor`."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def onednn_on() -> bool:
    """Whether TensorFlow runs its oneDNN kernels here (its default depends on the CPU)."""
    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):  # pragma: no cover - another TensorFlow build
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "") == "1"


def model_signature(model: Any, batch_size: int, loss: str) -> dict[str, Any]:
    """What decides the step's cost: layer types and output shapes, parameter counts, batch, loss."""
    layers = [(type(layer).__name__, _shape(layer), int(layer.count_params()) if layer.built else 0)
              for layer in model._flatten_layers(include_self=False)]
    return {"input": str(model.input_shape), "output": str(model.output_shape), "layers": layers,
            "batch_size": int(batch_size), "loss": str(loss)}


def _shape(layer: Any) -> str:
    try:
        return str(tuple(layer.output.shape))
    except (AttributeError, ValueError):  # a cell, or a layer used more than once
        return ""


def cache_key(signature: dict[str, Any]) -> str:
    """sha256 over the machine (CPU model, architecture, oneDNN) and versions, and the model's signature."""
    import keras
    import tensorflow as tf

    machine = {"cpu": cpu_model(), "arch": platform.machine(), "onednn": onednn_on(),
               "tensorflow": tf.__version__, "keras": keras.__version__}
    text = json.dumps({"machine": machine, "model": signature}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _cache_path(state_dir: str | os.PathLike[str] | None) -> Path:
    return state_subdir(state_dir, CACHE_PART) / CACHE_FILE


def read_cache(state_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The cached timings by key; an unreadable cache is empty (and is rewritten by the next probe)."""
    try:
        data = json.loads(read_text_nofollow(_cache_path(state_dir)))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        logger.warning("ignoring the unreadable XLA timing cache %s (%s)", _cache_path(state_dir), exc)
        return {}
    return data if isinstance(data, dict) else {}


def write_cache(key: str, timings: XlaTimings, state_dir: str | os.PathLike[str] | None = None) -> None:
    """Add ``timings`` under ``key`` (read, update, atomic rename: a concurrent writer loses at most
    its own entry, never the file)."""
    data = read_cache(state_dir)
    data[key] = {**asdict(timings), "cpu": cpu_model(), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    try:
        atomic_write_text(_cache_path(state_dir), json.dumps(data, indent=1, sort_keys=True) + "\n")
    except OSError as exc:
        logger.warning("could not cache the XLA timings in %s (%s); the next training probes again",
                       _cache_path(state_dir), exc)


def _cached_timings(entry: Any) -> XlaTimings | None:
    try:
        values = {k: float(entry[k]) for k in ("xla_step", "plain_step", "xla_compile", "plain_compile")}
    except (KeyError, TypeError, ValueError):
        return None
    return XlaTimings(**values) if all(np.isfinite(v) and v >= 0 for v in values.values()) else None


def probe(model: Any, batch_size: int, make_optimizer: Any, loss: Any) -> tuple[XlaTimings, float]:
    """Time a clone of ``model`` compiled without and with XLA on a synthetic batch of its shape.

    ``make_optimizer`` builds a fresh optimizer (the clone's own, each way). Returns the timings and
    the probe's whole wall time. Op determinism is switched off for the XLA part (Keras refuses XLA
    under it); the caller sets it again for the real training.
    """
    import keras

    started = time.perf_counter()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((batch_size, *model.input_shape[1:])).astype("float32")
    y = rng.standard_normal((batch_size, *model.output_shape[1:])).astype("float32") * 0.1
    weights = model.get_weights()
    measured = {}
    for xla in (False, True):
        if xla and is_op_determinism_enabled():
            disable_op_determinism()
        clone = keras.models.clone_model(model)
        clone.set_weights(weights)
        clone.compile(optimizer=make_optimizer(), loss=loss, jit_compile=xla)
        first = time.perf_counter()
        clone.train_on_batch(X, y)
        compile_seconds = time.perf_counter() - first
        times = []
        while len(times) < MIN_STEPS or (len(times) < MAX_STEPS and sum(times) < PROBE_SECONDS):
            tick = time.perf_counter()
            clone.train_on_batch(X, y)
            times.append(time.perf_counter() - tick)
        measured[xla] = (float(np.median(times)), compile_seconds)
        del clone
    timings = XlaTimings(xla_step=measured[True][0], plain_step=measured[False][0],
                         xla_compile=measured[True][1], plain_compile=measured[False][1])
    return timings, time.perf_counter() - started


def choose_xla(model: Any, *, batch_size: int, loss: Any, loss_name: str, make_optimizer: Any,
               planned_steps: int, state_dir: str | os.PathLike[str] | None = None) -> XlaChoice:
    """Measure (or read from the cache) and decide; see the module docstring."""
    key = cache_key(model_signature(model, batch_size, loss_name))
    timings = _cached_timings(read_cache(state_dir).get(key))
    cached, cost = timings is not None, 0.0
    if timings is None:
        timings, cost = probe(model, batch_size, make_optimizer, loss)
        write_cache(key, timings, state_dir)
    xla, reason = decide(timings.xla_step, timings.plain_step, timings.xla_compile, timings.plain_compile,
                         planned_steps)
    where = "cached timings" if cached else f"probe of {cost:.1f} s"
    return XlaChoice(xla=xla, reason=f"{reason} ({where}, CPU {cpu_model()}, oneDNN {'on' if onednn_on() else 'off'})",
                     cached=cached, probe_seconds=cost, timings=timings)
