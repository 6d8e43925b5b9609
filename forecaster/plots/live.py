"""``live_accuracy.png``: the live error of served forecasts over time against the expected error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from forecaster.plots._style import BASELINE_COLOUR, MODEL_COLOUR, _figure, _save


def plot_live_accuracy(scored: pd.DataFrame, path, *, test_mae: float | None = None,
                       title: str = "live accuracy") -> Path:
    """Mean absolute error of the scored forecasts per target date, against the model's test MAE.

    Parameters
    ----------
    scored : DataFrame
        Scored ledger rows (:func:`forecaster.lifecycle.monitoring.score_rows`): ``target_timestamp``,
        ``abs_error``, ``persistence_abs_error``, ``lower``, ``upper``.
    test_mae : float, optional
        The served model's test MAE: the error it was expected to have (dashed line).
    The grey band is the conformal band: from 0 to the mean interval half-width of the forecasts
    of that date (an error inside it is covered by the interval).
    """
    if scored.empty:
        raise ValueError("`scored` has no rows: nothing to plot. Received: 0 scored forecast values")
    by_date = scored.assign(half=(scored["upper"] - scored["lower"]) / 2).groupby("target_timestamp", sort=True)
    daily = by_date[["abs_error", "persistence_abs_error", "half"]].mean()
    x = pd.to_datetime(daily.index)
    fig, (ax,) = _figure()
    ax.fill_between(x, 0, daily["half"].to_numpy(dtype=float), color=BASELINE_COLOUR, alpha=0.2, step="mid",
                    label="conformal band (mean interval half-width)")
    ax.plot(x, daily["abs_error"].to_numpy(dtype=float), color=MODEL_COLOUR, marker=".", label="live MAE")
    ax.plot(x, daily["persistence_abs_error"].to_numpy(dtype=float), color=BASELINE_COLOUR, linestyle=":",
            label="same-origin persistence MAE")
    if test_mae is not None and np.isfinite(test_mae):
        ax.axhline(test_mae, color="tab:red", linestyle="--", label=f"test MAE {test_mae:.3g}")
    ax.set_ylabel("absolute error (data units)")
    ax.set_xlabel("target date")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize="small")
    fig.autofmt_xdate()
    return _save(fig, path)
