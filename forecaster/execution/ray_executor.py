"""The Ray executor: every task is a Ray task with a declared CPU need. The only module importing ray.

The data goes to the object store once (``ray.put``) and every task receives the reference; a
task's value comes back through the object store (trained models as bytes, see
:mod:`forecaster.comparison.tasks`), never as a path on a worker's disk. Only the driver writes to
MLflow. A worker killed mid-task is retried (``max_retries``); a task that fails for good becomes a
:class:`~forecaster.execution.outcome.TaskOutcome` with its reason; Ctrl-C or SIGTERM on the driver
cancels the outstanding tasks.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import ray
import ray.exceptions

from forecaster.execution import termination
from forecaster.execution.outcome import ExecutorUnavailableError, TaskOutcome

logger = logging.getLogger(__name__)

#: CPUs each task declares (and the TensorFlow intra-op threads it uses).
TASK_CPUS = 1
#: Times Ray reruns a task whose worker process died (SIGKILL, OOM kill, node loss).
MAX_RETRIES = 2
#: Seconds to wait for a cluster address to accept a TCP connection before giving up.
CONNECT_TIMEOUT_S = 15.0
#: Seconds to wait for ``ray.init`` to join the cluster at an address that accepted the connection.
JOIN_TIMEOUT_S = 30.0


def resolve_address(option: str | None) -> str | None:
    """``--ray-address``, else ``RAY_ADDRESS``, else None (a Ray started on this machine)."""
    return option or os.environ.get("RAY_ADDRESS") or None


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Raise :class:`ExecutorUnavailableError` naming ``address`` unless it accepts a TCP connection."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ExecutorUnavailableError(
            f"Ray address {address!r} is not HOST:PORT (e.g. 127.0.0.1:6379 or ray://head:10001)")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise ExecutorUnavailableError(
            f"the Ray cluster at {address} does not answer ({exc}); start it with `ray start --head` "
            "or fix --ray-address / RAY_ADDRESS") from None


def _init_within(seconds: float, label: str, **kwargs: Any) -> None:
    """``ray.init(**kwargs)`` or :class:`ExecutorUnavailableError` naming ``label`` after ``seconds``.

    A port that accepts connections but is not a Ray head makes ``ray.init`` retry for minutes; the
    call runs in a daemon thread so the run can give up in time (the thread dies with the process).
    """
    failure: list[BaseException] = []

    def target() -> None:
        try:
            ray.init(**kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            failure.append(exc)

    thread = threading.Thread(target=target, name="ray-init", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise ExecutorUnavailableError(
            f"the Ray cluster at {label} did not answer as a Ray head within {seconds:.0f} s; "
            "check --ray-address / RAY_ADDRESS and that `ray start --head` runs there")
    if failure:
        raise ExecutorUnavailableError(f"could not join the Ray cluster at {label}: {failure[0]}") from None


def _limit_threads(cpus: int) -> None:
    """TensorFlow threads follow the task's CPU share.

    Before TensorFlow is imported, through the environment TensorFlow reads at start-up (so a task
    that never uses TensorFlow does not pay its import); after, through ``tf.config`` (a no-op once
    its runtime has started in this reused worker, with the same share).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(cpus)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ["OMP_NUM_THREADS"] = str(cpus)
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(cpus)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass


def _run_task(fn: Callable[[Any, Any], Any], shared: Any, item: Any, cpus: int) -> tuple[Any, dict[str, Any]]:
    _limit_threads(cpus)
    return fn(shared, item), where_am_i()


def where_am_i() -> dict[str, Any]:
    """This process's id, Ray node id and Ray worker id (the driver's, when called on the driver)."""
    ctx = ray.get_runtime_context()
    return {"pid": os.getpid(), "node_id": ctx.get_node_id(), "worker_id": ctx.get_worker_id()}


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ray.exceptions.RayTaskError):
        cause = exc.cause if getattr(exc, "cause", None) is not None else exc
        return f"{type(cause).__name__}: {str(cause).strip().splitlines()[-1] if str(cause).strip() else ''}"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}"


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While tasks are outstanding, SIGTERM on the driver acts like Ctrl-C (so they get cancelled)."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield  # a caller's own SIGTERM handler (e.g. the CLI's) already raises; cancelling follows
        return

    def _interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class RayExecutor:
    """Runs tasks on a Ray cluster (or a Ray started on this machine). A context manager:
    entering connects (or starts Ray), leaving disconnects (and stops a Ray it started)."""

    name = "ray"
    distributed = True

    def __init__(self, address: str | None = None, *, cpus_per_task: int = TASK_CPUS,
                 max_retries: int = MAX_RETRIES) -> None:
        self.address = resolve_address(address)
        self.cpus_per_task = cpus_per_task
        self.max_retries = max_retries
        self._connected_here = False

    def __enter__(self) -> "RayExecutor":
        # A cluster address is joined now (an address that does not answer fails the run at once);
        # a Ray on this machine is started at the first task, so a skipped run never starts one.
        if self.address:
            self.connect()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._connected_here:
            ray.shutdown()
            self._connected_here = False

    def connect(self) -> None:
        if ray.is_initialized():
            return
        common = {"log_to_driver": False, "logging_level": logging.WARNING, "configure_logging": False}
        if self.address:
            check_reachable(self.address)
            logger.info("connecting to the Ray cluster at %s", self.address)
            _init_within(JOIN_TIMEOUT_S, self.address, address=self.address, **common)
        else:
            logger.info("starting Ray on this machine for the run (no --ray-address nor RAY_ADDRESS)")
            try:
                ray.init(address="local", include_dashboard=False, **common)
            except Exception as exc:  # noqa: BLE001 - Ray raises a bare Exception when its node is slow to start
                raise ExecutorUnavailableError(
                    f"could not start Ray on this machine ({exc}); start one with `ray start --head` and "
                    "pass its address with --ray-address") from None
        self._connected_here = True
        me = where_am_i()
        logger.info("Ray driver: pid %d, node %s", me["pid"], me["node_id"])
        logger.info("Ray: %s CPUs in the cluster, %d per task", ray.cluster_resources().get("CPU", 0),
                    self.cpus_per_task)

    def map(self, fn: Callable[[Any, Any], Any], shared: Any, items: Sequence[Any], *, names: Sequence[str],
            on_result: Callable[[TaskOutcome], None] | None = None) -> list[TaskOutcome]:
        """``fn(shared, item)`` as one Ray task per item; ``shared`` is put in the object store once.

        ``fn`` must be a module-level function (workers import it by name). Returns the outcomes in
        the order of ``items``; ``on_result`` is called as each task finishes.
        """
        self.connect()
        remote = ray.remote(num_cpus=self.cpus_per_task, max_retries=self.max_retries,
                            retry_exceptions=False)(_run_task)
        shared_ref = ray.put(shared)
        index = {}
        for i, (name, item) in enumerate(zip(names, items)):
            ref = remote.options(name=f"forecaster:{name}").remote(fn, shared_ref, item, self.cpus_per_task)
            index[ref] = i
        outcomes: list[TaskOutcome | None] = [None] * len(index)
        pending = list(index)
        try:
            with _sigterm_as_interrupt():
                while pending:
                    ready, pending = ray.wait(pending, num_returns=1, timeout=1.0)
                    termination.check()  # a SIGTERM recorded by the CLI: cancel the outstanding tasks
                    for ref in ready:
                        i = index[ref]
                        try:
                            value, worker = ray.get(ref)
                            outcome = TaskOutcome(name=names[i], value=value, worker=worker)
                            logger.info("Ray task %s ran in worker pid %d on node %s", names[i], worker["pid"],
                                        worker["node_id"])
                        except ray.exceptions.RayError as exc:
                            outcome = TaskOutcome(name=names[i], error=_reason(exc))
                            logger.warning("Ray task %s failed for good: %s", names[i], outcome.error)
                        outcomes[i] = outcome
                        if on_result is not None:
                            on_result(outcome)
        except BaseException:
            if pending:
                logger.warning("cancelling %d outstanding Ray task(s)", len(pending))
                for ref in pending:
                    try:
                        ray.cancel(ref, force=True)
                    except Exception:  # noqa: BLE001 - best effort while stopping
                        logger.debug("could not cancel a Ray task", exc_info=True)
            raise
        return [o for o in outcomes if o is not None]
