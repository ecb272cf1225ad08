"""DMA-Net quality on simulated CRLM cohorts, averaged over seeds, next to the oracle.

Runs (or reuses) the main demo (``oncofusion demo --seed S --n N --out DIR/seed-S``) for each
seed and aggregates
the test-set tables: AUC at 12 months, iAUC, Uno's C, Brier at 12, IBS (mean ± SD over
seeds) and the dynamic-update check (AUC for events in (4, 12] among patients at risk at
month 4, baseline vs updated with visits up to month 4).

    python -m benchmarks.dmanet_quality --seeds 0 1 2 3 4 --out bench-out/dmanet
    python -m benchmarks.dmanet_quality --n 3000 --variants full --out bench-out/dmanet-3000

``--variants full`` trains only the tri-modal model (next to the clinical Cox model and the
oracle), for cohort sizes where the unimodal ablations are not the question.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

METRICS = ["auc", "iauc", "uno_c", "brier", "ibs"]


def run(seeds: list[int], out: Path, n: int, variants: tuple[str, ...] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    from oncofusion.workflows.crlm_demo import VARIANTS, run_crlm_demo

    summaries, dynamics = [], []
    for s in seeds:
        d = out / f"seed-{s}"
        tables = d / "evaluation" / "tables"
        if not (tables / "summary.csv").is_file():
            result = run_crlm_demo(d, n=n, seed=s, reports=False, variants=variants or VARIANTS)
            print(f"seed {s}: {result.seconds:.0f} s")
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
    p.add_argument("--variants", nargs="+", default=None, help="DMA-Net variants to train (default: all four)")
    a = p.parse_args()
    table, dyn = run(a.seeds, a.out, a.n, tuple(a.variants) if a.variants else None)
    pd.set_option("display.width", 200)
    print(table.round(3).to_string(index=False))
    print(dyn.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
