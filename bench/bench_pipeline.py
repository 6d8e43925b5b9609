"""Time `forecaster run` on pipelines, sequentially and with --jobs 2, by stage; where the time goes.

Usage::

    python bench/bench_pipeline.py                       # smoke, temperature, stocks; jobs 1 and 2
    python bench/bench_pipeline.py --pipelines smoke --jobs 1
    python bench/bench_pipeline.py --pipelines skill/chicago --jobs 1 --set training.epochs=2 --profile
    python bench/bench_pipeline.py --pipelines smoke --repo ../main     # another checkout's code (before/after)

Each run happens in a fresh temporary directory (its own MLflow store and state), through the real
CLI with JSON logs; the stage timings come from the pipeline's own "stage X done" log records.
Reported per run: wall seconds, CPU seconds of the run's process tree (user + system, from
``getrusage(RUSAGE_CHILDREN)``), the 1-minute load average before and after, the stages, and the
seconds inside ``model.fit`` of each candidate (the epochs) against the rest.

``--profile`` runs the same command under ``cProfile`` (sequential runs only) and prints the wall
seconds spent inside each step of a run (cumulative: ``train_model`` includes the epochs, the
validation pass and the lag telemetry; the rows overlap where one step calls another). cProfile
slows Python-heavy steps (pandas) more than TensorFlow's, so read its shares, not its total.
``skill/<name>`` pipelines read their data file from ``--shared`` (default ``../shared/data`` of the
repository; outputs and store go to the temporary directory through ``--set``). ``--repo DIR`` runs
another checkout's code and pipeline files (its directory first on ``PYTHONPATH``).
Targets (issue 5): temperature under 10 minutes on this 2-core machine, smoke under 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGE = re.compile(r"stage (\w+) done in ([0-9.]+)s")
TRAINED = re.compile(r"trained (\S+): (\d+) epoch\(s\) in ([0-9.]+)s")

#: (label, file suffix, function name) of the steps reported by --profile, in run order.
STEPS = [
    ("imports (all, lazy TensorFlow/MLflow ones included)", "<frozen importlib._bootstrap>", "_find_and_load"),
    ("load: read, validate, regularise", "forecaster/pipeline.py", "load_data"),
    ("baselines: fit + evaluate (3)", "forecaster/comparison/candidates.py", "evaluate_baseline"),
    ("candidates: train_candidate (all)", "forecaster/comparison/candidates.py", "train_candidate"),
    ("  RNNForecaster.fit", "forecaster/estimator/rnn.py", "fit"),
    ("    train_model (epochs, validation, lag telemetry)", "forecaster/training/trainer.py", "train_model"),
    ("      lag-gradient telemetry", "forecaster/training/lag_gradients.py", "_measure"),
    ("  predictions on windows (_predict_split)", "forecaster/estimator/base.py", "_predict_split"),
    ("  rolling conformal quantiles", "forecaster/evaluation/rolling.py", "rolling_quantiles"),
    ("  save a forecaster", "forecaster/estimator/base.py", "save"),
    ("blend candidate", "forecaster/comparison/candidates.py", "blend_candidate"),
    ("Diebold-Mariano vs persistence", "forecaster/comparison/grid.py", "_add_significance"),
    ("MLflow: log_comparison (runs, artifacts, plots, pyfunc)", "forecaster/tracking/runs.py", "log_comparison"),
    ("register (gate, registry)", "forecaster/pipeline.py", "_register"),
    ("forecast: stage CSV + plot", "forecaster/scheduling/outputs.py", "stage_forecast"),
    ("plots: figures saved (all stages)", "forecaster/plots/_style.py", "_save"),
]


def _command(pipeline: str, jobs: int, overrides: list[str], cwd: Path, profile: Path | None,
             repo: Path, shared: Path) -> list[str]:
    path = Path(f"pipelines/{pipeline}.yaml")
    extra = []
    if pipeline.startswith("skill/"):  # outputs into the temporary directory, data from --shared
        from forecaster.config import load_config

        data = shared / Path(load_config(repo / path).data.path).name
        if not data.is_file():
            raise SystemExit(f"{pipeline}: its data file {data} is missing (--shared DIR)")
        extra = ["--set", f"data.path={data}", "--set", f"output.forecast_path={cwd / 'forecast.csv'}",
                 "--set", f"output.plot_path={cwd / 'forecast.png'}"]
    for item in overrides:
        extra += ["--set", item]
    runner = ["-m", "cProfile", "-o", str(profile), "-m", "forecaster"] if profile else ["-m", "forecaster"]
    return [sys.executable, *runner, "--log-format", "json", "run", str(path), "--jobs", str(jobs), *extra]


def run_once(pipeline: str, jobs: int, overrides: list[str], profile: bool = False, repo: Path = ROOT,
             shared: Path = ROOT.parent / "shared" / "data") -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        tmp = Path(tmp)
        shutil.copytree(repo / "data", tmp / "data")
        shutil.copytree(repo / "pipelines", tmp / "pipelines")
        cwd = tmp
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        env["PYTHONPATH"] = str(repo)
        env["FORECASTER_STATE_DIR"] = str(tmp / "state")
        prof = tmp / "run.prof" if profile else None
        load_before = os.getloadavg()[0]
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.run(_command(pipeline, jobs, overrides, tmp, prof, repo, shared), cwd=cwd, env=env,
                              capture_output=True, text=True)
        wall = time.perf_counter() - started
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
        stages, message, fits = {}, "", []
        for line in proc.stderr.splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            text = record.get("message", "")
            match = STAGE.search(text)
            if match:
                stages[match.group(1)] = float(match.group(2))
            match = TRAINED.search(text)
            if match:
                fits.append((match.group(1), int(match.group(2)), float(match.group(3))))
            if record.get("logger") == "forecaster.cli":
                message = text
        steps = _profile_steps(prof) if prof is not None and prof.exists() else []
        if proc.returncode not in (0, 4):
            message = message or proc.stderr[-500:]
        return {"pipeline": pipeline, "jobs": jobs, "exit": proc.returncode, "wall_s": round(wall, 1),
                "cpu_s": round(cpu, 1), "load": (round(load_before, 1), round(os.getloadavg()[0], 1)),
                "stages": stages, "fits": fits, "steps": steps, "message": message[:300]}


def _profile_steps(path: Path) -> list[tuple[str, float, int]]:
    """``(label, cumulative wall seconds, calls)`` of each of :data:`STEPS` found in the profile."""
    stats = pstats.Stats(str(path)).stats  # {(file, line, name): (cc, nc, tt, ct, callers)}
    out = []
    for label, suffix, name in STEPS:
        rows = [(v[3], v[1]) for (file, _, fn), v in stats.items() if fn == name and file.endswith(suffix)]
        if rows:
            # A recursive function (imports) appears once per entry point: its largest cumulative time.
            ct = max(r[0] for r in rows) if suffix.startswith("<") else sum(r[0] for r in rows)
            out.append((label, ct, sum(r[1] for r in rows)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipelines", nargs="+", default=["smoke", "temperature", "stocks"],
                        help="names under pipelines/ without .yaml (e.g. smoke, skill/chicago)")
    parser.add_argument("--jobs", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="passed to `forecaster run --set` (e.g. training.epochs=2)")
    parser.add_argument("--profile", action="store_true", help="also report where the time goes (cProfile)")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the checkout whose code and pipelines run")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data",
                        help="folder of the skill pipelines' data files")
    args = parser.parse_args()
    args.repo = args.repo.resolve()
    results = []
    for pipeline in args.pipelines:
        for jobs in args.jobs:
            result = run_once(pipeline, jobs, args.overrides, profile=args.profile and jobs == 1, repo=args.repo,
                              shared=args.shared.resolve())
            results.append(result)
            stages = "  ".join(f"{k}={v:.1f}s" for k, v in result["stages"].items())
            print(f"{pipeline:12s} jobs={jobs}  exit={result['exit']}  wall={result['wall_s']:7.1f}s  "
                  f"cpu={result['cpu_s']:7.1f}s  load {result['load'][0]}->{result['load'][1]}  {stages}", flush=True)
            fit_s = sum(f[2] for f in result["fits"])
            for name, epochs, seconds in result["fits"]:
                print(f"    model.fit {name}: {epochs} epochs in {seconds:.1f}s ({seconds / max(epochs, 1):.1f} s/epoch)")
            if result["fits"]:
                print(f"    in model.fit {fit_s:.1f}s; everything else {result['wall_s'] - fit_s:.1f}s "
                      f"({100 * (1 - fit_s / result['wall_s']):.0f}% of the wall time)")
            for label, seconds, calls in result["steps"]:
                print(f"    {label:58s} {seconds:8.1f}s  ({calls} calls)")
    print()
    for result in results:
        print(f"{result['pipeline']} jobs={result['jobs']}: {result['message']}")


if __name__ == "__main__":
    main()
