"""The local executor: today's behaviour (candidates in ``--jobs`` processes on this machine)."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from forecaster.execution.outcome import TaskOutcome


class LocalExecutor:
    """Runs on this machine. ``distributed`` is False: callers keep their in-process path (and the
    ``--jobs`` process pool for candidates); :meth:`map` runs tasks one after the other here."""

    name = "local"
    distributed = False

    def __init__(self, jobs: int = 1) -> None:
        self.jobs = jobs

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def map(self, fn: Callable[[Any, Any], Any], shared: Any, items: Sequence[Any], *, names: Sequence[str],
            on_result: Callable[[TaskOutcome], None] | None = None) -> list[TaskOutcome]:
        """``fn(shared, item)`` for every item, in order, in this process (exceptions propagate)."""
        outcomes = []
        for name, item in zip(names, items):
            outcomes.append(TaskOutcome(name=name, value=fn(shared, item)))
            if on_result is not None:
                on_result(outcomes[-1])
        return outcomes
