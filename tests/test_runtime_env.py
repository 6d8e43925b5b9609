"""``import forecaster`` sets TensorFlow's start-up settings (runtime_env), and they take effect.

Which CPU allocator TensorFlow built is read from TensorFlow's own statement of it: with
``TF_CPP_VMODULE=process_state=2`` its ``process_state.cc`` logs "Using BFCAllocator ... for
ProcessState CPU allocator" when, and only when, ``TF_CPU_ALLOCATOR_USE_BFC`` made it build its
best-fit-with-coalescing pool. Whether allocator statistics exist does not tell the pool from the
system allocator on every CPU: where TensorFlow turns its oneDNN kernels on (``TF_ENABLE_ONEDNN_OPTS=1``
forces it on any x86-64 CPU), the fallback allocator is oneDNN's ``MklCPUAllocator``, which keeps
statistics too.
"""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import os
import forecaster  # before TensorFlow, as every entry point of the package does
import tensorflow as tf
tf.linalg.matmul(tf.ones((256, 256)), tf.ones((256, 256)))  # CPU tensors allocated
print("SETTING", os.environ.get("TF_CPU_ALLOCATOR_USE_BFC"))
"""
BFC_POOL_BUILT = "Using BFCAllocator"  # process_state.cc, VLOG(2), when the setting asks for the pool


def _probe(**env: str) -> tuple[str, bool]:
    """The setting TensorFlow saw in a fresh process, and whether it built its BFC pool."""
    environ = {k: v for k, v in os.environ.items() if k != "TF_CPU_ALLOCATOR_USE_BFC"}
    environ.update(TF_CPP_MIN_LOG_LEVEL="0", TF_CPP_VMODULE="process_state=2", **env)
    out = subprocess.run([sys.executable, "-c", PROBE], check=False, env=environ, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    pool = any(BFC_POOL_BUILT in line and "ProcessState CPU allocator" in line for line in out.stderr.splitlines())
    return out.stdout.strip().splitlines()[-1], pool


def test_import_forecaster_puts_tensorflow_cpu_tensors_in_its_pool():
    assert _probe() == ("SETTING true", True)


def test_the_users_own_setting_wins():
    assert _probe(TF_CPU_ALLOCATOR_USE_BFC="false") == ("SETTING false", False)
