"""Valid window starts in the canonical frame, per split: no window crosses a series, a segment
(gap) or a split boundary."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from forecaster.data.columns import SEGMENT, SERIES_ID, SPLIT, TIMESTAMP
from forecaster.windowing._checks import _check_int_at_least

# The package's name, not this module's: log records keep the logger name "forecaster.windowing".
logger = logging.getLogger(__package__)

SPLITS = ("train", "val", "test")


def _run_ends(change: np.ndarray, dtype: type = np.int64) -> np.ndarray:
    """For each row, the (exclusive) end position of the run of rows it belongs to.

    ``change[i]`` is True when row ``i`` starts a new run (``change[0]`` must be True).
    """
    n = change.size
    firsts = np.flatnonzero(change)
    ends = np.append(firsts[1:], n).astype(dtype)
    return np.repeat(ends, np.diff(np.append(firsts, n)))


def _block_starts(change: np.ndarray, dtype: type = np.int64) -> np.ndarray:
    """For each row, the position of the first row of its run."""
    firsts = np.flatnonzero(change)
    return np.repeat(firsts.astype(dtype), np.diff(np.append(firsts, change.size)))


def _split_codes(frame: pd.DataFrame, split_column: str) -> np.ndarray:
    """Split of each row as 0 (train), 1 (val), 2 (test)."""
    n = len(frame)
    if split_column not in frame.columns:
        return np.zeros(n, dtype=np.int8)
    # One hash pass over the labels (no string comparison per row and split).
    raw, uniques = pd.factorize(frame[split_column], use_na_sentinel=False)
    uniques = list(uniques)
    lookup = np.array([SPLITS.index(u) if isinstance(u, str) and u in SPLITS else -1 for u in uniques],
                      dtype=np.int8)
    codes = lookup[raw] if n else np.zeros(0, dtype=np.int8)
    unknown = codes < 0
    if unknown.any():
        found = sorted({repr(u) for u, code in zip(uniques, lookup) if code < 0})[:5]
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
    split_column: str = SPLIT,
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
    if SERIES_ID not in frame.columns:
        raise ValueError(
            f"`frame` must have a `series_id` column. Received columns: {list(frame.columns)}"
        )
    n = len(frame)
    span = lookback + horizon
    empty = {name: np.zeros(0, dtype=np.int64) for name in SPLITS}
    if n == 0:
        return empty

    # Memory: a few arrays of n bools or (below 2**31 rows) int32s at a time, freed as soon as used.
    series_codes, _ = pd.factorize(frame[SERIES_ID], use_na_sentinel=False)
    new_series = np.empty(n, dtype=bool)
    new_series[0] = True
    np.not_equal(series_codes[1:], series_codes[:-1], out=new_series[1:])
    n_series = int(series_codes.max()) + 1
    del series_codes
    if int(new_series.sum()) != n_series:
        raise ValueError(
            "`frame` rows must be sorted by series_id, timestamp: the rows of a series must be "
            f"contiguous. Received {n_series} series in {int(new_series.sum())} separate runs"
        )
    new_block = new_series.copy()
    if SEGMENT in frame.columns:
        segment, _ = pd.factorize(frame[SEGMENT], use_na_sentinel=False)
        new_block[1:] |= segment[1:] != segment[:-1]
        del segment
    if TIMESTAMP in frame.columns:
        stamps = frame[TIMESTAMP].to_numpy()
        backwards = ~new_series[1:] & ~(stamps[1:] > stamps[:-1])
        if backwards.any():
            row = int(np.flatnonzero(backwards)[0]) + 1
            raise ValueError(
                "`frame` rows must be sorted by series_id, timestamp with one row per timestamp. "
                f"Received timestamp {stamps[row]} at row {row} after {stamps[row - 1]}"
            )

    codes = _split_codes(frame, split_column)
    index = np.int32 if n + span < np.iinfo(np.int32).max else np.int64
    position = np.arange(n, dtype=index)
    candidate = position + span <= _run_ends(new_block, index)  # the window ends inside its block
    if stride > 1:
        candidate &= (position - _block_starts(new_block, index)) % stride == 0
    starts = position[candidate]
    del position, candidate
    # A run: contiguous rows of one block and one split.
    new_run = new_block
    new_run[1:] |= codes[1:] != codes[:-1]
    run_end = _run_ends(new_run, index)
    del new_run, new_block

    window_end = starts + span
    label_first = starts + lookback
    labels_in_one_split = run_end[label_first] >= window_end
    split_of = codes[label_first]
    del label_first
    result = {}
    for code, name in enumerate(SPLITS):
        keep = labels_in_one_split & (split_of == code)
        if name == "train":
            # Inputs and labels all training rows: one training run covers the whole window.
            keep &= (codes[starts] == 0) & (run_end[starts] >= window_end)
        result[name] = starts[keep].astype(np.int64)
    logger.debug(
        "window_starts: %d rows -> train=%d val=%d test=%d windows",
        n,
        result["train"].size,
        result["val"].size,
        result["test"].size,
    )
    return result
