"""The long-horizon (LTSF) benchmark protocol, run through the product's own estimator.

    python bench/ltsf.py --data FILE --protocol ett-hour|ratio --horizon 96 [--pipeline FILE]

- **Pipeline.** The recipe is a pipeline file (default: ``pipelines/ltsf/etth1.yaml`` for ETT files,
  ``pipelines/ltsf/weather.yaml`` otherwise), loaded and validated by the product; ``--data``
  overrides ``data.path`` and ``--horizon`` ``window.horizon``. The first model entry is trained
  by :class:`forecaster.estimator.RNNForecaster` with the same keyword arguments ``forecaster run``
  gives it (:func:`forecaster.comparison.candidates.rnn_params`).
- **Splits** (:func:`protocol_borders`, :func:`protocol_overrides`). ``ett-hour``: 8,640 / 2,880 /
  2,880 rows (12/4/4 months), the rest unused. ``ratio``: 0.7 / 0.1 / 0.2 of the rows (train =
  int(0.7 n), test = int(0.2 n), val the rest; n the rows of the file's series). The protocol is
  the product's own split by row counts: the overrides ``split.train_rows``, ``split.val_rows``,
  ``split.test_rows`` given to :func:`forecaster.config.load_config`; the data is loaded, checked
  and labelled by the product (:func:`forecaster.pipeline.load_data`,
  :func:`forecaster.pipeline.split_frame`, which drops the unused rows). The product's window rule
  lets validation and test windows read their lookback from the rows before the border (only their
  targets lie inside the split). Test windows stride 1; every window counts.
- **Scaling** (:func:`scaled_metrics`). A standard scaler (mean, population std) per channel fit on
  the training rows; MSE and MAE on scaled values, averaged over windows, steps and channels;
  MAE also in the data's own units.

Ends with one JSON line on stdout:
``{"data", "horizon", "lookback", "mse", "mae", "mae_data_units", "test_windows", "train_seconds",
"epochs", "seconds_per_epoch"}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ETT_ROWS = (12 * 30 * 24, 4 * 30 * 24, 4 * 30 * 24)  # 8640 / 2880 / 2880


def protocol_borders(n_rows: int, protocol: str) -> tuple[int, int, int]:
    """Row counts ``(train, val, test)`` of the protocol; rows after ``sum`` are unused.

    >>> protocol_borders(20000, "ett-hour")
    (8640, 2880, 2880)
    >>> protocol_borders(1000, "ratio")
    (700, 100, 200)
    """
    if protocol == "ett-hour":
        if n_rows < sum(ETT_ROWS):
            raise ValueError(f"--protocol ett-hour needs {sum(ETT_ROWS)} rows; the file has {n_rows}")
        return ETT_ROWS
    if protocol == "ratio":
        n_train, n_test = int(n_rows * 0.7), int(n_rows * 0.2)
        return n_train, n_rows - n_train - n_test, n_test
    raise ValueError(f"--protocol must be ett-hour or ratio. Received: {protocol!r}")


def protocol_overrides(protocol: str, n_rows: int | None = None) -> list[str]:
    """The pipeline overrides of the protocol: the product's split by row counts.

    ``n_rows`` (the rows of the series) is needed by ``ratio`` only; ``ett-hour`` leaves a file
    too short for its rows to the product's length check (exit 3).

    >>> protocol_overrides("ett-hour")
    ['split.train_rows=8640', 'split.val_rows=2880', 'split.test_rows=2880']
    >>> protocol_overrides("ratio", 1000)
    ['split.train_rows=700', 'split.val_rows=100', 'split.test_rows=200']
    """
    if protocol == "ett-hour":
        rows = ETT_ROWS
    elif n_rows is None:
        raise ValueError(f"--protocol {protocol} needs the row count of the data")
    else:
        rows = protocol_borders(n_rows, protocol)
    return [f"split.{key}={value}" for key, value in zip(("train_rows", "val_rows", "test_rows"), rows)]


def protocol_frame(data: str, protocol: str, horizon: int, pipeline: str | None, overrides=()):
    """``(cfg, frame)``: the pipeline with the protocol's split, and the data loaded, checked and
    labelled by the product (unused rows dropped), as ``forecaster run`` prepares it."""
    from forecaster.config import load_config
    from forecaster.data.columns import SERIES_ID
    from forecaster.data.reader import read_frame
    from forecaster.pipeline import load_data, split_frame

    if pipeline is None:
        pipeline = str(ROOT / "pipelines/ltsf" / ("etth1.yaml" if protocol == "ett-hour" else "weather.yaml"))
    base = [f"data.path={data}", f"window.horizon={horizon}"]
    n_rows = None
    if protocol != "ett-hour":  # the ratio's counts come from the rows of the file's series
        raw = read_frame(load_config(pipeline, [*base, *overrides]).data)
        n_rows = int(raw.groupby(SERIES_ID).size().min())
    cfg = load_config(pipeline, [*base, *protocol_overrides(protocol, n_rows), *overrides])
    return cfg, split_frame(cfg, load_data(cfg).frame)


def test_window_count(n_rows: int, protocol: str, lookback: int, horizon: int) -> int:
    """Test windows at stride 1 whose targets lie in the test rows and inputs in any earlier rows."""
    n_train, n_val, n_test = protocol_borders(n_rows, protocol)
    return max(0, n_test - horizon + 1) if n_train + n_val >= lookback else 0


def scaled_metrics(y_true: np.ndarray, y_pred: np.ndarray, mean: np.ndarray, std: np.ndarray) -> dict[str, float]:
    """MSE/MAE on standard-scaled values (over windows, steps, channels) and MAE in data units."""
    err = (np.asarray(y_pred, float) - np.asarray(y_true, float)) / np.asarray(std, float)
    del mean  # a shift cancels in the error
    return {"mse": float(np.mean(err ** 2)), "mae": float(np.mean(np.abs(err))),
            "mae_data_units": float(np.mean(np.abs(np.asarray(y_pred, float) - np.asarray(y_true, float))))}


def run(data: str, protocol: str, horizon: int, pipeline: str | None, overrides=()) -> dict:
    from forecaster.comparison.candidates import rnn_params
    from forecaster.comparison.plans import CandidatePlan
    from forecaster.estimator import RNNForecaster

    cfg, frame = protocol_frame(data, protocol, horizon, pipeline, overrides)
    targets = list(cfg.data.target)
    train = frame.loc[frame["split"] == "train", targets].to_numpy(float)
    mean, std = train.mean(axis=0), train.std(axis=0)
    plan = CandidatePlan(name="ltsf", model=cfg.models[0].model_dump(), clipping=cfg.clipping[0].model_dump(),
                         bptt=cfg.bptt[0].model_dump())
    est = RNNForecaster(**rnn_params(cfg, plan))
    began = time.perf_counter()
    est.fit(frame)
    train_seconds = time.perf_counter() - began
    preds = est.evaluate_windows(frame, splits=("test",))["test"]
    metrics = scaled_metrics(preds.y_true, preds.y_pred, mean, std)
    history = getattr(est, "history_", {}) or {}
    epochs = len(history.get("train_loss", [])) or None
    epoch_seconds = history.get("epoch_seconds") or []
    return {"data": Path(data).name, "horizon": horizon, "lookback": cfg.window.lookback, **metrics,
            "test_windows": int(preds.n_samples), "train_seconds": round(train_seconds, 1), "epochs": epochs,
            "seconds_per_epoch": round(float(np.mean(epoch_seconds)), 1) if epoch_seconds else None,
            "model": est.spec.name}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--protocol", required=True, choices=["ett-hour", "ratio"])
    parser.add_argument("--horizon", type=int, required=True)
    parser.add_argument("--pipeline")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="pipeline override, e.g. training.epochs=2")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    result = run(args.data, args.protocol, args.horizon, args.pipeline, args.set)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
