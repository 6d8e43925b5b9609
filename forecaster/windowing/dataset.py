"""Windows streamed as a ``tf.data.Dataset`` from one base tensor, without materialising them all.

TensorFlow is imported inside :func:`make_dataset`, so the numpy-only windowing functions do not
pay for (or require) it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from forecaster.windowing._checks import (
    _check_int_at_least,
    _check_starts,
    check_window_inputs,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    import tensorflow as tf


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

    ``values`` is converted once to a float32 ``tf.constant`` (a float32 ``tf.Tensor`` is used as
    is, so that several datasets over the same data share one copy of it). The dataset yields one element per
    batch: the batch's start positions, then one ``tf.gather`` on the index matrix
    ``starts[:, None] + range(lookback)`` (and likewise for the labels), then prefetches. Memory:
    the data, the starts (8 bytes each) and a few batches; nothing is held per window.

    The shuffle is a permutation of the starts drawn anew for every iteration (epoch) without
    materialising it: batch ``i`` takes positions ``i * batch_size ..`` of the permutation, each
    mapped by ``tf.random.experimental.index_shuffle`` (a stateless bijection of ``0 .. n - 1``)
    under a key of two int64 values drawn once per iteration from ``tf.data.Dataset.random(seed,
    rerandomize_each_iteration=True)``. So every epoch visits every window exactly once, in an
    order fixed by ``seed`` and the number of the iteration.

    Parameters
    ----------
    values : array-like or float32 tf.Tensor, shape (n_timesteps, n_features)
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
        ``tf.random.set_seed``) the order of every epoch is the same from one run (or process) to
        the next.

    Returns
    -------
    tf.data.Dataset
        Yields ``(X, y)`` with ``X: (batch, lookback, n_features)`` and
        ``y: (batch, horizon, n_targets)``, float32; its cardinality is the number of batches.

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
    >>> shuffled = make_dataset(values, np.arange(8), 2, 1, [0], batch_size=4, shuffle=True, seed=1)
    >>> int(shuffled.cardinality())             # batches per epoch
    2
    >>> order = np.concatenate([X[:, 0, 0].numpy() // 2 for X, _ in shuffled]).astype(int)
    >>> sorted(order.tolist())                  # every window once per epoch, in a seeded order
    [0, 1, 2, 3, 4, 5, 6, 7]
    """
    # TensorFlow is imported here so that the numpy-only functions of this module do not pay
    # for (or require) it.
    import tensorflow as tf

    array, lookback, horizon, target_index = check_window_inputs(values, lookback, horizon, targets)
    batch_size = _check_int_at_least("batch_size", batch_size)
    n_timesteps, n_features = array.shape
    index = _check_starts(starts, n_timesteps, lookback, horizon)

    if tf.is_tensor(values) and values.dtype == tf.float32:
        base = values  # shared, not copied (np.asarray above was a view for the checks)
    else:
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

    n_starts = int(index.size)
    n_batches = -(-n_starts // batch_size)
    dataset = _batch_starts(tf, tf.constant(index), batch_size, n_batches, shuffle and n_starts > 1, seed)
    dataset = dataset.map(gather)  # one vectorised gather per batch: parallel map buys nothing here
    return dataset.prefetch(tf.data.AUTOTUNE)


def _batch_starts(tf: Any, starts: "tf.Tensor", batch_size: int, n_batches: int, shuffle: bool,
                  seed: int | None) -> "tf.data.Dataset":
    """One element per batch: its window starts, ``(b,)`` int64, in order or permuted per iteration."""
    n_starts = int(starts.shape[0])
    last = tf.constant(n_starts - 1, dtype=tf.int64)

    def batches(key: "tf.Tensor | None") -> "tf.data.Dataset":
        def one(i: "tf.Tensor") -> "tf.Tensor":
            positions = tf.range(i * batch_size, tf.minimum((i + 1) * batch_size, n_starts))  # -> (b,)
            if key is not None:  # position p of this epoch's permutation holds start number perm(p)
                positions = tf.random.experimental.index_shuffle(positions, key, last)
            return tf.gather(starts, positions)

        return tf.data.Dataset.range(n_batches).map(one)

    if not shuffle:
        return batches(None)
    # A new key each time the dataset is iterated (an epoch), from a stream fixed by ``seed``.
    keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2, drop_remainder=True).take(1)
    return keys.flat_map(batches).apply(tf.data.experimental.assert_cardinality(n_batches))
