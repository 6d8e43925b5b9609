"""``import forecaster`` sets TensorFlow's start-up settings (runtime_env), and they take effect."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import forecaster  # before TensorFlow, as every entry point of the package does
import tensorflow as tf
tf.linalg.matmul(tf.ones((256, 256)), tf.ones((256, 256)))  # CPU tensors allocated
try:
    info = tf.config.experimental.get_memory_info("CPU:0")  # only TensorFlow's own pool keeps stats
    print("POOL", os.environ.get("TF_CPU_ALLOCATOR_USE_BFC"), info["peak"] > 0)
except ValueError as err:
    print("SYSTEM", os.environ.get("TF_CPU_ALLOCATOR_USE_BFC"), err)
"""


def _probe(**env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "TF_CPU_ALLOCATOR_USE_BFC"}
    environ.update(env)
    out = subprocess.run([sys.executable, "-c", PROBE], env=environ, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


def test_import_forecaster_puts_tensorflow_cpu_tensors_in_its_pool():
    assert _probe() == "POOL true True"


def test_the_users_own_setting_wins():
    assert _probe(TF_CPU_ALLOCATOR_USE_BFC="false").startswith("SYSTEM false")
