"""A tiny progress protocol between the pipeline (which reports) and the CLI (which displays).

The pipeline calls ``start(stage, total)``, ``advance(stage, n, **info)`` and ``finish(stage)``
for stages such as ``"candidates"`` or ``"epochs"``; it never knows how (or whether) progress
is shown. :class:`NullProgress` is the default and shows nothing; the CLI passes a tqdm-based
one only when stderr is a terminal (never under cron or systemd).

Progress objects are not sent to worker processes (``--jobs``); the parent reports candidates
as their results come back.

Example
-------
>>> progress = NullProgress()
>>> progress.start("candidates", total=3)
>>> progress.advance("candidates", 1, name="lstm-1x32")
>>> progress.finish("candidates")
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Progress(Protocol):
    """What the pipeline may call to report progress.

    ``stage`` is a short name (``"candidates"``, ``"epochs"``, ``"folds"``); ``total`` is the
    number of units when known; ``info`` holds small display values (``name``, ``val_loss``).
    Implementations must never raise for an unknown stage.
    """

    def start(self, stage: str, total: int | None = None) -> None: ...

    def advance(self, stage: str, n: int = 1, **info: Any) -> None: ...

    def finish(self, stage: str) -> None: ...


class NullProgress:
    """Reports nothing; the default when no progress display is wanted."""

    def start(self, stage: str, total: int | None = None) -> None:
        return None

    def advance(self, stage: str, n: int = 1, **info: Any) -> None:
        return None

    def finish(self, stage: str) -> None:
        return None


def as_progress(progress: Progress | None) -> Progress:
    """``progress`` itself, or a :class:`NullProgress` when it is None."""
    return NullProgress() if progress is None else progress
