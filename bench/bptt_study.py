"""Backpropagation through time made visible: writes ``docs/gradients.md`` and its figures.

Three parts, all thin over the public API:

1. **Synthetic memory task** (no data file). Each window has ``lookback = L + 10`` steps and two
   input channels: N(0, 1) noise, and a marker that is 1 at exactly lag ``L`` (the same step in
   every window: training, validation and test) and 0 elsewhere. The target (horizon 1) is the
   noise value at the marked step: a fixed dependency on the input ``L`` steps back, everything in
   between is noise. Nothing shorter teaches the mechanism, so a model learns it only if its
   training gradient reaches lag ``L``. For ``L`` in 10 (a short reference), 30, 60, 100 and each cell (``build_model`` +
   ``train_model`` + ``LagGradientTelemetry``) it reports the test R^2 (0 = predicting the mean),
   the final ``memory_lag`` and ``grad_far_near_ratio``, and the seconds per epoch. The gated
   cells start from the "chrono" gate biases (Tallec & Ollivier 2018: forget/update-gate biases
   ``log(U(1, lookback - 1))``, so the untrained cell already keeps its state over 1..lookback
   steps); with the Keras default biases (rows ``init = keras``, at ``L = 30``) the untrained
   gradient does not reach lag ``L`` and nothing is learned. Then, at ``L = 30``, one cell
   truncated with ``K < L`` (10, 20) and ``K > L`` (35), measured twice: on its untruncated twin
   (the default: how far back the trained network's forecast reaches) and through the truncated
   training graph (``untruncated=False``: exactly zero beyond K).
2. **Real data**: the last ``--hours`` hours of Chicago O'Hare hourly temperature
   (``../shared/data``, pipeline ``pipelines/skill/chicago.yaml``, lookback 120, horizon 24),
   the grid rnn/gru/lstm x ``bptt: [full, {truncate: 24}]`` with ``clipnorm=1``, each candidate
   trained by :func:`forecaster.comparison.candidates.train_candidate` (the product's own path). It reports
   test MAE (persistence for reference), seconds per epoch, ``memory_lag``, the mean pre-clip
   gradient norm and the clipped fraction, and the cost of the lag telemetry at its default cadence
   (wall and CPU seconds, against the training's wall and CPU seconds).
3. **Telemetry cost** (``--part cost``): the lag telemetry's share of training time for the
   candidates of ``pipelines/smoke.yaml`` (trained by ``train_candidate``, default cadence; wall
   and CPU), and the seconds per measurement, eager against a traced ``tf.function`` (the default;
   first call: trace included), for the smoke model and for lookback-120 models, a truncated one
   measured on its twin and through its own truncated graph.

Usage::

    nice -n 10 python bench/bptt_study.py                  # all parts -> docs/gradients.md
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
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

SHARED_CANDIDATES = (REPO.parent / "shared" / "data", Path("/work/shared/data"))
CELLS = ("rnn", "gru", "lstm")
LAGS = (10, 30, 60, 100)  # 10: a short reference; the range is 30..100
TRUNCATION_L = 30
TRUNCATIONS = (10, 20, 35)  # at L = 30 (lookback 40): K < L cannot reach the marker, K > L can
LAG_BATCH = 64  # windows of the telemetry's fixed batch (as the estimator's default)


# --- part 1: synthetic ------------------------------------------------------------------------
def marker_task(n: int, L: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``X (n, L + 10, 2)``: noise and a marker at exactly lag ``L``; ``y (n, 1, 1)``: the noise at the marker."""
    lookback = L + 10
    rng = np.random.default_rng(seed)
    X = np.zeros((n, lookback, 2), dtype="float32")
    X[:, :, 0] = rng.normal(size=(n, lookback))
    X[:, lookback - L, 1] = 1.0
    return X, X[:, lookback - L, 0].reshape(n, 1, 1).copy()


def chrono_init(model, lookback: int, seed: int) -> None:
    """Set the gate biases of every GRU/LSTM layer so the untrained cell keeps its state over 1..lookback steps.

    Tallec & Ollivier (2018), "Can recurrent neural networks warp time?": LSTM forget-gate bias
    ``b_f = log(u)``, ``u ~ U(1, lookback - 1)`` per unit, input-gate bias ``-b_f``; for the Keras
    GRU (``h = z * h_prev + (1 - z) * candidate``) the update-gate bias ``log(u)``. A time constant
    of ``u`` steps per unit; the Keras defaults (LSTM forget bias 1, GRU 0) keep 73% and 50% of
    the state per step, i.e. 0.73^100 = 2e-14 and 0.5^30 = 1e-9 of it after 100 and 30 steps.
    """
    import keras

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        cell = getattr(getattr(layer, "layer", layer), "cell", None)  # TruncatedRecurrent wraps a layer
        if not isinstance(cell, (keras.layers.LSTMCell, keras.layers.GRUCell)):
            continue
        u = cell.units
        keep = np.log(rng.uniform(1.0, lookback - 1.0, u)).astype("float32")
        bias = np.asarray(cell.bias.numpy())
        if isinstance(cell, keras.layers.LSTMCell):  # gates i, f, c, o
            bias[:u], bias[u:2 * u] = -keep, keep
        elif bias.ndim == 2:  # GRU reset_after: (input bias, recurrent bias), gates z, r, h
            bias[0, :u], bias[1, :u] = keep, 0.0
        else:
            bias[:u] = keep
        cell.bias.assign(bias)


def train_synthetic(cell: str, L: int, truncate: int | None, init: str, args) -> dict:
    from forecaster.models.builders import build_model
    from forecaster.models.spec import ModelSpec
    from forecaster.training import TrainSettings, train_model
    from forecaster.training.lag_gradients import LagGradientTelemetry, far_near_ratio, memory_lag

    X, y = marker_task(args.windows, L, seed=1)
    Xv, yv = marker_task(400, L, seed=2)
    Xt, yt = marker_task(1000, L, seed=3)
    lookback = L + 10
    model = build_model(ModelSpec(cell=cell, units=args.units), lookback, 2, 1, 1, seed=0, truncate=truncate)
    if init == "chrono":
        chrono_init(model, lookback, seed=0)
    telemetry = LagGradientTelemetry(Xt[:LAG_BATCH], yt[:LAG_BATCH])  # every epoch, for the plots
    # a truncated model: also its training gradient (the truncated graph, exactly zero beyond K)
    cut = LagGradientTelemetry(Xt[:LAG_BATCH], yt[:LAG_BATCH], untruncated=False) if truncate else None
    settings = TrainSettings(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                             patience=0, seed=0)
    cpu = time.process_time()
    result = train_model(model, (X, y), (Xv, yv), settings, callbacks=[c for c in (telemetry, cut) if c])
    cpu = time.process_time() - cpu
    pred = model.predict(Xt, batch_size=1000, verbose=0)
    r2 = 1.0 - float(np.mean((pred - yt) ** 2) / np.var(yt))
    return {
        "cell": cell, "L": L, "init": "-" if cell == "rnn" else init,
        "bptt": "full" if truncate is None else f"truncate={truncate}",
        "r2": r2, "memory_lag": memory_lag(telemetry.profile),
        "far_near": far_near_ratio(telemetry.profile), "profile": telemetry.profile,
        "memory_lag_by_epoch": telemetry.history["memory_lag"],
        "cut_profile": None if cut is None else cut.profile,
        "cut_memory_lag": None if cut is None else memory_lag(cut.profile),
        "s_per_epoch": result.seconds / max(result.epochs_run, 1), "cpu_s": cpu,
        "lag_share": telemetry.seconds / result.seconds if result.seconds else math.nan,
    }


def synthetic(args) -> list[dict]:
    rows = []
    for L in LAGS:
        for cell in CELLS:
            rows.append(train_synthetic(cell, L, None, "chrono", args))
            print(_fmt_syn(rows[-1]), flush=True)
    for cell in ("gru", "lstm"):  # what the gated cells need: the same task from the Keras default biases
        rows.append(train_synthetic(cell, TRUNCATION_L, None, "keras", args))
        print(_fmt_syn(rows[-1]), flush=True)
    for K in TRUNCATIONS:
        rows.append(train_synthetic(args.truncation_cell, TRUNCATION_L, K, "chrono", args))
        print(_fmt_syn(rows[-1]), flush=True)
    return rows


def _fmt_syn(r: dict) -> str:
    cut = "-" if r.get("cut_memory_lag") is None else r["cut_memory_lag"]
    return (f"| {r['cell']} | {r['L']} | {r['init']} | {r['bptt']} | {r['r2']:.3f} | {r['memory_lag']} | "
            f"{r['far_near']:.2g} | {cut} | {r['s_per_epoch']:.2f} | {r['cpu_s']:.0f} | {r['lag_share']:.1%} |")


# --- part 2: real data ------------------------------------------------------------------------
def shared_data() -> Path | None:
    return next((p for p in SHARED_CANDIDATES if (p / "chicago_ohare_hourly_2010_2016.csv").is_file()), None)


def real(args, data_dir: Path) -> list[dict]:
    from forecaster.comparison.candidates import evaluate_baseline
    from forecaster.comparison.plans import plan_candidates
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
    persistence = evaluate_baseline(cfg, "persistence", frame)
    rows = []
    for plan in plan_candidates(cfg):
        row = candidate_row(cfg, plan, frame)
        row["persistence_mae"] = persistence.metrics.get("test_mae", math.nan)
        rows.append(row)
        print(_fmt_real(rows[-1]), flush=True)
    return rows


def candidate_row(cfg, plan, frame) -> dict:
    """Train one candidate the product's way (:func:`train_candidate`) and read its figures."""
    from forecaster.comparison.candidates import train_candidate

    cpu = time.process_time()
    res = train_candidate(cfg, plan, frame, out_dir=None)
    cpu = time.process_time() - cpu
    epochs = max(int(res.metrics.get("epochs_run", 0)), 1)
    lags = res.history.get("memory_lag") or []
    measured = [v for v in lags if math.isfinite(v)]
    return {
        "name": res.name, "cell": plan.model["cell"], "bptt": res.params["bptt"],
        "test_mae": res.metrics.get("test_mae", math.nan), "val_mae": res.metrics.get("val_mae", math.nan),
        "epochs": epochs, "train_s": res.metrics["train_seconds"], "cpu_s": cpu,
        "train_cpu_s": res.metrics.get("train_cpu_seconds", math.nan),
        "lag_cpu_s": res.metrics.get("lag_gradient_cpu_seconds", math.nan),
        "s_per_epoch": res.metrics["train_seconds"] / epochs,
        "memory_lag": int(measured[-1]) if measured else 0,
        "final_memory_lag": _final_memory_lag(res.input_grad_by_lag),
        "measurements": len(measured) + 1,  # the measured epochs and the final weights
        "lag_s": res.metrics.get("lag_gradient_seconds", math.nan),
        "grad_norm_mean": float(np.nanmean(res.history["grad_norm_mean"])),
        "grad_norm_max": float(np.nanmax(res.history["grad_norm_max"])),
        "clipped_fraction": float(np.nanmean(res.history["clipped_fraction"])),
        "lag_share": res.metrics.get("lag_gradient_seconds", math.nan) / res.metrics["train_seconds"],
        "lag_cpu_share": (res.metrics.get("lag_gradient_cpu_seconds", math.nan)
                          / res.metrics.get("train_cpu_seconds", math.nan)),
        "profile": res.input_grad_by_lag, "history": res.history,
    }


def _final_memory_lag(profile) -> int:
    from forecaster.training.lag_gradients import memory_lag

    return memory_lag(np.asarray(profile)) if np.asarray(profile).size else 0


def _fmt_real(r: dict) -> str:
    return (f"| {r['cell']} | {r['bptt']} | {r['test_mae']:.3f} | {r['persistence_mae']:.3f} | {r['epochs']} | "
            f"{r['s_per_epoch']:.1f} | {r['final_memory_lag']} | {r['grad_norm_mean']:.3g} | {r['grad_norm_max']:.3g} | "
            f"{r['clipped_fraction']:.2f} | {r['measurements']} | {_cost(r)} |")


def _cost(r: dict) -> str:
    """``lag s | share`` in wall and in CPU time (train_candidate's training: ``train_model``'s fit)."""
    return (f"{r['lag_s']:.2f} / {r['lag_cpu_s']:.2f} | {r['train_s']:.1f} / {r['train_cpu_s']:.1f} | "
            f"{r['lag_share']:.1%} / {r['lag_cpu_share']:.1%}")


# --- part 3: the telemetry's cost ---------------------------------------------------------------
def cost(args) -> tuple[list[dict], list[dict]]:
    """The smoke pipeline's candidates at the default cadence, and seconds per measurement by mode."""
    from forecaster.comparison.plans import plan_candidates
    from forecaster.config import load_config
    from forecaster.pipeline import load_data, split_frame

    cfg = load_config(REPO / "pipelines" / "smoke.yaml",
                      overrides=[f"data.path={REPO / 'data' / 'seattle_weather.csv'}"])
    frame = split_frame(cfg, load_data(cfg).frame)
    smoke = []
    for plan in plan_candidates(cfg):
        smoke.append(candidate_row(cfg, plan, frame))
        print(_fmt_smoke(smoke[-1]), flush=True)
    n_features = len({*cfg.data.target, *cfg.data.features}) + 2 * len(cfg.features.calendar)  # 4 + 2 (smoke)
    modes = [measure_modes("lstm", 16, cfg.window.lookback, n_features, cfg.window.horizon, "smoke model")]
    modes += [measure_modes(cell, 32, 120, 9, 24, "Chicago size") for cell in CELLS]
    modes += [measure_modes("gru", 32, 120, 9, 24, "Chicago size, truncate=24, own graph", truncate=24,
                            untruncated=False),
              measure_modes("gru", 32, 120, 9, 24, "Chicago size, truncate=24, on its twin", truncate=24)]
    for m in modes:
        print(_fmt_mode(m), flush=True)
    return smoke, modes


def measure_modes(cell: str, units: int, lookback: int, n_features: int, horizon: int, label: str,
                  truncate: int | None = None, untruncated: bool = True) -> dict:
    """Seconds of the first and the next measurements of an untrained forecaster, eager and traced."""
    from forecaster.models.builders import build_model
    from forecaster.models.spec import ModelSpec
    from forecaster.training.lag_gradients import LagGradientTelemetry

    rng = np.random.default_rng(0)
    X = rng.normal(size=(LAG_BATCH, lookback, n_features)).astype("float32")
    y = rng.normal(size=(LAG_BATCH, horizon, 1)).astype("float32")
    row = {"label": label, "cell": cell, "units": units, "lookback": lookback}
    for compiled in (False, True):
        model = build_model(ModelSpec(cell=cell, units=units), lookback, n_features, horizon, 1,
                            residual_targets=[0], center_targets=True, seed=0, truncate=truncate)
        model.compile(loss="mse")
        telemetry = LagGradientTelemetry(X, y, compiled=compiled, untruncated=untruncated)  # the callback, no fit
        telemetry.set_model(model)
        telemetry.on_train_begin()
        times = []
        for epoch in range(4):
            before = telemetry.seconds, telemetry.cpu_seconds
            telemetry.on_epoch_end(epoch)
            times.append((telemetry.seconds - before[0], telemetry.cpu_seconds - before[1]))
        key = "traced" if compiled else "eager"
        row[f"{key}_first"], row[f"{key}_next"] = times[0], tuple(np.median(times[1:], axis=0))
    return row


def _fmt_smoke(r: dict) -> str:
    return f"| {r['name']} | {r['epochs']} | {r['measurements']} | {_cost(r)} |"


def _fmt_mode(m: dict) -> str:
    def pair(t):  # wall / CPU seconds
        return f"{t[0]:.3f} / {t[1]:.3f}"

    return (f"| {m['label']}: {m['cell']} {m['units']} units, lookback {m['lookback']} | {pair(m['eager_first'])} | "
            f"{pair(m['eager_next'])} | {pair(m['traced_first'])} | {pair(m['traced_next'])} |")


# --- report -----------------------------------------------------------------------------------
def figures(syn: list[dict], rl: list[dict], directory: Path) -> list[str]:
    from forecaster.plots import plot_gradient_by_lag, plot_memory_study

    directory.mkdir(parents=True, exist_ok=True)
    written = []

    def label(r: dict) -> str:
        return r["cell"] if r["init"] != "keras" else f"{r['cell']} (Keras default init)"

    for L in LAGS:
        runs = [r for r in syn if r["L"] == L and r["bptt"] == "full"]
        if runs:
            plot_memory_study({label(r): r["profile"] for r in runs},
                              f"synthetic task, dependency at lag L = {L}: input gradient by lag (final weights)",
                              directory / f"synthetic_L{L}.png",
                              histories={label(r): {"memory_lag": r["memory_lag_by_epoch"]} for r in runs})
            written.append(f"synthetic_L{L}.png")
    cell = syn[-1]["cell"] if syn else ""
    runs = [r for r in syn if r["L"] == TRUNCATION_L and r["cell"] == cell and r["init"] != "keras"]
    if runs:
        profiles = {r["bptt"]: r["profile"] for r in runs}
        profiles.update({f"{r['bptt']} (training graph)": r["cut_profile"] for r in runs
                         if r.get("cut_profile") is not None})
        plot_memory_study(profiles, f"synthetic task, L = {TRUNCATION_L}, {cell}: full vs truncated BPTT (truncated: on the "
                          "untruncated twin, and through the training graph)",
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


def tables(part: str, rows, args) -> tuple[str, list[str]]:
    """The block's description of the settings and its table lines."""
    if part == "synthetic":
        return (f"{args.epochs} epochs of {args.windows} training windows, batch {args.batch_size}, learning rate "
                f"{args.learning_rate}, {args.units} units; the lag telemetry measures every epoch here (for the plots)", [
            "| cell | L | init | bptt | test R^2 (dependency at lag L) | memory_lag | grad_far_near_ratio "
            "| memory_lag, truncated training graph | s/epoch | CPU s | lag telemetry share |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            *[_fmt_syn(r) for r in rows]])
    if part == "real":
        return (f"{args.real_epochs} epochs, the last {args.hours} hours, the lag telemetry at its default cadence", [
            "| cell | bptt | test MAE (degC) | persistence MAE | epochs | s/epoch | memory_lag (final) | grad norm mean | "
            "grad norm max | clipped fraction | lag measurements | lag telemetry s (wall / CPU) | "
            "training s (wall / CPU) | lag telemetry share (wall / CPU) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
            *[_fmt_real(r) for r in rows]])
    smoke, modes = rows
    return ("`pipelines/smoke.yaml`'s candidates trained by `train_candidate`, the lag telemetry at its default "
            f"cadence on {LAG_BATCH} windows; then seconds per measurement of an untrained model", [
        "| smoke candidate | epochs | lag measurements | lag telemetry s (wall / CPU) | training s (wall / CPU) | "
        "lag telemetry share (wall / CPU) |",
        "|---|---|---|---|---|---|",
        *[_fmt_smoke(r) for r in smoke],
        "",
        "| model (seconds: wall / CPU) | eager, first | eager, next | traced, first: trace + run | traced, next |",
        "|---|---|---|---|---|",
        *[_fmt_mode(m) for m in modes]])


def render(part: str, rows, args, started: str, load: str, wall: float, cpu: float, note: str) -> str:
    what, table = tables(part, rows, args) if rows else ("", [])
    lines = [
        f"<!-- generated by bench/bptt_study.py ({part}); edit the script, not this block -->",
        f"Measured {started} by `nice -n 10 python bench/bptt_study.py --part {part}`"
        + (f", {what}" if what else "")
        + f"; {wall / 60:.1f} min wall time, {cpu / 60:.1f} min CPU; machine load before: `{load}`.",
        "",
        *([*table, ""] if table else []),
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
    parser.add_argument("--part", choices=("all", "synthetic", "real", "cost"), default="all")
    parser.add_argument("--epochs", type=int, default=8, help="synthetic epochs")
    parser.add_argument("--windows", type=int, default=1600, help="synthetic training windows")
    parser.add_argument("--batch-size", type=int, default=32, help="synthetic batch size")
    parser.add_argument("--learning-rate", type=float, default=0.01, help="synthetic learning rate")
    parser.add_argument("--units", type=int, default=16, help="synthetic units")
    parser.add_argument("--truncation-cell", default="gru", choices=CELLS)
    parser.add_argument("--real-epochs", type=int, default=6)
    parser.add_argument("--hours", type=int, default=6000, help="last hours of the real series used")
    parser.add_argument("--output", default=str(REPO / "docs" / "gradients.md"))
    args = parser.parse_args(argv)

    output = Path(args.output)
    t0 = time.perf_counter()
    syn, rl = [], []
    for part in ("synthetic", "real", "cost"):
        if args.part not in ("all", part):
            continue
        load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        started = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        wall, cpu = time.perf_counter(), time.process_time()
        note, rows = "", None
        if part == "synthetic":
            rows = syn = synthetic(args)
        elif part == "cost":
            rows = cost(args)
        elif (data_dir := shared_data()) is None:
            note = "Skipped: `../shared/data/chicago_ohare_hourly_2010_2016.csv` not found."
            print(note)
        else:
            rows = rl = real(args, data_dir)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        write_doc(output, part, render(part, rows, args, started, load, wall, cpu, note))
    figures(syn, rl, output.parent / "gradients")
    print(f"wrote {output} ({(time.perf_counter() - t0) / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
