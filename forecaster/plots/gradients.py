"""Vanishing-gradient charts: the input gradient by lag of one run, and the memory study of a comparison.

The profiles come from :class:`forecaster.training.lag_gradients.LagGradientTelemetry`: the norm
of the loss gradient with respect to the input at each window step, lag 1 (the last observed
step) first. Lags whose norm is exactly zero (beyond a truncation) cannot sit on a log axis; the
charts say how many there are instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from forecaster.plots._style import DPI, FIGSIZE, _epoch_ticks, _figure, _save

#: Same rule as ``forecaster.training.lag_gradients.MEMORY_FRACTION`` (plots do not import training).
MEMORY_FRACTION = 0.01


def _profile(values, name: str) -> np.ndarray:
    profile = np.asarray(values, dtype=np.float64).ravel()
    if profile.size == 0:
        raise ValueError(f"`{name}` must hold one gradient norm per lag (at least one). Received: an empty profile")
    return profile


def _memory_lag(profile: np.ndarray) -> int:
    finite = np.where(np.isfinite(profile), profile, 0.0)
    if finite.max() <= 0:
        return 0
    return int(np.flatnonzero(finite >= MEMORY_FRACTION * finite.max())[-1] + 1)


def _positive(profile: np.ndarray) -> np.ndarray:
    return np.where(profile > 0, profile, np.nan)


def plot_gradient_by_lag(profile: Sequence[float], title: str, path) -> Path:
    """One run's input-gradient norm by lag (log y), the 1%-of-max line and ``memory_lag`` marked.

    Parameters
    ----------
    profile : sequence of float
        Norm per lag, ``(lookback,)``, lag 1 first.

    Returns
    -------
    pathlib.Path
    """
    profile = _profile(profile, "profile")
    lags = np.arange(1, profile.size + 1)
    fig, (ax,) = _figure()
    ax.plot(lags, _positive(profile), marker="o", markersize=2, label="|d loss / d input| at lag")
    peak = np.nanmax(np.where(np.isfinite(profile), profile, np.nan)) if np.isfinite(profile).any() else 0.0
    zeros = int(np.sum(profile == 0))
    if peak > 0:
        ax.set_yscale("log")
        ax.axhline(MEMORY_FRACTION * peak, color="tab:red", linestyle="--", linewidth=1,
                   label=f"{MEMORY_FRACTION:.0%} of the maximum")
        lag = _memory_lag(profile)
        ax.axvline(lag, color="tab:gray", linestyle=":", linewidth=1, label=f"memory_lag = {lag}")
    if zeros:
        ax.plot([], [], " ", label=f"exactly 0 at {zeros} lag(s) (not drawn)")
    ax.set_xlabel("lag (1 = last observed step)")
    ax.set_ylabel("input gradient norm")
    ax.set_xlim(0.5, profile.size + 0.5)
    ax.set_title(title or "Input gradient by lag")
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(loc="best", fontsize="small")
    return _save(fig, path)


def plot_memory_study(
    profiles: Mapping[str, Sequence[float]],
    title: str,
    path,
    histories: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
) -> Path:
    """Compare runs: each profile divided by its own maximum, by lag (log y), and ``memory_lag`` per epoch.

    Parameters
    ----------
    profiles : dict
        ``{label: profile}``, e.g. ``{"rnn 1x32 | full": [...], "gru 1x32 | truncate=10": [...]}``.
    histories : dict, optional
        ``{label: history}`` with per-epoch ``memory_lag``; drawn in a second panel when given.

    Returns
    -------
    pathlib.Path
    """
    if not profiles:
        raise ValueError("`profiles` must hold at least one {label: profile}. Received: an empty mapping")
    curves = {label: _profile(values, f"profiles[{label!r}]") for label, values in profiles.items()}
    epochs = {label: np.asarray(h.get("memory_lag") or (), dtype=np.float64)
              for label, h in (histories or {}).items() if len(h.get("memory_lag") or ())}
    if epochs:  # lags on top, epochs below: two x axes, not _figure's shared one
        fig = Figure(figsize=(FIGSIZE[0], 7.0), dpi=DPI)
        FigureCanvasAgg(fig)
        axes = list(fig.subplots(2, 1))
    else:
        fig, axes = _figure()
    ax = axes[0]
    for label, profile in curves.items():
        finite = np.where(np.isfinite(profile), profile, 0.0)
        peak = finite.max()
        relative = _positive(profile / peak) if peak > 0 else np.full(profile.shape, np.nan)
        ax.plot(np.arange(1, profile.size + 1), relative, linewidth=1.2,
                label=f"{label} (memory_lag {_memory_lag(profile)})")
    ax.set_yscale("log")
    ax.axhline(MEMORY_FRACTION, color="tab:red", linestyle="--", linewidth=1, label="1% of the maximum")
    ax.set_xlabel("lag (1 = last observed step)")
    ax.set_ylabel("gradient norm / its max")
    ax.set_title(title or "Memory study: input gradient by lag")
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(loc="best", fontsize="x-small", ncol=2)
    if epochs:
        ax2 = axes[1]
        for label, values in epochs.items():  # epochs not measured (NaN) are left out, the measured ones joined
            measured = np.flatnonzero(np.isfinite(values))
            ax2.plot(measured + 1, values[measured], marker="o", markersize=3, label=label)
        ax2.set_xlabel("epoch")
        ax2.set_ylabel("memory_lag")
        ax2.set_xlim(0.5, max(len(values) for values in epochs.values()) + 0.5)  # every epoch run, measured or not
        _epoch_ticks(ax2)
        ax2.grid(True, alpha=0.3)
    return _save(fig, path)
