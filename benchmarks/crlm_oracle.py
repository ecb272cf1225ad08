"""The simulated CRLM oracle scored on the benchmark harness's own test patients.

``oncofusion benchmark --config benchmarks/crlm_benchmark.yaml`` compares models on 5
splits of the simulated CRLM cohort; this script puts the truth next to them. For each seed
of that config it draws the same split (:func:`oncofusion.benchmark.harness.make_folds`),
reads the oracle risks ``P(T <= m | baseline information)``, m = 1..12, from
``COHORT/truth/oracle_risk.csv`` (subsets ``all``, ``clinical``, ``imaging``, ``markers``),
turns them into survival on the harness's prediction grid (log-linear between months, i.e.
a constant hazard within each month; S(0) = 1) and evaluates them exactly as the harness
evaluates a model: same test patients, same evaluation points, same censoring reference
(the development patients of the split), same horizon (just below 12 months, where
follow-up ends), bootstrap resamples and seed.

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.crlm_oracle \\
        --config benchmarks/crlm_benchmark.yaml

Writes ``OUT/oracle/summary.csv`` (per seed, with 95% bootstrap intervals) and
``OUT/oracle/seeds.csv`` / ``seeds.md`` (mean ± SD over seeds), OUT being the config's
``out``, and prints the Markdown table.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.benchmark.aggregate import SUMMARY_METRICS, mean_sd, prediction_sets
from oncofusion.benchmark.config import ModelSpec, load_benchmark_config
from oncofusion.benchmark.harness import (
    CellResult,
    make_folds,
    prediction_grid,
    resolve_horizons,
)
from oncofusion.data import load_cohort
from oncofusion.evaluation import evaluate_predictions
from oncofusion.evaluation.run import usable_horizon

SUBSETS = ("all", "clinical", "imaging", "markers")


def oracle_survival(risk: pd.DataFrame, subset: str, grid: np.ndarray) -> np.ndarray:
    """S(t) on ``grid`` from the monthly oracle risks ``<subset>_01`` ... ``<subset>_12``.

    log S is interpolated linearly between whole months (S(0) = 1) and held after month 12.
    """
    cols = [c for c in risk.columns if c.startswith(f"{subset}_")]
    months = np.array([float(c.rsplit("_", 1)[1]) for c in cols])
    order = np.argsort(months)
    months = np.r_[0.0, months[order]]
    surv = 1.0 - risk[cols].to_numpy(dtype=np.float64)[:, order]
    log_s = np.log(np.clip(np.c_[np.ones(len(risk)), surv], 1e-300, 1.0))
    out = np.stack([np.interp(grid, months, row) for row in log_s])
    return np.exp(out)


def oracle_tables(
    config_path: Path, n_resamples: int | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-seed summary and mean ± SD over seeds of the oracles on the harness's test sets."""
    cfg = load_benchmark_config(config_path)
    cohort = load_cohort(cfg.cohort)
    horizons, h = resolve_horizons(cohort, cfg)
    grid = prediction_grid(horizons, cfg.grid_points)
    folds = make_folds(cohort, cfg)
    risk = pd.read_csv(Path(cfg.cohort) / "truth" / "oracle_risk.csv", dtype={"patient_id": str})
    risk = risk.set_index("patient_id")
    names = [f"oracle_{s}" for s in SUBSETS]
    ocfg = cfg.model_copy(update={"models": [ModelSpec(name=n) for n in names]})
    cells: list[Any] = []
    for fold in folds:
        r = risk.loc[fold.test].reset_index()
        for s, name in zip(SUBSETS, names, strict=True):
            frame = pd.DataFrame(
                oracle_survival(r, s, grid), columns=[f"t{i}" for i in range(grid.size)]
            )
            frame.insert(0, "patient_id", list(fold.test))
            cell = CellResult(name, "oracle", fold.replicate, fold.seed, fold.fold, list(fold.test))
            cell.frame = frame
            cells.append(cell)
    sets = prediction_sets(cohort, ocfg, cells, folds, grid, horizons, h)
    summaries = []
    for rep, predsets in sets.items():
        seed = cfg.seed_list[rep]
        # follow-up ends at 12: evaluated at 12 - 1e-6, as the harness does
        h_eval = usable_horizon(h, next(iter(predsets.values())).time)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            report = evaluate_predictions(
                predsets,
                reference=names[0],
                horizon=h_eval,
                n_resamples=n_resamples or cfg.n_resamples,
                seed=seed,
            )
        summaries.append(report.tables["summary"].assign(seed=seed))
    summary = pd.concat(summaries, ignore_index=True)
    summary = summary[["seed", *[c for c in summary.columns if c != "seed"]]]
    return summary, mean_sd(summary, ["model"], SUMMARY_METRICS)


def to_markdown(seeds: pd.DataFrame) -> str:
    head = ["model", "n_seeds", *SUMMARY_METRICS]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    for _, row in seeds.iterrows():
        vals = [f"{row[f'{m}_mean']:.3f} ± {row[f'{m}_sd']:.3f}" for m in SUMMARY_METRICS]
        lines.append(f"| {row['model']} | {int(row['n_seeds'])} | " + " | ".join(vals) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=Path("benchmarks/crlm_benchmark.yaml"))
    ap.add_argument("--out", type=Path, default=None, help="default: <config out>/oracle")
    ap.add_argument("--n-resamples", type=int, default=None, help="default: the config's")
    args = ap.parse_args(argv)
    summary, seeds = oracle_tables(args.config, args.n_resamples)
    out = args.out or Path(load_benchmark_config(args.config).out) / "oracle"
    out.mkdir(parents=True, exist_ok=True)
    summary.to_csv(out / "summary.csv", index=False)
    seeds.to_csv(out / "seeds.csv", index=False)
    md = to_markdown(seeds)
    (out / "seeds.md").write_text(md, encoding="utf-8")
    print(md)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
