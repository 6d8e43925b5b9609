"""What one distributed task gave back: its value or its reason for failing, and where it ran."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from forecaster.errors import ForecasterError


class ExecutorUnavailableError(ForecasterError):
    """The execution backend cannot be reached (e.g. a Ray address that does not answer). Exit code 1."""

    exit_code = 1


@dataclass
class TaskOutcome:
    """One task's result.

    ``value`` is the function's return value, or ``None`` when the task failed for good (after its
    retries); ``error`` then says why. ``worker`` records where it ran: ``pid``, ``node_id``,
    ``worker_id`` (empty when it ran in this process).
    """

    name: str
    value: Any = None
    error: str | None = None
    worker: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.error is not None
