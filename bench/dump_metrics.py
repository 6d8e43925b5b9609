"""Dump the val/test metrics of every candidate and baseline in an MLflow store as sorted JSON.

Used to show that a refactor changes no result: run the same pipeline at two commits, dump each
store, and compare the two files::

    forecaster run pipelines/smoke.yaml            # in a scratch copy, at commit A, then at commit B
    python bench/dump_metrics.py sqlite:///mlflow.db > metrics-A.json
    python bench/dump_metrics.py sqlite:///mlflow.db --compare metrics-A.json   # differences > 1e-6
"""

from __future__ import annotations

import argparse
import json
import sys

from mlflow.tracking import MlflowClient


def dump(uri: str) -> dict[str, dict[str, float]]:
    client = MlflowClient(tracking_uri=uri)
    out: dict[str, dict[str, float]] = {}
    for exp in client.search_experiments():
        for run in client.search_runs([exp.experiment_id], max_results=5000):
            if run.data.tags.get("forecaster.role") not in ("candidate", "baseline"):
                continue
            name = run.data.tags.get("forecaster.candidate") or run.info.run_name
            out[f"{exp.name}/{name}"] = {k: round(v, 6) for k, v in sorted(run.data.metrics.items())
                                          if k.startswith(("val_", "test_"))}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tracking_uri")
    parser.add_argument("--compare", help="an earlier dump: print the metrics that differ by more than 1e-6")
    args = parser.parse_args(argv)
    now = dump(args.tracking_uri)
    if not args.compare:
        json.dump(now, sys.stdout, indent=1, sort_keys=True)
        return 0
    before = json.loads(open(args.compare, encoding="utf-8").read())
    diffs = [(run, metric, value, now.get(run, {}).get(metric)) for run, metrics in before.items()
             for metric, value in metrics.items()
             if now.get(run, {}).get(metric) is None or abs(now[run][metric] - value) > 1e-6]
    for diff in diffs:
        print("%s %s: %s -> %s" % diff)
    print(f"{sum(len(m) for m in before.values()) - len(diffs)} of {sum(len(m) for m in before.values())} metrics equal to 1e-6")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
