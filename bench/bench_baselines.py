"""The baselines' cost on the windows of ``pipelines/skill/chicago.yaml``, and the BLAS-thread lever.

Usage::

    python bench/bench_baselines.py                 # every baseline of the pipeline, 2 rounds
    python bench/bench_baselines.py --rounds 3 --shared ../shared/data

Part 1 times ``comparison.evaluate_baseline`` (fit on the training windows, then the validation and
test forecasts and intervals, as a pipeline run does) for each baseline: wall and CPU seconds.
Part 2 times the ridge solve alone on the training windows (float32, as the product gathers them):
scikit-learn's ``Ridge`` with the BLAS libraries' default threads (the old ``linear`` baseline),
and ``forecaster.models.blas.ridge_normal_equations`` (the new one: float64 normal equations, one
thread), interleaved, with the largest coefficient difference to scikit-learn's ``Ridge`` on
float64 windows. Report the load with it.
Without the shared data it says so and exits 0.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PIPELINE = REPO / "pipelines" / "skill" / "chicago.yaml"


def _clock(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--shared", default=str(REPO.parent / "shared" / "data"))
    args = parser.parse_args()
    data = Path(args.shared) / "chicago_ohare_hourly_2010_2016.csv"
    if not data.exists():
        print(f"{data} not found: nothing to measure")
        return

    import numpy as np
    from sklearn.linear_model import Ridge
    from threadpoolctl import threadpool_info

    from forecaster.comparison.candidates import evaluate_baseline
    from forecaster.config import load_config
    from forecaster.pipeline import load_data, split_frame
    from forecaster.features.preprocessor import Preprocessor
    from forecaster.windowing import gather_windows, window_starts

    cfg = load_config(PIPELINE, [f"data.path={data}"])
    frame = split_frame(cfg, load_data(cfg).frame)
    print(f"load {os.getloadavg()[0]:.1f}; BLAS: "
          + ", ".join(f"{i['internal_api']} {i['num_threads']} threads" for i in threadpool_info()))
    for kind in cfg.baselines:
        times = [_clock(lambda: evaluate_baseline(cfg, kind, frame))[1:] for _ in range(args.rounds)]
        print(f"baseline {kind:15s} wall {min(t[0] for t in times):6.2f} s  CPU {min(t[1] for t in times):6.2f} s"
              f"  (best of {args.rounds})")

    pre = Preprocessor(target=list(cfg.data.target), features=cfg.features).fit(frame[frame["split"] == "train"])
    scaled, values = pre.transform_values(frame)
    starts = window_starts(scaled, cfg.window.lookback, cfg.window.horizon, cfg.window.stride)
    X, y = gather_windows(values, starts["train"], cfg.window.lookback, cfg.window.horizon,
                          list(pre.target_indices_))
    X, y = X.reshape(len(X), -1), y.reshape(len(y), -1)
    print(f"ridge on {X.shape[0]} windows x {X.shape[1]} inputs -> {y.shape[1]} outputs")
    from forecaster.models.blas import ridge_normal_equations

    exact = Ridge(alpha=1.0).fit(X.astype(np.float64), y).coef_
    variants = {"sklearn Ridge, float32, default BLAS threads": lambda: Ridge(alpha=1.0).fit(X, y).coef_,
                "ridge_normal_equations (float64, 1 thread)": lambda: ridge_normal_equations(X, y, 1.0)[0]}
    results = {}
    for _ in range(args.rounds):
        for name, fit in variants.items():
            results.setdefault(name, []).append(_clock(fit))
    for name, runs in results.items():
        diff = np.max(np.abs(runs[0][0] - exact))
        print(f"{name:46s} wall {min(r[1] for r in runs):6.2f} s  CPU {min(r[2] for r in runs):6.2f} s "
              f"(best of {args.rounds}); largest coefficient difference to float64 Ridge {diff:.1e}")
    print(f"load {os.getloadavg()[0]:.1f}")

if __name__ == "__main__":
    main()
