"""Vanishing-gradient charts: the input gradient by lag of one run, and the memory study of a comparison.

The profiles come from :class:`forecaster.training.lag_gradients.LagGradientTelemetry`: the norm
of the loss gradient with respect to the input at each window step, lag 1 (the last observed
step) first. Lags whose norm is exactly zero (beyond a truncation) cannot sit on a log axis; the
charts say how many there are instead.

Each chart has a ``*_figure`` function that returns the :class:`~matplotlib.figure.Figure` (tests
read its lines and labels back) and a ``plot_*`` function that writes it as a PNG.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from forecaster.plots._style import DPI, FIGSIZE, _figure, _save, series_colours

#: Same rule as ``forecaster.training.lag_gradients.MEMORY_FRACTION`` (plots do not import training).
MEMORY_FRACTION = 0.01
#: One marker and one line style per run, so runs with equal values stay told apart.
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "p")
_LINESTYLES = ("-", "--", "-.", ":")
FINAL_LABEL = "final\nweights"
TITLE_WIDTH = 80  # characters per title line (a longer title wraps instead of running off the figure)


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


def gradient_by_lag_figure(profile: Sequence[float], title: str) -> Figure:
    """One run's input-gradient norm by lag (log y), the 1%-of-max line and ``memory_lag`` marked.

    Parameters
    ----------
    profile : sequence of float
        Norm per lag, ``(lookback,)``, lag 1 first.
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
        whole = " (the whole window)" if lag == profile.size else ""
        ax.axvline(lag, color="tab:gray", linestyle=":", linewidth=1.5, label=f"memory_lag = {lag}{whole}")
        if profile[0] > 0:
            ax.plot([], [], " ", label=f"far / near (lag {profile.size} / lag 1) = {profile[-1] / profile[0]:.2g}")
    if zeros:
        ax.plot([], [], " ", label=f"exactly 0 at {zeros} lag(s) (not drawn)")
    ax.set_xlabel("lag (1 = last observed step)")
    ax.set_ylabel("input gradient norm")
    ax.set_xlim(0.5, profile.size + 1.0)
    ax.set_title(textwrap.fill(title or "Input gradient by lag", TITLE_WIDTH))
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(loc="best", fontsize="small")
    return fig


def plot_gradient_by_lag(profile: Sequence[float], title: str, path) -> Path:
    """Write :func:`gradient_by_lag_figure` as a PNG; returns the path."""
    return _save(gradient_by_lag_figure(profile, title), path)


def _style(index: int) -> dict:
    return {"marker": _MARKERS[index % len(_MARKERS)], "linestyle": _LINESTYLES[index % len(_LINESTYLES)]}


def memory_study_figure(
    profiles: Mapping[str, Sequence[float]],
    title: str,
    histories: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
) -> Figure:
    """Compare runs: each profile over its own maximum by lag (log y); below, ``memory_lag`` by epoch.

    Every run has its own colour, marker and line style, so runs with equal values stay visible.
    The lower panel (when ``histories`` is given) draws a marker at each measured epoch (epochs
    not measured, NaN, are skipped and the measured ones joined) and, in a last column
    ``final weights``, the ``memory_lag`` of the profile itself, labelled with its value. Points
    of different runs are shifted sideways by a fraction of an epoch (never up or down), and a
    dashed line marks the lookback: a ``memory_lag`` there means the gradient reaches the whole
    window.

    Parameters
    ----------
    profiles : dict
        ``{label: profile}``, e.g. ``{"rnn 1x32 | full": [...], "gru 1x32 | truncate=10": [...]}``;
        a profile is the final weights' norm per lag, ``(lookback,)``, lag 1 first.
    histories : dict, optional
        ``{label: history}`` with per-epoch ``memory_lag`` (NaN for the epochs not measured).

    Raises
    ------
    ValueError
        No profile, or an empty one.
    """
    if not profiles:
        raise ValueError("`profiles` must hold at least one {label: profile}. Received: an empty mapping")
    curves = {str(label): _profile(values, f"profiles[{label!r}]") for label, values in profiles.items()}
    labels = list(curves)
    colours = series_colours(labels)
    styles = {label: {"color": colours[label], **_style(i)} for i, label in enumerate(labels)}
    finals = {label: _memory_lag(profile) for label, profile in curves.items()}
    epochs = {str(label): np.asarray(h.get("memory_lag") or (), dtype=np.float64)
              for label, h in (histories or {}).items() if str(label) in curves}
    if histories is not None:  # lags on top, epochs below: two x axes, not _figure's shared one
        fig = Figure(figsize=(FIGSIZE[0], 7.5), dpi=DPI)
        FigureCanvasAgg(fig)
        axes = list(fig.subplots(2, 1, height_ratios=(1.2, 1.0)))
    else:
        fig, axes = _figure()
    _profiles_panel(axes[0], curves, finals, styles)
    axes[0].set_title(textwrap.fill(title or "Memory study: input gradient by lag", TITLE_WIDTH))
    if histories is not None:
        _epochs_panel(axes[1], curves, finals, epochs, styles)
    return fig


def _profiles_panel(ax, curves: dict, finals: dict, styles: dict) -> None:
    n = len(curves)
    for i, (label, profile) in enumerate(curves.items()):
        finite = np.where(np.isfinite(profile), profile, 0.0)
        peak = finite.max()
        relative = _positive(profile / peak) if peak > 0 else np.full(profile.shape, np.nan)
        step = max(1, profile.size // 8)  # a few markers per line, staggered between runs
        zeros = int(np.sum(profile == 0))
        note = f", exactly 0 at {zeros} lags" if zeros and peak > 0 else ("" if peak > 0 else ", no gradient")
        ax.plot(np.arange(1, profile.size + 1), relative, linewidth=1.3, markersize=5,
                markevery=(i * step // max(n, 1), step), label=f"{label} (memory_lag {finals[label]}{note})",
                **styles[label])
    ax.set_yscale("log")
    ax.axhline(MEMORY_FRACTION, color="tab:red", linestyle="--", linewidth=1, label="1% of the maximum")
    ax.set_xlabel("lag (1 = last observed step)")
    ax.set_ylabel("gradient norm / its max")
    ax.set_xlim(0.5, max(p.size for p in curves.values()) + 0.5)
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="x-small", borderaxespad=0.0)


def _epochs_panel(ax, curves: dict, finals: dict, epochs: dict, styles: dict) -> None:
    n_epochs = max([len(v) for v in epochs.values()] + [0])
    scale = max(1.0, n_epochs / 10)  # epochs per "unit" of sideways shift and gap: readable at 5 or 50 epochs
    final_x = n_epochs + scale
    n = len(curves)
    width = (min(0.15, 0.6 / n) if n > 1 else 0.0) * scale
    for i, label in enumerate(curves):
        shift = (i - (n - 1) / 2) * width  # sideways only: the values stay exact
        values = epochs.get(label, np.zeros(0))
        measured = np.flatnonzero(np.isfinite(values))
        if measured.size:
            ax.plot(measured + 1 + shift, values[measured], linewidth=1.2, markersize=5, gid=f"epochs:{label}",
                    **styles[label])
        ax.plot([final_x + shift], [finals[label]], markersize=9, markeredgecolor="black", gid=f"final:{label}",
                color=styles[label]["color"], marker=styles[label]["marker"], linestyle="none")
    for value in sorted(set(finals.values())):
        ax.annotate(str(value), (final_x + (n - 1) / 2 * width, value), xytext=(8, 0), textcoords="offset points",
                    va="center", fontsize="small")
    lookback = max(p.size for p in curves.values())
    ax.axhline(lookback, color="0.5", linestyle="--", linewidth=1)
    ax.annotate(f"lookback {lookback}: the whole window", (0.6, lookback), xytext=(0, 3),
                textcoords="offset points", va="bottom", fontsize="x-small", color="0.35")
    ax.axvline(final_x - scale / 2, color="0.6", linewidth=0.8)
    measured = sorted({int(i) + 1 for v in epochs.values() for i in np.flatnonzero(np.isfinite(v))})
    step = max(1, int(np.ceil(n_epochs / 12)))
    ticks = measured if 0 < len(measured) <= 12 else list(range(1, n_epochs + 1, step))
    ax.set_xticks([*ticks, final_x], [*map(str, ticks), FINAL_LABEL])
    if not measured and n_epochs:  # the telemetry's budget left every epoch out: say so, not an empty panel
        ax.text((final_x - scale / 2) / 2, lookback * 0.5,
                "no epoch measured: these trainings were too short\nto pay for a measurement within the "
                "telemetry's\ntime budget; the final weights only", ha="center", va="center", fontsize="small",
                color="0.35", gid="no-epochs")
    ax.set_xlim(0.4, final_x + 0.9 * scale)
    ax.set_ylim(0, lookback * 1.12)
    ax.set_xlabel("epoch (a marker where measured)")
    ax.set_ylabel("memory_lag")
    ax.grid(True, alpha=0.3)


def plot_memory_study(
    profiles: Mapping[str, Sequence[float]],
    title: str,
    path,
    histories: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
) -> Path:
    """Write :func:`memory_study_figure` as a PNG; returns the path."""
    return _save(memory_study_figure(profiles, title, histories), path)
