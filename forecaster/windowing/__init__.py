"""Sliding windows over time series: ``(X, y)`` pairs for the recurrent forecasters.

Owns the window rule (which starts are valid per split, series and segment) and the tf.data
pipeline that gathers them. May import the canonical column names of ``data`` and the ground floor.

Axis 0 is time. A window that starts at row ``s`` takes its inputs from rows
``s .. s + lookback - 1`` and its labels from rows ``s + lookback .. s + lookback + horizon - 1``:

- ``X``: ``(n_samples, lookback, n_features)``, float32;
- ``y``: ``(n_samples, horizon, n_targets)``, float32.

Four entry points:

- :func:`make_windows` windows one plain array (every ``stride``-th start);
- :func:`window_starts` finds the valid starts in the canonical frame, per split, so that no window
  crosses a series, a segment (gap) or a split boundary;
- :func:`gather_windows` materialises the windows for given starts (numpy);
- :func:`make_dataset` streams them as a ``tf.data.Dataset`` from a single base tensor without
  materialising every window (memory stays at the data plus a few batches).

Everything is vectorised on :func:`numpy.lib.stride_tricks.sliding_window_view` (zero-copy views)
or ``tf.gather``; there is no Python loop over windows.
"""

from __future__ import annotations

from forecaster.windowing.arrays import gather_windows, make_windows
from forecaster.windowing.dataset import make_dataset
from forecaster.windowing.starts import SPLITS, window_starts

__all__ = ["SPLITS", "gather_windows", "make_dataset", "make_windows", "window_starts"]
