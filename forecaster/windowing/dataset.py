"""Windows streamed as a ``tf.data.Dataset`` from one base tensor, without materialising them all.

TensorFlow is imported inside :func:`make_dataset`, so the numpy-only windowing functions do not
pay for (or require) it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from forecaster.windowing._checks import _check_int_at_least, _check_starts, check_window_inputs

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

    array, lookback, horizon, target_index = check_window_inputs(values, lookback, horizon, targets)
    batch_size = _check_int_at_least("batch_size", batch_size)
    n_timesteps, n_features = array.shape
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
    dataset = dataset.map(gather)  # one vectorised gather per batch: parallel map buys nothing here
    return dataset.prefetch(tf.data.AUTOTUNE)
