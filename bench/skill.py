"""Forecast skill on real data (issue 6): reproduce every figure and write ``docs/results.md``.

One command runs the pipeline files of ``pipelines/skill/`` on the real datasets of
``../shared/data/`` (relative to the repository root) exactly as ``forecaster run`` does
(comparison, walk-forward backtest, champion gate), each with its own throw-away MLflow store, then
breaks the errors down per horizon step (temperature) and per ticker (stocks):

- temperature (``chicago``, ``beijing``, ``jena2020``): hourly, lookback 120, horizon 24, split
  50/25/25. For each dataset: test MAE at every step 1..24 of persistence, seasonal naive, the
  linear baseline and the champion the pipeline picked from validation data alone, and the
  coverage of the champion's 90% conformal intervals per step;
- stocks: for each ticker, over the pipeline's walk-forward folds (everything refit in each fold),
  the MAE relative to persistence (the random walk) and the MASE of the best RNN and of the
  champion, and the Diebold-Mariano p-value of the best RNN against persistence.

Usage::

    python bench/skill.py                        # everything (about an hour on 2 busy cores)
    python bench/skill.py --only chicago,stocks  # a subset; docs/results.md gets only those
    python bench/skill.py --output /tmp/results.md --workdir /tmp/skill-run
    python bench/skill.py --workdir /tmp/skill-run --reuse      # render saved figures again

Without ``../shared/data`` it prints why and exits 0 (nothing to reproduce).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
PIPELINES = REPO / "pipelines" / "skill"
TEMPERATURE = ("chicago", "beijing", "jena2020")
#: Reported but not held to the targets (one year of data: do not tune on it alone).
REPORT_ONLY = ("jena2020",)
STOCKS = "stocks"
#: Issue 25's targets at step 24 (test part): under persistence by at least 22% on every hourly
#: station (16% on Jena-style 10-minute data aggregated to hours), under the linear (ridge)
#: baseline by 8%, 90% intervals covering 0.88-0.92, the whole run under 10 minutes on 2 cores.
TARGET_GAIN = 0.22
TARGET_GAIN_JENA = 0.16
TARGET_GAIN_LINEAR = 0.08
COVERAGE_RANGE = (0.88, 0.92)
TARGET_SECONDS = 600.0

logger = logging.getLogger("bench.skill")


# --------------------------------------------------------------------------- configuration
def load_pipeline(name: str, workdir: Path, overrides: list[str] | None = None):
    """The pipeline file ``pipelines/skill/<name>.yaml`` (plus ``--set`` overrides) with its data
    path resolved against the repository root and its MLflow store, lock, run state and outputs
    inside ``workdir``."""
    from forecaster.config import load_config

    cfg = load_config(PIPELINES / f"{name}.yaml", overrides)
    path = Path(cfg.data.path)
    cfg.data.path = str(path if path.is_absolute() else (REPO / path).resolve())
    cfg.tracking.tracking_uri = f"sqlite:///{workdir / name / 'mlflow.db'}"
    cfg.output.forecast_path = str(workdir / name / "forecast.csv")
    cfg.output.plot_path = str(workdir / name / "forecast.png")
    return cfg


def run(name: str, workdir: Path, jobs: int, overrides: list[str] | None = None):
    """``forecaster run`` of one skill pipeline (forced, isolated store): (cfg, outcome, seconds)."""
    from forecaster.pipeline import run_pipeline

    cfg = load_pipeline(name, workdir, overrides)
    start = time.perf_counter()
    outcome = run_pipeline(cfg, force=True, jobs=jobs, state_dir=workdir / name / "state")
    logger.info("%s: %s (%.0fs)", name, outcome.message, time.perf_counter() - start)
    return cfg, outcome, time.perf_counter() - start


def champion_of(outcome):
    """The result whose forecast the pipeline serves: the promoted candidate, else the fallback
    baseline the pipeline wrote (``RunOutcome.served_by``)."""
    comparison = outcome.comparison
    if outcome.status == "success" and outcome.gate is not None and outcome.gate.promoted:
        return comparison.best_candidate
    served = next((r for r in comparison.all_results if r.name == outcome.served_by), None)
    return served or comparison.best_baseline


# --------------------------------------------------------------------------- temperature
def temperature_figures(name: str, cfg, outcome, seconds: float) -> dict:
    comparison = outcome.comparison
    champion = champion_of(outcome)
    best_rnn = comparison.best_candidate
    by_name = {r.name: r for r in [*comparison.candidates, *comparison.baselines]}
    persistence = by_name["persistence"]
    steps = {n: by_name[n].test_mae_by_step.tolist() for n in ("persistence", "seasonal_naive", "linear")}
    steps["champion"] = champion.test_mae_by_step.tolist()
    if best_rnn is not None:
        steps["best_rnn"] = best_rnn.test_mae_by_step.tolist()
    last = {k: v[-1] for k, v in steps.items()}
    return {
        "name": name,
        "pipeline": f"pipelines/skill/{name}.yaml",
        "data": Path(cfg.data.path).name,
        "status": outcome.status,
        "message": outcome.message,
        "seconds": seconds,
        "champion": champion.name,
        "champion_role": champion.role,
        "best_rnn": best_rnn.name if best_rnn else None,
        "ensemble": int(cfg.training.ensemble), "seed": int(cfg.training.seed),
        "mae_by_step": steps,
        "step_last": last,
        "gain_vs_persistence": 1 - last["champion"] / last["persistence"],
        "beats_linear": last["champion"] < last["linear"],
        "coverage": float(champion.metrics.get("interval_coverage", math.nan)),
        "coverage_by_step": champion.coverage_by_step.tolist(),
        "intervals": _interval_method(cfg),
        "dm_p_value": comparison.significance.get(champion.name, {}).get("dm_p_value", math.nan),
        "results": [
            {"name": r.name, "role": r.role, "val_mae": r.val_mae,
             "test_mae": r.metrics.get("test_mae", math.nan),
             "step_last": float(r.test_mae_by_step[-1]) if len(r.test_mae_by_step) else math.nan,
             "val_step_last": float(r.val_mae_by_step[-1]) if len(r.val_mae_by_step) else math.nan,
             "coverage": r.metrics.get("interval_coverage", math.nan),
             "epochs": r.metrics.get("epochs_run", 0.0), "train_seconds": r.metrics.get("train_seconds", 0.0),
             "failed": r.failed}
            for r in comparison.all_results
        ],
        "persistence_test_mae": persistence.metrics.get("test_mae", math.nan),
    }


def _interval_method(cfg) -> str:
    ev = cfg.evaluation
    calibration = (f"rolling, each forecast calibrated on its series' last {ev.calibration_window} windows "
                   "with known outcomes" if ev.calibration_window else "static, calibrated on the validation windows")
    return f"split-conformal, `interval_scale: {ev.interval_scale}`, {calibration}"


def _intervals_of(figures: dict) -> str:
    """The interval method of a dataset's figures (older figure files: read from its pipeline file)."""
    if figures.get("intervals"):
        return figures["intervals"]
    from forecaster.config import load_config

    path = REPO / figures.get("pipeline", "")
    return _interval_method(load_config(path)) if path.is_file() else ""


# --------------------------------------------------------------------------- stocks
#: Labels of the walk-forward models in the ticker table, by result role (baselines keep their kind).
ROLE_LABELS = {"candidate": "best_rnn", "ensemble": "blend"}


def walk_forward_by_ticker(cfg, frame: pd.DataFrame, plan, folds: int) -> pd.DataFrame:
    """Per-window test errors of the best RNN's architecture (``best_rnn``), every baseline and
    (with ``training.blend``) their blend (``blend``) over ``folds`` expanding walk-forward folds:
    :func:`forecaster.comparison.backtest.backtest_window_errors`, everything refit inside each fold."""
    from forecaster.comparison.backtest import backtest_window_errors

    errors = backtest_window_errors(cfg, frame, folds, plans=[plan])
    return errors.assign(model=[ROLE_LABELS.get(role, name) for role, name in zip(errors["role"], errors["model"])])


def ticker_table(errors: pd.DataFrame, champion_label: str, horizon: int) -> pd.DataFrame:
    """Per ticker: relative MAE and MASE of the best RNN and of the champion, DM p-value (RNN vs RW)."""
    from forecaster.evaluation import diebold_mariano

    out = []
    for ticker, group in errors.groupby("series_id", sort=True):
        wide = {m: g.sort_values("time") for m, g in group.groupby("model")}
        rw = wide["persistence"]
        row = {"ticker": ticker, "windows": len(rw), "rw_mae": rw["abs_error"].mean()}
        for label, model in (("rnn", "best_rnn"), ("champion", champion_label)):
            g = wide[model]
            row[f"{label}_rel_mae"] = g["abs_error"].mean() / rw["abs_error"].mean()
            row[f"{label}_mase"] = g["scaled_error"].mean()
            row[f"{label}_coverage"] = float(g.filter(like="inside_").to_numpy().mean())
            row[f"{label}_worst_fold_rel_mae"] = max(
                g[g["fold"] == f]["abs_error"].mean() / rw[rw["fold"] == f]["abs_error"].mean()
                for f in sorted(g["fold"].unique()))
        stat, p_value = diebold_mariano(wide["best_rnn"]["abs_error"].to_numpy(),
                                        rw["abs_error"].to_numpy(), horizon=horizon, loss="abs")
        row["dm_stat"], row["dm_p_value"] = stat, p_value
        out.append(row)
    return pd.DataFrame(out)


def stocks_figures(cfg, outcome, seconds: float) -> dict:
    from forecaster.pipeline import load_data

    comparison = outcome.comparison
    best = comparison.best_candidate
    champion = champion_of(outcome)
    folds = cfg.evaluation.backtest_folds or 3
    plan = best.plan
    frame = load_data(cfg).frame
    errors = walk_forward_by_ticker(cfg, frame, plan, folds)
    champion_label = ROLE_LABELS.get(champion.role, champion.name)
    table = ticker_table(errors, champion_label, cfg.window.horizon)
    from forecaster.evaluation import walk_forward_significance

    gate_test = walk_forward_significance(errors, "best_rnn", cfg.window.horizon)  # the gate's rule 3b
    pooled = {m: g["abs_error"].mean() for m, g in errors.groupby("model")}
    champ_rows = errors[errors["model"] == champion_label]
    coverage_by_step = champ_rows.filter(like="inside_").mean().tolist()
    return {
        "name": STOCKS,
        "pipeline": f"pipelines/skill/{STOCKS}.yaml",
        "data": Path(cfg.data.path).name,
        "status": outcome.status,
        "message": outcome.message,
        "seconds": seconds,
        "folds": folds,
        "best_rnn": best.name,
        "champion": champion.name,
        "champion_role": champion.role,
        "gate": outcome.gate.reason if outcome.gate else None,
        "pooled_rel_mae": {m: v / pooled["persistence"] for m, v in pooled.items()},
        "interval_scale": cfg.evaluation.interval_scale,
        "intervals": _interval_method(cfg),
        "walk_forward_coverage": float(np.mean(coverage_by_step)),
        "walk_forward_coverage_by_step": coverage_by_step,
        "tickers": table.to_dict(orient="records"),
        "significance": cfg.evaluation.significance,
        "gate_dm_pvalue": gate_test.p_value,
        "gate_dm_pvalue_by_ticker": gate_test.by_series,
        "results": [
            {"name": r.name, "role": r.role, "val_mae": r.val_mae,
             "val_rel_mae": r.metrics.get("val_rel_mae", math.nan),
             "test_rel_mae": r.metrics.get("test_rel_mae", math.nan),
             "test_mase": r.metrics.get("test_mase", math.nan),
             "coverage": r.metrics.get("interval_coverage", math.nan),
             "coverage_by_step": r.coverage_by_step.tolist(),
             "dm_p_value": comparison.significance.get(r.name, {}).get("dm_p_value", math.nan),
             "epochs": r.metrics.get("epochs_run", 0.0), "failed": r.failed}
            for r in comparison.all_results
        ],
    }


# --------------------------------------------------------------------------- report
def _f(value, digits=3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _code(name: str) -> str:
    """A model name as inline code that is safe inside a Markdown table (names hold ``|``)."""
    return "`" + str(name).replace("|", "\\|") + "`"


def _pct(value) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{100 * value:+.1f}%"


def render(figures: dict, started: str, seconds: float, overrides: list[str] | None = None) -> str:
    lines = [
        "# Forecast skill on real data (issues 6 and 25)",
        "",
        f"Generated by `python bench/skill.py` on {started} ({seconds / 60:.0f} min of pipeline runs); every number below "
        "comes from the pipeline files in `pipelines/skill/` run on `../shared/data/` exactly as "
        "`forecaster run` runs them (the champion is what the pipeline picked from validation data "
        "alone; the test part was never used for a choice). Do not edit by hand: rerun the command.",
        "",
    ]
    if overrides:
        lines += [f"**Overrides applied (`--set {' '.join(overrides)}`): not the published figures.**", ""]
    temps = [figures[n] for n in TEMPERATURE if n in figures]
    if temps:
        lines += [
            "## Temperature, 24 hours ahead",
            "",
            "Hourly data, 120 hours of history, all 24 steps forecast at once (the head is the pipeline file's: see the "
            "champion column), split 50/25/25 in time, MAE in °C "
            "on the test part. Targets (issue 25), at step 24: the champion at least "
            f"{TARGET_GAIN:.0%} below persistence on every hourly station ({TARGET_GAIN_JENA:.0%} on Jena-style "
            f"data), at least {TARGET_GAIN_LINEAR:.0%} below the linear (ridge) baseline; 90% intervals covering "
            f"{COVERAGE_RANGE[0]:.2f}-{COVERAGE_RANGE[1]:.2f} of test points; the whole run under "
            f"{TARGET_SECONDS / 60:.0f} minutes on 2 cores (run time is wall time of `forecaster run`, at the "
            "load given: a busy machine stretches it).",
            "",
            "| dataset | persistence | seasonal naive | linear | champion | champion vs persistence | "
            "vs linear | coverage (90%) | champion | run min (load) | commit | targets met |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for t in temps:
            s = t["step_last"]
            gain = TARGET_GAIN_JENA if t["name"].startswith("jena") else TARGET_GAIN
            checks = {"persistence": t["gain_vs_persistence"] >= gain,
                      "linear": s["champion"] <= (1 - TARGET_GAIN_LINEAR) * s["linear"],
                      "coverage": COVERAGE_RANGE[0] <= t["coverage"] <= COVERAGE_RANGE[1],
                      "time": t.get("seconds", 0.0) <= TARGET_SECONDS}
            missed = [k for k, ok in checks.items() if not ok]
            load = t.get("load")
            lines.append(
                f"| {t['data']} | {_f(s['persistence'])} | {_f(s['seasonal_naive'])} | {_f(s['linear'])} | "
                f"{_f(s['champion'])} | {_pct(-t['gain_vs_persistence'])} | "
                f"{_pct(s['champion'] / s['linear'] - 1)} | {_f(t['coverage'])} | {_code(t['champion'])} | "
                f"{t.get('seconds', 0.0) / 60:.1f} ({load[0] if load else '?'}) | {t.get('commit', '?')} | "
                f"{'all' if not missed else 'NO: ' + ', '.join(missed)}"
                f"{' (reported only: one year of data)' if t['name'] in REPORT_ONLY else ''} |")
        methods = sorted({_intervals_of(t) for t in temps} - {""})
        lines += ["", "MAE at step 24 (°C); coverage over all 24 steps of the test windows"
                  + (f" (intervals: {'; '.join(methods)})" if methods else "") + ".", ""]
        for t in temps:
            lines += [f"### {t['data']} (`{t['pipeline']}`)", "", f"Run: {t['message']}", ""]
            if t.get("ensemble", 1) > 1:  # the candidate's name is its architecture's: say what it averages
                n, seed = t["ensemble"], t["seed"]
                lines += [f"Each network candidate is an ensemble (`training.ensemble: {n}`): the mean of {n} "
                          f"networks of its architecture, trained with seeds {seed}..{seed + n - 1}; its "
                          "epochs are the first member's, its train s the members' sum.", ""]
            lines += ["| candidate / baseline | role | val MAE | test MAE (all steps) | test MAE step 24 | "
                      "coverage | epochs | train s |", "|---|---|---|---|---|---|---|---|"]
            for r in t["results"]:
                lines.append(f"| {_code(r['name'])} | {r['role']} | {_f(r['val_mae'])} | {_f(r['test_mae'])} | "
                             f"{_f(r['step_last'])} | {_f(r['coverage'])} | {int(r['epochs'])} | "
                             f"{r['train_seconds']:.0f} |")
            steps = t["mae_by_step"]
            cols = ["persistence", "seasonal_naive", "linear", "champion"]
            if t["champion_role"] != "candidate" and "best_rnn" in steps:
                cols.append("best_rnn")
            lines += ["", "Test MAE (°C) per horizon step, and the champion's 90% interval coverage:", "",
                      "| step | " + " | ".join(cols) + " | coverage |",
                      "|---" * (len(cols) + 2) + "|"]
            for i in range(len(steps["persistence"])):
                lines.append(f"| {i + 1} | " + " | ".join(_f(steps[c][i]) for c in cols)
                             + f" | {_f(t['coverage_by_step'][i])} |")
            lines.append("")
    if STOCKS in figures:
        s = figures[STOCKS]
        lines += [
            "## Stocks, 1 to 5 trading days ahead",
            "",
            f"`{s['pipeline']}` on {s['data']}. Run: {s['message']}",
            "",
            f"Best RNN on validation: {_code(s['best_rnn'])}; champion served: {_code(s['champion'])} "
            f"({s['champion_role']}). Gate: {s['gate']}.",
            "",
            f"Per ticker over {s['folds']} expanding walk-forward folds (everything refit in each fold; "
            "relative MAE = MAE / persistence MAE on the same windows, below 1 beats the random walk; "
            "MASE scaled by the in-sample one-step naive MAE; Diebold-Mariano on per-window mean "
            "absolute errors of the best RNN vs persistence, two-sided, HLN-corrected):",
            "",
            "| ticker | windows | RNN rel. MAE | RNN worst fold | RNN MASE | champion rel. MAE | champion MASE | "
            "DM stat | DM p-value | champion 90% coverage |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in s["tickers"]:
            lines.append(
                f"| {r['ticker']} | {r['windows']} | {_f(r['rnn_rel_mae'], 4)} | "
                f"{_f(r['rnn_worst_fold_rel_mae'], 4)} | {_f(r['rnn_mase'])} | "
                f"{_f(r['champion_rel_mae'], 4)} | {_f(r['champion_mase'])} | {_f(r['dm_stat'], 2)} | "
                f"{_f(r['dm_p_value'], 3)} | {_f(r.get('champion_coverage'))} |")
        wins = [r["ticker"] for r in s["tickers"] if r["rnn_rel_mae"] < 1 and r["dm_p_value"] < 0.05]
        losses = [r["ticker"] for r in s["tickers"] if r["rnn_rel_mae"] >= 1]
        lines += ["", f"Plainly: the best RNN beats the random walk with a significant Diebold-Mariano test "
                  f"(p < 0.05) on {len(wins)} of {len(s['tickers'])} tickers ({', '.join(wins) or 'none'}); "
                  f"it is no better than the random walk (relative MAE >= 1) on {', '.join(losses) or 'none'}; "
                  "elsewhere its edge is not significant."]
        if s.get("gate_dm_pvalue") is not None:
            alpha = s.get("significance")
            by_ticker = ", ".join(f"{t} {_f(p, 3)}" for t, p in sorted(s["gate_dm_pvalue_by_ticker"].items()))
            lines += ["", f"The gate's significance rule (`evaluation.significance: {alpha}`): one-sided "
                      f"Diebold-Mariano test of the best RNN against persistence over the same folds, p pooled "
                      f"{_f(s['gate_dm_pvalue'], 4)}; per ticker {by_ticker}. "
                      + ("A win is claimed only when every one of these is below it."
                         if alpha is not None else "The rule is off in this pipeline.")]
        champ = next((r for r in s["results"] if r["name"] == s["champion"]), None)
        if champ is not None:
            inside = 0.87 <= champ["coverage"] <= 0.93
            lines += ["", f"Champion's 90% intervals ({_intervals_of(s)}) "
                      f"on the test part of the single split: coverage {_f(champ['coverage'])} "
                      f"({'inside' if inside else 'OUTSIDE'} the 87-93% target)."]
        if "walk_forward_coverage" in s:
            wf = s["walk_forward_coverage"]
            by_step = " ".join(_f(c) for c in s["walk_forward_coverage_by_step"])
            lines += ["", f"Over the {s['folds']} walk-forward folds (intervals recalibrated in each fold): "
                      f"coverage {_f(wf)} ({'inside' if 0.87 <= wf <= 0.93 else 'OUTSIDE'} the 87-93% target); "
                      f"by step 1..{len(s['walk_forward_coverage_by_step'])}: {by_step}."]
        pooled = ", ".join(f"{m} {_f(v, 4)}" for m, v in sorted(s["pooled_rel_mae"].items()))
        lines += ["", f"All tickers pooled (walk-forward relative MAE): {pooled}.", "",
                  "The single comparison (train/val/test split of the pipeline file):", "",
                  "| candidate / baseline | role | val MAE | val rel. MAE | test rel. MAE | test MASE | "
                  "coverage | coverage by step | DM p vs RW |", "|---|---|---|---|---|---|---|---|---|"]
        for r in s["results"]:
            cov = " ".join(_f(c, 2) for c in r["coverage_by_step"])
            lines.append(f"| {_code(r['name'])} | {r['role']} | {_f(r['val_mae'])} | {_f(r['val_rel_mae'], 4)} | "
                         f"{_f(r['test_rel_mae'], 4)} | {_f(r['test_mase'])} | {_f(r['coverage'])} | {cov} | "
                         f"{_f(r['dm_p_value'], 3)} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def code_version() -> str:
    """The commit the figures are measured at (``+dirty`` when the work tree has changes outside
    ``docs/``, which the benchmarks themselves render)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs") else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join((*TEMPERATURE, STOCKS)),
                        help="comma-separated subset of: " + ", ".join((*TEMPERATURE, STOCKS)))
    parser.add_argument("--output", default=str(REPO / "docs" / "results.md"))
    parser.add_argument("--workdir", default=None, help="MLflow stores and forecasts (default: a temp dir)")
    parser.add_argument("--jobs", type=int, default=1, help="candidates trained in parallel")
    parser.add_argument("--reuse", action="store_true",
                        help="take each dataset's figures from <workdir>/<name>.json when present (written by an "
                        "earlier run with the same --workdir) instead of recomputing them; e.g. run the "
                        "datasets in separate processes, then render docs/results.md once")
    parser.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                        help="override applied to every pipeline (as `forecaster run --set`), e.g. "
                        "training.epochs=1 for a quick check; the figures are then NOT the published ones")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(names) - {*TEMPERATURE, STOCKS})
    if unknown:
        parser.error(f"--only: unknown name(s) {unknown}; choose from {[*TEMPERATURE, STOCKS]}")
    if not DATA.is_dir():
        print(f"bench/skill.py: {DATA} is absent; these figures need the real datasets there. Skipped.")
        return 0
    started = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    commit = code_version()  # the code this process runs: taken once, before any edit of the checkout
    figures: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="forecaster-skill-") as tmp:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for name in names:
            saved = workdir / f"{name}.json"
            if args.reuse and saved.is_file():
                figures[name] = json.loads(saved.read_text())
                logger.info("%s: figures reused from %s", name, saved)
                continue
            cfg, outcome, seconds = run(name, workdir, args.jobs, args.set)
            if name == STOCKS:
                figures[name] = stocks_figures(cfg, outcome, seconds)
            else:
                figures[name] = temperature_figures(name, cfg, outcome, seconds)
            figures[name]["overrides"] = list(args.set)
            figures[name]["commit"] = commit
            figures[name]["load"] = [round(x, 1) for x in os.getloadavg()]
            figures[name]["measured"] = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
            (workdir / f"{name}.json").write_text(json.dumps(figures[name], indent=1, default=float))
    overrides = sorted({o for f in figures.values() for o in f.get("overrides", [])})
    measured = sorted(f["measured"] for f in figures.values() if f.get("measured"))
    if args.reuse and measured and measured[-1] < started:  # nothing run now: say when the figures were made
        started = f"{measured[0]}..{measured[-1]} (figures; rendered {started})"
    text = render(figures, started, sum(f.get("seconds", 0.0) for f in figures.values()), overrides)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
