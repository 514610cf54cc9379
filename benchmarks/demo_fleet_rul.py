"""The demo fleet's turbofan RUL as the product stored it: RMSE, 80 % interval coverage and width.

Reads the predictions that ``plantpulse demo --no-serve`` stored in a home folder's database for
the sample's 20 turbofans (NASA FD001 test engines 1–20) and scores each asset's latest prediction
of the promoted model against ``data/sample/training/turbofan_fd001_test_rul.csv``, truth capped at
125 cycles as the evaluation does. Also split by history length (cycles the sample holds for the
engine), since an engine with fewer cycles than the model's window is left-padded when scored.

    plantpulse --home /tmp/demo demo --no-serve
    python benchmarks/demo_fleet_rul.py /tmp/demo
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from sqlalchemy import select

    from plantpulse.data.core.config.settings import load_settings
    from plantpulse.data.store.db import Database
    from plantpulse.data.store.schema import Asset, ModelVersion, Prediction
    from plantpulse.pipelines.train.tasks.cmapss import RUL_TASK

    cap = RUL_TASK.rul_cap

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("home", type=Path, help="the home folder `plantpulse demo` ran in")
    parser.add_argument("--sample", type=Path, default=ROOT / "data" / "sample")
    parser.add_argument("--window", type=int, default=50, help="history length that splits the table")
    opts = parser.parse_args()
    truth = pd.read_csv(opts.sample / "training" / "turbofan_fd001_test_rul.csv").set_index("asset")["true_rul_cycles"]
    cycles = pd.read_csv(opts.sample / "sensors" / "turbofan_fd001_test.csv", usecols=["asset"])["asset"].value_counts()
    db = Database(load_settings(env={}, home=str(opts.home)).db_url)
    with db.session() as session:
        rows = session.execute(
            select(Asset.name, ModelVersion.name, Prediction.window_end, Prediction.rul_mean, Prediction.rul_lower,
                   Prediction.rul_upper)
            .join(Asset, Asset.id == Prediction.asset_id).join(ModelVersion, ModelVersion.id == Prediction.model_version_id)
            .where(Asset.name.in_(list(truth.index)), ModelVersion.stage == "production")).all()
    if not rows:
        raise SystemExit(f"no turbofan predictions of a production model in {opts.home}; run "
                         f"`plantpulse --home {opts.home} demo --no-serve` first")
    frame = pd.DataFrame(rows, columns=["asset", "model", "end", "mean", "lower", "upper"])
    frame = frame.sort_values("end").groupby("asset").last()
    frame["truth"] = np.minimum(truth.reindex(frame.index).to_numpy(float), cap)
    frame["cycles"] = cycles.reindex(frame.index).to_numpy()
    print(f"model: {', '.join(sorted(frame['model'].unique()))}")
    print("| engines | n | RMSE | 80 % coverage | mean width |")
    print("|---|---:|---:|---:|---:|")
    for label, part in (("all", frame), (f"history < {opts.window} cycles", frame[frame.cycles < opts.window]),
                        (f"history >= {opts.window} cycles", frame[frame.cycles >= opts.window])):
        if part.empty:
            continue
        err = part["mean"].clip(0, cap) - part["truth"]
        inside = (part["truth"] >= part["lower"]) & (part["truth"] <= part["upper"])
        print(f"| {label} | {len(part)} | {np.sqrt(np.mean(err ** 2)):.2f} | {inside.mean():.0%} | "
              f"{(part['upper'] - part['lower']).mean():.1f} |")


if __name__ == "__main__":
    main()
