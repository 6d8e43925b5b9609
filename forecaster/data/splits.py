"""Chronological train/val/test splits: the split rule and the labels it gives each row.

- :class:`SplitRule` owns the split rule: by fractions of each series (``split.val``/``split.test``,
  round half up per fraction) or by row counts (``split.val_rows``/``split.test_rows`` and the
  optional ``split.train_rows``); :func:`split_sizes` is its size rule for a fraction pair;
- :func:`assign_splits` labels each row ``"train"``, ``"val"``, ``"test"`` (or ``"unused"``) by time
  within each series (never at random: the test rows are the latest ones, or the rows right after
  the first ``train_rows + val_rows`` when ``train_rows`` is given);
- :func:`drop_unused` drops the ``"unused"`` rows before windowing (logged once).

Scalers fit on the training rows live in :mod:`forecaster.features.scaling`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forecaster.data.columns import SERIES_ID, SPLIT, TIMESTAMP

logger = logging.getLogger(__name__)

#: The split codes of :meth:`SplitRule.codes`, in order.
SPLIT_LABELS = ("train", "val", "test", "unused")


def _is_count(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@dataclass(frozen=True)
class SplitRule:
    """How each series is cut, in time order, into train, val and test rows (and unused rows).

    By fractions (the default): ``n_val = round(val * n)``, ``n_test = round(test * n)`` (half up,
    each fraction alone) and ``n_train`` the rest, the test rows last. By row counts
    (``val_rows`` and ``test_rows`` given): without ``train_rows`` the last ``test_rows`` rows of
    each series are test, the ``val_rows`` before them val, the rest train; with ``train_rows`` the
    first ``train_rows`` rows are train, the next ``val_rows`` val, the next ``test_rows`` test,
    and any rows after them are unused (the ETT benchmark protocol: 8,640 / 2,880 / 2,880).

    Examples
    --------
    >>> SplitRule(val=0.25, test=0.25).sizes(10)
    (4, 3, 3)
    >>> SplitRule(val_rows=2, test_rows=3).sizes(10)
    (5, 2, 3)
    >>> rule = SplitRule(train_rows=4, val_rows=2, test_rows=3)
    >>> rule.sizes(10), rule.unused(10)
    ((4, 2, 3), 1)
    """

    val: float = 0.25
    test: float = 0.25
    train_rows: int | None = None
    val_rows: int | None = None
    test_rows: int | None = None

    def __post_init__(self) -> None:
        if self.by_rows or self.train_rows is not None:
            for name, minimum in (("train_rows", 1), ("val_rows", 1), ("test_rows", 0)):
                value = getattr(self, name)
                if value is None and name == "train_rows":
                    continue
                if value is None:
                    raise ValueError(
                        "split by row counts needs both `val_rows` and `test_rows`. "
                        f"Received: train_rows={self.train_rows}, val_rows={self.val_rows}, test_rows={self.test_rows}"
                    )
                if not _is_count(value) or value < minimum:
                    raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")
            return
        for name, value in (("val", self.val), ("test", self.test)):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise ValueError(f"`{name}` must be a number in [0, 1). Received: {name}={value!r}")
            if not 0 <= value < 1:
                raise ValueError(f"`{name}` must be in [0, 1). Received: {name}={value}")
        if self.val + self.test >= 1:
            raise ValueError(
                f"`val` + `test` must be below 1 to leave training rows. Received: val={self.val}, test={self.test}"
            )

    @classmethod
    def from_config(cls, split: Any) -> SplitRule:
        """The rule of a pipeline's ``split`` section (:class:`forecaster.config.SplitConfig`)."""
        if getattr(split, "val_rows", None) is not None:
            return cls(train_rows=split.train_rows, val_rows=split.val_rows, test_rows=split.test_rows)
        return cls(val=split.val, test=split.test)

    @property
    def by_rows(self) -> bool:
        """Whether the rule counts rows (``val_rows``/``test_rows``) rather than fractions."""
        return self.val_rows is not None

    @property
    def has_test(self) -> bool:
        """Whether the rule keeps any test rows."""
        return bool(self.test_rows) if self.by_rows else self.test > 0

    def describe(self) -> str:
        """The rule's settings as in the pipeline file, e.g. ``val=0.25, test=0.25``."""
        if not self.by_rows:
            return f"val={self.val}, test={self.test}"
        train = f"train_rows={self.train_rows}, " if self.train_rows is not None else ""
        return f"{train}val_rows={self.val_rows}, test_rows={self.test_rows}"

    def sizes(self, n: Any) -> tuple[Any, Any, Any]:
        """Rows of a series of ``n`` rows in train, val and test (in that time order).

        ``n`` is one count (ints returned) or array-like, one per series (int64 arrays of its
        shape). They sum to ``n`` except with ``train_rows``, where the rest (:meth:`unused`) is
        unused. A series too short for row counts gets a negative ``n_train`` (without
        ``train_rows``) or a negative :meth:`unused`: :func:`forecaster.data.check_length` rejects it.
        """
        rows = np.asarray(n, dtype=np.int64)
        if self.by_rows:
            n_val = np.full_like(rows, self.val_rows)
            n_test = np.full_like(rows, self.test_rows)
            n_train = rows - n_val - n_test if self.train_rows is None else np.full_like(rows, self.train_rows)
        else:
            n_val = np.floor(self.val * rows + 0.5).astype(np.int64)
            n_test = np.floor(self.test * rows + 0.5).astype(np.int64)
            n_train = rows - n_val - n_test
        if rows.ndim == 0:
            return int(n_train), int(n_val), int(n_test)
        return n_train, n_val, n_test

    def unused(self, n: Any) -> Any:
        """Rows after the test rows that no split uses (0 unless ``train_rows`` is given)."""
        n_train, n_val, n_test = self.sizes(n)
        used = n_train + n_val + n_test
        if np.ndim(n) == 0:
            return int(n) - used if self.train_rows is not None else 0
        rows = np.asarray(n, dtype=np.int64)
        return rows - used if self.train_rows is not None else np.zeros_like(rows)

    def codes(self, position: np.ndarray, n: np.ndarray) -> np.ndarray:
        """Split code (0 train, 1 val, 2 test, 3 unused; :data:`SPLIT_LABELS`) of each row, from its
        0-based ``position`` in time order within its series and ``n``, its series' row count."""
        n_train, n_val, n_test = self.sizes(np.asarray(n, dtype=np.int64))
        position = np.asarray(position)
        return ((position >= n_train).astype(np.int8) + (position >= n_train + n_val)
                + (position >= n_train + n_val + n_test))


def as_rule(val: float | SplitRule, test: float | None = None) -> SplitRule:
    """``val`` when it is a :class:`SplitRule`, else the fraction rule ``SplitRule(val, test)``."""
    if isinstance(val, SplitRule):
        if test is not None:
            raise ValueError(f"give either a SplitRule or the fractions val and test. Received: test={test!r}")
        return val
    return SplitRule(val=val, test=0.0 if test is None else test)


def split_sizes(n: Any, val: float | SplitRule, test: float | None = None) -> tuple[Any, Any, Any]:
    """Rows of a series of ``n`` rows in train, val and test (in that time order): the split-size rule.

    ``n_val = round(val * n)`` and ``n_test = round(test * n)``, rounding half up
    (``floor(fraction * n + 0.5)`` in float64, each fraction alone), and
    ``n_train = n - n_val - n_test``. It counts rows, not time. ``val`` may instead be a
    :class:`SplitRule` (row counts): its :meth:`SplitRule.sizes`. :func:`assign_splits` labels rows
    with it and :func:`forecaster.data.length.minimum_rows` checks lengths with it.

    Parameters
    ----------
    n : int or array-like of int
        Rows in the series (one count, or one per series).
    val, test : float
        Fractions of the rows for validation and test (``test`` may be 0); or a SplitRule as ``val``.

    Returns
    -------
    tuple
        ``(n_train, n_val, n_test)``: ints for an int ``n``, int64 arrays of the shape of ``n``
        otherwise; summing to ``n`` (except for a rule with ``train_rows``).

    Examples
    --------
    >>> split_sizes(10, 0.25, 0.25)
    (4, 3, 3)
    >>> [a.tolist() for a in split_sizes([9, 30], 0.25, 0.1)]
    [[6, 19], [2, 8], [1, 3]]
    >>> split_sizes(10, SplitRule(val_rows=2, test_rows=3))
    (5, 2, 3)
    """
    return as_rule(val, test).sizes(n)


def _rank_in_series(codes: np.ndarray, times: np.ndarray | None) -> np.ndarray:
    """0-based position of each row in time order within its series (ties: row order).

    ``codes``: the series of each row as integers; ``times``: sortable values, or None (row order
    is time order). Rows already grouped by series in time order (the canonical frame) take a
    linear path; others one stable sort, never a per-series loop.
    """
    n = len(codes)
    new = np.ones(n, dtype=bool)
    new[1:] = codes[1:] != codes[:-1]
    grouped = int(new.sum()) == (int(codes.max()) + 1 if n else 0)
    if grouped and (times is None or bool(np.all((times[1:] >= times[:-1]) | new[1:]))):
        order = None
    elif times is None:
        order = np.argsort(codes, kind="stable")
    else:
        order = np.lexsort((times, codes))  # stable: equal times keep their row order
    sorted_codes = codes if order is None else codes[order]
    first = np.ones(n, dtype=bool)
    first[1:] = sorted_codes[1:] != sorted_codes[:-1]
    position = np.arange(n, dtype=np.int64)
    rank_sorted = position - np.maximum.accumulate(np.where(first, position, 0))
    if order is None:
        return rank_sorted
    rank = np.empty(n, dtype=np.int64)
    rank[order] = rank_sorted
    return rank


def assign_splits(
    frame: pd.DataFrame,
    val: float | SplitRule,
    test: float | None = None,
    series_column: str = SERIES_ID,
    time_column: str = TIMESTAMP,
) -> pd.Series:
    """Label each row train, val or test (or unused), chronologically within each series.

    For a series of ``n`` rows in time order, the last ``round(test * n)`` rows are ``"test"``,
    the ``round(val * n)`` rows before them are ``"val"``, and the rest are ``"train"``.
    Rounding is half up (``round(2.5) == 3``), applied to each fraction separately; it counts
    rows, not time, so gaps do not shift the boundaries. With a :class:`SplitRule` by row counts
    as ``val``, the sizes are its counts (:meth:`SplitRule.sizes`); with ``train_rows``, rows
    after the first ``train_rows + val_rows + test_rows`` of a series are ``"unused"``.

    Parameters
    ----------
    frame : DataFrame
        Canonical frame with ``series_column``; ordered by ``time_column`` within each series
        (when the column is absent the row order is the time order). Rows need not be sorted.
    val : float or SplitRule
        Fraction of each series for validation, in [0, 1); or the whole rule.
    test : float
        Fraction of each series for test, in [0, 1); ``val + test < 1`` (None with a rule).

    Returns
    -------
    Series of str, named ``"split"``, with the index of ``frame``.

    Raises
    ------
    ValueError
        A fraction or count out of range, or ``series_column`` missing.

    Examples
    --------
    >>> import pandas as pd
    >>> hours = pd.date_range("2024-01-01", periods=8, freq="h")
    >>> frame = pd.DataFrame({"series_id": ["a"] * 8 + ["b"] * 4,
    ...                       "timestamp": hours.append(hours[:4])})
    >>> assign_splits(frame, val=0.25, test=0.25).tolist()
    ['train', 'train', 'train', 'train', 'val', 'val', 'test', 'test', 'train', 'train', 'val', 'test']
    >>> assign_splits(frame.iloc[:8], SplitRule(train_rows=3, val_rows=2, test_rows=1)).tolist()
    ['train', 'train', 'train', 'val', 'val', 'test', 'unused', 'unused']

    A series with fewer than a handful of rows may end up with no training rows (logged as a
    warning); :func:`forecaster.data.check_length` guards the minimum length upstream.
    """
    rule = as_rule(val, test)
    if series_column not in frame.columns:
        raise ValueError(
            f"`frame` must have a `{series_column}` column. Received columns: {list(frame.columns)}"
        )
    # Vectorised over all rows (no groupby-apply, no per-series loop): linear in the rows for a
    # frame sorted by series and time, one stable sort otherwise.
    codes, uniques = pd.factorize(frame[series_column], use_na_sentinel=False)
    codes = codes.astype(np.int64, copy=False)
    times = frame[time_column].to_numpy() if time_column in frame.columns else None
    rank = _rank_in_series(codes, times)  # 0-based position in time order within the series
    counts = np.bincount(codes, minlength=len(uniques))
    split_code = rule.codes(rank, counts[codes])  # 0 train, 1 val, 2 test, 3 unused
    labels = np.array(SPLIT_LABELS, dtype=object)[split_code]
    n_train, _, _ = rule.sizes(counts)
    short = np.asarray(uniques)[(n_train <= 0) | (rule.unused(counts) < 0)]
    if len(short):
        logger.warning("assign_splits: series %s have no training rows or too few rows for the split (%s)",
                       list(short)[:5], rule.describe())
    return pd.Series(labels, index=frame.index, name=SPLIT, dtype="str")


def drop_unused(frame: pd.DataFrame, split_column: str = SPLIT) -> pd.DataFrame:
    """``frame`` without its ``"unused"`` rows (a split with ``train_rows``), logged once at INFO.

    Windowing takes only train, val and test rows; rows after a series' test rows are dropped here.
    """
    unused = frame[split_column].to_numpy() == "unused"
    if not unused.any():
        return frame
    per_series = frame.loc[unused, SERIES_ID].value_counts(sort=False) if SERIES_ID in frame.columns else None
    shown = ("" if per_series is None else
             ": " + ", ".join(f"series {str(sid)!r} {int(k)}" for sid, k in list(per_series.items())[:10])
             + (f" (and {len(per_series) - 10} more series)" if len(per_series) > 10 else ""))
    logger.info("split: %d row(s) after the test rows left unused (split.train_rows given)%s",
                int(unused.sum()), shown)
    return frame.loc[~unused].reset_index(drop=True)
