"""Process settings TensorFlow reads once, when it starts: set here, before it is imported.

``import forecaster`` applies :data:`TENSORFLOW_DEFAULTS` with ``os.environ.setdefault``, so a
value the user exported wins, and a TensorFlow that already allocated memory in this process keeps
what it started with. Child processes (the ``--jobs`` pool, a local Ray) inherit the variables;
a Ray worker on another machine sets them itself when it imports ``forecaster`` to run a task.

``TF_CPU_ALLOCATOR_USE_BFC=true``: TensorFlow's CPU tensors come from its best-fit-with-coalescing
pool instead of one ``malloc``/``free`` per tensor. With glibc's allocator, the per-step activations
of a recurrent layer over a long window (MiB-sized tensors, allocated and freed at every batch) were
returned to the kernel and faulted back in, page by page: GRU(64) on the Chicago windows took 5.2
million page faults and 17.5 s of system time for four epochs, 18.7 CPU s per epoch. The pool keeps
them: 0.2 million faults, 1.9 s of system time, 12.5 CPU s per epoch, peak memory unchanged
(``bench/bench_levers.py --cell gru --variants default --rounds 2``, as it is and with
``TF_CPU_ALLOCATOR_USE_BFC=false`` exported; 2026-11-30, load 1.4-3). The
values computed are the same; only where the bytes live changes. Export
``TF_CPU_ALLOCATOR_USE_BFC=false`` to go back to TensorFlow's own default: the system allocator,
or, where TensorFlow turns its oneDNN kernels on (some Intel CPUs; ``TF_ENABLE_ONEDNN_OPTS=1``),
oneDNN's ``MklCPUAllocator``. ``tests/test_runtime_env.py`` tells them apart by TensorFlow's own
log line (``TF_CPP_VMODULE=process_state=2``), not by whether allocator statistics exist.

Example
-------
>>> env = {"TF_CPU_ALLOCATOR_USE_BFC": "false"}
>>> apply_tensorflow_defaults(env)
{}
>>> env["TF_CPU_ALLOCATOR_USE_BFC"]
'false'
>>> apply_tensorflow_defaults({})
{'TF_CPU_ALLOCATOR_USE_BFC': 'true'}
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

#: Environment variables TensorFlow reads at start-up, and this package's default for each.
TENSORFLOW_DEFAULTS: dict[str, str] = {"TF_CPU_ALLOCATOR_USE_BFC": "true"}


def apply_tensorflow_defaults(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Set every :data:`TENSORFLOW_DEFAULTS` variable not already in ``environ`` (default: ``os.environ``).

    Returns the variables it set (the user's own values are left alone).
    """
    environ = os.environ if environ is None else environ
    applied = {}
    for name, value in TENSORFLOW_DEFAULTS.items():
        if name not in environ:
            environ[name] = value
            applied[name] = value
    return applied
