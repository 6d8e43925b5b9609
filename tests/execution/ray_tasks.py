"""Task functions the Ray tests send to real Ray workers (workers import them by module name)."""

from __future__ import annotations

import os
import signal
from pathlib import Path


def kill_once(marker_dir: str, name: str) -> int:
    """SIGKILL this worker on the first attempt for ``name``; return the pid on the retry."""
    marker = Path(marker_dir) / f"{name}.attempted"
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return os.getpid()


def kill_always(marker_dir: str, name: str) -> int:
    """SIGKILL this worker on every attempt, counting attempts in a file."""
    counter = Path(marker_dir) / f"{name}.attempts"
    with counter.open("a") as fh:
        fh.write("x")
    os.kill(os.getpid(), signal.SIGKILL)
    return -1


def fail_gru(frame, item):
    """The candidate task, except that every GRU candidate raises (a bug that fails for good)."""
    from forecaster.comparison.tasks import candidate_task

    cfg, plan = item
    if plan.model["cell"] == "gru":
        raise ValueError(f"deliberate failure of {plan.name}")
    return candidate_task(frame, item)


def sleep_long(marker_dir: str, name: str) -> int:
    """Record this worker's pid, then sleep far longer than any test waits."""
    import time

    (Path(marker_dir) / f"{name}.started").write_text(str(os.getpid()))
    time.sleep(300)
    (Path(marker_dir) / f"{name}.finished").write_text("done")
    return os.getpid()


def warm_start_from_bytes_only(shared, item):
    """The candidate task, refusing a champion that does not arrive as the bytes of its directory."""
    from forecaster.comparison.tasks import candidate_task

    frame, warm = shared
    if not isinstance(warm, bytes):
        raise TypeError(f"the champion must reach the worker as bytes, not {type(warm).__name__}")
    return candidate_task(shared, item)
