"""Public anchor: dynamic prediction on PBC2 (Mayo primary biliary cholangitis, serial markers).

Landmarks s = 1, 3, 5 years; horizons Δt = 1, 3, 5 years; among the patients alive and
uncensored at s, from their data up to s only; 5-fold patient-level cross-validation
repeated 3 times (seeds 0, 1, 2). Metrics at s + Δt: Harrell's and Uno's C among those at
risk at s (truncated at s + Δt), cumulative/dynamic AUC and IPCW Brier score
(:mod:`oncofusion.benchmark.dynamic`). Models: landmark Cox, landmark RSF, the landmark
super model, Dynamic-DeepHit and DMA-Net without imaging (markers + clinical); a model
whose code is not installed is reported as "not available yet".

Run::

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.pbc2_dynamic --out runs/pbc2_dynamic

``--repeats 1`` for the reduced run, ``--models`` to choose models, ``--markdown FILE`` to
write the table as Markdown. The run resumes from ``--out``'s cache when interrupted.
"""

from __future__ import annotations

import argparse
import platform
import time as _time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: the models of the anchor and their options (the landmark Cox models get a small, untuned
#: ridge penalty: unpenalised they do not converge on 12 markers x (last value, slope,
#: count) + clinical covariates)
MODELS: dict[str, dict[str, Any]] = {
    "landmark_cox": {"penalizer": 0.01},
    "landmark_rsf": {"n_estimators": 100},
    "landmark_supermodel": {"penalizer": 0.01},
    "dynamic_deephit": {},
    "dmanet": {"config": "dmanet-cpu"},
}
LANDMARKS = [1.0, 3.0, 5.0]
WINDOWS = [1.0, 3.0, 5.0]


class _Printer:
    def __init__(self) -> None:
        self.done, self.total, self.t0 = 0, 0, _time.perf_counter()

    def start(self, total: int) -> None:
        self.total = total

    def begin(self, model: str, seed: int, fold: int) -> None:
        pass

    def end(self, cell: Any) -> None:
        self.done += 1
        what = (
            "cache"
            if cell.from_cache
            else f"{cell.fit_seconds:.1f} s"
            if cell.status == "ok"
            else cell.status
        )
        print(
            f"[{self.done}/{self.total}] {cell.model} seed {cell.seed} fold {cell.fold}: {what} "
            f"(elapsed {_time.perf_counter() - self.t0:.0f} s)",
            flush=True,
        )


def _cell(mean: float, sd: float) -> str:
    if not np.isfinite(mean):
        return "—"
    return f"{mean:.3f} ± {sd:.3f}" if np.isfinite(sd) else f"{mean:.3f}"


def markdown(table: pd.DataFrame, unit: str) -> str:
    """The mean ± SD table as Markdown (one row per model, landmark and horizon)."""
    head = (
        f"| Model | s ({unit}) | Δt ({unit}) | At risk at s | Events in (s, s+Δt] | Harrell C | "
        "Uno C | AUC(s+Δt) | Brier(s+Δt) |"
    )
    lines = [head, "|" + " --- |" * 9]
    for r in table.itertuples(index=False):
        if r.status != "ok" and not np.isfinite(getattr(r, "auc_mean", np.nan)):
            msg = str(r.status).split(":")[0]
            lines.append(
                f"| {r.model} | {r.landmark:g} | {r.window:g} | — | — | {msg} | — | — | — |"
            )
            continue
        cells = [
            _cell(getattr(r, f"{m}_mean"), getattr(r, f"{m}_sd"))
            for m in ("c_harrell", "c_uno", "auc", "brier")
        ]
        lines.append(
            f"| {r.model} | {r.landmark:g} | {r.window:g} | {int(r.n_at_risk)} | {int(r.n_events)} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/pbc2_dynamic"))
    parser.add_argument("--repeats", type=int, default=3, help="CV repeats (seeds 0..repeats-1)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--models", default=",".join(MODELS), help="comma-separated subset of the models"
    )
    parser.add_argument(
        "--markdown", type=Path, default=None, help="also write the table to this file"
    )
    args = parser.parse_args()

    from oncofusion.benchmark.config import config_from_mapping
    from oncofusion.benchmark.dynamic import run_dynamic_benchmark
    from oncofusion.data.public import export_dataset

    cohort = args.out / "cohort"
    if not (cohort / "cohort.yaml").is_file():
        export_dataset("pbc2", cohort, overwrite=True)
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    config = config_from_mapping(
        {
            "cohort": str(cohort),
            "out": str(args.out / "results"),
            "models": [{"name": n, "options": MODELS.get(n, {})} for n in names],
            "use": ["clinical", "biomarkers"],
            "seeds": list(range(args.repeats)),
            "cv": args.folds,
            "landmarks": LANDMARKS,
            "windows": WINDOWS,
        }
    )
    start = _time.perf_counter()
    result = run_dynamic_benchmark(config, progress=_Printer())
    minutes = (_time.perf_counter() - start) / 60
    text = markdown(result.tables["dynamic_seeds"], "years")
    timing = result.tables["timings_by_model"]
    foot = (
        f"\n{args.repeats} repeat(s) of {args.folds}-fold CV; wall time {minutes:.1f} min on "
        f"{platform.machine()} ({platform.python_version()}); fit seconds per model: "
        + ", ".join(f"{r.model} {r.fit_seconds_total:.0f}" for r in timing.itertuples(index=False))
        + ".\n"
    )
    print(text + foot)
    for row in result.tables["models"].itertuples(index=False):
        if row.status != "ok":
            print(f"{row.model}: {row.status}: {row.message}")
    if args.markdown is not None:
        args.markdown.write_text(text + foot, encoding="utf-8")


if __name__ == "__main__":
    main()
