"""Time `forecaster run` on each bundled pipeline, sequentially and with --jobs 2, by stage.

Usage::

    python bench/bench_pipeline.py                       # smoke, temperature, stocks; jobs 1 and 2
    python bench/bench_pipeline.py --pipelines smoke --jobs 1

Each run happens in a fresh temporary directory (its own MLflow store and state), through the real
CLI with JSON logs; the stage timings come from the pipeline's own "stage X done" log records.
Targets (issue 5): temperature under 10 minutes on this 2-core machine, smoke under 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGE = re.compile(r"stage (\w+) done in ([0-9.]+)s")


def run_once(pipeline: str, jobs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        cwd = Path(tmp)
        shutil.copytree(ROOT / "data", cwd / "data")
        shutil.copytree(ROOT / "pipelines", cwd / "pipelines")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "forecaster", "--log-format", "json", "run", f"pipelines/{pipeline}.yaml",
             "--jobs", str(jobs)], cwd=cwd, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        stages, message = {}, ""
        for line in proc.stderr.splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            text = record.get("message", "")
            match = STAGE.search(text)
            if match:
                stages[match.group(1)] = float(match.group(2))
            if record.get("logger") == "forecaster.cli":
                message = text
        return {"pipeline": pipeline, "jobs": jobs, "exit": proc.returncode, "wall_s": round(wall, 1),
                "stages": stages, "message": message[:200]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipelines", nargs="+", default=["smoke", "temperature", "stocks"])
    parser.add_argument("--jobs", nargs="+", type=int, default=[1, 2])
    args = parser.parse_args()
    results = []
    for pipeline in args.pipelines:
        for jobs in args.jobs:
            result = run_once(pipeline, jobs)
            results.append(result)
            stages = "  ".join(f"{k}={v:.1f}s" for k, v in result["stages"].items())
            print(f"{pipeline:12s} jobs={jobs}  exit={result['exit']}  wall={result['wall_s']:7.1f}s  {stages}",
                  flush=True)
    print()
    for result in results:
        print(f"{result['pipeline']} jobs={result['jobs']}: {result['message']}")


if __name__ == "__main__":
    main()
