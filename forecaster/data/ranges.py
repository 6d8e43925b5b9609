"""Flag values far outside the training range: likely glitches the scaler has never seen.

The training rows of a series are its first ``n_train`` rows (:meth:`~forecaster.data.splits.SplitRule.sizes`,
the rule of the chronological split). A value of a later row is *far outside* when it lies more
than :data:`FAR_FACTOR` training ranges beyond the training minimum or maximum of its series and
column. ``forecaster data check`` prints these flags and ``forecaster run`` logs them as warnings;
``data.valid_range`` turns implausible values into data errors.

Example
-------
>>> import pandas as pd
>>> frame = pd.DataFrame({"series_id": "s", "timestamp": pd.date_range("2024", periods=8, freq="D"),
...                       "T": [1.0, 2.0, 3.0, 2.0, 1.0, 2.0, 999.0, 2.0]})
>>> flags = range_flags(frame, 0.25, 0.25, source="t.csv")
>>> len(flags), "999" in flags[0]
(1, True)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster.data.columns import SEGMENT, SERIES_ID, SPLIT, TIMESTAMP
from forecaster.data.splits import SplitRule, as_rule

#: How many training ranges beyond the training minimum/maximum count as far outside.
FAR_FACTOR = 3.0
_KEYS = (SERIES_ID, TIMESTAMP, SEGMENT, SPLIT)


def range_flags(frame: pd.DataFrame, val: float | SplitRule, test: float | None = None,
                source: str = "<dataframe>") -> list[str]:
    """One message per column with values far outside its training range (in any series).

    Parameters
    ----------
    frame : pandas.DataFrame
        Canonical frame (sorted by ``series_id, timestamp``), usually after regularisation.
    val, test : float
        Split fractions (or a :class:`~forecaster.data.splits.SplitRule` as ``val``): the training
        rows of a series of ``n`` rows are its first ``rule.sizes(n)[0]``.
    source : str
        What to call the data in the messages (the file path).

    Returns
    -------
    list of str
        Each names the column, how many values, the training range, and the most extreme value
        with its series and timestamp.
    """
    columns = [c for c in frame.columns if c not in _KEYS and pd.api.types.is_numeric_dtype(frame[c])]
    found: dict[str, list[tuple[float, float, float, float, str, pd.Timestamp, int]]] = {}
    rule = as_rule(val, test)
    for sid, rows in frame.groupby(SERIES_ID, sort=True):
        n_train = rule.sizes(len(rows))[0]
        if n_train < 2 or n_train >= len(rows):
            continue
        for name in columns:
            values = rows[name].to_numpy(dtype="float64")
            train, later = values[:n_train], values[n_train:]
            if np.isnan(train).all():
                continue
            low, high = float(np.nanmin(train)), float(np.nanmax(train))
            span = high - low if high > low else max(abs(high), 1.0)
            distance = np.nan_to_num(np.maximum(low - later, later - high) / span, nan=0.0)
            far = distance > FAR_FACTOR
            if far.any():
                worst = int(np.argmax(distance))
                stamp = rows[TIMESTAMP].iloc[n_train + worst]
                found.setdefault(name, []).append(
                    (float(distance[worst]), float(later[worst]), low, high, str(sid), stamp, int(far.sum()))
                )
    flags = []
    for name, items in found.items():
        _, value, low, high, sid, stamp, _ = max(items, key=lambda item: item[0])
        count = sum(item[-1] for item in items)
        where = "" if sid == "series" else f" in series {sid!r}"
        flags.append(
            f"{source}: column {name!r} has {count} value(s) after the training rows far outside "
            f"the training range (more than {FAR_FACTOR:g} training ranges beyond it), the furthest "
            f"{value:g} at {pd.Timestamp(stamp)}{where} (training range [{low:g}, {high:g}]). If such "
            f"values are impossible, reject them with data.valid_range (e.g. {{{name!r}: [low, high]}})."
        )
    return flags
