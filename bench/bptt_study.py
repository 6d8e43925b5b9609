"""Backpropagation through time made visible: writes ``docs/gradients.md`` and its figures.

Two parts, both thin over the public API:

1. **Synthetic memory task** (no data file). Each window has ``lookback = L + 10`` steps and two
   input channels: N(0, 1) noise, and a marker that is 1 at exactly one step and 0 elsewhere. The
   target (horizon 1) is the noise value at the marked step. Training and validation windows put
   the marker at a lag drawn uniformly from 1..L (short dependencies teach the mechanism first);
   the TEST windows put it at exactly lag ``L``, so the test R^2 (0 = predicting the mean) says
   whether the model carries a value ``L`` steps. For ``L`` in 30, 60, 100 and each
   cell (``build_model`` + ``train_model`` + ``LagGradientTelemetry``) it reports the test R^2,
   the final ``memory_lag`` and ``grad_far_near_ratio``, and the seconds per epoch; then, at
   ``L = 30``, one cell truncated with ``K < L`` and ``K > L``.
2. **Real data**: the last ``--hours`` hours of Chicago O'Hare hourly temperature
   (``../shared/data``, pipeline ``pipelines/skill/chicago.yaml``, lookback 120, horizon 24),
   the grid rnn/gru/lstm x ``bptt: [full, {truncate: 24}]`` with ``clipnorm=1``, each candidate
   trained by :func:`forecaster.comparison.train_candidate` (the product's own path). It reports
   test MAE (persistence for reference), seconds per epoch, ``memory_lag``, the mean pre-clip
   gradient norm and the clipped fraction, and the cost of the lag telemetry.

Usage::

    nice -n 10 python bench/bptt_study.py                  # both parts -> docs/gradients.md
    nice -n 10 python bench/bptt_study.py --part synthetic # only its block and figures

Without the shared data the real part is skipped (said in the output).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

SHARED_CANDIDATES = (REPO.parent / "shared" / "data", Path("/work/shared/data"))
CELLS = ("rnn", "gru", "lstm")
LAGS = (30, 60, 100)


# --- part 1: synthetic ------------------------------------------------------------------------
def marker_task(n: int, L: int, seed: int, fixed: bool) -> tuple[np.ndarray, np.ndarray]:
    """``X (n, L + 10, 2)``: noise and a marker at lag ``L`` (``fixed``) or at a lag uniform in 1..L;
    ``y (n, 1, 1)``: the noise at the marker."""
    lookback = L + 10
    rng = np.random.default_rng(seed)
    X = np.zeros((n, lookback, 2), dtype="float32")
    X[:, :, 0] = rng.normal(size=(n, lookback))
    lags = np.full(n, L) if fixed else rng.integers(1, L + 1, n)
    X[np.arange(n), lookback - lags, 1] = 1.0
    return X, X[np.arange(n), lookback - lags, 0].reshape(n, 1, 1).copy()


def train_synthetic(cell: str, L: int, truncate: int | None, args) -> dict:
    from forecaster.models.builders import build_model
    from forecaster.models.spec import ModelSpec
    from forecaster.training import TrainSettings, train_model
    from forecaster.training.lag_gradients import LagGradientTelemetry, far_near_ratio, memory_lag

    X, y = marker_task(args.windows, L, seed=1, fixed=False)
    Xv, yv = marker_task(400, L, seed=2, fixed=False)
    Xt, yt = marker_task(1000, L, seed=3, fixed=True)
    model = build_model(ModelSpec(cell=cell, units=args.units), L + 10, 2, 1, 1, seed=0, truncate=truncate)
    telemetry = LagGradientTelemetry(Xt[:128], yt[:128])  # marker at lag L
    settings = TrainSettings(epochs=args.epochs, batch_size=32, learning_rate=0.01, patience=0, seed=0)
    result = train_model(model, (X, y), (Xv, yv), settings, callbacks=[telemetry])
    pred = model.predict(Xt, batch_size=1000, verbose=0)
    r2 = 1.0 - float(np.mean((pred - yt) ** 2) / np.var(yt))
    return {
        "cell": cell, "L": L, "bptt": "full" if truncate is None else f"truncate={truncate}",
        "r2": r2, "memory_lag": memory_lag(telemetry.profile),
        "far_near": far_near_ratio(telemetry.profile), "profile": telemetry.profile,
        "memory_lag_by_epoch": telemetry.history["memory_lag"],
        "s_per_epoch": result.seconds / max(result.epochs_run, 1),
        "lag_share": telemetry.seconds / result.seconds if result.seconds else math.nan,
    }


def synthetic(args) -> list[dict]:
    rows = []
    for L in LAGS:
        for cell in CELLS:
            rows.append(train_synthetic(cell, L, None, args))
            print(_fmt_syn(rows[-1]), flush=True)
    for K in (10, 35):  # L = 30 (lookback 40): K < L cannot reach the marker, K > L can
        rows.append(train_synthetic(args.truncation_cell, 30, K, args))
        print(_fmt_syn(rows[-1]), flush=True)
    return rows


def _fmt_syn(r: dict) -> str:
    return (f"| {r['cell']} | {r['L']} | {r['bptt']} | {r['r2']:.3f} | {r['memory_lag']} | {r['far_near']:.2g} | "
            f"{r['s_per_epoch']:.2f} | {r['lag_share']:.1%} |")


# --- part 2: real data ------------------------------------------------------------------------
def shared_data() -> Path | None:
    return next((p for p in SHARED_CANDIDATES if (p / "chicago_ohare_hourly_2010_2016.csv").is_file()), None)


def real(args, data_dir: Path) -> list[dict]:
    from forecaster.comparison import evaluate_baseline, plan_candidates, train_candidate
    from forecaster.config import load_config
    from forecaster.pipeline import load_data, split_frame

    cfg = load_config(REPO / "pipelines" / "skill" / "chicago.yaml", overrides=[
        f"data.path={data_dir / 'chicago_ohare_hourly_2010_2016.csv'}",
        "window.stride=2",
        "models=[{cell: rnn, units: 32}, {cell: gru, units: 32}, {cell: lstm, units: 32}]",
        "clipping=[{clipnorm: 1.0}]",
        "bptt=[full, {truncate: 24}]",
        f"training.epochs={args.real_epochs}", "training.batch_size=64", "training.patience=3",
        "split.val=0.25", "split.test=0.25",
    ])
    frame = load_data(cfg).frame
    frame = split_frame(cfg, frame.iloc[-args.hours:].reset_index(drop=True))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data_ref = Path(tmp) / "frame.pkl"
        frame.to_pickle(data_ref)
        persistence = evaluate_baseline(cfg, "persistence", frame)
        for plan in plan_candidates(cfg):
            res = train_candidate(cfg, plan, data_ref, out_dir=None)
            epochs = max(int(res.metrics.get("epochs_run", 0)), 1)
            rows.append({
                "name": res.name, "cell": plan.model["cell"], "bptt": res.params["bptt"],
                "test_mae": res.metrics.get("test_mae", math.nan),
                "persistence_mae": persistence.metrics.get("test_mae", math.nan),
                "epochs": epochs, "s_per_epoch": res.metrics["train_seconds"] / epochs,
                "memory_lag": int(res.history["memory_lag"][-1]) if res.history.get("memory_lag") else 0,
                "grad_norm_mean": float(np.nanmean(res.history["grad_norm_mean"])),
                "grad_norm_max": float(np.nanmax(res.history["grad_norm_max"])),
                "clipped_fraction": float(np.nanmean(res.history["clipped_fraction"])),
                "lag_share": res.metrics.get("lag_gradient_seconds", math.nan) / res.metrics["train_seconds"],
                "profile": res.input_grad_by_lag, "history": res.history,
            })
            print(_fmt_real(rows[-1]), flush=True)
    return rows


def _fmt_real(r: dict) -> str:
    return (f"| {r['cell']} | {r['bptt']} | {r['test_mae']:.3f} | {r['persistence_mae']:.3f} | {r['epochs']} | "
            f"{r['s_per_epoch']:.1f} | {r['memory_lag']} | {r['grad_norm_mean']:.3g} | {r['grad_norm_max']:.3g} | "
            f"{r['clipped_fraction']:.2f} | {r['lag_share']:.1%} |")


# --- report -----------------------------------------------------------------------------------
def figures(syn: list[dict], rl: list[dict], directory: Path) -> list[str]:
    from forecaster.plots import plot_gradient_by_lag, plot_memory_study

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for L in LAGS:
        runs = [r for r in syn if r["L"] == L and r["bptt"] == "full"]
        if runs:
            plot_memory_study({r["cell"]: r["profile"] for r in runs},
                              f"synthetic marker task, L = {L}: input gradient by lag (final weights)",
                              directory / f"synthetic_L{L}.png",
                              histories={r["cell"]: {"memory_lag": r["memory_lag_by_epoch"]} for r in runs})
            written.append(f"synthetic_L{L}.png")
    runs = [r for r in syn if r["L"] == 30 and r["cell"] == (syn[-1]["cell"] if syn else "")]
    if runs:
        plot_memory_study({r["bptt"]: r["profile"] for r in runs},
                          f"synthetic marker task, L = 30, {runs[0]['cell']}: full vs truncated BPTT",
                          directory / "synthetic_truncation.png",
                          histories={r["bptt"]: {"memory_lag": r["memory_lag_by_epoch"]} for r in runs})
        written.append("synthetic_truncation.png")
    if rl:
        plot_memory_study({f"{r['cell']} | {r['bptt']}": r["profile"] for r in rl},
                          "Chicago O'Hare hourly temperature, lookback 120: input gradient by lag",
                          directory / "chicago_memory_study.png",
                          histories={f"{r['cell']} | {r['bptt']}": r["history"] for r in rl})
        plot_gradient_by_lag(rl[0]["profile"], f"Chicago: {rl[0]['name']}: input gradient by lag",
                             directory / "chicago_gradient_by_lag.png")
        written += ["chicago_memory_study.png", "chicago_gradient_by_lag.png"]
    return written


def render(part: str, rows: list[dict], args, started: str, load: str, seconds: float, note: str) -> str:
    lines = [
        f"<!-- generated by bench/bptt_study.py ({part}); edit the script, not this block -->",
        f"Measured {started} by `nice -n 10 python bench/bptt_study.py --part {part}`, "
        + (f"{args.epochs} epochs, {args.windows} training windows, {args.units} units"
           if part == "synthetic" else f"{args.real_epochs} epochs, the last {args.hours} hours")
        + f", {seconds / 60:.1f} min wall time; machine load before: `{load}`.",
        "",
    ]
    if part == "synthetic" and rows:
        lines += [
            "| cell | L | bptt | test R^2 (marker at lag L) | memory_lag | grad_far_near_ratio | s/epoch | lag telemetry share |",
            "|---|---|---|---|---|---|---|---|",
            *[_fmt_syn(r) for r in rows],
            "",
        ]
    if part == "real" and rows:
        lines += [
            "| cell | bptt | test MAE (degC) | persistence MAE | epochs | s/epoch | memory_lag (last epoch) | grad norm mean | "
            "grad norm max | clipped fraction | lag telemetry share |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            *[_fmt_real(r) for r in rows],
            "",
        ]
    if note:
        lines += [note, ""]
    lines.append(f"<!-- end of generated block ({part}) -->")
    return "\n".join(lines)


def write_doc(path: Path, part: str, block: str) -> None:
    """Replace the generated block of ``part`` in ``path`` (or append it) and keep the hand-written text."""
    start = f"<!-- generated by bench/bptt_study.py ({part})"
    end = f"<!-- end of generated block ({part}) -->"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Gradients through time\n\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("all", "synthetic", "real"), default="all")
    parser.add_argument("--epochs", type=int, default=6, help="synthetic epochs")
    parser.add_argument("--windows", type=int, default=1200, help="synthetic training windows")
    parser.add_argument("--units", type=int, default=16, help="synthetic units")
    parser.add_argument("--truncation-cell", default="gru", choices=CELLS)
    parser.add_argument("--real-epochs", type=int, default=6)
    parser.add_argument("--hours", type=int, default=6000, help="last hours of the real series used")
    parser.add_argument("--output", default=str(REPO / "docs" / "gradients.md"))
    args = parser.parse_args(argv)

    output = Path(args.output)
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    started = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    t0 = time.perf_counter()
    syn, rl = [], []
    if args.part in ("all", "synthetic"):
        syn = synthetic(args)
        write_doc(output, "synthetic", render("synthetic", syn, args, started, load, time.perf_counter() - t0, ""))
    if args.part in ("all", "real"):
        load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        started = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        t1 = time.perf_counter()
        data_dir = shared_data()
        note = ""
        if data_dir is None:
            note = "Skipped: `../shared/data/chicago_ohare_hourly_2010_2016.csv` not found."
            print(note)
        else:
            rl = real(args, data_dir)
        write_doc(output, "real", render("real", rl, args, started, load, time.perf_counter() - t1, note))
    seconds = time.perf_counter() - t0
    figures(syn, rl, output.parent / "gradients")
    print(f"wrote {output} ({seconds / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
