"""Screen DMA-Net training settings on simulated CRLM cohorts (the demo's cohorts and splits).

Trains one model variant per seed with config overrides and prints its test AUC at 12
months next to the oracle's on the same patients (the "What moved the numbers" table of
docs/benchmarks.md):

    OMP_NUM_THREADS=1 python -m benchmarks.dmanet_settings --seeds 0 1 2 3 4 --variant full \\
        --overrides '{"train": {"modality_dropout": 0.3}}'

``--variant`` is a name of ``oncofusion.workflows.variants.VARIANTS`` (full, imaging_only, ...).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ORACLE_COLUMN = {"full": "all_12", "imaging_only": "imaging_12", "markers_only": "markers_12",
                 "clinical_only": "clinical_12"}


def run_seed(seed: int, variant: str, overrides: dict, root: Path, n: int) -> dict[str, float]:
    import pandas as pd
    from sksurv.metrics import cumulative_dynamic_auc
    from sksurv.util import Surv

    from oncofusion.data import load_cohort
    from oncofusion.data.simulate import simulate_crlm
    from oncofusion.models.config import load_config
    from oncofusion.models.pipeline import train_model
    from oncofusion.workflows.variants import make_variant

    cohort_dir = root / f"cohort-n{n}-seed{seed}"
    if not cohort_dir.exists():
        simulate_crlm(n=n, seed=seed).write(cohort_dir)
    cohort = load_cohort(cohort_dir)
    over = json.loads(json.dumps(overrides))
    over["train"] = {"seed": seed, "progress": False, **over.get("train", {})}
    cfg = make_variant(load_config("dmanet-cpu", overrides=over), variant)
    start = time.perf_counter()
    run = train_model(cohort, cfg, work_dir=root / f"work-{variant}-{seed}", resume=False)
    test, train = cohort.subset(run.splits["test"]), cohort.subset(run.splits["train"])

    def y(c):
        return Surv.from_arrays(c.patients["event"].astype(bool).to_numpy(), c.patients["time"].to_numpy())

    risk = 1 - run.model.predict_survival(test, [11.999])[:, 0]
    truth = pd.read_csv(cohort_dir / "truth" / "oracle_risk.csv").set_index("patient_id").loc[test.patient_ids]
    auc = cumulative_dynamic_auc(y(train), y(test), risk, [11.99])[0][0]
    oracle = cumulative_dynamic_auc(y(train), y(test), truth[ORACLE_COLUMN.get(variant, "all_12")].to_numpy(), [11.99])[0][0]
    return {"seed": seed, "auc": float(auc), "oracle": float(oracle), "best_epoch": run.best_epoch,
            "seconds": time.perf_counter() - start}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--variant", default="full")
    p.add_argument("--overrides", default="{}", help="JSON merged into the dmanet-cpu config")
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--out", type=Path, default=Path("bench-out/dmanet-settings"))
    a = p.parse_args()
    rows = [run_seed(s, a.variant, json.loads(a.overrides), a.out, a.n) for s in a.seeds]
    for r in rows:
        print(f"seed {r['seed']}: AUC(12) {r['auc']:.3f}  oracle {r['oracle']:.3f}  "
              f"best epoch {r['best_epoch']}  {r['seconds']:.0f} s")
    mean = sum(r["auc"] for r in rows) / len(rows)
    print(f"mean AUC(12) {mean:.3f}  mean oracle {sum(r['oracle'] for r in rows) / len(rows):.3f}")


if __name__ == "__main__":
    main()
