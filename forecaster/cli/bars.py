"""tqdm progress bars for the command line, shown only when a person watches a terminal.

``tqdm`` is imported when a bar starts, not at import time, so ``forecaster --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


class TqdmProgress:
    """Progress bars on stderr (one per active stage, nested in start order).

    Implements :class:`forecaster.comparison.progress.Progress`. Used only when stderr is a terminal.
    """

    def __init__(self, stream: Any = None):
        self._stream = stream if stream is not None else sys.stderr
        self._bars: dict[str, Any] = {}

    def start(self, stage: str, total: int | None = None) -> None:
        from tqdm import tqdm

        self.finish(stage)
        self._bars[stage] = tqdm(
            total=total,
            desc=stage,
            file=self._stream,
            position=len(self._bars),
            leave=not self._bars,  # the outermost bar stays; nested ones (epochs) vanish
            dynamic_ncols=True,
        )

    def advance(self, stage: str, n: int = 1, **info: Any) -> None:
        bar = self._bars.get(stage)
        if bar is None:
            return
        if info:
            bar.set_postfix(info, refresh=False)
        bar.update(n)

    def finish(self, stage: str) -> None:
        bar = self._bars.pop(stage, None)
        if bar is not None:
            bar.close()

    def close(self) -> None:
        for stage in list(self._bars)[::-1]:
            self.finish(stage)


def _progress_for(args: argparse.Namespace) -> "TqdmProgress | None":
    """Bars only for a human at a terminal: stderr is a TTY, text logs, not --quiet."""
    if args.quiet or args.log_format != "text" or not _stderr_is_tty():
        return None
    return TqdmProgress()


def _call_with_progress(args: argparse.Namespace, function: Any, *fargs: Any, **kwargs: Any) -> Any:
    """Call ``function(*fargs, **kwargs)``, adding ``progress=`` bars when a person is watching
    (log lines are then printed above the bars instead of through them)."""
    progress = _progress_for(args)
    if progress is None:
        return function(*fargs, **kwargs)
    from tqdm.contrib.logging import logging_redirect_tqdm

    try:
        with logging_redirect_tqdm():
            return function(*fargs, progress=progress, **kwargs)
    finally:
        progress.close()


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
