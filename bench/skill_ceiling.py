"""How much a station's own hourly inputs can tell about the temperature 24 h ahead: a non-RNN probe.

Issue 25 asks the hourly pipeline for 22% under persistence and 8% under the ridge baseline at step 24.
This probe asks whether the inputs carry that much, with the strongest tabular learner scikit-learn
has, free of the RNN's 10-minute budget: a gradient-boosted direct model of step 24
(``HistGradientBoostingRegressor``, absolute-error loss, its number of trees chosen on validation) on
engineered features of the same 120 h window (every input column now, T at 17 lags, 24 h means,
minima, maxima and changes of every column, 24 h and 72 h tendencies, and the calendar of the origin
and of the target hour), beside persistence and a ridge on the flattened window. Same data, same
regularisation and the same 50/25/25 split by time as ``pipelines/skill/<station>.yaml`` (the pipeline's
own loader); a window belongs to the split its 24 target hours are in, and every fit (scaler, ridge,
trees) sees the training windows only; validation picks the ridge's alpha and the trees' count. The test
part is scored once. For a station whose file has a categorical column the pipeline cannot read
(:data:`CATEGORICAL`: Beijing's wind direction), the trees are fit a second time with it one-hot.

Usage::

    python bench/skill_ceiling.py                       # chicago, beijing, jena2020
    python bench/skill_ceiling.py --results /tmp/skill  # with the champion of a bench/skill.py run

Writes ``bench/out/ceiling/<station>.json`` and ``docs/ceiling.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import skill  # (bench/skill.py: the pipeline files and their data paths)

OUT = skill.REPO / "bench" / "out" / "ceiling"
#: A station file's categorical column the pipeline does not read (it takes numbers only): the probe
#: adds it, one-hot, to the trees' inputs in a second fit, to measure what it carries.
CATEGORICAL = {"beijing": "cbwd"}
T_LAGS = (0, 1, 2, 3, 4, 5, 6, 9, 12, 15, 18, 21, 23, 24, 48, 72, 96)


def series(station: str):
    """The regularised frame of the station's pipeline file, its target column, lookback, horizon and
    the pipeline's config."""
    from forecaster.data.dataset import load_dataset
    from forecaster.data.splits import as_rule

    cfg = skill.load_pipeline(station, OUT)
    rule = as_rule(cfg.split.val, cfg.split.test)
    loaded = load_dataset(cfg.data, cfg.window.lookback, cfg.window.horizon, rule)
    return loaded.frame, cfg.data.target[0], cfg.window.lookback, cfg.window.horizon, cfg


def design(frame: pd.DataFrame, columns: list[str], target: str, lookback: int, horizon: int):
    """Per forecast origin t (the window's last input row): engineered features, the flattened
    window, persistence, the step-`horizon` target, and the split of the target rows."""
    from forecaster.data.columns import SPLIT, TIMESTAMP

    values = frame[columns].to_numpy(np.float64)
    n = len(values)
    stamps = pd.DatetimeIndex(frame[TIMESTAMP])
    splits = frame[SPLIT].to_numpy()
    origins = np.arange(lookback - 1, n - horizon)
    # The window's rows must be one contiguous run (the pipeline never windows across a gap).
    gaps = (np.diff(stamps.asi8) != np.diff(stamps.asi8).min())
    broken = np.concatenate([[0], np.cumsum(gaps)])
    ok = broken[origins - lookback + 1] == broken[origins + horizon]
    # A window's split: the split all its target rows share (windows straddling a boundary are dropped).
    first, last = splits[origins + 1], splits[origins + horizon]
    ok &= first == last
    origins, split = origins[ok], first[ok]
    df = pd.DataFrame(values, columns=columns)
    feats = {}
    t_idx = columns.index(target)
    for lag in T_LAGS:
        feats[f"T_lag{lag}"] = values[origins - lag, t_idx]
    for j, c in enumerate(columns):
        col = df[c]
        feats[f"{c}_now"] = values[origins, j]
        for w in (24, 72):
            roll = col.rolling(w)
            feats[f"{c}_mean{w}"] = roll.mean().to_numpy()[origins]
            feats[f"{c}_d{w}"] = values[origins, j] - values[origins - w + 1, j]
        feats[f"{c}_min24"] = col.rolling(24).min().to_numpy()[origins]
        feats[f"{c}_max24"] = col.rolling(24).max().to_numpy()[origins]
        feats[f"{c}_d3"] = values[origins, j] - values[origins - 3, j]
    target_time = stamps[origins + horizon]
    for name, stamp in (("origin", stamps[origins]), ("target", target_time)):
        hour = 2 * np.pi * stamp.hour / 24
        doy = 2 * np.pi * stamp.day_of_year / 365.25
        feats[f"{name}_hour_sin"], feats[f"{name}_hour_cos"] = np.sin(hour), np.cos(hour)
        feats[f"{name}_doy_sin"], feats[f"{name}_doy_cos"] = np.sin(doy), np.cos(doy)
    engineered = pd.DataFrame(feats).to_numpy(np.float64)
    flat_idx = origins[:, None] + np.arange(-lookback + 1, 1)[None, :]
    flat = values[flat_idx].reshape(len(origins), -1)
    y = values[origins + horizon, t_idx]
    persistence = values[origins, t_idx]
    return engineered, flat, y, persistence, split, list(feats)


def trees(X, y, persistence, parts, seed: int) -> dict:
    """Gradient-boosted trees fit to the change from persistence on the training windows, their tree
    count chosen on validation: val and test MAE."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    tr, va, te = parts
    mae = lambda a, b: float(np.mean(np.abs(a - b)))  # noqa: E731
    gbm = HistGradientBoostingRegressor(loss="absolute_error", learning_rate=0.05, max_iter=1500,
                                        max_leaf_nodes=31, min_samples_leaf=40, l2_regularization=1.0,
                                        early_stopping=False, random_state=seed)
    gbm.fit(X[tr], y[tr] - persistence[tr])
    val_curve = [mae(p + persistence[va], y[va]) for p in gbm.staged_predict(X[va])]
    n_best = int(np.argmin(val_curve)) + 1
    test_pred = next(p for i, p in enumerate(gbm.staged_predict(X[te]), start=1) if i == n_best)
    return {"trees": n_best, "val": val_curve[n_best - 1], "test": mae(test_pred + persistence[te], y[te])}


def one_hot(data_cfg, column: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``column`` of the station's raw file, one-hot, on the regularised frame's timestamps (the last
    value known at each hour: forward-filled, never from a later row)."""
    from forecaster.data.columns import TIMESTAMP

    raw = pd.read_csv(data_cfg.path)
    if data_cfg.timestamp_parts:
        parts = {role: raw[name] for role, name in data_cfg.timestamp_parts.items()}
        stamps = pd.to_datetime(pd.DataFrame(parts))
    else:
        stamps = pd.to_datetime(raw[data_cfg.timestamp_column], format=data_cfg.timestamp_format)
    coded = pd.get_dummies(raw[column].astype("string"), prefix=column).astype(float).set_index(stamps)
    coded = coded[~coded.index.duplicated(keep="last")].sort_index()
    aligned = coded.reindex(pd.DatetimeIndex(frame[TIMESTAMP]), method="ffill").fillna(0.0)
    return aligned.set_axis(frame.index)


def probe(station: str, seed: int) -> dict:
    """Persistence, the flattened-window ridge and the gradient-boosted trees at step `horizon`."""
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler

    from forecaster.data.columns import SPLIT
    from forecaster.data.splits import as_rule, assign_splits

    start = time.perf_counter()
    frame, target, lookback, horizon, cfg = series(station)
    frame = frame.assign(**{SPLIT: assign_splits(frame, as_rule(cfg.split.val, cfg.split.test)).to_numpy()})
    columns = list(dict.fromkeys(cfg.data.features or cfg.data.target))
    X, flat, y, persistence, split, names = design(frame, columns, target, lookback, horizon)
    tr, va, te = (split == "train"), (split == "val"), (split == "test")
    mae = lambda a, b: float(np.mean(np.abs(a - b)))  # noqa: E731
    out = {"station": station, "inputs": columns, "lookback": lookback, "horizon": horizon, "seed": seed,
           "windows": [int(tr.sum()), int(va.sum()), int(te.sum())],
           "persistence": {"val": mae(persistence[va], y[va]), "test": mae(persistence[te], y[te])}}
    # Both learners fit the change from the last observed value (persistence is their zero).
    scaler = StandardScaler().fit(flat[tr])
    F = scaler.transform(flat)
    best = None
    for alpha in (0.1, 1.0, 10.0, 100.0, 1000.0):
        r = Ridge(alpha=alpha).fit(F[tr], y[tr] - persistence[tr])
        v = mae(r.predict(F[va]) + persistence[va], y[va])
        if best is None or v < best[0]:
            best = (v, alpha, r)
    v, alpha, r = best
    out["ridge_flat"] = {"alpha": alpha, "val": v, "test": mae(r.predict(F[te]) + persistence[te], y[te])}
    out["gbm"] = {**trees(X, y, persistence, (tr, va, te), seed), "features": len(names)}
    if station in CATEGORICAL:  # the same trees, with the file's categorical column one-hot as inputs
        column = CATEGORICAL[station]
        coded = one_hot(cfg.data, column, frame)
        X2, *_ = design(frame.join(coded), columns + list(coded.columns), target, lookback, horizon)
        out["gbm_categorical"] = {**trees(X2, y, persistence, (tr, va, te), seed), "column": column,
                                  "features": X2.shape[1]}
    out["seconds"] = time.perf_counter() - start
    out["load"] = [round(x, 1) for x in os.getloadavg()]
    out["commit"] = skill.code_version()
    return out


def render(probes: list[dict], results: dict[str, dict]) -> str:
    """docs/ceiling.md: each station's probe, beside the pipeline's champion when its figures are given."""
    lines = [
        "# How far a station's own inputs go at 24 h (issue 25)", "",
        "Generated by `python bench/skill_ceiling.py`; do not edit by hand. Test MAE (°C) at step 24 on the "
        "windows of `pipelines/skill/<station>.yaml` (its loader, 50/25/25 split by time, 120 h in). "
        "`ridge (flat)`: a ridge on the standardised 120 h window of every input, fit to the change from "
        "the last value, alpha chosen on validation at step 24. `trees`: scikit-learn's "
        "`HistGradientBoostingRegressor` (absolute error, learning rate 0.05, 31 leaves) on engineered "
        "features of the same window (every input now, T at 17 lags up to 96 h, 24 h and 72 h means and "
        "changes, 24 h minima and maxima, the calendar of the origin and of the target hour), its tree count "
        "chosen on validation; a direct model of step 24 alone. Every fit sees the training windows only. "
        "The champion column is the pipeline's own run (`bench/skill.py`, docs/results.md) when given.", "",
        "| station | persistence | ridge (flat) | trees | champion (pipeline) | issue 25's target (-22%) | "
        "probe min (load) | commit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for o in probes:
        p = o["persistence"]["test"]
        rel = lambda v: f"{v:.3f} ({v / p - 1:+.1%})"  # noqa: E731
        champ = results.get(o["station"])
        champ_text = (f"{rel(champ['step_last']['champion'])} at {champ['commit']}" if champ else "n/a")
        lines.append(
            f"| {o['station']} | {p:.3f} | {rel(o['ridge_flat']['test'])} | {rel(o['gbm']['test'])} "
            f"({o['gbm']['trees']} trees) | {champ_text} | {0.78 * p:.3f} | {o['seconds'] / 60:.1f} "
            f"({o['load'][0]}) | {o['commit']} |")
    for o in probes:
        if "gbm_categorical" in o:
            g, base = o["gbm_categorical"], o["gbm"]["test"]
            lines += ["", f"{o['station']}: with its `{g['column']}` column one-hot among the trees' inputs "
                      f"({g['features']} features), test MAE at step 24 {g['test']:.3f} against {base:.3f} "
                      f"without ({g['test'] / base - 1:+.1%}; {g['trees']} trees)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stations", default=",".join(skill.TEMPERATURE))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--results", metavar="DIR", default=None,
                        help="a `bench/skill.py --workdir` folder: its <station>.json give the champion column")
    parser.add_argument("--output", default=str(skill.REPO / "docs" / "ceiling.md"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not skill.DATA.is_dir():
        print(f"bench/skill_ceiling.py: {skill.DATA} is absent; these figures need the real datasets. Skipped.")
        return 0
    stations = args.stations.split(",")
    unknown = sorted(set(stations) - set(skill.TEMPERATURE))
    if unknown:
        parser.error(f"--stations: unknown {unknown}; choose from {list(skill.TEMPERATURE)}")
    OUT.mkdir(parents=True, exist_ok=True)
    probes = []
    for station in stations:
        out = probe(station, args.seed)
        (OUT / f"{station}.json").write_text(json.dumps(out, indent=1))
        probes.append(out)
    results = {}
    if args.results:
        for station in stations:
            path = Path(args.results) / f"{station}.json"
            if path.is_file():
                results[station] = json.loads(path.read_text())
    text = render(probes, results)
    Path(args.output).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
