"""Sliding windows over time series: ``(X, y)`` pairs for the recurrent forecasters.

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

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

if TYPE_CHECKING:  # pragma: no cover - typing only
    import tensorflow as tf

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


# --------------------------------------------------------------------------- validation helpers


def _check_int_at_least(name: str, value: Any, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise a Keras-style ``ValueError``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}. Received: {name}={value}")
    return int(value)


def _check_values(values: Any) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 2:
        raise ValueError(
            "`values` must be 2-D with shape (n_timesteps, n_features). "
            f"Received: values.shape={array.shape}"
        )
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise ValueError(f"`values` must be numeric. Received: values.dtype={array.dtype}")
    return array


def _check_targets(targets: Sequence[int] | None, n_features: int) -> np.ndarray:
    """Column indices of the labels as an int64 array (default: every column)."""
    if targets is None:
        return np.arange(n_features, dtype=np.int64)
    if isinstance(targets, (int, np.integer)):
        targets = [targets]
    index = np.asarray(targets)
    if index.ndim != 1 or index.size == 0 or not np.issubdtype(index.dtype, np.integer):
        raise ValueError(
            "`targets` must be a non-empty list of column indices. "
            f"Received: targets={targets!r}"
        )
    bad = index[(index < 0) | (index >= n_features)]
    if bad.size:
        raise ValueError(
            f"`targets` must be column indices in [0, {n_features - 1}] (n_features={n_features}). "
            f"Received: targets={index.tolist()}"
        )
    return index.astype(np.int64)


def _check_length(n_timesteps: int, lookback: int, horizon: int) -> None:
    if n_timesteps < lookback + horizon:
        raise ValueError(
            "`values` must have at least lookback + horizon rows to make one window. "
            f"Received: n_timesteps={n_timesteps}, lookback={lookback}, horizon={horizon}"
        )


def _check_starts(starts: Any, n_timesteps: int, lookback: int, horizon: int) -> np.ndarray:
    index = np.asarray(starts)
    if index.size == 0:
        return np.zeros(0, dtype=np.int64)
    if index.ndim != 1 or not np.issubdtype(index.dtype, np.integer):
        raise ValueError(
            "`starts` must be a 1-D array of integer row positions. "
            f"Received: starts with shape {index.shape} and dtype {index.dtype}"
        )
    last = n_timesteps - lookback - horizon
    low, high = int(index.min()), int(index.max())
    if low < 0 or high > last:
        raise ValueError(
            f"`starts` must lie in [0, {last}] (n_timesteps - lookback - horizon with "
            f"n_timesteps={n_timesteps}, lookback={lookback}, horizon={horizon}). "
            f"Received: starts from {low} to {high}"
        )
    return index.astype(np.int64, copy=False)


def _windows_view(values: np.ndarray, length: int) -> np.ndarray:
    """Zero-copy view ``(n_timesteps - length + 1, length, n_columns)`` of every window."""
    # Windowing over both axes with the full column width puts the window axes last in
    # (time, column) order, so no transpose is needed: -> (N, 1, length, C) -> (N, length, C).
    return sliding_window_view(values, (length, values.shape[1]), axis=(0, 1))[:, 0]


# --------------------------------------------------------------------------- plain arrays


def make_windows(
    values: Any,
    lookback: int,
    horizon: int,
    stride: int = 1,
    targets: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut one array into ``(X, y)`` windows.

    Sample ``i`` takes inputs ``values[i*stride : i*stride + lookback]`` and labels
    ``values[i*stride + lookback : i*stride + lookback + horizon, targets]``, with
    ``n_samples = (n_timesteps - lookback - horizon) // stride + 1``.

    Parameters
    ----------
    values : array-like, shape (n_timesteps, n_features)
        Axis 0 is time.
    lookback : int
        Input steps per window (>= 1).
    horizon : int
        Label steps per window (>= 1).
    stride : int, default 1
        Steps between the starts of consecutive windows (>= 1).
    targets : list of int, optional
        Column indices of the labels; default every column.

    Returns
    -------
    X : ndarray, shape (n_samples, lookback, n_features), float32
    y : ndarray, shape (n_samples, horizon, n_targets), float32
        Both are new C-contiguous, writeable arrays (never views of ``values``, even when
        ``values`` is already float32): the windows are cut as zero-copy views and copied once.

    Raises
    ------
    ValueError
        ``lookback``, ``horizon`` or ``stride`` below 1; ``values`` not 2-D or shorter than
        ``lookback + horizon`` rows; a target index out of range.

    Examples
    --------
    Six steps of two features; two steps in, one step out, every second start:

    >>> import numpy as np
    >>> values = np.arange(12).reshape(6, 2)   # row t is [2t, 2t + 1]
    >>> X, y = make_windows(values, lookback=2, horizon=1, stride=2, targets=[1])
    >>> X.shape, y.shape                       # (6 - 2 - 1) // 2 + 1 = 2 samples
    ((2, 2, 2), (2, 1, 1))
    >>> X[1].tolist()                          # rows 2 and 3
    [[4.0, 5.0], [6.0, 7.0]]
    >>> y[:, :, 0].tolist()                    # column 1 of rows 2 and 4
    [[5.0], [9.0]]
    """
    lookback = _check_int_at_least("lookback", lookback)
    horizon = _check_int_at_least("horizon", horizon)
    stride = _check_int_at_least("stride", stride)
    array = _check_values(values)
    n_timesteps, n_features = array.shape
    _check_length(n_timesteps, lookback, horizon)
    target_index = _check_targets(targets, n_features)

    n_samples = (n_timesteps - lookback - horizon) // stride + 1
    last_start = (n_samples - 1) * stride
    # -> (n_samples, lookback, n_features), still a view of `array`.
    x_view = _windows_view(array, lookback)[: last_start + 1 : stride]
    # -> (n_samples, horizon, n_features) view; the target selection copies.
    y_view = _windows_view(array[lookback:], horizon)[: last_start + 1 : stride]
    X = np.array(x_view, dtype=np.float32, order="C", copy=True)
    y = np.ascontiguousarray(y_view[:, :, target_index], dtype=np.float32)
    return X, y


def gather_windows(
    values: Any,
    starts: Any,
    lookback: int,
    horizon: int,
    targets: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Materialise the windows that start at the given rows.

    Parameters
    ----------
    values : array-like, shape (n_timesteps, n_features)
    starts : array-like of int, shape (n_samples,)
        Row positions of the window starts (e.g. one entry of :func:`window_starts`), each in
        ``[0, n_timesteps - lookback - horizon]``.
    lookback, horizon : int
    targets : list of int, optional
        Column indices of the labels; default every column.

    Returns
    -------
    X : ndarray, shape (n_samples, lookback, n_features), float32
    y : ndarray, shape (n_samples, horizon, n_targets), float32

    Examples
    --------
    >>> import numpy as np
    >>> values = np.arange(12.0).reshape(6, 2)
    >>> X, y = gather_windows(values, [3, 0], lookback=2, horizon=1, targets=[0])
    >>> X.shape, y.shape
    ((2, 2, 2), (2, 1, 1))
    >>> y[:, 0, 0].tolist()                     # column 0 of rows 5 and 2
    [10.0, 4.0]
    """
    lookback = _check_int_at_least("lookback", lookback)
    horizon = _check_int_at_least("horizon", horizon)
    array = _check_values(values)
    n_timesteps, n_features = array.shape
    _check_length(n_timesteps, lookback, horizon)
    target_index = _check_targets(targets, n_features)
    index = _check_starts(starts, n_timesteps, lookback, horizon)

    # Fancy indexing on the zero-copy window views copies only the requested windows.
    X = _windows_view(array, lookback)[index]  # -> (n_samples, lookback, n_features)
    y = _windows_view(array[lookback:, target_index], horizon)[index]  # -> (n_samples, horizon, n_targets)
    return X.astype(np.float32, copy=False), y.astype(np.float32, copy=False)


# --------------------------------------------------------------------------- canonical frame


def _run_ends(change: np.ndarray) -> np.ndarray:
    """For each row, the (exclusive) end position of the run of rows it belongs to.

    ``change[i]`` is True when row ``i`` starts a new run (``change[0]`` must be True).
    """
    n = change.size
    firsts = np.flatnonzero(change)
    ends = np.append(firsts[1:], n)
    return np.repeat(ends, np.diff(np.append(firsts, n)))


def _block_starts(change: np.ndarray) -> np.ndarray:
    """For each row, the position of the first row of its run."""
    firsts = np.flatnonzero(change)
    return np.repeat(firsts, np.diff(np.append(firsts, change.size)))


def _split_codes(frame: pd.DataFrame, split_column: str) -> np.ndarray:
    """Split of each row as 0 (train), 1 (val), 2 (test)."""
    n = len(frame)
    if split_column not in frame.columns:
        return np.zeros(n, dtype=np.int8)
    labels = frame[split_column].to_numpy(dtype=object)
    codes = np.full(n, -1, dtype=np.int8)
    for code, name in enumerate(SPLITS):
        codes[labels == name] = code
    unknown = codes < 0
    if unknown.any():
        found = sorted({repr(v) for v in pd.unique(labels[unknown])})[:5]
        raise ValueError(
            f"column `{split_column}` must hold only {list(SPLITS)}. "
            f"Received: {', '.join(found)} (first at row {int(np.flatnonzero(unknown)[0])})"
        )
    return codes


def window_starts(
    frame: pd.DataFrame,
    lookback: int,
    horizon: int,
    stride: int = 1,
    split_column: str = "split",
) -> dict[str, np.ndarray]:
    """Row positions of the valid window starts in the canonical frame, per split.

    A window starting at row ``s`` spans rows ``[s, s + lookback + horizon)``. It is valid when

    - it stays inside one block of rows with the same ``series_id`` and ``segment`` (a missing
      ``segment`` column makes each series one block);
    - its label rows ``s + lookback .. s + lookback + horizon - 1`` all have the same split, which
      is the split of the window (windows whose labels straddle two splits are dropped);
    - for ``train``: its input rows are training rows too. Validation and test windows may take
      their inputs from earlier rows of any split (past data is known at forecast time).

    Within each block the candidate starts are its first row, then every ``stride``-th row.

    Parameters
    ----------
    frame : DataFrame
        Canonical frame: columns ``series_id``, optionally ``timestamp``, ``segment`` and
        ``split_column`` (without it every row is ``train``); rows sorted by
        ``series_id, timestamp``. Only positions matter, not the index.
    lookback, horizon, stride : int
        Each >= 1.
    split_column : str, default "split"
        Column holding ``"train"``, ``"val"`` or ``"test"``.

    Returns
    -------
    dict of str to ndarray
        Keys ``"train"``, ``"val"``, ``"test"`` (always all three), each a sorted int64 array of
        0-based row positions, possibly empty.

    Raises
    ------
    ValueError
        An argument below 1; ``series_id`` missing; rows of a series not contiguous or not in
        increasing time order; an unknown split label.

    Examples
    --------
    One series of 8 rows: 5 train, 3 test; 2 steps in, 1 step out.

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"series_id": "a",
    ...                       "split": ["train"] * 5 + ["test"] * 3})
    >>> starts = window_starts(frame, lookback=2, horizon=1)
    >>> starts["train"].tolist(), starts["val"].tolist(), starts["test"].tolist()
    ([0, 1, 2], [], [3, 4, 5])

    The window starting at row 3 has inputs in rows 3-4 (train) and its label in row 5 (test).
    """
    lookback = _check_int_at_least("lookback", lookback)
    horizon = _check_int_at_least("horizon", horizon)
    stride = _check_int_at_least("stride", stride)
    if "series_id" not in frame.columns:
        raise ValueError(
            f"`frame` must have a `series_id` column. Received columns: {list(frame.columns)}"
        )
    n = len(frame)
    span = lookback + horizon
    empty = {name: np.zeros(0, dtype=np.int64) for name in SPLITS}
    if n == 0:
        return empty

    series_codes, _ = pd.factorize(frame["series_id"], use_na_sentinel=False)
    new_series = np.empty(n, dtype=bool)
    new_series[0] = True
    new_series[1:] = series_codes[1:] != series_codes[:-1]
    n_series = int(series_codes.max()) + 1
    if int(new_series.sum()) != n_series:
        raise ValueError(
            "`frame` rows must be sorted by series_id, timestamp: the rows of a series must be "
            f"contiguous. Received {n_series} series in {int(new_series.sum())} separate runs"
        )
    new_block = new_series.copy()
    if "segment" in frame.columns:
        segment, _ = pd.factorize(frame["segment"], use_na_sentinel=False)
        new_block[1:] |= segment[1:] != segment[:-1]
    if "timestamp" in frame.columns:
        stamps = frame["timestamp"].to_numpy()
        backwards = ~new_series[1:] & ~(stamps[1:] > stamps[:-1])
        if backwards.any():
            row = int(np.flatnonzero(backwards)[0]) + 1
            raise ValueError(
                "`frame` rows must be sorted by series_id, timestamp with one row per timestamp. "
                f"Received timestamp {stamps[row]} at row {row} after {stamps[row - 1]}"
            )

    codes = _split_codes(frame, split_column)
    position = np.arange(n, dtype=np.int64)
    block_first = _block_starts(new_block)
    block_end = _run_ends(new_block)
    # A run: contiguous rows of one block and one split.
    new_run = new_block.copy()
    new_run[1:] |= codes[1:] != codes[:-1]
    run_end = _run_ends(new_run)

    candidate = ((position - block_first) % stride == 0) & (position + span <= block_end)
    starts = position[candidate]
    label_first = starts + lookback
    labels_in_one_split = run_end[label_first] >= starts + span
    split_of = codes[label_first]
    result = {}
    for code, name in enumerate(SPLITS):
        keep = labels_in_one_split & (split_of == code)
        if name == "train":
            # Inputs and labels all training rows: one training run covers the whole window.
            keep &= (codes[starts] == 0) & (run_end[starts] >= starts + span)
        result[name] = starts[keep]
    logger.debug(
        "window_starts: %d rows -> train=%d val=%d test=%d windows",
        n,
        result["train"].size,
        result["val"].size,
        result["test"].size,
    )
    return result


# --------------------------------------------------------------------------- tf.data


def make_dataset(
    values: Any,
    starts: Any,
    lookback: int,
    horizon: int,
    targets: Sequence[int] | None,
    batch_size: int,
    shuffle: bool,
    seed: int | None = None,
) -> "tf.data.Dataset":
    """Stream ``(X, y)`` batches for the given window starts, without materialising all windows.

    ``values`` is converted once to a float32 ``tf.constant``; the dataset slices the start
    positions, shuffles them (when asked), batches them and gathers each batch's windows with
    ``tf.gather`` on the index matrix ``starts[:, None] + range(lookback)`` (and likewise for the
    labels), then prefetches. Memory: the data plus a few batches.

    Parameters
    ----------
    values : array-like, shape (n_timesteps, n_features)
    starts : array-like of int, shape (n_samples,)
        Row positions of the window starts (see :func:`window_starts`).
    lookback, horizon : int
    targets : list of int or None
        Column indices of the labels; None for every column.
    batch_size : int
        Windows per batch (the last batch may be smaller).
    shuffle : bool
        Shuffle the windows over all starts; reshuffled on every iteration (epoch).
    seed : int, optional
        Seed of the shuffle: with the same seed (and the same TensorFlow global seed, see
        ``tf.random.set_seed``) the order of every epoch is the same from one run to the next.

    Returns
    -------
    tf.data.Dataset
        Yields ``(X, y)`` with ``X: (batch, lookback, n_features)`` and
        ``y: (batch, horizon, n_targets)``, float32.

    Examples
    --------
    >>> import numpy as np
    >>> values = np.arange(20.0).reshape(10, 2)
    >>> ds = make_dataset(values, np.arange(8), lookback=2, horizon=1, targets=[0],
    ...                   batch_size=4, shuffle=False)
    >>> X, y = next(iter(ds))
    >>> tuple(X.shape), tuple(y.shape)
    ((4, 2, 2), (4, 1, 1))
    >>> y[:, 0, 0].numpy().tolist()             # column 0 of rows 2, 3, 4, 5
    [4.0, 6.0, 8.0, 10.0]
    """
    # TensorFlow is imported here so that the numpy-only functions of this module do not pay
    # for (or require) it.
    import tensorflow as tf

    lookback = _check_int_at_least("lookback", lookback)
    horizon = _check_int_at_least("horizon", horizon)
    batch_size = _check_int_at_least("batch_size", batch_size)
    array = _check_values(values)
    n_timesteps, n_features = array.shape
    _check_length(n_timesteps, lookback, horizon)
    target_index = _check_targets(targets, n_features)
    index = _check_starts(starts, n_timesteps, lookback, horizon)

    base = tf.constant(np.asarray(array, dtype=np.float32))  # -> (n_timesteps, n_features)
    input_offsets = tf.range(lookback, dtype=tf.int64)
    label_offsets = tf.range(lookback, lookback + horizon, dtype=tf.int64)
    target_columns = tf.constant(target_index)
    all_targets = bool(np.array_equal(target_index, np.arange(n_features)))

    def gather(batch_starts: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        rows = batch_starts[:, None]
        X = tf.gather(base, rows + input_offsets)  # -> (b, lookback, n_features)
        y = tf.gather(base, rows + label_offsets)  # -> (b, horizon, n_features)
        if not all_targets:
            y = tf.gather(y, target_columns, axis=2)  # -> (b, horizon, n_targets)
        return X, y

    dataset = tf.data.Dataset.from_tensor_slices(index)
    if shuffle:
        dataset = dataset.shuffle(
            buffer_size=max(int(index.size), 1), seed=seed, reshuffle_each_iteration=True
        )
    dataset = dataset.batch(batch_size)
    dataset = dataset.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)
