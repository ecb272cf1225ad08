"""DMA-Net quality on simulated CRLM cohorts, averaged over seeds, next to the oracle.

Runs (or reuses) ``oncofusion demo --seed S --out DIR/seed-S`` for each seed and aggregates
the test-set tables: AUC at 12 months, iAUC, Uno's C, Brier at 12, IBS (mean ± SD over
seeds) and the dynamic-update check (AUC for events in (4, 12] among patients at risk at
month 4, baseline vs updated with visits up to month 4).

    python -m benchmarks.dmanet_quality --seeds 0 1 2 3 4 --out bench-out/dmanet
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

METRICS = ["auc", "iauc", "uno_c", "brier", "ibs"]


def run(seeds: list[int], out: Path, n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    summaries, dynamics = [], []
    for s in seeds:
        d = out / f"seed-{s}"
        tables = d / "evaluation" / "tables"
        if not (tables / "summary.csv").is_file():
            cmd = [sys.executable, "-m", "oncofusion.cli", "demo", "--seed", str(s), "--n", str(n),
                   "--no-reports", "--out", str(d)]
            subprocess.run(cmd, check=True)
        summaries.append(pd.read_csv(tables / "summary.csv").assign(seed=s))
        dynamics.append(pd.read_csv(tables / "dynamic_update.csv").assign(seed=s))
    summary = pd.concat(summaries)
    table = summary.groupby("model", sort=False)[METRICS].agg(["mean", "std"])
    table.columns = [f"{m}_{k}" for m, k in table.columns]
    dyn = pd.concat(dynamics).groupby("model", sort=False)[
        ["AUC, baseline prediction", "AUC, updated with visits to landmark", "Gain"]].agg(["mean", "std"])
    dyn.columns = [f"{m} ({k})" for m, k in dyn.columns]
    return table.reset_index(), dyn.reset_index()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--out", type=Path, default=Path("bench-out/dmanet"))
    a = p.parse_args()
    table, dyn = run(a.seeds, a.out, a.n)
    pd.set_option("display.width", 200)
    print(table.round(3).to_string(index=False))
    print(dyn.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
