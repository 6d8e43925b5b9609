"""SIGTERM as a flag, honoured at safe points: what stops a run when a scheduler asks it to.

A Python signal handler runs between two bytecodes of whatever code is running at that instant: a
garbage-collection callback, a ``__del__``, a library's ``finally``. An exception raised there can
be swallowed ("Exception ignored in ...") and the run carries on and exits 0. So while a run is
*deferring* (:func:`deferred`), the CLI's handler only calls :func:`request`, and the run calls
:func:`check` at its safe points: between stages (:mod:`forecaster.pipeline`), between candidates
(:mod:`forecaster.comparison`), between epochs (:class:`forecaster.training.callbacks.StopOnTermination`)
and between MLflow child runs (:mod:`forecaster.tracking`). :func:`check` raises
:class:`forecaster.errors.Terminated` (exit 143). Once a run's outcome is final (its commit point,
:func:`settle`), a later SIGTERM no longer changes its exit code: :func:`pending` is False.

Outside :func:`deferred` the handler raises at once, as before, and the CLI still returns 143 at
the end when a request is :func:`pending` (a raise that was swallowed is not lost).

Example
-------
>>> reset()
>>> with deferred():
...     request()          # what the handler does
...     pending()
True
>>> try:
...     check()        # a safe point
... except Terminated:
...     print("stopped: exit 143")
stopped: exit 143
>>> reset()
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from forecaster.errors import Terminated

__all__ = ["Terminated", "check", "deferred", "deferring", "pending", "request", "reset", "settle"]

_state = {"requested": False, "deferring": 0, "settled": False}


def request() -> None:
    """Record a SIGTERM (all a handler does while a run is deferring)."""
    _state["requested"] = True


def deferring() -> bool:
    """True while a run checks the flag at its safe points (the handler must not raise)."""
    return _state["deferring"] > 0


def pending() -> bool:
    """A SIGTERM was received and no commit point has made the outcome final since."""
    return bool(_state["requested"]) and not _state["settled"]


def check() -> None:
    """A safe point: raise :class:`~forecaster.errors.Terminated` when a SIGTERM is :func:`pending`."""
    if pending():
        raise Terminated()


def settle() -> None:
    """The run's outcome is final (its commit point passed): a SIGTERM no longer changes it."""
    _state["settled"] = True


@contextmanager
def deferred() -> Iterator[None]:
    """While inside, a SIGTERM is only recorded; the code inside calls :func:`check` at safe points.

    Entering starts a new outcome (not yet settled); a request already recorded stays pending.
    """
    _state["deferring"] += 1
    _state["settled"] = False
    try:
        yield
    finally:
        _state["deferring"] -= 1


def reset() -> None:
    """Forget any request (the CLI calls it when a command starts; tests between cases)."""
    _state.update(requested=False, deferring=0, settled=False)
